"""What the routes and WebSocket sessions call: requests become commands, replies become JSON.

Handlers only translate (DESIGN.md §1): every change is a command submitted to the
sequencer; every answer is read from the live view once the reply (and so the view) is
there.

Invariants:
- Every integer handed to the core is range-checked here first (prices, lots, amounts,
  times), so no request can make `core.apply` raise.
- A `client_order_id` already used by the account answers the original order and submits
  nothing; two concurrent requests with the same one submit once (the second waits for the
  first's answer).
- A refusal by the core answers the error of `errors.REJECT_STATUS`, with the rejected
  order in `details.order` for a refused order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Protocol

from venue.core import FEE_ACCOUNT_ID
from venue.domain.admission import command_problem
from venue.domain.commands import (
    AddInstrument,
    CancelAllOrders,
    CancelOrder,
    Command,
    CreateAccount,
    Deposit,
    HaltMarket,
    PlaceOrder,
    ReplaceOrder,
    ResumeMarket,
    SetFeeTier,
    SetKillSwitch,
    SetMarketMode,
    SetRiskProfile,
    UpdateAccount,
    Withdraw,
)
from venue.domain.events import (
    CommandRejected,
    Event,
    OrderCanceled,
    OrderRejected,
)
from venue.domain.exact import EXACT
from venue.domain.instrument import Instrument, InstrumentError
from venue.domain.reject import RejectReason
from venue.domain.units import (
    UnitError,
    Units,
    is_multiple,
    parse_amount,
    parse_decimal,
    parse_units,
)
from venue.domain.values import (
    MAX_AMOUNT,
    MAX_PRICE_TICKS,
    MAX_QTY_LOTS,
    MarketMode,
    TimeInForce,
)
from venue.gateway.errors import ApiError, GatewayCode, invalid, not_found, rejected
from venue.gateway.live import LiveView
from venue.gateway.render import SIDES, STPS, TIFS, TYPES, balance_json, order_json
from venue.gateway.requests import (
    AccountRequest,
    AccountUpdateRequest,
    AmountRequest,
    FeeTierRequest,
    InstrumentRequest,
    KillSwitchRequest,
    ModeRequest,
    OrderRequest,
    ReplaceRequest,
    RiskProfileRequest,
)
from venue.runtime.replies import NotCommittedError, OverloadedError, Reply
from venue.views.orders import FillRecord, OrderRecord

NS_PER_MS = 1_000_000
_ORDER_COMMANDS = frozenset({PlaceOrder, CancelOrder, ReplaceOrder})
NS_PER_HOUR = 3_600 * 10**9
_BAND_STEP = Decimal("0.01")  # price_band_pct has at most 2 decimals (1 basis point)

Execute = Callable[[Command], Awaitable[Reply]]


class History(Protocol):
    """The SQL read model, for what the live view no longer holds (blocking calls)."""

    def order(self, account_id: int, order_id: int) -> OrderRecord | None: ...

    def fills_of_order(self, account_id: int, order_id: int) -> list[FillRecord]: ...


def _unit_error(exc: UnitError) -> ApiError:
    return invalid(str(exc), field=exc.field)


class Gateway:
    """The venue as the API sees it."""

    def __init__(
        self,
        execute: Execute,
        live: LiveView,
        history: History,
        *,
        order_expiration_hours: int = 0,
        max_book_orders: int = 1_000_000,
    ) -> None:
        self._execute = execute
        self.live = live
        self.history = history
        self._default_expiry_ns = order_expiration_hours * NS_PER_HOUR
        self._max_book_orders = max_book_orders
        self._pending: dict[tuple[int, str], asyncio.Future[dict[str, Any]]] = {}

    # ------------------------------------------------------------------ plumbing

    async def submit(self, command: Command) -> Reply:
        """Sequence `command` and wait for its durable reply. A command the journal or the
        read model could not hold is refused here (400), before the sequencer sees it:
        `command_problem` checks every command but the three order commands, whose every
        field `to_command`, `cancel` and `replace` range-check themselves (a test holds them
        to `command_problem` too; skipping the walk saves microseconds per order)."""
        if type(command) not in _ORDER_COMMANDS:
            problem = command_problem(command)
            if problem is not None:
                field, why = problem
                raise invalid(f"{field}: {why}", field=field)
        try:
            return await self._execute(command)
        except OverloadedError:
            raise ApiError(503, GatewayCode.OVERLOADED, "the venue is overloaded; retry") from None
        except NotCommittedError as exc:
            raise ApiError(
                503, GatewayCode.NOT_COMMITTED, f"the venue stopped before committing: {exc}"
            ) from None

    def units(self, symbol: str) -> Units:
        units = self.live.units.get(symbol)
        if units is None:
            raise rejected(RejectReason.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
        return units

    def decimals(self, asset: str) -> int:
        decimals = self.live.asset_decimals.get(asset)
        if decimals is None:
            raise rejected(RejectReason.UNKNOWN_ASSET, f"unknown asset {asset!r}")
        return decimals

    async def find_order(self, account_id: int, order_id: int) -> OrderRecord | None:
        record = self.live.order(account_id, order_id)
        if record is None:
            record = await asyncio.to_thread(self.history.order, account_id, order_id)
        return record

    async def order_with_fills(self, account_id: int, order_id: int) -> dict[str, Any]:
        """The order with its fills; another account's order answers exactly like one that
        does not exist (404 `unknown_order`, as DELETE and PATCH answer)."""
        record = None
        if 0 < order_id < MAX_AMOUNT:
            record = await self.find_order(account_id, order_id)
        if record is None:
            raise rejected(RejectReason.UNKNOWN_ORDER, f"order {order_id} not found")
        fills = self.live.fills_of(order_id)
        if fills is None:
            fills = await asyncio.to_thread(self.history.fills_of_order, account_id, order_id)
        return order_json(record, self.units(record.symbol), fills)

    # ------------------------------------------------------------------ orders

    def to_command(self, account_id: int, body: OrderRequest) -> PlaceOrder:
        units = self.units(body.symbol)
        order_type = TYPES[body.type]
        tif = TIFS[body.time_in_force]
        try:
            qty = units.qty_lots("quantity", body.quantity)
            price = None if body.price is None else units.price_ticks("price", body.price)
            stop = (
                None
                if body.stop_price is None
                else units.price_ticks("stop_price", body.stop_price)
            )
            display = (
                None
                if body.display_quantity is None
                else units.qty_lots("display_quantity", body.display_quantity)
            )
            quote_qty = (
                None
                if body.quote_quantity is None
                else units.quote_amount("quote_quantity", body.quote_quantity)
            )
        except UnitError as exc:
            raise _unit_error(exc) from None
        expire = None if body.expire_time is None else body.expire_time * NS_PER_MS
        if self._default_expiry_ns and tif == TimeInForce.GTC and expire is None:
            # ORDER_EXPIRATION_HOURS: a resting order lives at most that long.
            tif = TimeInForce.GTD
            expire = time.time_ns() + self._default_expiry_ns
        return PlaceOrder(
            account_id=account_id,
            symbol=body.symbol,
            side=SIDES[body.side],
            order_type=order_type,
            qty_lots=qty,
            price_ticks=price,
            stop_price_ticks=stop,
            tif=tif,
            expire_ts_ns=expire,
            post_only=body.post_only,
            display_qty_lots=display,
            stp=STPS[body.self_trade_prevention],
            client_order_id=body.client_order_id,
            quote_qty=quote_qty,
        )

    async def place(self, account_id: int, body: OrderRequest) -> tuple[dict[str, Any], bool]:
        """The order as placed, and whether it is a resend of an earlier one."""
        client_id = body.client_order_id
        if client_id is None:
            return await self._place(account_id, body), False
        key = (account_id, client_id)
        # The live view knows every client order id since start plus the newest million
        # before it (seeded from SQL), so a resend is found without a database round trip.
        earlier = self.live.order_by_client_id(account_id, client_id)
        if earlier is not None:
            return await self._original(account_id, earlier), True
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending), True
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            result = await self._place(account_id, body)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        else:
            future.set_result(result)
            return result, False
        finally:
            del self._pending[key]

    async def _original(self, account_id: int, order_id: int) -> dict[str, Any]:
        body = await self.order_with_fills(account_id, order_id)
        if body["status"] == "rejected":
            raise rejected(RejectReason(body["reject_reason"]), order_id=order_id, order=body)
        return body

    async def _place(self, account_id: int, body: OrderRequest) -> dict[str, Any]:
        command = self.to_command(account_id, body)
        reply = await self.submit(command)
        order_id = reply.seq
        for event in reply.events:
            if type(event) is OrderRejected:
                record = self.live.order(account_id, order_id)
                details: dict[str, Any] = {"order_id": order_id}
                if record is not None:
                    details["order"] = order_json(record, self.units(record.symbol), [])
                raise rejected(event.reason, **details)
        record = self.live.order(account_id, order_id)
        if record is None:  # the view always holds what a reply names; defensive
            raise ApiError(500, GatewayCode.INTERNAL, f"order {order_id} missing from the view")
        units = self.units(record.symbol)
        return order_json(record, units, self.live.fills_of(order_id) or [])

    async def cancel(self, account_id: int, order_id: int) -> dict[str, Any]:
        _check_order_id(order_id)
        record = self.live.order(account_id, order_id)
        if record is None or not record.status.is_open:
            # The live view holds every open order (an order's id reaches its client only
            # after the view has it), so this one is closed, another account's or not
            # there: answered here, without journaling a doomed command.
            raise rejected(RejectReason.UNKNOWN_ORDER, order_id=order_id)
        reply = await self.submit(CancelOrder(account_id, order_id))
        _raise_if_rejected(reply.events, order_id=order_id)
        return await self.order_with_fills(account_id, order_id)

    async def replace(self, account_id: int, order_id: int, body: ReplaceRequest) -> dict[str, Any]:
        _check_order_id(order_id)
        record = await self.find_order(account_id, order_id)
        if record is None or not record.status.is_open:
            raise rejected(RejectReason.UNKNOWN_ORDER, f"order {order_id} is not open")
        units = self.units(record.symbol)
        try:
            qty = None if body.quantity is None else units.qty_lots("quantity", body.quantity)
            price = None if body.price is None else units.price_ticks("price", body.price)
            stop = (
                None
                if body.stop_price is None
                else units.price_ticks("stop_price", body.stop_price)
            )
        except UnitError as exc:
            raise _unit_error(exc) from None
        reply = await self.submit(ReplaceOrder(account_id, order_id, qty, price, stop))
        _raise_if_rejected(reply.events, order_id=order_id)
        return await self.order_with_fills(account_id, order_id)

    async def cancel_all(self, account_id: int, symbol: str | None) -> dict[str, Any]:
        if symbol is not None:
            self.units(symbol)
        reply = await self.submit(CancelAllOrders(account_id, symbol))
        _raise_if_rejected(reply.events)
        canceled = [e.order_id for e in reply.events if type(e) is OrderCanceled]
        return {"canceled": canceled, "seq": reply.seq}

    # ------------------------------------------------------------------ admin

    async def create_account(self, body: AccountRequest) -> dict[str, Any]:
        reply = await self.submit(CreateAccount(body.fee_tier, body.risk_profile, body.name))
        _raise_if_rejected(reply.events)
        return self.account_json(reply.seq) | {"seq": reply.seq}

    @staticmethod
    def fee_account_json() -> dict[str, Any]:
        """The venue's own account, where fees go (admins read its balances)."""
        return {
            "account_id": FEE_ACCOUNT_ID,
            "name": "venue fees",
            "fee_tier": None,
            "risk_profile": None,
        }

    def account_json(self, account_id: int) -> dict[str, Any]:
        info = self.live.accounts.get(account_id)
        if info is None:
            raise not_found(f"account {account_id}")
        return {
            "account_id": info.account_id,
            "name": info.name,
            "fee_tier": info.fee_tier,
            "risk_profile": info.risk_profile,
        }

    async def update_account(self, account_id: int, body: AccountUpdateRequest) -> dict[str, Any]:
        _check_account_id(account_id)
        reply = await self.submit(UpdateAccount(account_id, body.fee_tier, body.risk_profile))
        _raise_if_rejected(reply.events)
        return self.account_json(account_id) | {"seq": reply.seq}

    async def transfer(
        self, account_id: int, body: AmountRequest, *, deposit: bool
    ) -> dict[str, Any]:
        _check_account_id(account_id)
        if account_id not in self.live.accounts:
            raise not_found(f"account {account_id}")
        decimals = self.decimals(body.asset)
        try:
            amount = parse_amount("amount", body.amount, decimals)
        except UnitError as exc:
            raise _unit_error(exc) from None
        kind = Deposit if deposit else Withdraw
        reply = await self.submit(kind(account_id, body.asset, amount))
        _raise_if_rejected(reply.events)
        return {"account_id": account_id, "seq": reply.seq} | self.balance_json(
            account_id, body.asset
        )

    def balances_json(self, account_id: int) -> dict[str, Any]:
        """Every balance of the account, from the live view (so it reflects every reply)."""
        live = self.live
        rows = [
            balance_json(balance, live.asset_decimals.get(asset, 0))
            for asset, balance in sorted(live.balances.get(account_id, {}).items())
        ]
        return {"account_id": account_id, "balances": rows, "seq": live.last_seq}

    def balance_json(self, account_id: int, asset: str) -> dict[str, Any]:
        balance = self.live.balances.get(account_id, {}).get(asset)
        decimals = self.decimals(asset)
        if balance is None:
            zero = "0"
            return {"asset": asset, "available": zero, "held": zero, "total": zero}
        return balance_json(balance, decimals)

    async def add_instrument(self, body: InstrumentRequest) -> dict[str, Any]:
        try:
            instrument = _instrument(body, self._max_book_orders)
        except UnitError as exc:
            raise rejected(RejectReason.INVALID_INSTRUMENT, str(exc), field=exc.field) from None
        except InstrumentError as exc:
            raise rejected(RejectReason.INVALID_INSTRUMENT, str(exc)) from None
        reply = await self.submit(AddInstrument(instrument))
        _raise_if_rejected(reply.events)
        return {"symbol": instrument.symbol, "seq": reply.seq}

    async def halt(self, symbol: str, *, halt: bool) -> dict[str, Any]:
        self.units(symbol)
        command = HaltMarket(symbol) if halt else ResumeMarket(symbol)
        reply = await self.submit(command)
        _raise_if_rejected(reply.events)
        return {"symbol": symbol, "status": "halted" if halt else "open", "seq": reply.seq}

    async def set_mode(self, symbol: str, body: ModeRequest) -> dict[str, Any]:
        self.units(symbol)
        mode = MarketMode.CALL if body.mode == "call" else MarketMode.CONTINUOUS
        interval = (
            None if body.auction_interval_ms is None else body.auction_interval_ms * NS_PER_MS
        )
        reply = await self.submit(SetMarketMode(symbol, mode, interval))
        _raise_if_rejected(reply.events)
        return {"symbol": symbol, "mode": body.mode, "seq": reply.seq}

    async def kill_switch(self, body: KillSwitchRequest) -> dict[str, Any]:
        reply = await self.submit(SetKillSwitch(body.account_id, body.active))
        _raise_if_rejected(reply.events)
        canceled = [e.order_id for e in reply.events if type(e) is OrderCanceled]
        return {
            "account_id": body.account_id,
            "active": body.active,
            "canceled": canceled,
            "seq": reply.seq,
        }

    async def fee_tier(self, body: FeeTierRequest) -> dict[str, Any]:
        reply = await self.submit(SetFeeTier(body.name, body.maker_bps, body.taker_bps))
        _raise_if_rejected(reply.events)
        return body.model_dump() | {"seq": reply.seq}

    async def risk_profile(self, body: RiskProfileRequest) -> dict[str, Any]:
        command = SetRiskProfile(
            body.name,
            body.max_open_orders,
            body.max_order_notional,
            body.max_position_lots,
            body.max_orders_per_second,
            body.daily_loss_limit,
        )
        reply = await self.submit(command)
        _raise_if_rejected(reply.events)
        return body.model_dump() | {"seq": reply.seq}


