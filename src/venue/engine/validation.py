"""The checks of a new order and of a replace (DESIGN.md §4, §6), before anything changes.

Invariants:
- Validation reads the market and never changes it: a rejected order or replace leaves the
  state exactly as it was, and no event but the caller's rejection is produced.
- The checks run in a fixed order and the first failure wins, so the same command is rejected
  for the same `RejectReason` on every replay.
- A new order's optional fields still hold `book.ABSENT` where the command left them out; the
  admission (`MatchingEngine.admit`) replaces them with their defaults afterwards.
- Nothing here walks the book beyond its best price (post-only's `crosses`): FOK's dry run and
  the funds a market buy needs are decided by the caller, with the order in hand.
"""

from __future__ import annotations

from venue.domain.commands import ReplaceOrder
from venue.domain.reject import RejectReason
from venue.domain.values import BPS_DENOMINATOR, MAX_PRICE_TICKS, MAX_QTY_LOTS
from venue.engine.book import ABSENT, BUY, Order
from venue.engine.market import (
    CALL,
    CONTINUOUS,
    DAY,
    FOK,
    GTD,
    HALTED,
    IOC,
    LIMIT,
    MARKET,
    STOP_LIMIT,
    STOP_MARKET,
    TAKE_PROFIT,
    TAKE_PROFIT_LIMIT,
    Market,
)
from venue.engine.stops import stop_reached


def validate_order(market: Market, order: Order, ts: int) -> RejectReason | None:
    """Every check of a new order that needs no book walk, in a fixed order; first failure wins.
    The order's optional fields still hold ABSENT where the command left them out."""
    if market.status == HALTED:
        return RejectReason.MARKET_HALTED
    qty = order.qty
    if qty <= 0:
        return RejectReason.INVALID_QUANTITY
    if qty < market.min_qty:
        return RejectReason.QUANTITY_BELOW_MIN
    if qty > MAX_QTY_LOTS or (market.max_qty and qty > market.max_qty):
        return RejectReason.QUANTITY_ABOVE_MAX
    order_type = order.order_type
    priced = order_type == LIMIT or order_type == STOP_LIMIT or order_type == TAKE_PROFIT_LIMIT
    price = order.price
    if priced:
        if price == ABSENT:
            return RejectReason.PRICE_REQUIRED
        if price <= 0 or price > MAX_PRICE_TICKS:
            return RejectReason.INVALID_PRICE
    elif price != ABSENT:
        return RejectReason.PRICE_NOT_ALLOWED
    stop = order.stop_price
    if order_type >= STOP_MARKET:
        if stop == ABSENT:
            return RejectReason.STOP_PRICE_REQUIRED
        if stop <= 0 or stop > MAX_PRICE_TICKS:
            return RejectReason.INVALID_PRICE
    elif stop != ABSENT:
        return RejectReason.STOP_PRICE_NOT_ALLOWED
    reason = _validate_time_in_force(market, order, priced, ts)
    if reason is not None:
        return reason
    if order.budget != ABSENT:
        reason = _validate_quote_qty(market, order)
        if reason is not None:
            return reason
    display = order.peak
    if display != ABSENT and (not priced or display <= 0 or display > qty):
        return RejectReason.INVALID_DISPLAY_QUANTITY
    notional_price = price if priced else market.reference_price()
    if notional_price and notional_price * qty * market.mult < market.min_notional:
        return RejectReason.NOTIONAL_BELOW_MIN
    if priced and not within_band(market, price):
        return RejectReason.PRICE_OUT_OF_BAND
    if stop != ABSENT and market.last_price:
        if stop_reached(order_type, order.side, stop, market.last_price):
            return RejectReason.STOP_WOULD_TRIGGER_IMMEDIATELY
    if market.order_count >= market.max_book_orders:
        return RejectReason.BOOK_FULL
    if order.post_only and market.mode == CONTINUOUS and priced:
        if crosses(market, order.side, price):
            return RejectReason.POST_ONLY_WOULD_TAKE
    return None


def _validate_time_in_force(
    market: Market, order: Order, priced: bool, ts: int
) -> RejectReason | None:
    tif = order.tif
    order_type = order.order_type
    immediate = tif == IOC or tif == FOK
    if order_type == MARKET and (tif == GTD or tif == DAY):
        return RejectReason.INVALID_TIME_IN_FORCE
    expire = order.expire_ts
    if tif == GTD:
        if expire == ABSENT:
            return RejectReason.EXPIRE_TIME_REQUIRED
        if expire <= ts:
            return RejectReason.EXPIRE_TIME_IN_PAST
    elif expire != ABSENT:
        return RejectReason.EXPIRE_TIME_NOT_ALLOWED
    if order.post_only and (order_type != LIMIT or immediate):
        return RejectReason.POST_ONLY_NOT_ALLOWED
    if order.peak != ABSENT and immediate:
        return RejectReason.INVALID_DISPLAY_QUANTITY
    if market.mode == CALL and (tif == FOK or (tif == IOC and priced)):
        return RejectReason.NOT_ALLOWED_IN_AUCTION
    return None


