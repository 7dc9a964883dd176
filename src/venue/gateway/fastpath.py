"""The hot REST routes without the framework: `POST /api/v1/orders` (place) and
`DELETE /api/v1/orders/{id}` (cancel).

FastAPI's routing, dependency solving and middleware stack cost about 0.5 ms of CPU per
request on this project's machines, more than the order itself. This ASGI wrapper answers
those two routes with the same steps the FastAPI routes take, in the same order and with the
same answers (`place_order_response` and `cancel_order_response` are the one implementation;
the FastAPI routes stay for the OpenAPI document and run only if the wrapper is not
installed), and hands every other request to the FastAPI app unchanged.

Invariants:
- Same authentication (`ApiKeyAuthenticator`), role check, rate limit, body validation
  (`OrderRequest`, pydantic), order handling (`Gateway.place`), error shape and metrics as
  the FastAPI route. The end-to-end tests run through this path.
- A body larger than `BODY_MAX_BYTES` is refused before it is read whole.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
import structlog
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from venue.gateway.auth import Principal
from venue.gateway.errors import ApiError, GatewayCode, invalid_input, not_found
from venue.gateway.metrics import Metrics
from venue.gateway.requests import OrderRequest
from venue.gateway.service import Gateway

log = structlog.get_logger("venue.gateway")

ORDERS_PATH = "/api/v1/orders"
ORDER_PREFIX = "/api/v1/orders/"
ORDER_PATH = "/api/v1/orders/{order_id}"  # the route template, as the metrics label it
BODY_MAX_BYTES = 64 * 1024
_encode = msgspec.json.Encoder().encode


async def place_order_response(
    gateway: Gateway, metrics: Metrics, who: Principal, body: OrderRequest
) -> tuple[dict[str, Any], bool]:
    """Place the order and count it: the body of `POST /api/v1/orders` and whether it was a
    resend. Raises `ApiError` for a refusal."""
    if not who.can_trade:
        raise ApiError(403, GatewayCode.FORBIDDEN, "this API key is read-only")
    started = time.perf_counter()
    try:
        order, resent = await gateway.place(who.account_id, body)
    except ApiError as exc:
        metrics.order_result(body.type, exc.code)
        raise
    finally:
        metrics.command_latency.observe(time.perf_counter() - started)
    metrics.order_result(body.type, "accepted")
    return order, resent


Outcome = Coroutine[Any, Any, tuple[dict[str, Any], bool]]


class OrderFastPath:
    """Wraps the app made by `create_app` (its `state` holds the context and the limiter)
    and answers the two order entry routes: POST /api/v1/orders, DELETE /api/v1/orders/{id}."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.context = app.state.ctx
        self.limiter = app.state.limiter
        metrics: Metrics = self.context.metrics
        self._route_counter = metrics.http_requests
        self._latency = {
            "POST": metrics.http_latency.labels("POST", ORDERS_PATH),
            "DELETE": metrics.http_latency.labels("DELETE", ORDER_PATH),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            path: str = scope["path"]
            if method == "POST" and path == ORDERS_PATH:
                await self._serve(scope, receive, send, self._place, ORDERS_PATH)
                return
            if method == "DELETE" and path.startswith(ORDER_PREFIX):
                tail = path[len(ORDER_PREFIX) :]
                if tail.isascii() and tail.isdigit() and len(tail) <= 19:
                    await self._serve(scope, receive, send, self._cancel, ORDER_PATH)
                    return
        await self.app(scope, receive, send)

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        handler: Callable[[Principal, Scope, bytes], ApiError | Outcome],
        route: str,
    ) -> None:
        started = time.perf_counter()
        method = scope["method"]
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = request_id or uuid.uuid4().hex[:16]
        status = 200
        extra: list[tuple[bytes, bytes]] = []
        try:
            raw = await _read_body(receive)
            who = self._authenticate(headers, scope, raw)
            outcome = handler(who, scope, raw)
            if isinstance(outcome, ApiError):
                raise outcome
            result, resent = await outcome
            if resent:
                extra.append((b"x-venue-resent", b"true"))
            body = _encode(result)
        except ApiError as exc:
            status = exc.status
            body = _encode(exc.body())
        except Exception:
            log.exception("unhandled error", method=method, path=route)
            status = 500
            body = _encode(
                {
                    "error": {
                        "code": GatewayCode.INTERNAL,
                        "message": "internal error",
                        "details": {},
                    }
                }
            )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                    *extra,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        self._route_counter.labels(method, route, str(status)).inc()
        self._latency[method].observe(time.perf_counter() - started)

    def _authenticate(self, headers: dict[bytes, bytes], scope: Scope, raw: bytes) -> Principal:
        """The signed caller (raises ApiError), rate-limited like every private route."""
        who: Principal = self.context.authenticator.authenticate(
            _text(headers.get(b"x-venue-key")),
            _text(headers.get(b"x-venue-timestamp")),
            _text(headers.get(b"x-venue-signature")),
            scope["method"],
            scope["path"],
            scope["query_string"].decode("latin-1"),
            raw,
            _text(headers.get(b"x-venue-recv-window")),
        )
        if not self.limiter.allow(who.key_id):
            raise ApiError(429, GatewayCode.RATE_LIMITED, "request rate limit per minute reached")
        return who

    def _place(self, who: Principal, scope: Scope, raw: bytes) -> ApiError | Outcome:
        try:
            body = OrderRequest.model_validate_json(raw)
        except ValidationError as exc:
            return invalid_input(exc.errors())
        return place_order_response(self.context.gateway, self.context.metrics, who, body)

    def _cancel(self, who: Principal, scope: Scope, raw: bytes) -> ApiError | Outcome:
        order_id = int(scope["path"][len(ORDER_PREFIX) :])
        return cancel_order_response(self.context.gateway, who, order_id)


async def cancel_order_response(
    gateway: Gateway, who: Principal, order_id: int
) -> tuple[dict[str, Any], bool]:
    """The body of `DELETE /api/v1/orders/{id}` (raises `ApiError` for a refusal)."""
    if not who.can_trade:
        raise ApiError(403, GatewayCode.FORBIDDEN, "this API key is read-only")
    if not 0 < order_id < 2**62:
        raise not_found(f"order {order_id}")
    return await gateway.cancel(who.account_id, order_id), False


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, GatewayCode.INVALID_REQUEST, "client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > BODY_MAX_BYTES:
            raise ApiError(413, GatewayCode.INVALID_REQUEST, "request body too large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
