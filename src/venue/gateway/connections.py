"""Connection admission for the HTTP server: a bound on open connections, a deadline for each
request, and the file descriptors both need.

Why: every open TCP connection holds a file descriptor. With no bound, 20,000 idle sockets
(that never send a byte) exhaust the process's descriptors and every new client, `/health`
included, is dropped at accept. What uvicorn 0.54 (httptools protocol) already does, and
does not:
- `timeout_keep_alive` closes a connection that stays idle after a response. It is armed
  only when a response completes and cancelled by any byte received: a connection that
  never sends a request, or sends part of one (slowloris), or trickles a body, has no
  timer at all and stays open forever.
- `limit_concurrency` answers 503 only once a request's headers arrive, and keeps the
  connection (its descriptor) open until the client leaves; idle sockets are not refused.
- WebSocket connections join the same `server_state.connections` set as HTTP ones (the
  HTTP protocol leaves it when it hands the socket over to the WebSocket protocol).
So `VenueHttpProtocol` subclasses uvicorn's `HttpToolsProtocol` (uvicorn takes the class as
`Config(http=...)`) and adds, per connection, not per request:
1. admission in `connection_made`: beyond `max_connections` open connections (HTTP and
   WebSocket alike), the new connection is answered at once with a 503, JSON body
   `{"error":{"code":"overloaded","message":"too many connections","details":{}}}` and
   `Connection: close`, and closed: it never holds a descriptor past that;
2. headroom for operations: the last `reserved_connections` of the bound admit only
   `/health`, `/ready` and `/metrics` (each answered with `Connection: close`, so the slot
   is free again at once); any other request or a WebSocket upgrade there gets the same 503.
   When live clients (WebSocket subscribers, busy keep-alive clients) fill the bound,
   a load balancer's health check still gets through. Idle sockets fill the reserve too,
   but they are closed by (3), after which `/health` answers again;
3. a request deadline: a request must arrive complete (head and body) within
   `request_timeout_s` of the connection opening, or of its own first byte on a keep-alive
   connection (the keep-alive timeout covers the wait before that byte); else the
   connection is closed. One timer per connection, armed again only when a request does
   not arrive in one read: nothing for the common request that arrives in one packet.
WebSocket connections, once upgraded, are live subscribers: no deadline (uvicorn's ping
keeps dead peers out), but they count toward the bound.

Settings (`venue.config`): `max_connections` (VENUE_MAX_CONNECTIONS, 4096),
`reserved_connections` (VENUE_RESERVED_CONNECTIONS, 16), `request_timeout_s`
(VENUE_REQUEST_TIMEOUT_S, 10), `keep_alive_timeout_s` (VENUE_KEEP_ALIVE_TIMEOUT_S, 5: passed
to uvicorn as `timeout_keep_alive`).

File descriptors (`ensure_fd_capacity`, at startup): the soft RLIMIT_NOFILE is raised to the
hard limit; the bound must fit under it with `LISTEN_BACKLOG` (a burst of pending connections
is accepted, each with a descriptor, before the admission check refuses them) and
`FD_HEADROOM` (journal, database, listening socket, event loop) to spare, else the venue
refuses to start, saying which setting to lower or which limit to raise.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

LISTEN_BACKLOG: Final = 2048  # uvicorn's default, passed explicitly: it counts in the budget
FD_HEADROOM: Final = 256  # descriptors kept for everything but client connections
OPS_PATHS: Final = frozenset({"/health", "/ready", "/metrics"})
REFUSAL_LOG_INTERVAL_S: Final = 10.0

_REFUSAL_BODY: Final = (
    b'{"error":{"code":"overloaded","message":"too many connections","details":{}}}'
)
REFUSAL: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: application/json\r\n"
    b"content-length: " + str(len(_REFUSAL_BODY)).encode() + b"\r\n"
    b"connection: close\r\n"
    b"\r\n" + _REFUSAL_BODY
)


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int
    reserved_connections: int
    request_timeout_s: float

    def __post_init__(self) -> None:
        if not 0 <= self.reserved_connections < self.max_connections:
            raise ValueError("reserved_connections must lie in 0..max_connections-1")
        if self.request_timeout_s <= 0:
            raise ValueError("request_timeout_s must be positive")


class FdLimitError(RuntimeError):
    """The bound on connections does not fit under the process's descriptor limit."""


