"""What a projection may know of the books at a seq, as plain values (DESIGN.md §2, §9).

Market data seeds its books from a recovered state at startup. It must not hold or walk the
engine's objects (only the sequencer thread may touch them once it runs, and their shape is
the engine's business), so the core hands out `MarketDepth` values: the instrument, status,
mode, last trade price and every price level as `(price_ticks, visible_qty_lots, orders)`.

Call `market_depths` before the sequencer starts (or on its thread): it reads the state.
"""

from __future__ import annotations

import msgspec

from venue.core.state import VenueState
from venue.domain.instrument import Instrument

Level = tuple[int, int, int]  # price_ticks, visible quantity in lots, order count


class MarketDepth(msgspec.Struct, frozen=True):
    instrument: Instrument
    status: int
    mode: int
    last_price_ticks: int  # 0: no trade yet
    bids: list[Level]
    asks: list[Level]


def market_depths(state: VenueState) -> list[MarketDepth]:
    """Every market's depth at `state.last_seq`, levels in no particular order."""
    return [
        MarketDepth(
            instrument=market.instrument,
            status=int(market.status),
            mode=int(market.mode),
            last_price_ticks=market.last_price,
            bids=[(level.price, level.qty, level.count) for level in market.bids.levels.values()],
            asks=[(level.price, level.qty, level.count) for level in market.asks.levels.values()],
        )
        for market in state.engine.markets.values()
    ]
