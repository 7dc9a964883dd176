"""The hot REST route without the framework: `POST /api/v1/orders`.

FastAPI's routing, dependency solving and middleware stack cost about 0.5 ms of CPU per
request on this project's machines, more than the order itself. This ASGI wrapper answers
exactly `POST /api/v1/orders` with the same steps the FastAPI route takes, in the same
order and with the same answers (`place_order_response` is the one implementation; the
FastAPI route stays for the OpenAPI document and runs only if the wrapper is not
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
from collections.abc import Coroutine
from typing import Any

import msgspec
import structlog
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from venue.gateway.auth import Principal
from venue.gateway.errors import ApiError, GatewayCode, invalid_input
from venue.gateway.metrics import Metrics
from venue.gateway.requests import OrderRequest
from venue.gateway.service import Gateway

log = structlog.get_logger("venue.gateway")

ORDERS_PATH = "/api/v1/orders"
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


class OrderFastPath:
    """Wraps the app made by `create_app` (its `state` holds the context and the limiter)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.context = app.state.ctx
        self.limiter = app.state.limiter
        metrics: Metrics = self.context.metrics
        self._route_counter = metrics.http_requests
        self._route_latency = metrics.http_latency.labels("POST", ORDERS_PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == ORDERS_PATH:
            await self._place(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _place(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = request_id or uuid.uuid4().hex[:16]
        status = 200
        extra: list[tuple[bytes, bytes]] = []
        try:
            raw = await _read_body(receive)
            outcome = self._handle(headers, scope, raw)
            if isinstance(outcome, ApiError):
                raise outcome
            order, resent = await outcome
            if resent:
                extra.append((b"x-venue-resent", b"true"))
            body = _encode(order)
        except ApiError as exc:
            status = exc.status
            body = _encode(exc.body())
        except Exception:
            log.exception("unhandled error", path=ORDERS_PATH)
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
        self._route_counter.labels("POST", ORDERS_PATH, str(status)).inc()
        self._route_latency.observe(time.perf_counter() - started)

    def _handle(
        self, headers: dict[bytes, bytes], scope: Scope, raw: bytes
    ) -> ApiError | Coroutine[Any, Any, tuple[dict[str, Any], bool]]:
        """The coroutine placing the order, or the ApiError that stops it first."""
        ctx = self.context
        try:
            who = ctx.authenticator.authenticate(
                _text(headers.get(b"x-venue-key")),
                _text(headers.get(b"x-venue-timestamp")),
                _text(headers.get(b"x-venue-signature")),
                "POST",
                ORDERS_PATH,
                scope["query_string"].decode("latin-1"),
                raw,
                _text(headers.get(b"x-venue-recv-window")),
            )
            if not self.limiter.allow(who.key_id):
                return ApiError(
                    429, GatewayCode.RATE_LIMITED, "request rate limit per minute reached"
                )
            try:
                body = OrderRequest.model_validate_json(raw)
            except ValidationError as exc:
                return invalid_input(exc.errors())
        except ApiError as exc:
            return exc
        return place_order_response(ctx.gateway, ctx.metrics, who, body)


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
