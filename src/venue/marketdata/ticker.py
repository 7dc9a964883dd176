"""The rolling 24 h ticker of one symbol: open, high, low, last, volume, quote volume and trade
count over the last `TICKER_WINDOW_MINUTES` minutes.

Invariants:
- O(1) amortized per trade: running sums over a deque of minute buckets (only minutes with
  trades exist, at most `TICKER_WINDOW_MINUTES`), and monotonic deques of (minute, high) /
  (minute, low) for the window's extremes (a sum can be taken back when a minute leaves the
  window, a maximum cannot).
- `notional` is sum(price_ticks * qty_lots); the quote volume is that times the
  instrument's `notional_per_tick_lot`.

Known limitation: the window slides by whole minutes and is read against the latest
command's timestamp (the projection has no clock of its own: time is what the sequencer
stamped).
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from venue.marketdata.text import opt
from venue.views.candles import NS_PER_MINUTE

if TYPE_CHECKING:
    from venue.marketdata.market import Market

TICKER_WINDOW_MINUTES: Final = 1440
_HUNDRED: Final = Decimal(100)
_CENT: Final = Decimal("0.01")


class Minute:
    """One minute of the 24 h ticker window (only minutes with trades exist)."""

    __slots__ = ("high", "low", "minute", "notional", "open", "trades", "volume")

    def __init__(self, minute: int, price: int) -> None:
        self.minute = minute
        self.open = price
        self.high = price
        self.low = price
        self.volume = 0
        self.notional = 0
        self.trades = 0


class Ticker:
    """Rolling 24 h figures; see the module docstring."""

    __slots__ = ("highs", "lows", "minutes", "notional", "trades", "volume")

    def __init__(self) -> None:
        self.minutes: deque[Minute] = deque()
        self.highs: deque[tuple[int, int]] = deque()
        self.lows: deque[tuple[int, int]] = deque()
        self.volume = 0
        self.notional = 0
        self.trades = 0

    def add(self, minute: int, price: int, qty: int, trades: int = 1, notional: int = -1) -> None:
        minutes = self.minutes
        if minutes and minutes[-1].minute == minute:
            bucket = minutes[-1]
        else:
            self.expire(minute)
            bucket = Minute(minute, price)
            minutes.append(bucket)
        bucket.volume += qty
        add_notional = price * qty if notional < 0 else notional
        bucket.notional += add_notional
        bucket.trades += trades
        self.volume += qty
        self.notional += add_notional
        self.trades += trades
        bucket.high = max(bucket.high, price)
        bucket.low = min(bucket.low, price)
        self._extreme(self.highs, minute, bucket.high, higher=True)
        self._extreme(self.lows, minute, bucket.low, higher=False)

    def seed_minute(
        self,
        start_ns: int,
        open_: int,
        high: int,
        low: int,
        volume: int,
        trades: int,
        notional: int,
    ) -> None:
        """A stored 1m candle's figures (oldest first, after any earlier minute)."""
        minute = start_ns // NS_PER_MINUTE
        self.add(minute, open_, volume, trades, notional)
        self.add(minute, high, 0, 0, 0)
        self.add(minute, low, 0, 0, 0)

    @staticmethod
    def _extreme(ends: deque[tuple[int, int]], minute: int, value: int, *, higher: bool) -> None:
        # Entries behind a better-or-equal newer value can never be the window's extreme again.
        while ends and (ends[-1][1] <= value if higher else ends[-1][1] >= value):
            ends.pop()
        ends.append((minute, value))

    def expire(self, now_minute: int) -> None:
        first = now_minute - TICKER_WINDOW_MINUTES + 1
        minutes = self.minutes
        while minutes and minutes[0].minute < first:
            old = minutes.popleft()
            self.volume -= old.volume
            self.notional -= old.notional
            self.trades -= old.trades
        for ends in (self.highs, self.lows):
            while ends and ends[0][0] < first:
                ends.popleft()


def ticker_dict(market: Market, seq: int, ts_ns: int) -> dict[str, Any]:
    """The ticker of `market` as of the command (`seq`, `ts_ns`) last applied."""
    ticker = market.ticker
    ticker.expire(ts_ns // NS_PER_MINUTE)
    last = market.last_trade
    last_price = None if last is None else last[1]
    units = market.units
    if ticker.minutes:
        open_ = ticker.minutes[0].open
        high: int | None = ticker.highs[0][1]
        low: int | None = ticker.lows[0][1]
    else:
        open_ = None
        high = low = None
    change = change_percent = None
    if open_ is not None and last_price is not None:
        change = units.price(last_price - open_) if last_price != open_ else "0"
        change_percent = str(
            (Decimal(last_price - open_) * _HUNDRED / Decimal(open_)).quantize(_CENT)
        )
    return {
        "symbol": market.symbol,
        "open": opt(market.price, open_),
        "high": opt(market.price, high),
        "low": opt(market.price, low),
        "last": opt(market.price, last_price),
        "volume": units.qty(ticker.volume) if ticker.volume else "0",
        "quote_volume": (
            units.quote(ticker.notional * market.instrument.notional_per_tick_lot)
            if ticker.notional
            else "0"
        ),
        "trades": ticker.trades,
        "price_change": change,
        "price_change_percent": change_percent,
        "seq": seq,
        "ts": ts_ns,
    }