def _validate_quote_qty(market: Market, order: Order) -> RejectReason | None:
    """A quote budget bounds what a market-type buy spends, while it matches continuously."""
    order_type = order.order_type
    market_type = order_type == MARKET or order_type == STOP_MARKET or order_type == TAKE_PROFIT
    if not market_type or order.side != BUY:
        return RejectReason.QUOTE_QTY_NOT_ALLOWED
    if order.budget <= 0:
        return RejectReason.INVALID_AMOUNT
    if order.tif == FOK:
        return RejectReason.INVALID_TIME_IN_FORCE
    if market.mode == CALL:
        return RejectReason.NOT_ALLOWED_IN_AUCTION
    return None


def validate_replacement(market: Market, order: Order, cmd: ReplaceOrder) -> RejectReason | None:
    """Every check of a replace of a live order of `market`, first failure wins."""
    if market.status == HALTED:
        return RejectReason.MARKET_HALTED
    if order.is_market:
        return RejectReason.NOT_ALLOWED_IN_AUCTION
    pending_stop = order.order_type >= STOP_MARKET
    has_limit = order.order_type in (LIMIT, STOP_LIMIT, TAKE_PROFIT_LIMIT)
    if cmd.price_ticks is not None:
        if not has_limit:
            return RejectReason.PRICE_NOT_ALLOWED
        if cmd.price_ticks <= 0 or cmd.price_ticks > MAX_PRICE_TICKS:
            return RejectReason.INVALID_PRICE
        if cmd.price_ticks != order.price and not within_band(market, cmd.price_ticks):
            return RejectReason.PRICE_OUT_OF_BAND
    if cmd.stop_price_ticks is not None:
        if not pending_stop:
            return RejectReason.STOP_PRICE_NOT_ALLOWED
        if cmd.stop_price_ticks <= 0 or cmd.stop_price_ticks > MAX_PRICE_TICKS:
            return RejectReason.INVALID_PRICE
        if market.last_price and stop_reached(
            order.order_type, order.side, cmd.stop_price_ticks, market.last_price
        ):
            return RejectReason.STOP_WOULD_TRIGGER_IMMEDIATELY
    new_qty = order.qty if cmd.qty_lots is None else cmd.qty_lots
    if new_qty <= 0:
        return RejectReason.INVALID_QUANTITY
    if new_qty > MAX_QTY_LOTS:
        return RejectReason.QUANTITY_ABOVE_MAX
    if new_qty <= order.qty - order.remaining:
        return RejectReason.QUANTITY_BELOW_FILLED
    if new_qty < market.min_qty:
        return RejectReason.QUANTITY_BELOW_MIN
    if market.max_qty and new_qty > market.max_qty:
        return RejectReason.QUANTITY_ABOVE_MAX
    new_price = order.price if cmd.price_ticks is None else cmd.price_ticks
    new_stop = order.stop_price if cmd.stop_price_ticks is None else cmd.stop_price_ticks
    if new_qty == order.qty and new_price == order.price and new_stop == order.stop_price:
        return RejectReason.NOTHING_TO_CHANGE
    if has_limit and new_price * new_qty * market.mult < market.min_notional:
        return RejectReason.NOTIONAL_BELOW_MIN
    if order.post_only and market.mode == CONTINUOUS and new_price != order.price:
        if crosses(market, order.side, new_price):
            return RejectReason.POST_ONLY_WOULD_TAKE
    return None


def crosses(market: Market, side: int, price: int) -> bool:
    """Whether an order at `price` would take liquidity from the opposite best price."""
    if side == BUY:
        best_ask = market.asks.best_price()
        return best_ask is not None and price >= best_ask
    best_bid = market.bids.best_price()
    return best_bid is not None and price <= best_bid


def within_band(market: Market, price: int) -> bool:
    """Whether `price` lies inside the price band around the reference price (no band, or no
    reference yet: every price does)."""
    band = market.band_bps
    if band == 0:
        return True
    reference = market.reference_price()
    if reference == 0:
        return True
    low = -(-reference * (BPS_DENOMINATOR - band) // BPS_DENOMINATOR)
    high = reference * (BPS_DENOMINATOR + band) // BPS_DENOMINATOR
    return low <= price <= high
