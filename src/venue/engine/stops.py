"""Stop and take-profit orders (DESIGN.md §6): waiting for the trade price, and triggering.

Rules implemented here:
- A pending stop is live (indexed, counted) but in no level; it waits on one of two heaps of
  its market: `stops_up` for a buy stop or a sell take-profit (the price must rise to it),
  `stops_down` for a sell stop or a buy take-profit (the price must fall to it).
- Any trade at or through the stop price triggers it: the highest and lowest prints of a sweep
  count, not only its last (`Market.trade_high`/`trade_low`, noted by every trade).
- Triggers run after the order that moved the price, never in the middle of its match. A
  cascade is resolved in order id (= placement seq) order inside the command: a triggered stop
  becomes a MARKET (or, with a limit, a LIMIT) order and executes as a new order would, and
  what it trades may trigger more.
- A stop triggered by an opening auction acts in the continuous market that follows it (the
  caller runs the triggers once the market is in its next mode).
- Heap entries are never removed eagerly: a canceled stop's entry, or the old entry of a stop
  whose price was replaced, is recognised as stale when it surfaces (`_pend`).
"""

from __future__ import annotations

from heapq import heappop, heappush

from venue.domain.events import Event, StopTriggered
from venue.engine.book import BUY, Order
from venue.engine.continuous import execute
from venue.engine.market import (
    LIMIT,
    MARKET,
    STOP_LIMIT,
    STOP_MARKET,
    TAKE_PROFIT_LIMIT,
    EngineState,
    Market,
    index_order,
)


def add_stop(engine: EngineState, market: Market, order: Order) -> None:
    """Make a new stop live, waiting for its trigger."""
    index_order(engine, market, order)
    push_stop(market, order)


def push_stop(market: Market, order: Order) -> None:
    """Put a stop on the heap of its direction (again, after its stop price changed)."""
    if triggers_upward(order.order_type, order.side):
        heappush(market.stops_up, (order.stop_price, order.order_id))
    else:
        heappush(market.stops_down, (-order.stop_price, order.order_id))


def run_triggers(engine: EngineState, market: Market, ts: int, out: list[Event]) -> None:
    """Trigger every stop the last price has reached, in order id (placement) order; each
    triggered order may trade and trigger more, all inside this command."""
    pending: list[int] = []
    _collect_triggered(engine, market, pending)
    while pending:
        order_id = heappop(pending)
        order = engine.orders.get(order_id)
        if order is None or order.order_type < STOP_MARKET:
            continue
        del engine.orders[order_id]
        market.order_count -= 1
        out.append(StopTriggered(order_id, order.account_id, order.symbol, market.last_price))
        has_limit = order.order_type == STOP_LIMIT or order.order_type == TAKE_PROFIT_LIMIT
        order.order_type = LIMIT if has_limit else MARKET
        trade_id_before = engine.next_trade_id
        execute(engine, market, order, ts, out)
        if engine.next_trade_id != trade_id_before:
            _collect_triggered(engine, market, pending)


def _collect_triggered(engine: EngineState, market: Market, pending: list[int]) -> None:
    """Move every stop reached by a trade since the last look into `pending`: rising
    triggers by the highest price traded, falling ones by the lowest."""
    high = market.trade_high
    low = market.trade_low
    market.trade_high = 0
    market.trade_low = 0
    if high == 0:
        return
    rising = market.stops_up
    while rising and rising[0][0] <= high:
        stop, order_id = heappop(rising)
        _pend(engine, order_id, stop, pending)
    falling = market.stops_down
    while falling and -falling[0][0] >= low:
        negative_stop, order_id = heappop(falling)
        _pend(engine, order_id, -negative_stop, pending)


def _pend(engine: EngineState, order_id: int, stop: int, pending: list[int]) -> None:
    """Queue a triggered stop unless its heap entry is stale (canceled, or re-priced)."""
    order = engine.orders.get(order_id)
    if order is not None and order.order_type >= STOP_MARKET and order.stop_price == stop:
        heappush(pending, order_id)


def stop_reached(order_type: int, side: int, stop: int, last: int) -> bool:
    """Whether a trade at `last` triggers a stop of this type and side at `stop`."""
    if triggers_upward(order_type, side):
        return last >= stop
    return last <= stop


def triggers_upward(order_type: int, side: int) -> bool:
    """A buy stop and a sell take-profit wait for the price to rise; the others for a fall."""
    is_stop = order_type == STOP_MARKET or order_type == STOP_LIMIT
    return is_stop == (side == BUY)
