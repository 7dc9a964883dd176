"""Continuous matching (DESIGN.md §6): what happens to an order that is not live yet (a new
order, a triggered stop, a re-priced replace) once it passed validation. The hot path.

Rules implemented here:
- Price-time priority: the taker trades against the best opposite level first, FIFO within it,
  and every fill is at the maker's price. A level is exhausted before the next is touched (no
  trade-through).
- MARKET orders never rest and are bounded by the price band (`market_price_limit`), or by the cap a
  market buy's funds were reserved up to; GTC/IOC market orders are the same thing. What a
  market, IOC or FOK order leaves unfilled is canceled; a GTC/GTD/DAY limit order rests.
- FOK is decided before any fill by a dry run over the opposite side (`fok_fillable`), which
  replays self-trade prevention and iceberg refills exactly as `match_level` would.
- Icebergs show `peak` lots at a time; each refill goes to the back of its level.
- Self-trade prevention follows the incoming order's mode; a self-trade never prints.
- A quote budget (market buy by quote amount) stops the match when it cannot pay for one more
  lot, fee included (`lot_cost`, the same per-lot bound the ledger reserves).
- In call mode `execute` only collects: a limit order rests (the book may then be crossed), a
  market order waits in its side's FIFO queue (engine/call_auction.py uncrosses them).

Every trade moves `last_price` and the range the stop triggers read (`note_trade_price`); the
caller runs the triggers (engine/stops.py) after the order that moved the price.
"""

from __future__ import annotations

from collections import deque
from typing import Final

from venue.domain.events import Event, OrderCanceled, OrderReduced, TradeExecuted
from venue.domain.values import BPS_DENOMINATOR, CancelReason
from venue.engine.book import BUY, NO_PRICE_CAP, Level, Order
from venue.engine.market import (
    CALL,
    FOK,
    IOC,
    LEVEL_UPDATED,
    MARKET,
    SIDES,
    STP_CANCEL_BOTH,
    STP_CANCEL_OLDEST,
    STP_DECREMENT,
    EngineState,
    Market,
    index_order,
    note_trade_price,
    refill,
    rest,
    unrest,
)

# Hot-path aliases: a Final module constant is a C static under mypyc, an imported name a dict
# lookup per use (see engine/market.py).
ORDER_CANCELED: Final = OrderCanceled
TRADE_EXECUTED: Final = TradeExecuted
MARKET_REMAINDER: Final = CancelReason.MARKET_REMAINDER
IOC_REMAINDER: Final = CancelReason.IOC_REMAINDER


def execute(engine: EngineState, market: Market, order: Order, ts: int, out: list[Event]) -> None:
    """Match (continuous mode) and then rest, queue or cancel what is left of an order that
    is not in the index: a new order, a triggered stop, or a re-priced replace."""
    is_market = order.order_type == MARKET
    if market.mode == CALL:
        if is_market:
            order.is_market = True
            order.priority = market.next_priority
            market.next_priority += 1
            (market.market_buys if order.side == BUY else market.market_sells).append(order)
            index_order(engine, market, order)
        else:
            rest(engine, market, order, out)
        return
    if is_market:
        limit = market_price_limit(market, order.side)
        if order.price and order.side == BUY and order.price < limit:
            limit = order.price
    else:
        limit = order.price
    if order.tif == FOK and not fok_fillable(market, order, limit):
        out.append(
            OrderCanceled(
                order.order_id,
                order.account_id,
                order.symbol,
                order.remaining,
                CancelReason.FOK_NOT_FILLED,
            )
        )
        return
    match(engine, market, order, limit, ts, out)
    if order.remaining == 0:
        return
    if is_market or order.tif == IOC or order.tif == FOK:
        reason = MARKET_REMAINDER if is_market else IOC_REMAINDER
        out.append(
            ORDER_CANCELED(order.order_id, order.account_id, order.symbol, order.remaining, reason)
        )
        return
    rest(engine, market, order, out)


def match(
    engine: EngineState, market: Market, taker: Order, limit: int, ts: int, out: list[Event]
) -> None:
    is_buy = taker.side == BUY
    opposite = market.asks if is_buy else market.bids
    symbol = market.symbol
    while taker.remaining > 0:
        level = opposite.best()
        if level is None:
            break
        price = level.price
        if is_buy:
            if price > limit:
                break
        elif price < limit:
            break
        if taker.has_budget and taker.budget < lot_cost(market, price, taker.budget_fee_bps):
            break
        exhausted = match_level(engine, market, level, taker, ts, out)
        if level.count == 0:
            opposite.drop_level(level)
        if engine.reporting:
            out.append(LEVEL_UPDATED(symbol, SIDES[opposite.side], price, level.qty, level.count))
        if exhausted:
            break


