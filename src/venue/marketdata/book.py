"""L2 book and BBO of one symbol: the sorted price levels of each side, the per-command
aggregation of level changes, and the figures of the book, BBO and classic-book messages.

Invariants:
- The L2 book of a symbol equals the engine's visible book after the last applied command:
  price -> (qty_lots, order_count) per side, from `LevelUpdated` (qty 0 removes the level).
- `book_seq` is the seq of the last command that changed that book. A `book.{symbol}` delta
  carries `seq` (its command) and `prev_seq` (the book_seq before it), so the deltas of one
  book form a chain: a client that sees `prev_seq` differ from the last seq it applied has
  missed something and must take a new snapshot. The snapshot carries `seq` = book_seq.
- All `LevelUpdated` of one command on one book are aggregated into one delta (the last
  figure of a level wins, in `Market.bid_changes` / `ask_changes`); BBO and classic book get
  at most one message per command (`top_changed`: a level among the best `CLASSIC_DEPTH`).
- O(log levels) per level change: a bisect into a sorted key list.

Known limitations:
- Inserting or removing a price level shifts a Python list (memmove of the keys behind it);
  levels near the touch, which change most, sit at the cheap end. A book of 10^5+ levels
  pays a few tens of microseconds per new or removed level deep in the book.
- A snapshot holds at most `snapshot_depth` levels per side (default 1000); a client of a
  deeper book only knows those levels (deltas deeper than that still reach it).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from venue.domain.events import LevelUpdated
from venue.domain.values import NS_PER_MS

if TYPE_CHECKING:
    from venue.marketdata.market import Market
    from venue.marketdata.text import Memo

CLASSIC_DEPTH: Final = 10
_BUY: Final = 1


class L2Side:
    """One side of an L2 book: price -> (qty, count) and a sorted list of keys where the best
    level has the largest key (price for bids, -price for asks), so the busy end of the list
    is its tail and inserting near the touch moves little memory. `texts` caches each level's
    [price, qty] text for the messages that are encoded at once (never handed out)."""

    __slots__ = ("keys", "levels", "sign", "texts")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.levels: dict[int, tuple[int, int]] = {}
        self.keys: list[int] = []
        self.texts: dict[int, list[str]] = {}

    def set(self, price: int, qty: int, count: int) -> int:
        """Apply one level figure; returns how many levels are strictly better than `price`
        (so the caller knows whether the top N changed), or -1 if nothing changed."""
        key = price * self.sign
        keys = self.keys
        levels = self.levels
        self.texts.pop(price, None)
        if qty == 0:
            if levels.pop(price, None) is None:
                return -1
            index = bisect_left(keys, key)
            del keys[index]
            return len(keys) - index
        if price in levels:
            levels[price] = (qty, count)
            return len(keys) - bisect_right(keys, key)
        levels[price] = (qty, count)
        index = bisect_left(keys, key)
        keys.insert(index, key)
        return len(keys) - index - 1

    def best(self) -> tuple[int, int] | None:
        """(price, qty) of the best level, or None."""
        keys = self.keys
        if not keys:
            return None
        price = keys[-1] * self.sign
        return price, self.levels[price][0]

    def top(self, depth: int) -> list[tuple[int, int]]:
        """(price, qty) of the best `depth` levels, best first."""
        keys = self.keys
        sign = self.sign
        levels = self.levels
        out: list[tuple[int, int]] = []
        for index in range(len(keys) - 1, max(-1, len(keys) - 1 - depth), -1):
            price = keys[index] * sign
            out.append((price, levels[price][0]))
        return out

    def top_texts(self, depth: int, price: Memo, qty: Memo) -> list[list[str]]:
        """[price, qty] text of the best `depth` levels, best first, from the cache."""
        keys = self.keys
        sign = self.sign
        levels = self.levels
        texts = self.texts
        out: list[list[str]] = []
        for index in range(len(keys) - 1, max(-1, len(keys) - 1 - depth), -1):
            px = keys[index] * sign
            pair = texts.get(px)
            if pair is None:
                pair = [price(px), qty(levels[px][0])]
                texts[px] = pair
            out.append(pair)
        return out

    def all_levels(self) -> list[tuple[int, int, int]]:
        """Every level as (price, qty, count), best first."""
        levels = self.levels
        return [
            (price, *levels[price]) for price in (key * self.sign for key in reversed(self.keys))
        ]

    def replace_all(self, figures: Iterable[tuple[int, int, int]]) -> None:
        self.levels = {price: (qty, count) for price, qty, count in figures if qty > 0}
        self.keys = sorted(price * self.sign for price in self.levels)
        self.texts = {}


def apply_level(market: Market, event: LevelUpdated) -> None:
    """One `LevelUpdated` into the book and the command's scratch."""
    price = event.price_ticks
    qty = event.qty_lots
    if event.side == _BUY:
        better = market.bids.set(price, qty, event.order_count)
        market.bid_changes[price] = qty
    else:
        better = market.asks.set(price, qty, event.order_count)
        market.ask_changes[price] = qty
    if 0 <= better < CLASSIC_DEPTH:
        market.top_changed = True


