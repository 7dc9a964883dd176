"""The state every matching module works on: one `Market` per instrument, the `EngineState`
that holds them with the index of live orders, and the upkeep that keeps the two in step
(indexing, resting and removing an order, refilling an iceberg, noting a trade's price).

The matching engine is split by rule (DESIGN.md §6) into modules of free functions over this
state, `engine/matching.py` being the thin `MatchingEngine` in front of them:
    continuous.py    continuous matching: price-time priority, FOK, STP, icebergs, budgets
    stops.py         stop and take-profit triggering
    expiry.py        GTD and DAY expiry
    call_auction.py  call mode: indicative price and uncross (the price itself: auction.py)
    replace.py       replace (amend)
    validation.py    the checks of a new order and of a replace
All of them are compiled by mypyc as one group with book.py (tools/build_compiled.py), so the
calls between them are native C calls, as the methods of one class were.

Invariants (checked by `MatchingEngine.check_invariants`):
- `EngineState.orders` holds every live order exactly once, and each live order lives in exactly
  one place: a level of its market's book (`order.level` set), the call auction's market-order
  queue of its side (`order.is_market`), or the stop book (`order_type` >= STOP_MARKET).
- `Market.order_count` is the number of live orders of that market.
- `Market.next_priority` and `EngineState.next_trade_id` only grow: every entry into a level
  takes a new priority, every print a new trade id.
- The stop and expiry heaps use lazy deletion: an entry whose order is gone, or whose stop price
  or expiry time has changed since, is dropped when it reaches the top.
- `trade_high`/`trade_low` span the prices traded since the stop triggers last looked.
- With `reporting` off, only the events that merely report (OrderAccepted, LevelUpdated of
  continuous trading) are left out, never one that settlement or the state depends on.
"""

from __future__ import annotations

from heapq import heappush
from typing import Final

from venue.domain.events import Event, LevelUpdated
from venue.domain.instrument import Instrument
from venue.domain.values import Side
from venue.engine.book import BUY, SELL, BookSide, Level, Order

# Plain-int mirrors of the domain enums, for the hot path.
LIMIT: Final = 1
MARKET: Final = 2
STOP_MARKET: Final = 3
STOP_LIMIT: Final = 4
TAKE_PROFIT: Final = 5
TAKE_PROFIT_LIMIT: Final = 6
GTC: Final = 1
IOC: Final = 2
FOK: Final = 3
GTD: Final = 4
DAY: Final = 5
STP_CANCEL_NEWEST: Final = 1
STP_CANCEL_OLDEST: Final = 2
STP_CANCEL_BOTH: Final = 3
STP_DECREMENT: Final = 4
CONTINUOUS: Final = 1
CALL: Final = 2
OPEN: Final = 1
HALTED: Final = 2

SIDES: Final = (Side.BUY, Side.BUY, Side.SELL)  # indexed by the int side (1 or 2)

# Hot-path alias. Compiled code loads a Final module constant from a C static, but looks an
# ordinary imported name up in the module's dict on every use (measured: dict lookups were the
# largest single cost of the compiled engine).
LEVEL_UPDATED: Final = LevelUpdated


class Market:
    """One instrument's order book with its stops, expiries and auction state."""

    instrument: Instrument
    symbol: str
    bids: BookSide
    asks: BookSide
    status: int
    mode: int
    last_price: int
    next_priority: int
    order_count: int
    market_buys: list[Order]
    market_sells: list[Order]
    stops_up: list[tuple[int, int]]
    stops_down: list[tuple[int, int]]
    expiries: list[tuple[int, int]]
    auction_interval_ns: int
    next_uncross_ts: int
    mult: int
    min_qty: int
    max_qty: int
    min_notional: int
    band_bps: int
    max_book_orders: int
    initial_reference: int
    session_close_offset_ns: int
    trade_high: int
    trade_low: int

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.bids = BookSide(BUY)
        self.asks = BookSide(SELL)
        self.status = OPEN
        self.mode = int(instrument.mode)
        self.last_price = 0
        self.next_priority = 1
        self.order_count = 0
        self.market_buys = []
        self.market_sells = []
        # (stop price, order id): triggers when the last price rises to the stop price
        self.stops_up = []
        # (-stop price, order id): triggers when the last price falls to the stop price
        self.stops_down = []
        self.expiries = []
        self.auction_interval_ns = instrument.auction_interval_ns
        self.next_uncross_ts = 0
        # The instrument's figures the hot path reads, as native ints (0 means none).
        self.mult = instrument.notional_per_tick_lot
        self.min_qty = instrument.min_qty_lots
        self.max_qty = instrument.max_qty_lots or 0
        self.min_notional = instrument.min_notional
        self.band_bps = instrument.price_band_bps
        self.max_book_orders = instrument.max_book_orders
        self.initial_reference = instrument.reference_price_ticks or 0
        self.session_close_offset_ns = instrument.session_close_offset_ns or 0
        # Highest and lowest trade price since the stop triggers last looked (0: no trade).
        self.trade_high = 0
        self.trade_low = 0

    def reference_price(self) -> int:
        """Last trade price, else the instrument's reference price, else 0 (none)."""
        return self.last_price or self.initial_reference

    def best_bid(self) -> int | None:
        return self.bids.best_price()

    def best_ask(self) -> int | None:
        return self.asks.best_price()