def _check_order_id(value: int) -> None:
    if not 0 < value < MAX_AMOUNT:
        raise rejected(RejectReason.UNKNOWN_ORDER, f"order {value} not found")


def _check_account_id(value: int) -> None:
    if not 0 < value < MAX_AMOUNT:
        raise not_found(f"account {value}")


def _raise_if_rejected(events: list[Event], **details: Any) -> None:
    for event in events:
        if type(event) is CommandRejected:
            raise rejected(event.reason, **details)


def _instrument(body: InstrumentRequest, max_book_orders: int) -> Instrument:
    lot = parse_decimal("lot_size", body.lot_size)
    tick = parse_decimal("tick_size", body.tick_size)
    if lot <= 0 or tick <= 0:
        raise UnitError("lot_size" if lot <= 0 else "tick_size", "must be positive")

    def lots(field: str, text: str | None) -> int | None:
        if text is None:
            return None
        return parse_units(field, text, lot, "lot size", MAX_QTY_LOTS)

    band_bps = 0
    if body.price_band_pct is not None:
        pct = parse_decimal("price_band_pct", body.price_band_pct)
        if not is_multiple(pct, _BAND_STEP) or not pct < 100:
            raise UnitError("price_band_pct", "must be in [0, 100) with at most 2 decimals")
        band_bps = int(EXACT.divide_int(pct, _BAND_STEP))
    min_notional = 0
    if body.min_notional is not None:
        min_notional = parse_amount("min_notional", body.min_notional, body.quote_decimals)
    reference = None
    if body.reference_price is not None:
        reference = parse_units(
            "reference_price", body.reference_price, tick, "tick size", MAX_PRICE_TICKS
        )
    mode = MarketMode.CALL if body.mode == "call" else MarketMode.CONTINUOUS
    return Instrument.create(
        body.symbol,
        body.base_asset,
        body.quote_asset,
        body.tick_size,
        body.lot_size,
        body.base_decimals,
        body.quote_decimals,
        min_qty_lots=lots("min_quantity", body.min_quantity) or 1,
        max_qty_lots=lots("max_quantity", body.max_quantity),
        min_notional=min_notional,
        price_band_bps=band_bps,
        mode=mode,
        auction_interval_ns=body.auction_interval_ms * NS_PER_MS,
        reference_price_ticks=reference,
        max_book_orders=body.max_book_orders or max_book_orders,
    )