def match_level(
    engine: EngineState, market: Market, level: Level, taker: Order, ts: int, out: list[Event]
) -> bool:
    """Fill `taker` against one level, FIFO, until either is exhausted. The hot loop.
    Returns True when the taker's quote budget cannot buy one more lot."""
    price = level.price
    budget_exhausted = False
    per_lot = 0
    lot_notional = 0
    if taker.has_budget:
        lot_notional = price * market.mult
        per_lot = lot_cost(market, price, taker.budget_fee_bps)
    symbol = market.symbol
    taker_id = taker.order_id
    taker_account = taker.account_id
    aggressor = SIDES[taker.side]
    orders = engine.orders
    traded = False
    maker = level.head
    while maker is not None and taker.remaining > 0:
        if maker.account_id == taker_account:
            maker = self_trade(engine, market, level, maker, taker, out)
            continue
        fill = taker.remaining if taker.remaining < maker.visible else maker.visible
        if per_lot:
            affordable = taker.budget // per_lot
            if affordable == 0:
                budget_exhausted = True
                break
            fill = min(fill, affordable)
            notional = lot_notional * fill
            taker.budget -= notional - (-notional * taker.budget_fee_bps // BPS_DENOMINATOR)
        maker.visible -= fill
        maker.remaining -= fill
        level.qty -= fill
        taker.remaining -= fill
        trade_id = engine.next_trade_id
        engine.next_trade_id = trade_id + 1
        out.append(
            TRADE_EXECUTED(
                trade_id,
                symbol,
                price,
                fill,
                maker.order_id,
                taker_id,
                maker.account_id,
                taker_account,
                aggressor,
                ts,
                maker.remaining,
                taker.remaining,
            )
        )
        traded = True
        following = maker.next
        if maker.visible == 0:
            if maker.remaining == 0:
                level.unlink(maker)
                del orders[maker.order_id]
                market.order_count -= 1
            else:
                refill(market, level, maker)
                if following is None:
                    following = maker
        maker = following
    if traded:
        market.last_price = price
        note_trade_price(market, price)
    return budget_exhausted


def self_trade(
    engine: EngineState, market: Market, level: Level, maker: Order, taker: Order, out: list[Event]
) -> Order | None:
    """Apply the taker's self-trade prevention against `maker`; returns the next maker to
    look at. Sets the taker's remaining to 0 when the taker is canceled."""
    mode = taker.stp
    following = maker.next
    if mode == STP_CANCEL_OLDEST or mode == STP_CANCEL_BOTH:
        out.append(
            OrderCanceled(
                maker.order_id,
                maker.account_id,
                maker.symbol,
                maker.remaining,
                CancelReason.SELF_TRADE,
            )
        )
        unrest(engine, market, level, maker)
        if mode == STP_CANCEL_OLDEST:
            return following
    if mode != STP_DECREMENT:
        out.append(
            OrderCanceled(
                taker.order_id,
                taker.account_id,
                taker.symbol,
                taker.remaining,
                CancelReason.SELF_TRADE,
            )
        )
        taker.remaining = 0
        return following
    decrement = min(taker.remaining, maker.remaining)
    if maker.remaining == decrement:
        out.append(
            OrderCanceled(
                maker.order_id,
                maker.account_id,
                maker.symbol,
                decrement,
                CancelReason.SELF_TRADE,
            )
        )
        unrest(engine, market, level, maker)
    else:
        maker.remaining -= decrement
        shown = min(decrement, maker.visible)
        maker.visible -= shown
        level.qty -= shown
        out.append(
            OrderReduced(maker.order_id, maker.account_id, maker.symbol, decrement, maker.remaining)
        )
        if maker.visible == 0:
            refill(market, level, maker)
            if following is None:
                following = maker
    if taker.remaining == decrement:
        out.append(
            OrderCanceled(
                taker.order_id,
                taker.account_id,
                taker.symbol,
                decrement,
                CancelReason.SELF_TRADE,
            )
        )
        taker.remaining = 0
    else:
        taker.remaining -= decrement
        out.append(
            OrderReduced(taker.order_id, taker.account_id, taker.symbol, decrement, taker.remaining)
        )
    return following


def fok_fillable(market: Market, taker: Order, limit: int) -> bool:
    """Dry run of the match: can the whole quantity fill within the limit, given the taker's
    self-trade prevention? Each level is replayed as `match_level` would take it, with an
    iceberg's refill queued at the back (behind, perhaps, the taker's own order)."""
    is_buy = taker.side == BUY
    opposite = market.asks if is_buy else market.bids
    if is_buy:
        prices = sorted(price for price in opposite.levels if price <= limit)
    else:
        prices = sorted((price for price in opposite.levels if price >= limit), reverse=True)
    needed = taker.remaining
    for price in prices:
        # [account, shown, remaining, peak] per order, FIFO
        queue = deque(
            [maker.account_id, maker.visible, maker.remaining, maker.peak]
            for maker in opposite.levels[price].orders()
        )
        while queue:
            account_id, shown, remaining, peak = queue.popleft()
            if account_id == taker.account_id:
                if taker.stp != STP_CANCEL_OLDEST:
                    return False
                continue  # canceled by the match, nothing traded
            fill = min(needed, shown)
            needed -= fill
            if needed == 0:
                return True
            remaining -= fill
            if remaining > 0:
                queue.append([account_id, min(peak, remaining), remaining, peak])
    return False


def market_price_limit(market: Market, side: int) -> int:
    """The worst price a market order may reach: the edge of the price band around the
    reference price (the touch, if there has been no trade), or no limit without a band."""
    band = market.band_bps
    if band == 0:
        return NO_PRICE_CAP if side == BUY else 0
    reference = market.reference_price()
    if reference == 0:
        touch = market.asks.best_price() if side == BUY else market.bids.best_price()
        if touch is None:
            return NO_PRICE_CAP if side == BUY else 0
        reference = touch
    if side == BUY:
        return reference * (BPS_DENOMINATOR + band) // BPS_DENOMINATOR
    return -(-reference * (BPS_DENOMINATOR - band) // BPS_DENOMINATOR)


def lot_cost(market: Market, price: int, fee_bps: int) -> int:
    """What one lot at `price` costs a budgeted buy: notional plus its fee, rounded up (the
    same per-lot bound the ledger reserves, ledger/fees.py)."""
    lot_notional = price * market.mult
    return lot_notional - (-lot_notional * fee_bps // BPS_DENOMINATOR)