def fds_needed(max_connections: int) -> int:
    return max_connections + LISTEN_BACKLOG + FD_HEADROOM


def ensure_fd_capacity(max_connections: int) -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (or to what is needed, when the hard
    limit is unlimited); return the soft limit, or raise `FdLimitError` if the connections
    cannot fit under it."""
    needed = fds_needed(max_connections)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, needed) if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open files limit to %d: %s", target, exc)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise FdLimitError(
            f"max_connections={max_connections} needs {needed} file descriptors "
            f"({max_connections} connections + {LISTEN_BACKLOG} listen backlog + "
            f"{FD_HEADROOM} for the venue), but the open files limit is {soft} "
            f"(hard limit {'unlimited' if hard == resource.RLIM_INFINITY else hard}): "
            f"lower VENUE_MAX_CONNECTIONS to at most {max(0, soft - LISTEN_BACKLOG - FD_HEADROOM)} "
            "or raise the limit (ulimit -n, LimitNOFILE= in systemd)"
        )
    return int(soft)


class VenueHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with admission and a request deadline (module docstring).
    Use `http_protocol(limits)` for a subclass bound to the settings."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits(4096, 16, 10.0)
    _last_refusal_log: ClassVar[float] = 0.0
    _refused_since_log: ClassVar[int] = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_timer: asyncio.TimerHandle | None = None
        self._in_request = False  # a request's first byte came, its last has not
        self._restricted = False  # admitted into the reserve: operations paths only

    # ------------------------------------------------------------------ admission

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        limits = self.limits
        open_now = len(self.connections)  # this one included; WebSocket connections too
        if open_now > limits.max_connections:
            self._refuse(open_now)
            return
        if open_now > limits.max_connections - limits.reserved_connections:
            self._restricted = True
            self.app = _OpsOnly(self.app)
        self._request_timer = self.loop.call_later(
            limits.request_timeout_s, self._request_timed_out
        )

    def _refuse(self, open_now: int) -> None:
        self.transport.write(REFUSAL)
        self.transport.close()
        cls = type(self)
        cls._refused_since_log += 1
        now = time.monotonic()
        if now - cls._last_refusal_log >= REFUSAL_LOG_INTERVAL_S:
            log.warning(
                "refusing connections: %d open, max_connections is %d (%d refused)",
                open_now - 1,
                self.limits.max_connections,
                cls._refused_since_log,
            )
            cls._last_refusal_log = now
            cls._refused_since_log = 0

    def handle_websocket_upgrade(self) -> None:
        self._cancel_request_timer()
        self._in_request = False
        if self._restricted:
            self.transport.write(REFUSAL)
            self.transport.close()
            return
        super().handle_websocket_upgrade()

    # ------------------------------------------------------------------ the request deadline

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_request and self._request_timer is None and not self.transport.is_closing():
            self._request_timer = self.loop.call_later(
                self.limits.request_timeout_s, self._request_timed_out
            )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_request = True

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self._restricted and self.cycle is not None:
            self.cycle.keep_alive = False  # free the reserved slot after one answer

    def on_message_complete(self) -> None:
        self._in_request = False
        self._cancel_request_timer()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_request_timer()
        super().connection_lost(exc)

    def _cancel_request_timer(self) -> None:
        timer = self._request_timer
        if timer is not None:
            timer.cancel()
            self._request_timer = None

    def _request_timed_out(self) -> None:
        self._request_timer = None
        if not self.transport.is_closing():
            self.transport.close()


class _OpsOnly:
    """The application, for a connection admitted into the reserve: operations paths pass,
    anything else is refused like a connection beyond the bound."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in OPS_PATHS:
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_REFUSAL_BODY)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _REFUSAL_BODY})


def http_protocol(limits: ConnectionLimits) -> type[VenueHttpProtocol]:
    """The protocol class to pass as uvicorn's `Config(http=...)`, bound to `limits`."""
    bound = limits

    class BoundVenueHttpProtocol(VenueHttpProtocol):
        limits = bound

    return BoundVenueHttpProtocol
