"""Candles of one symbol as market data shows them. The candles themselves are folded by
`venue.views.candles.Candles` (fed by `trades.apply_trade`), the aggregator the SQL projector
uses too, so the live feed and the read model agree on every candle.

Invariants:
- The intervals are `venue.views.candles.INTERVALS_NS`; a candle channel is
  `candles.{symbol}.{interval}` and gets at most one message per command (the live candle
  after the command's trades).
- At most `candles_kept` closed candles per interval, plus the live one.
- Seeding from the read model (`seed_rows`) makes the newest row the live candle, which
  later trades of the same bucket extend; seeding 1m also fills the 24 h ticker.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeAlias

from venue.domain.values import NS_PER_MS
from venue.views.candles import INTERVAL_INDEX, Candle

if TYPE_CHECKING:
    from venue.marketdata.market import Market

CandleRow: TypeAlias = tuple[int, int, int, int, int, int, int, int]
"""What `seed_candles` takes: (start_ns, open_ticks, high_ticks, low_ticks, close_ticks,
volume_lots, trade_count, notional_ticks_lots), oldest first. `notional_ticks_lots` is
sum(price_ticks * qty_lots) of the candle's trades; it seeds the 24 h ticker's quote volume
(give 0 if unknown)."""


class UnknownIntervalError(ValueError):
    """Not one of the candle intervals in `INTERVALS_NS`."""


def interval_index(interval: str) -> int:
    index = INTERVAL_INDEX.get(interval)
    if index is None:
        raise UnknownIntervalError(interval)
    return index


def seed_rows(market: Market, interval: str, rows: Iterable[CandleRow]) -> None:
    index = interval_index(interval)
    candles = market.candles
    ticker = market.ticker
    for start_ns, open_, high, low, close, volume, trades, notional in rows:
        candles.seed(index, Candle(start_ns, open_, high, low, close, volume, trades, notional))
        if interval == "1m":
            ticker.seed_minute(start_ns, open_, high, low, volume, trades, notional)


def candle_dict(market: Market, interval: str, candle: Candle) -> dict[str, Any]:
    price = market.price
    return {
        "interval": interval,
        "start": candle.start_ns // NS_PER_MS,
        "open": price(candle.open),
        "high": price(candle.high),
        "low": price(candle.low),
        "close": price(candle.close),
        "volume": market.qty(candle.volume) if candle.volume else "0",
        "trades": candle.trades,
    }


def candle_message(market: Market, interval: str, candle: Candle, channel: str) -> dict[str, Any]:
    return {"channel": channel, **candle_dict(market, interval, candle)}


def held_candles(market: Market, interval: str) -> list[dict[str, Any]]:
    """The candles held for `interval`, oldest first, the live one last."""
    index = interval_index(interval)
    return [candle_dict(market, interval, candle) for candle in market.candles.all(index)]
