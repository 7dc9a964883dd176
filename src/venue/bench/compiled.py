"""Which modules the optional mypyc build compiles, and whether this process runs them compiled.

`tools/build_compiled.py` builds exactly `COMPILED_MODULES`, in place: each compiled module is
a `.so` beside its `.py`, and Python's import system prefers the extension module. `make
uncompile` deletes the `.so` files and the pure-Python source runs again, unchanged.

This module imports nothing from the venue at import time, so the build tool can read the list
without importing (and so locking in) the modules it is about to compile.
"""

from __future__ import annotations

import importlib
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

COMPILED_MODULES: tuple[str, ...] = (
    "venue.engine.book",
    "venue.engine.market",
    "venue.engine.validation",
    "venue.engine.continuous",
    "venue.engine.stops",
    "venue.engine.expiry",
    "venue.engine.call_auction",
    "venue.engine.replace",
    "venue.engine.matching",
    "venue.engine.auction",
    "venue.core.state",
    "venue.core.trading",
    "venue.ledger.ledger",
    "venue.ledger.accounts",
    "venue.ledger.fees",
    "venue.risk.limits",
    "venue.journal.fastreplay",
)

# The ones that decide the engine benchmark (the book and every module of the matching engine):
# `compiled` in its output means all of them are compiled.
HOT_MODULES: tuple[str, ...] = tuple(
    name for name in COMPILED_MODULES if name.startswith("venue.engine.")
)


def is_compiled(module_name: str) -> bool:
    """True if the module was loaded from an extension (.so/.pyd), not from its .py."""
    module = importlib.import_module(module_name)
    path = getattr(module, "__file__", None) or ""
    return any(path.endswith(suffix) for suffix in EXTENSION_SUFFIXES)


def compiled_modules() -> dict[str, bool]:
    return {name: is_compiled(name) for name in COMPILED_MODULES}


def engine_is_compiled() -> bool:
    return all(is_compiled(name) for name in HOT_MODULES)


def stale_compiled_modules() -> list[str]:
    """Compiled modules whose .py changed after the build: the run uses old code."""
    stale = []
    for name in COMPILED_MODULES:
        if not is_compiled(name):
            continue
        binary = Path(str(importlib.import_module(name).__file__))
        source = binary.parent / (binary.name.split(".", 1)[0] + ".py")
        if source.is_file() and source.stat().st_mtime > binary.stat().st_mtime:
            stale.append(name)
    return stale
