"""The WebSocket layer's hooks into the gateway: authentication and order entry.

Order entry over WebSocket is the same as over REST: both call the one order-entry
service (`entry.OrderEntry`), with the same checks and answers; only the transport differs.
The auth message is checked like a signed `GET /ws` with no query and no body, its optional
"nonce" like `X-VENUE-NONCE`. A read-only key may subscribe to its private channels but not
trade.
"""

from __future__ import annotations

from typing import Any

from venue.gateway.auth import ApiKeyAuthenticator, Principal
from venue.gateway.entry import OrderEntry
from venue.gateway.errors import ApiError, GatewayCode
from venue.gateway.ws import WsAuthError, WsRequestError


def _refusal(exc: ApiError) -> WsRequestError:
    return WsRequestError(exc.code, exc.message, exc.details)


def _order_id(value: Any) -> int:
    """A JSON integer; one outside the venue's ids is an unknown order, as over REST."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise WsRequestError(
            GatewayCode.INVALID_REQUEST,
            "order_id must be a positive integer",
            {"field": "order_id"},
        )
    return value


class VenueWsHooks:
    """Parses WebSocket requests into the order-entry service's calls; renders its refusals
    as `WsRequestError` (the same codes and details as REST)."""

    def __init__(self, entry: OrderEntry, authenticator: ApiKeyAuthenticator) -> None:
        self.entry = entry
        self.authenticator = authenticator

    async def authenticate(
        self, key: str, timestamp: int | str, signature: str, nonce: str | None = None
    ) -> Principal:
        """Every refusal of the authenticator (an `ApiError`, hostile values included) is a
        `WsAuthError` with its code; `ws` answers anything else `internal_error`."""
        try:
            return self.authenticator.authenticate(
                key, timestamp, signature, "GET", "/ws", "", b"", nonce=nonce
            )
        except ApiError as exc:
            raise WsAuthError(exc.code, exc.message) from None

    async def place(self, who: Principal, body: dict[str, Any]) -> dict[str, Any]:
        try:
            order, _ = await self.entry.place(who, self.entry.order_request(body))
        except ApiError as exc:
            raise _refusal(exc) from None
        return order

    async def cancel(self, who: Principal, order_id: Any) -> dict[str, Any]:
        try:
            return await self.entry.cancel(who, _order_id(order_id))
        except ApiError as exc:
            raise _refusal(exc) from None

    async def replace(self, who: Principal, order_id: Any, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self.entry.replace(
                who, _order_id(order_id), self.entry.replace_request(body)
            )
        except ApiError as exc:
            raise _refusal(exc) from None
