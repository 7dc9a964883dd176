"""The hot REST routes without the framework: `POST /api/v1/orders` (place) and
`DELETE /api/v1/orders/{id}` (cancel).

FastAPI's routing, dependency solving and middleware stack cost about 0.5 ms of CPU per
request on this project's machines, more than the order itself. This ASGI wrapper answers
those two routes with the same steps the FastAPI routes take (both call the one order-entry
service, `entry.OrderEntry`; the FastAPI routes serve when the wrapper is not installed, and
document the routes in OpenAPI), and hands every other request to the FastAPI app unchanged.

Invariants:
- Same authentication (`ApiKeyAuthenticator`), rate limit and order entry (`OrderEntry`:
  role, validation, idempotency, metrics) as the FastAPI route. The end-to-end tests run
  through this path; `tests/e2e/test_openapi.py` checks that the document and what is
  served agree.
- A body larger than `edge.BODY_MAX_BYTES` is refused before it is read whole (here, and for
  every route by `edge.EdgeGuard`, which wraps this in `venue serve`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
import structlog
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from venue.gateway.auth import Principal
from venue.gateway.edge import header_text, read_body_capped
from venue.gateway.entry import OrderEntry
from venue.gateway.errors import ApiError, GatewayCode
from venue.gateway.metrics import Metrics

log = structlog.get_logger("venue.gateway")

ORDERS_PATH = "/api/v1/orders"
ORDER_PREFIX = "/api/v1/orders/"
ORDER_PATH = "/api/v1/orders/{order_id}"  # the route template, as the metrics label it
_encode = msgspec.json.Encoder().encode


Outcome = Coroutine[Any, Any, tuple[dict[str, Any], bool]]


class OrderFastPath:
    """Wraps the app made by `create_app` (its `state` holds the context and the limiter)
    and answers the two order entry routes: POST /api/v1/orders, DELETE /api/v1/orders/{id}."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.context = app.state.ctx
        self.limiter = app.state.limiter
        self.entry: OrderEntry = app.state.entry
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
            raw = await read_body_capped(receive)
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
            header_text(headers.get(b"x-venue-key")),
            header_text(headers.get(b"x-venue-timestamp")),
            header_text(headers.get(b"x-venue-signature")),
            scope["method"],
            scope["path"],
            scope["query_string"].decode("latin-1"),
            raw,
            header_text(headers.get(b"x-venue-recv-window")),
            header_text(headers.get(b"x-venue-nonce")),
        )
        if not self.limiter.allow(who.key_id):
            raise ApiError(429, GatewayCode.RATE_LIMITED, "request rate limit per minute reached")
        return who

    def _place(self, who: Principal, scope: Scope, raw: bytes) -> ApiError | Outcome:
        try:
            body = self.entry.order_request(raw)
        except ApiError as exc:
            return exc
        return self.entry.place(who, body)

    def _cancel(self, who: Principal, scope: Scope, raw: bytes) -> ApiError | Outcome:
        order_id = int(scope["path"][len(ORDER_PREFIX) :])
        return _not_resent(self.entry.cancel(who, order_id))


async def _not_resent(call: Coroutine[Any, Any, dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    return await call, False
