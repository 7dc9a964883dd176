"""Candles (OHLCV) folded from trades: the one aggregator of the market data projection and the
SQL projector, so both tell the same story about every candle (DESIGN.md §9).

Invariants:
- The intervals are `INTERVALS_NS` (name -> length in ns), defined here only, in this order.
- A trade at `ts_ns` belongs to the candle of each interval that starts at
  `ts_ns - ts_ns % length` (`candle_start`): candles are aligned to the Unix epoch (UTC).
- A candle's first trade sets open, high, low and close; each later trade raises high,
  lowers low, sets close, and adds its lots to `volume`, `price * lots` to `notional` (ticks
  x lots: the quote amount is `notional * instrument.notional_per_tick_lot`) and 1 to
  `trades`. A candle only exists once it has a trade.
- `Candles.add` is the only place trades enter candles. It expects the sequencer's
  timestamps, which never decrease: a trade outside a live candle closes it (into `closed`,
  bounded by `closed_max` when given) and starts the next.
- Integers only: prices in ticks, quantities in lots.

Known limitation: a trade whose timestamp went back into an earlier bucket would close the
live candle and open a second candle of that earlier bucket (the sequencer never does this).
"""

from __future__ import annotations

from collections import deque
from typing import Final

NS_PER_MINUTE: Final = 60_000_000_000
INTERVALS_NS: Final[dict[str, int]] = {
    "1m": NS_PER_MINUTE,
    "5m": 5 * NS_PER_MINUTE,
    "15m": 15 * NS_PER_MINUTE,
    "1h": 60 * NS_PER_MINUTE,
    "1d": 1440 * NS_PER_MINUTE,
}
INTERVAL_NAMES: Final = tuple(INTERVALS_NS)
INTERVAL_INDEX: Final[dict[str, int]] = {name: index for index, name in enumerate(INTERVALS_NS)}
"""Interval name -> its index in `Candles.live` / `Candles.closed`."""
_LENGTHS: Final = tuple(enumerate(INTERVALS_NS.values()))


def candle_start(ts_ns: int, length_ns: int) -> int:
    """Start of the candle of length `length_ns` that holds time `ts_ns`."""
    return ts_ns - ts_ns % length_ns


class Candle:
    """One candle's figures (built by `Candles.add`, or from a stored row when seeding)."""

    __slots__ = ("close", "high", "low", "notional", "open", "start_ns", "trades", "volume")

    def __init__(
        self,
        start_ns: int,
        open_: int,
        high: int,
        low: int,
        close: int,
        volume: int,
        trades: int,
        notional: int,
    ) -> None:
        self.start_ns = start_ns
        self.open = open_
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.trades = trades
        self.notional = notional

    def row(self) -> tuple[int, int, int, int, int, int, int, int]:
        """(start_ns, open, high, low, close, volume, trades, notional)."""
        return (
            self.start_ns,
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
            self.trades,
            self.notional,
        )


class Candles:
    """The candles of one symbol in every interval: `live[i]` is the newest candle of the
    `i`-th interval of `INTERVALS_NS` (None before its first trade), `closed[i]` the earlier
    ones, oldest first (at most `closed_max` each; None: unbounded)."""

    __slots__ = ("closed", "live")

    def __init__(self, closed_max: int | None = None) -> None:
        self.live: list[Candle | None] = [None] * len(INTERVALS_NS)
        self.closed: list[deque[Candle]] = [deque(maxlen=closed_max) for _ in INTERVALS_NS]

    def add(self, ts_ns: int, price: int, qty: int) -> None:
        """Fold one trade into the candle of every interval: the bucketing and update rule of
        the module docstring, written once, inline (the market data hot path: one call per
        trade, no call per interval)."""
        live = self.live
        notional = price * qty
        for index, length in _LENGTHS:
            start = ts_ns - ts_ns % length
            candle = live[index]
            if candle is None or candle.start_ns != start:
                if candle is not None:
                    self.closed[index].append(candle)
                live[index] = Candle(start, price, price, price, price, qty, 1, notional)
                continue
            candle.high = max(candle.high, price)
            candle.low = min(candle.low, price)
            candle.close = price
            candle.volume += qty
            candle.notional += notional
            candle.trades += 1

    def seed(self, index: int, candle: Candle) -> None:
        """Make `candle` (newer than any held) the live candle of the `index`-th interval."""
        current = self.live[index]
        if current is not None:
            self.closed[index].append(current)
        self.live[index] = candle

    def all(self, index: int) -> list[Candle]:
        """The held candles of the `index`-th interval, oldest first, the live one last."""
        rows = list(self.closed[index])
        current = self.live[index]
        if current is not None:
            rows.append(current)
        return rows
