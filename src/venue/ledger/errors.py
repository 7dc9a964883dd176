"""Exceptions of the ledger (plain Python: mypyc cannot compile exception subclasses)."""

from __future__ import annotations


class LedgerError(RuntimeError):
    """A movement that would break an invariant: a bug upstream of the ledger."""
