"""Benchmarks run by `venue bench ...` (never by the unit-test job)."""
