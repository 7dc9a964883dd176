"""GTD and DAY expiry (DESIGN.md §3, §6): orders expire when a Tick reaches their time, never
because the engine looked at a clock.

Rules implemented here:
- A GTD order expires at its command's `expire_ts_ns`; a DAY order at the instrument's next
  session close after it was placed, or at the end of the UTC day if the instrument sets none
  (`session_close`). Other orders never expire (`expire_ts` 0).
- An order that can expire is on its market's expiry heap from the moment it becomes live
  (`market.index_order`), wherever it lives: a level, the auction queue or the stop book.
- A Tick at `ts` expires every order whose time is at or before `ts`, earliest first, ties in
  order id order. An entry whose order is gone (filled, canceled, already expired through an
  earlier equal entry: a triggered stop that rests is indexed again) or whose order now
  expires at another time is dropped when it reaches the top of the heap.
"""

from __future__ import annotations

from heapq import heappop

from venue.domain.events import Event, OrderExpired
from venue.domain.values import NS_PER_DAY
from venue.engine.market import EngineState, Market, remove_live


def expire(engine: EngineState, market: Market, ts: int, out: list[Event]) -> bool:
    """Expire what is due in one market at `ts`; returns whether any order expired."""
    heap = market.expiries
    expired = False
    while heap and heap[0][0] <= ts:
        expire_ts, order_id = heappop(heap)
        order = engine.orders.get(order_id)
        if order is None or order.expire_ts != expire_ts:
            continue
        out.append(OrderExpired(order.order_id, order.account_id, order.symbol, order.remaining))
        remove_live(engine, market, order, out)
        expired = True
    return expired


def next_expiry_ns(market: Market) -> int | None:
    """The earliest expiry time on the market's heap (perhaps of an order already gone)."""
    heap = market.expiries
    return heap[0][0] if heap else None


def session_close(market: Market, ts: int) -> int:
    """When a DAY order placed at `ts` expires: the instrument's next session close, or the end
    of the UTC day when the instrument sets none."""
    close = ts - ts % NS_PER_DAY + market.session_close_offset_ns
    if close <= ts:
        close += NS_PER_DAY
    return close
