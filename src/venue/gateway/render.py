"""JSON shapes of the API: integers inside become decimal strings here, and only here.

Timestamps are ms since the epoch (ints); ids are ints; prices, quantities and amounts are
decimal strings in the instrument's or asset's units.
"""

from __future__ import annotations

from typing import Any

from venue.domain.events import BalanceChanged, PositionChanged
from venue.domain.units import Units, format_amount
from venue.domain.values import OrderType, SelfTradePrevention, Side, TimeInForce
from venue.views.orders import FillRecord, OrderRecord

SIDE_NAMES = {Side.BUY: "buy", Side.SELL: "sell"}
SIDES = {v: k for k, v in SIDE_NAMES.items()}
TYPE_NAMES = {t: t.name.lower() for t in OrderType}
TYPES = {v: k for k, v in TYPE_NAMES.items()}
TIF_NAMES = {t: t.name.lower() for t in TimeInForce}
TIFS = {v: k for k, v in TIF_NAMES.items()}
STP_NAMES = {s: s.name.lower() for s in SelfTradePrevention}
STPS = {v: k for k, v in STP_NAMES.items()}


def ms(ts_ns: int | None) -> int | None:
    return None if ts_ns is None else ts_ns // 1_000_000


def order_json(
    record: OrderRecord, units: Units, fills: list[FillRecord] | None = None
) -> dict[str, Any]:
    price = units.price
    qty = units.qty
    body: dict[str, Any] = {
        "order_id": record.order_id,
        "client_order_id": record.client_order_id,
        "account_id": record.account_id,
        "symbol": record.symbol,
        "side": SIDE_NAMES[record.side],
        "type": TYPE_NAMES[record.order_type],
        "time_in_force": TIF_NAMES[record.tif],
        "status": record.status.value,
        "quantity": qty(record.qty_lots),
        "price": None if record.price_ticks is None else price(record.price_ticks),
        "stop_price": None if record.stop_price_ticks is None else price(record.stop_price_ticks),
        "display_quantity": (
            None if record.display_qty_lots is None else qty(record.display_qty_lots)
        ),
        "quote_quantity": None if record.quote_qty is None else units.quote(record.quote_qty),
        "post_only": record.post_only,
        "self_trade_prevention": STP_NAMES[record.stp],
        "expire_time": ms(record.expire_ts_ns),
        "filled_quantity": qty(record.filled_lots),
        "remaining_quantity": qty(record.remaining_lots),
        "average_price": units.average_price(record.filled_notional, record.filled_lots),
        "fee_paid": units.quote(record.fee_paid),
        "reject_reason": record.reject_reason,
        "cancel_reason": record.cancel_reason,
        "created_at": ms(record.created_ts_ns),
        "updated_at": ms(record.updated_ts_ns),
        "seq": record.updated_seq,
    }
    if fills is not None:
        body["fills"] = [fill_json(fill, units) for fill in fills]
    return body


def fill_json(fill: FillRecord, units: Units) -> dict[str, Any]:
    return {
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "symbol": fill.symbol,
        "side": SIDE_NAMES[fill.side],
        "price": units.price(fill.price_ticks),
        "quantity": units.qty(fill.qty_lots),
        "liquidity": fill.liquidity,
        "fee": units.quote(fill.fee),
        "fee_asset": fill.fee_asset,
        "seq": fill.seq,
        "time": ms(fill.ts_ns),
    }


def balance_json(event: BalanceChanged, decimals: int) -> dict[str, Any]:
    return {
        "asset": event.asset,
        "available": format_amount(event.available, decimals),
        "held": format_amount(event.held, decimals),
        "total": format_amount(event.available + event.held, decimals),
    }


def position_json(
    event: PositionChanged, units: Units, last_price_ticks: int | None
) -> dict[str, Any]:
    net = event.net_lots
    mult = units.instrument.notional_per_tick_lot
    # cost_basis is in quote minor units, mult of them per tick x lot: exact, not floored
    average = units.average_price(event.cost_basis, abs(net) * mult) if net else None
    unrealized = None
    if net and last_price_ticks is not None:
        value = last_price_ticks * abs(net) * mult
        unrealized = units.quote(value - event.cost_basis if net > 0 else event.cost_basis - value)
    return {
        "symbol": event.symbol,
        "net_quantity": units.qty(net),
        "average_price": average,
        "cost_basis": units.quote(event.cost_basis),
        "realized_pnl": units.quote(event.realized_pnl),
        "unrealized_pnl": unrealized,
        "fees_paid": units.quote(event.fees_paid),
    }