class EngineState:
    """All markets of the venue and the index of live orders by id (`MatchingEngine` adds the
    commands on top)."""

    markets: dict[str, Market]
    orders: dict[int, Order]
    next_trade_id: int
    reporting: bool

    def __init__(self) -> None:
        self.markets = {}
        self.orders = {}
        self.next_trade_id = 1
        # Off only while replaying a journal nobody observes: the engine then leaves out the
        # events that only report (OrderAccepted, and LevelUpdated from continuous trading),
        # never one that settlement or the state depends on.
        self.reporting = True


# ---------------------------------------------------------------------- book upkeep


def index_order(engine: EngineState, market: Market, order: Order) -> None:
    """Make an order live: in the index, counted, and on the expiry heap if it can expire."""
    engine.orders[order.order_id] = order
    market.order_count += 1
    if order.expire_ts:
        heappush(market.expiries, (order.expire_ts, order.order_id))


def rest(engine: EngineState, market: Market, order: Order, out: list[Event]) -> None:
    """Put an order that is not live at the back of its price level and index it."""
    book_side = market.bids if order.side == BUY else market.asks
    level = book_side.level_for(order.price)
    # What shows is set on entering the book: matching as a taker only counts `remaining`.
    peak = order.peak
    order.visible = order.remaining if peak == 0 or peak > order.remaining else peak
    order.priority = market.next_priority
    market.next_priority += 1
    level.append(order)
    index_order(engine, market, order)
    if engine.reporting:
        out.append(
            LEVEL_UPDATED(market.symbol, SIDES[order.side], order.price, level.qty, level.count)
        )


def unrest(engine: EngineState, market: Market, level: Level, order: Order) -> None:
    """Take a resting order out of its level and the index (the level may become empty;
    the caller drops it and reports it)."""
    level.unlink(order)
    del engine.orders[order.order_id]
    market.order_count -= 1


def remove_live(engine: EngineState, market: Market, order: Order, out: list[Event]) -> None:
    """Remove a live order wherever it lives (level, auction queue or stop book) and report
    the level change, if any. A stop's heap entry stays behind, stale."""
    level = order.level
    if level is not None:
        book_side = market.bids if order.side == BUY else market.asks
        unrest(engine, market, level, order)
        if level.count == 0:
            book_side.drop_level(level)
        if engine.reporting:
            out.append(level_event(market.symbol, order.side, level))
        return
    if order.is_market:
        queue = market.market_buys if order.side == BUY else market.market_sells
        queue.remove(order)
    del engine.orders[order.order_id]
    market.order_count -= 1


def refill(market: Market, level: Level, order: Order) -> None:
    """An iceberg whose shown part is gone shows its next slice at the back of the level."""
    level.unlink(order)
    order.visible = min(order.peak, order.remaining)
    order.priority = market.next_priority
    market.next_priority += 1
    level.append(order)


def note_trade_price(market: Market, price: int) -> None:
    """Widen the range of prices traded since the stop triggers last looked: a stop triggers
    on any trade at or through its price, not only on the last one of a sweep."""
    market.trade_high = max(market.trade_high, price)
    if market.trade_low == 0 or price < market.trade_low:
        market.trade_low = price


def level_event(symbol: str, side: int, level: Level) -> LevelUpdated:
    return LEVEL_UPDATED(symbol, SIDES[side], level.price, level.qty, level.count)
