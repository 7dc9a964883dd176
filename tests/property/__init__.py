"""Property tests (DESIGN.md §10, rung 3): the real core against a naive reference book, and
determinism of `apply` and `state_hash`."""
