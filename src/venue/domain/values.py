"""Integer value types and the small closed vocabularies of the venue.

Invariants:
- Prices are integer ticks, quantities integer lots, money integer minor units of an asset.
  The aliases below are documentation for readers and for mypy; at run time they are `int`.
- Every enum is an `IntEnum` so that the hot path compares plain ints and the journal
  encodes one small integer per field.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

PriceTicks = int
QtyLots = int
AmountMinor = int
OrderId = int
AccountId = int
TradeId = int
Seq = int
TimestampNs = int

NS_PER_MS: Final = 1_000_000
NS_PER_DAY: Final = 86_400_000_000_000
BPS_DENOMINATOR: Final = 10_000
# The largest balance, deposit total, price or quantity the venue holds. Everything the state
# holds must fit the journal's and snapshots' 64-bit integers; 2**62 leaves room for sums.
MAX_AMOUNT: Final = 1 << 62
MAX_PRICE_TICKS: Final = 10**15
MAX_QTY_LOTS: Final = 10**15


class Side(IntEnum):
    BUY = 1
    SELL = 2

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(IntEnum):
    LIMIT = 1
    MARKET = 2
    STOP_MARKET = 3
    STOP_LIMIT = 4
    TAKE_PROFIT = 5
    TAKE_PROFIT_LIMIT = 6

    @property
    def is_triggered(self) -> bool:
        """True for the four types that wait for the last trade price before they act."""
        return self >= OrderType.STOP_MARKET

    @property
    def has_limit_price(self) -> bool:
        return self in (OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT)


class TimeInForce(IntEnum):
    GTC = 1
    IOC = 2
    FOK = 3
    GTD = 4
    DAY = 5


class SelfTradePrevention(IntEnum):
    """What happens when an incoming order would trade with a resting order of its own account.

    The incoming (taker) order's mode decides. A self-trade never prints.
    """

    CANCEL_NEWEST = 1
    CANCEL_OLDEST = 2
    CANCEL_BOTH = 3
    DECREMENT_AND_CANCEL = 4


class MarketMode(IntEnum):
    CONTINUOUS = 1
    CALL = 2


class MarketStatus(IntEnum):
    OPEN = 1
    HALTED = 2


class CancelReason(IntEnum):
    USER = 1
    IOC_REMAINDER = 2
    MARKET_REMAINDER = 3
    FOK_NOT_FILLED = 4
    SELF_TRADE = 5
    CANCEL_ALL = 6
    KILL_SWITCH = 7
    PRICE_BAND = 8
    AUCTION_REMAINDER = 9
