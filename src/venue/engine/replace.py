"""Replace (amend) of a live order (DESIGN.md §6), once `validation.validate_replacement` passed.

Rules implemented here:
- Reducing the quantity at the same price keeps time priority: the order stays where it is in
  its level and shows at most its new remaining quantity.
- Changing the price or increasing the quantity loses it: the order leaves its level and enters
  again as if it had just arrived, at the back of its new level, and may trade if the new price
  crosses (then the stop triggers run, as after a new order).
- A pending stop keeps no place in any queue: its new figures apply in place, and a new stop
  price puts it on its stop heap again (the old entry goes stale, see engine/stops.py).
- The filled part of an order never changes: `remaining` moves by the change of `qty`.
- In call mode a replace of a resting order publishes the new indicative price.
"""

from __future__ import annotations

from venue.domain.commands import ReplaceOrder
from venue.domain.events import Event, OrderReplaced
from venue.engine.book import BUY, Order
from venue.engine.call_auction import indicative
from venue.engine.continuous import execute
from venue.engine.market import (
    CALL,
    LIMIT,
    STOP_LIMIT,
    STOP_MARKET,
    TAKE_PROFIT_LIMIT,
    EngineState,
    Market,
    level_event,
    unrest,
)
from venue.engine.stops import push_stop, run_triggers


def replace_order(
    engine: EngineState, market: Market, order: Order, cmd: ReplaceOrder, ts: int, out: list[Event]
) -> None:
    """Apply a validated replace to a live order of `market`."""
    new_qty = order.qty if cmd.qty_lots is None else cmd.qty_lots
    new_price = order.price if cmd.price_ticks is None else cmd.price_ticks
    new_remaining = new_qty - (order.qty - order.remaining)
    if order.order_type >= STOP_MARKET:
        _replace_stop(market, order, cmd, new_qty, new_price, new_remaining, out)
        return
    if new_price == order.price and new_remaining <= order.remaining:
        level = order.level
        assert level is not None
        new_visible = min(order.visible, new_remaining)
        level.qty -= order.visible - new_visible
        order.visible = new_visible
        order.qty = new_qty
        order.remaining = new_remaining
        out.append(_replaced(order, cmd, True))
        out.append(level_event(market.symbol, order.side, level))
        if market.mode == CALL:
            indicative(market, out)
        return
    # Loses priority: out of its level, new figures, then in again as if it had just
    # arrived (it may trade if the new price crosses).
    level = order.level
    assert level is not None
    unrest(engine, market, level, order)
    if level.count == 0:
        (market.bids if order.side == BUY else market.asks).drop_level(level)
    order.price = new_price
    order.qty = new_qty
    order.remaining = new_remaining
    order.visible = new_remaining if order.peak == 0 else min(order.peak, new_remaining)
    out.append(_replaced(order, cmd, False))
    out.append(level_event(market.symbol, order.side, level))
    trade_id_before = engine.next_trade_id
    execute(engine, market, order, ts, out)
    if engine.next_trade_id != trade_id_before:
        run_triggers(engine, market, ts, out)
    if market.mode == CALL:
        indicative(market, out)


def _replace_stop(
    market: Market,
    order: Order,
    cmd: ReplaceOrder,
    new_qty: int,
    new_price: int,
    new_remaining: int,
    out: list[Event],
) -> None:
    order.qty = new_qty
    order.remaining = new_remaining
    order.visible = new_remaining if order.peak == 0 else min(order.peak, new_remaining)
    order.price = new_price
    if cmd.stop_price_ticks is not None and cmd.stop_price_ticks != order.stop_price:
        order.stop_price = cmd.stop_price_ticks
        push_stop(market, order)
    out.append(_replaced(order, cmd, True))


def _replaced(order: Order, cmd: ReplaceOrder, priority_kept: bool) -> OrderReplaced:
    has_limit = order.order_type in (LIMIT, STOP_LIMIT, TAKE_PROFIT_LIMIT)
    pending_stop = order.order_type >= STOP_MARKET
    return OrderReplaced(
        order.order_id,
        order.account_id,
        order.symbol,
        order.price if has_limit else None,
        order.stop_price if pending_stop else None,
        order.qty,
        order.remaining,
        priority_kept,
        cmd,
    )
