"""What every command must satisfy before it may be sequenced, whoever built it.

A command that the journal cannot encode, or whose values the snapshots and the SQL read
model cannot hold, would stop the venue after it was sequenced (the sequencer treats a
journal failure as fatal, DESIGN.md §8). So the edge asks `command_problem` first and
refuses such a command with a 400 naming the field; the sequencer never sees it.

The rules, for every field of the command and of the structs it holds (an `Instrument`):
- an integer lies within +-`MAX_AMOUNT` (2**62): the journal's msgpack, the snapshots and
  the SQL columns hold signed 64-bit integers, and 2**62 leaves room for sums;
- a text has at most `TEXT_MAX` characters and no control, format (bidi overrides,
  zero-width characters) or surrogate code points: PostgreSQL refuses NUL, msgpack cannot
  encode a lone surrogate, and an invisible or reordering character makes an account or
  symbol name read differently in a log, a report or the web UI than it is;
- every other value is None, a bool, an int enum, or a struct following these rules.

The edge checks each field's own range (prices, lots, amounts) with a message in the
client's words; this is the net under all of them, so that no input from any role can stop
the venue.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Final

import msgspec

from venue.domain.values import MAX_AMOUNT

TEXT_MAX: Final = 256
_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs"})


def text_problem(text: str, limit: int = TEXT_MAX) -> str | None:
    """Why `text` cannot be a name or identifier the venue keeps, or None."""
    if len(text) > limit:
        return f"has more than {limit} characters"
    if text.isascii() and text.isprintable():
        return None
    for char in text:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            return f"contains the control or formatting character U+{ord(char):04X}"
    return None


def command_problem(command: msgspec.Struct) -> tuple[str, str] | None:
    """(field, why) for the first value of `command` that breaks the rules above, or None."""
    return _struct_problem(command, "")


def _struct_problem(struct: msgspec.Struct, prefix: str) -> tuple[str, str] | None:
    for name in type(struct).__struct_fields__:
        problem = _value_problem(getattr(struct, name), prefix + name)
        if problem is not None:
            return problem
    return None


def _value_problem(value: Any, field: str) -> tuple[str, str] | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        if -MAX_AMOUNT <= value <= MAX_AMOUNT:
            return None
        return field, f"is out of range (at most {MAX_AMOUNT} in magnitude)"
    if isinstance(value, str):
        why = text_problem(value)
        return None if why is None else (field, why)
    if isinstance(value, msgspec.Struct):
        return _struct_problem(value, field + ".")
    return field, f"has a value of type {type(value).__name__} that a command cannot hold"
