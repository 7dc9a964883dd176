"""The WebSocket layer's hooks into the gateway: authentication and order entry.

Order entry over WebSocket is the same as over REST (`Gateway`), with the same checks and
the same answers; only the transport differs. A read-only key may subscribe to its private
channels but not trade.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import ValidationError

from venue.gateway.auth import ApiKeyAuthenticator, Principal
from venue.gateway.errors import ApiError, GatewayCode, invalid_input
from venue.gateway.metrics import Metrics
from venue.gateway.requests import OrderRequest, ReplaceRequest
from venue.gateway.service import Gateway
from venue.gateway.ws import WsAuthError, WsRequestError


def _refusal(exc: ApiError) -> WsRequestError:
    return WsRequestError(exc.code, exc.message, exc.details)


def _invalid(exc: ValidationError) -> WsRequestError:
    return _refusal(invalid_input(exc.errors()))


def _order_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**62:
        raise WsRequestError(GatewayCode.INVALID_REQUEST, "order_id must be a positive integer")
    return value


class VenueWsHooks:
    def __init__(
        self, gateway: Gateway, authenticator: ApiKeyAuthenticator, metrics: Metrics
    ) -> None:
        self.gateway = gateway
        self.authenticator = authenticator
        self.metrics = metrics

    async def authenticate(self, key: str, timestamp: int | str, signature: str) -> Principal:
        try:
            return self.authenticator.authenticate(key, timestamp, signature, "GET", "/ws", "", b"")
        except ApiError as exc:
            raise WsAuthError(exc.code, exc.message) from None

    @staticmethod
    def _trader(who: Principal) -> int:
        if not who.can_trade:
            raise WsRequestError(GatewayCode.FORBIDDEN, "this API key is read-only")
        return who.account_id

    async def place(self, who: Principal, body: dict[str, Any]) -> dict[str, Any]:
        account_id = self._trader(who)
        try:
            request = OrderRequest.model_validate(body)
        except ValidationError as exc:
            self.metrics.order_result(str(body.get("type", "limit"))[:20], "invalid_request")
            raise _invalid(exc) from None
        started = time.perf_counter()
        try:
            order, _ = await self.gateway.place(account_id, request)
        except ApiError as exc:
            self.metrics.order_result(request.type, exc.code)
            raise _refusal(exc) from None
        finally:
            self.metrics.command_latency.observe(time.perf_counter() - started)
        self.metrics.order_result(request.type, "accepted")
        return order

    async def cancel(self, who: Principal, order_id: Any) -> dict[str, Any]:
        account_id = self._trader(who)
        try:
            return await self.gateway.cancel(account_id, _order_id(order_id))
        except ApiError as exc:
            raise _refusal(exc) from None

    async def replace(self, who: Principal, order_id: Any, body: dict[str, Any]) -> dict[str, Any]:
        account_id = self._trader(who)
        try:
            request = ReplaceRequest.model_validate(body)
        except ValidationError as exc:
            raise _invalid(exc) from None
        try:
            return await self.gateway.replace(account_id, _order_id(order_id), request)
        except ApiError as exc:
            raise _refusal(exc) from None
