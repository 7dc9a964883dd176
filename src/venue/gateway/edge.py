"""The first thing every HTTP request meets: header sanity, a body cap, and authentication
checks that need no body, before any body is read.

A request body is read into memory before a route runs (the signature covers it), so
without this an unsigned 100 MB `PATCH` is read in full, then answered 401. `EdgeGuard`
wraps the whole application (the order fast path and the FastAPI app alike) and:

1. refuses a repeated venue auth header (`X-VENUE-KEY`, `-TIMESTAMP`, `-SIGNATURE`, `-NONCE`,
   `-RECV-WINDOW`): 400, since which copy a layer reads is a matter of luck;
2. refuses a body declared larger than `BODY_MAX_BYTES` (413) without reading it;
3. for a private route (everything under `/api/v1/` but the public market routes) with a
   body, checks what the headers alone can tell (the key is known and live, the timestamp
   fresh: `ApiKeyAuthenticator.preauthenticate`) and answers 401 before reading the body;
4. reads the body, counting, and answers 413 as soon as it passes the cap (a chunked body
   declares no length); the route then receives the body in one message.

Refusals have the API's error shape, close the connection (the unread body must not be
parsed as the next request) and are counted in the HTTP metrics under the route "edge".
"""

from __future__ import annotations

from typing import Final

import msgspec
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from venue.gateway.auth import ApiKeyAuthenticator
from venue.gateway.errors import ApiError, GatewayCode
from venue.gateway.metrics import Metrics

BODY_MAX_BYTES: Final = 64 * 1024
AUTH_HEADERS: Final = frozenset(
    {
        b"x-venue-key",
        b"x-venue-timestamp",
        b"x-venue-signature",
        b"x-venue-nonce",
        b"x-venue-recv-window",
    }
)
API_PREFIX: Final = "/api/v1/"
PUBLIC_PREFIXES: Final = ("/api/v1/instruments", "/api/v1/markets/")
_encode: Final = msgspec.json.Encoder().encode


def _too_large() -> ApiError:
    return ApiError(
        413,
        GatewayCode.INVALID_REQUEST,
        f"request body too large: at most {BODY_MAX_BYTES} bytes",
        {"limit_bytes": BODY_MAX_BYTES},
    )


def is_private(path: str) -> bool:
    return path.startswith(API_PREFIX) and not path.startswith(PUBLIC_PREFIXES)


class EdgeGuard:
    """Pure ASGI wrapper (see the module docstring)."""

    def __init__(self, app: ASGIApp, authenticator: ApiKeyAuthenticator, metrics: Metrics) -> None:
        self.app = app
        self.authenticator = authenticator
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await self._admit(scope, receive)
        except ApiError as refused:
            await self._refuse(scope, send, refused)
            return
        if body is None:
            await self.app(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send)

    async def _admit(self, scope: Scope, receive: Receive) -> bytes | None:
        """The body (None when the request declares none); raises `ApiError` to refuse."""
        venue_headers: dict[bytes, bytes] = {}
        length: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name.startswith(b"x-venue-"):
                if name in venue_headers and name in AUTH_HEADERS:
                    header = name.decode().upper()
                    raise ApiError(
                        400,
                        GatewayCode.INVALID_REQUEST,
                        f"the header {header} appears more than once",
                        {"header": header},
                    )
                venue_headers[name] = value
            elif name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        if length is not None:
            if not (length.isdigit() and len(length) <= 12):
                raise ApiError(400, GatewayCode.INVALID_REQUEST, "bad Content-Length")
            if int(length) > BODY_MAX_BYTES:
                raise _too_large()
            if int(length) == 0 and not chunked:
                return None
        elif not chunked:
            return None
        if is_private(scope["path"]):
            self.authenticator.preauthenticate(
                header_text(venue_headers.get(b"x-venue-key")),
                header_text(venue_headers.get(b"x-venue-timestamp")),
                header_text(venue_headers.get(b"x-venue-recv-window")),
            )
        return await read_body_capped(receive)

    async def _refuse(self, scope: Scope, send: Send, error: ApiError) -> None:
        body = _encode(error.body())
        await send(
            {
                "type": "http.response.start",
                "status": error.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        self.metrics.http_requests.labels(scope["method"], "edge", str(error.status)).inc()


def header_text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


async def read_body_capped(receive: Receive) -> bytes:
    """The whole body, refused (413) as soon as it passes `BODY_MAX_BYTES`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, GatewayCode.INVALID_REQUEST, "client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > BODY_MAX_BYTES:
            raise _too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
