"""Integer -> text for the market data messages: the memoized `Units` formatting and the names
of enums as the wire spells them.

Invariants:
- Text is made only by the symbol's `Units`; a `Memo` remembers it (a market prints the same
  few prices over and over) and holds at most `MEMO_MAX` texts (cleared when full).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from venue.domain.values import Side

MEMO_MAX: Final = 65_536
SIDE_NAMES: Final[dict[int, str]] = {1: "buy", 2: "sell"}


class Memo:
    """Integer -> decimal text through `Units`, remembered (cleared when it grows too big)."""

    __slots__ = ("_format", "_texts")

    def __init__(self, format_: Callable[[int], str]) -> None:
        self._format = format_
        self._texts: dict[int, str] = {}

    def __call__(self, value: int) -> str:
        text = self._texts.get(value)
        if text is None:
            if len(self._texts) >= MEMO_MAX:
                self._texts.clear()
            text = self._format(value)
            self._texts[value] = text
        return text


def opt(format_: Callable[[int], str], value: int | None) -> str | None:
    return None if value is None else format_(value)


def side_name(side: Side | None) -> str | None:
    return None if side is None else SIDE_NAMES[int(side)]
