"""Market data: the L2/BBO/trades/candles/ticker projection of the event stream and the hub
that fans its messages out to subscribers through bounded queues (DESIGN.md §9)."""

from venue.marketdata.hub import Hub, Subscriber, TooManyChannelsError
from venue.marketdata.projection import (
    INTERVALS_NS,
    MarketData,
    UnknownIntervalError,
    UnknownSymbol,
)

__all__ = [
    "INTERVALS_NS",
    "Hub",
    "MarketData",
    "Subscriber",
    "TooManyChannelsError",
    "UnknownIntervalError",
    "UnknownSymbol",
]
