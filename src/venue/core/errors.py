"""Exceptions of the core. An exception from `apply` is a bug, never a business outcome.

Kept in their own module: the compiled (mypyc) build cannot compile subclasses of built-in
exception types as native classes, and this module stays plain Python.
"""

from __future__ import annotations


class SequenceError(RuntimeError):
    """The sequencer broke its contract: a gap or repeat in seq, or time going backwards."""