def bbo_of(market: Market) -> tuple[int, int, int, int]:
    bid = market.bids.best()
    ask = market.asks.best()
    return (
        0 if bid is None else bid[0],
        0 if bid is None else bid[1],
        0 if ask is None else ask[0],
        0 if ask is None else ask[1],
    )


def bbo_figures(market: Market) -> tuple[list[str] | None, list[str] | None]:
    """([price, qty] of the best bid, of the best ask), None for an empty side."""
    bid_price, bid_qty, ask_price, ask_qty = market.bbo
    return (
        [market.price(bid_price), market.qty(bid_qty)] if bid_qty else None,
        [market.price(ask_price), market.qty(ask_qty)] if ask_qty else None,
    )


def bbo_message(market: Market) -> dict[str, Any]:
    bid_price, bid_qty, ask_price, ask_qty = market.bbo
    return {
        "channel": market.ch_bbo,
        "seq": market.book_seq,
        "ts": market.book_ts,
        "bid": [market.price(bid_price), market.qty(bid_qty)] if bid_qty else None,
        "ask": [market.price(ask_price), market.qty(ask_qty)] if ask_qty else None,
    }


def levels_text(market: Market, levels: list[tuple[int, int]]) -> list[list[str]]:
    price = market.price
    qty = market.qty
    return [[price(px), qty(lots)] for px, lots in levels]


def changes_text(market: Market, changes: dict[int, int], *, reverse: bool) -> list[list[str]]:
    """One command's level changes of one side, best first (a handful: sorting is cheap): the
    "bids" / "asks" of a `book.{symbol}` delta (`publish.flush`)."""
    price = market.price
    qty = market.qty
    if len(changes) == 1:
        for px, lots in changes.items():
            return [[price(px), qty(lots) if lots else "0"]]
    return [
        [price(px), qty(changes[px]) if changes[px] else "0"]
        for px in sorted(changes, reverse=reverse)
    ]


def snapshot_message(market: Market, depth: int) -> dict[str, Any]:
    return {
        "channel": market.ch_book,
        "type": "snapshot",
        "seq": market.book_seq,
        "ts": market.book_ts,
        "bids": market.bids.top_texts(depth, market.price, market.qty),
        "asks": market.asks.top_texts(depth, market.price, market.qty),
    }


def classic_book_message(market: Market, ts: int) -> dict[str, Any]:
    return {
        "timestamp": ts // NS_PER_MS,
        "symbol": market.symbol,
        "asks": market.asks.top_texts(CLASSIC_DEPTH, market.price, market.qty),
        "bids": market.bids.top_texts(CLASSIC_DEPTH, market.price, market.qty),
    }
