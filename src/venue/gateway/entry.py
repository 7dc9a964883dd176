"""The one order-entry service (DESIGN.md §1, §2): every protocol's order entry goes through
here, whatever the transport.

A transport (the REST fast path, the FastAPI routes, WebSocket, and the protocols to come)
only parses its own framing and renders the answer. Everything else is here, once:
- authorization by role (a read-only key may read, not trade);
- validation of the order body (`OrderRequest`, `ReplaceRequest`) into one error shape;
- the id ranges a client may name (`order_id` within the venue's ids);
- idempotency by `client_order_id` (in `Gateway.place`);
- metrics: the result of each order by type, the latency of order commands;
- translation to commands and rendering of the results (`Gateway`).

Every refusal is an `ApiError` (status, stable code, message, details); a transport maps it
to its own error form (HTTP status and body, a WebSocket error object, a FIX reject).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

from pydantic import ValidationError

from venue.gateway.auth import Principal
from venue.gateway.errors import ApiError, GatewayCode, invalid_input
from venue.gateway.metrics import Metrics
from venue.gateway.requests import OrderRequest, ReplaceRequest
from venue.gateway.service import Gateway

_TYPE_LABEL_MAX: Final = 20  # metrics labels of unparsed bodies stay short


class OrderEntry:
    """See the module docstring. One instance per venue process."""

    def __init__(self, gateway: Gateway, metrics: Metrics) -> None:
        self.gateway = gateway
        self.metrics = metrics
        self._latency = metrics.command_latency.observe

    # ------------------------------------------------------------------ parsing

    def order_request(self, body: bytes | dict[str, Any]) -> OrderRequest:
        """The order body (raw JSON or a decoded object), or a 400 naming the field."""
        try:
            if isinstance(body, bytes):
                return OrderRequest.model_validate_json(body)
            return OrderRequest.model_validate(body)
        except ValidationError as exc:
            kind = body.get("type", "limit") if isinstance(body, dict) else "limit"
            self.metrics.order_result(str(kind)[:_TYPE_LABEL_MAX], GatewayCode.INVALID_REQUEST)
            raise invalid_input(exc.errors()) from None

    @staticmethod
    def replace_request(body: bytes | dict[str, Any]) -> ReplaceRequest:
        try:
            if isinstance(body, bytes):
                return ReplaceRequest.model_validate_json(body)
            return ReplaceRequest.model_validate(body)
        except ValidationError as exc:
            raise invalid_input(exc.errors()) from None

    # ------------------------------------------------------------------ commands

    async def place(self, who: Principal, body: OrderRequest) -> tuple[dict[str, Any], bool]:
        """The order as placed and whether it was a resend of an earlier one."""
        _require_trader(who)
        started = time.perf_counter()
        try:
            order, resent = await self.gateway.place(who.account_id, body)
        except ApiError as exc:
            self.metrics.order_result(body.type, exc.code)
            raise
        finally:
            self._latency(time.perf_counter() - started)
        self.metrics.order_result(body.type, "accepted")
        return order, resent

    async def place_batch(self, who: Principal, bodies: list[OrderRequest]) -> list[dict[str, Any]]:
        """Each order's result, in order: `{"order": ...}` or the error body of its refusal."""
        _require_trader(who)

        async def one(body: OrderRequest) -> dict[str, Any]:
            try:
                order, _ = await self.place(who, body)
            except ApiError as exc:
                return exc.body()
            return {"order": order}

        return list(await asyncio.gather(*(one(body) for body in bodies)))

    async def cancel(self, who: Principal, order_id: int) -> dict[str, Any]:
        _require_trader(who)
        started = time.perf_counter()
        try:
            return await self.gateway.cancel(who.account_id, order_id)
        finally:
            self._latency(time.perf_counter() - started)

    async def replace(self, who: Principal, order_id: int, body: ReplaceRequest) -> dict[str, Any]:
        _require_trader(who)
        started = time.perf_counter()
        try:
            return await self.gateway.replace(who.account_id, order_id, body)
        finally:
            self._latency(time.perf_counter() - started)

    async def cancel_all(self, who: Principal, symbol: str | None) -> dict[str, Any]:
        _require_trader(who)
        return await self.gateway.cancel_all(who.account_id, symbol)


def _require_trader(who: Principal) -> None:
    if not who.can_trade:
        raise ApiError(403, GatewayCode.FORBIDDEN, "this API key is read-only")
