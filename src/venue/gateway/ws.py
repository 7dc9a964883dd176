"""WebSocket sessions: market data subscriptions, private channels and order entry (`/ws`),
and the classic one-feed-per-socket endpoints (`/ws/market-data/{symbol}`, `/ws/trades/{symbol}`).

Protocol of `/ws` (JSON text frames; every reply goes through the same queue as the feeds, so
a client sees replies and updates in the order they happened):
- `{"op":"subscribe","channels":[...]}` -> `{"op":"subscribed","channels":[...]}`, then the
  snapshot of each channel that has one, then updates. `unsubscribe` likewise answers
  `{"op":"unsubscribed",...}`. `{"op":"ping"}` -> `{"op":"pong"}` (an "id" is echoed).
- `{"op":"auth","key","timestamp","signature"}` (and an optional "nonce", a string, passed
  to the hook only when present) -> `{"op":"authenticated","account_id":N}`
  (the hooks' `authenticate` returns an account id or a principal with `account_id`, which
  is handed back to each request hook); afterwards the private channels `orders`, `fills`,
  `balances` (hub channels `private.{account_id}.orders` ...) and the order entry ops
  `place`, `cancel`, `replace` are allowed. Each request answers
  `{"op":..., "id":..., "result":{...}}` or
  `{"op":..., "id":..., "error":{"code","message","details"}}`.
- One text frame holds one JSON message, as every mainstream venue sends them. A client that
  would rather have fewer, larger frames asks for batching: `"batch": true` in a `subscribe`
  turns it on for the connection (`"batch": false` turns it off again). Then, when several
  messages wait for the connection, they leave in ONE text frame holding a JSON array of
  them, in order (at most `FRAME_MESSAGES_MAX` per frame): a busy subscriber gets fewer,
  larger frames instead of falling behind (the same idea as the journal's group commit).
  The classic feeds never batch.
- A bad frame (bad JSON, unknown op, unknown channel, too many subscriptions, private op before
  auth, frame too large) answers `{"op":"error","code","message"}` (with the request's "id"
  if it had one) and keeps the connection open. Whatever a client sends answers so: JSON
  nested deeper than the decoder allows (`RecursionError`), a binary frame that is not
  UTF-8 (`UnicodeDecodeError`) and every `msgspec.DecodeError` are `bad_json`; an "id" that
  is not a string, number, boolean or null is `bad_request` (an id is echoed as sent, so it
  must be something that can always be encoded back); an exception raised by a hook (a bug)
  is logged and answered `internal_error`. A text frame that is not UTF-8 never reaches this
  layer: the WebSocket protocol closes the connection with 1007 (RFC 6455).
- Channel names a client may use: `book.S`, `bbo.S`, `trades.S`, `candles.S.<interval>`,
  `ticker.S`, `auction.S` and, after auth, `orders`, `fills`, `balances`. The hub's internal
  names (`classic.book.S`, `classic.trades.S`, `private.N.*`) answer `unknown_channel`. A
  channel repeated in one request counts once (one ack entry, one snapshot).

Invariants:
- Subscribing registers with the hub and queues the snapshot in one step of the event loop
  (no await in between), and `MarketData.on_batch` runs on the same loop: the first delta a
  client gets after a book snapshot has `prev_seq` equal to the snapshot's `seq`.
- One sender task per connection drains the subscriber's bounded queue; nothing else writes
  to the socket (the close frames excepted). When the hub marks the subscriber slow (queue
  full), the sender closes the socket with 4008 "slow consumer: send queue full".
- Order entry requests of one connection run concurrently (one task each, so a client can
  pipeline), at most `max_inflight` at a time; beyond that a request is refused at once with
  "too_many_requests". A request still running when the client leaves completes (its command
  may already be sequenced); its reply is dropped.

Why text frames via `websocket.send({"type": "websocket.send", "text": ...})`: clients expect
JSON in text frames, and ASGI text frames take `str`, so each queued `bytes` is decoded once
per connection (a copy of a few hundred bytes, ~0.1 us); `send_text` is the same call behind
one more coroutine frame.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar

import msgspec
from fastapi import APIRouter, WebSocket

from venue.marketdata.hub import Hub, Subscriber
from venue.marketdata.projection import MarketData

log = logging.getLogger(__name__)

SLOW_CONSUMER_CODE: Final = 4008
SLOW_CONSUMER_REASON: Final = "slow consumer: send queue full"
UNKNOWN_SYMBOL_CODE: Final = 4004
PRIVATE_CHANNELS: Final = frozenset({"orders", "fills", "balances"})
# The kinds (first dot-separated part) of the market data channels a client may name; the
# hub's other names (classic.*, private.*) are internal.
PUBLIC_CHANNEL_KINDS: Final = frozenset({"book", "bbo", "trades", "candles", "ticker", "auction"})
ECHO_CHARS_MAX: Final = 64  # of a client's op or channel name quoted in an error message
# What decoding a hostile frame can raise: msgspec.DecodeError (a ValueError) for malformed
# JSON; UnicodeDecodeError (a ValueError) for a binary frame that is not UTF-8;
# RecursionError for nesting deeper than the interpreter's recursion limit.
DECODE_ERRORS: Final = (ValueError, RecursionError)
FRAME_MESSAGES_MAX: Final = 256  # messages batched into one frame, at most

_encode: Final = msgspec.json.Encoder().encode
_decode: Final = msgspec.json.Decoder().decode


class WsAuthError(Exception):
    """`WsHooks.authenticate` refused the credentials."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class WsRequestError(Exception):
    """An order entry request was refused; sent to the client as the request's `error`."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details


class HasAccountId(Protocol):
    @property
    def account_id(self) -> int: ...


Who = TypeVar("Who", bound="int | HasAccountId")
"""Whoever `authenticate` says the connection is: an account id, or a principal object with
an `account_id` (and whatever else the hooks want handed back to them on each request)."""


class WsHooks(Protocol[Who]):
    """What the WebSocket layer needs from the rest of the gateway. `Who` is what
    `authenticate` returns; the session keeps it and passes it to every request."""

    async def authenticate(
        self, key: str, timestamp: int | str, signature: str, nonce: str | None = None
    ) -> Who:
        """The identity of valid credentials, else raise `WsAuthError`. `nonce` is passed
        only when the auth message has one."""
        ...

    async def place(self, who: Who, body: dict[str, Any]) -> dict[str, Any]:
        """Place an order (the REST order body); raise `WsRequestError` to refuse."""
        ...

    async def cancel(self, who: Who, order_id: Any) -> dict[str, Any]: ...

    async def replace(self, who: Who, order_id: Any, body: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class WsLimits:
    max_subscriptions: int = 50  # channels per connection
    queue_capacity: int = 1000  # messages waiting to be sent per connection
    max_inflight: int = 64  # order entry requests running at once per connection
    max_message_bytes: int = 65_536  # largest frame accepted from a client

    def __post_init__(self) -> None:
        for name in ("max_subscriptions", "queue_capacity", "max_inflight", "max_message_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


class _Session(Generic[Who]):
    """One WebSocket connection: its subscriber, auth state and in-flight requests."""

    def __init__(
        self,
        websocket: WebSocket,
        market_data: MarketData,
        hub: Hub,
        hooks: WsHooks[Who],
        limits: WsLimits,
    ) -> None:
        self.websocket = websocket
        self.market_data = market_data
        self.hub = hub
        self.hooks = hooks
        self.limits = limits
        self.subscriber: Subscriber = hub.subscriber(
            capacity=limits.queue_capacity, max_channels=limits.max_subscriptions
        )
        self.who: Who | None = None
        self.account_id: int | None = None
        self.inflight = 0
        self.batching = False  # one message per frame unless the client asks (docstring)
        # Strong references: the loop keeps only weak ones to running tasks.
        self.requests: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ the two loops

    async def run(self, *, interactive: bool) -> None:
        sender = asyncio.create_task(self._send_loop())
        receiver = asyncio.create_task(self._receive_loop(interactive))
        for task in (sender, receiver):
            task.add_done_callback(_log_outcome)
        try:
            await asyncio.wait((sender, receiver), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sender.cancel()
            receiver.cancel()
            self.hub.remove(self.subscriber)
            # asyncio.wait, not gather: a gather interrupted by the server's own cancellation
            # (anyio cancel scope) escapes that scope as a stray CancelledError.
            await asyncio.wait((sender, receiver))

    async def _send_loop(self) -> None:
        subscriber = self.subscriber
        send = self.websocket.send
        while True:
            await subscriber.wait()
            if self.batching:
                payloads = list(subscriber.drain())
                for start in range(0, len(payloads), FRAME_MESSAGES_MAX):
                    chunk = payloads[start : start + FRAME_MESSAGES_MAX]
                    frame = chunk[0] if len(chunk) == 1 else b"[" + b",".join(chunk) + b"]"
                    await send({"type": "websocket.send", "text": frame.decode()})
            else:
                for payload in subscriber.drain():
                    await send({"type": "websocket.send", "text": payload.decode()})
            if subscriber.closed:
                break
        if subscriber.slow:
            await self.websocket.close(code=SLOW_CONSUMER_CODE, reason=SLOW_CONSUMER_REASON)

    async def _receive_loop(self, interactive: bool) -> None:
        receive = self.websocket.receive
        max_bytes = self.limits.max_message_bytes
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if not interactive:
                continue  # the classic feeds ignore what clients send
            data: str | bytes | None = message.get("text")
            if data is None:
                data = message.get("bytes")
            if data is None:
                continue
            if len(data) > max_bytes:
                self._error("message_too_large", f"frames are limited to {max_bytes} bytes")
                continue
            try:
                request = _decode(data)
            except DECODE_ERRORS:
                self._error("bad_json", "the frame is not valid JSON")
                continue
            if not isinstance(request, dict):
                self._error("bad_request", "a request is a JSON object with an op")
                continue
            if type(request.get("id")) not in _ID_TYPES:
                # Deeply nested ids could not be encoded back; no client needs one.
                self._error("bad_request", "id must be a string, a number, a boolean or null")
                continue
            await self._handle(request)

    # ------------------------------------------------------------------ ops

    async def _handle(self, request: dict[str, Any]) -> None:
        op = request.get("op")
        if op == "subscribe":
            self._subscribe(request)
        elif op == "unsubscribe":
            self._unsubscribe(request)
        elif op == "ping":
            self._push({"op": "pong", **_id_of(request)})
        elif op == "auth":
            await self._auth(request)
        elif op in ("place", "cancel", "replace"):
            self._request(op, request)
        else:
            self._error("unknown_op", f"unknown op {_quoted(op)}", request)

    def _resolve(self, request: dict[str, Any]) -> list[tuple[str, str]] | None:
        """[(client name, hub channel)] of the request's channels, or None (error sent)."""
        channels = request.get("channels")
        if not isinstance(channels, list) or not channels:
            self._error("bad_request", "channels must be a non-empty list of names", request)
            return None
        out: dict[str, str] = {}  # a dict: a name repeated in the request counts once
        valid = self.market_data.valid_channel
        for name in channels:
            if not isinstance(name, str):
                self._error("unknown_channel", f"unknown channel {_quoted(name)}", request)
                return None
            if name in PRIVATE_CHANNELS:
                if self.account_id is None:
                    self._error("unauthenticated", f"authenticate before {name!r}", request)
                    return None
                out[name] = f"private.{self.account_id}.{name}"
            elif name.partition(".")[0] in PUBLIC_CHANNEL_KINDS and valid(name):
                out[name] = name
            else:
                self._error("unknown_channel", f"unknown channel {_quoted(name)}", request)
                return None
        return list(out.items())

    def _subscribe(self, request: dict[str, Any]) -> None:
        batch = request.get("batch")
        if batch is not None and not isinstance(batch, bool):
            self._error("bad_request", "batch must be true or false", request)
            return
        wanted = self._resolve(request)
        if wanted is None:
            return
        if batch is not None:
            self.batching = batch
        subscriber = self.subscriber
        adding = {channel for _, channel in wanted} - subscriber.channels
        if len(subscriber.channels) + len(adding) > subscriber.max_channels:
            self._error(
                "too_many_subscriptions",
                f"at most {subscriber.max_channels} channels per connection",
                request,
            )
            return
        # No await from here on: registration and snapshots are one step (module docstring).
        for _, channel in wanted:
            self.hub.subscribe(subscriber, channel)
        self._push({"op": "subscribed", "channels": [name for name, _ in wanted]})
        for name, channel in wanted:
            if name not in PRIVATE_CHANNELS:
                snapshot = self.market_data.snapshot_bytes(channel)
                if snapshot is not None:
                    subscriber.push(snapshot)

    def _unsubscribe(self, request: dict[str, Any]) -> None:
        wanted = self._resolve(request)
        if wanted is None:
            return
        for _, channel in wanted:
            self.hub.unsubscribe(self.subscriber, channel)
        self._push({"op": "unsubscribed", "channels": [name for name, _ in wanted]})

    async def _auth(self, request: dict[str, Any]) -> None:
        key = request.get("key")
        timestamp = request.get("timestamp")
        signature = request.get("signature")
        nonce = request.get("nonce")
        if (
            not isinstance(key, str)
            or not isinstance(signature, str)
            or isinstance(timestamp, bool)
            or not isinstance(timestamp, int | str)
            or not isinstance(nonce, str | None)
        ):
            self._error(
                "bad_request",
                "auth needs a key, a timestamp, a signature and optionally a nonce",
                request,
            )
            return
        if self.account_id is not None:
            self._error("already_authenticated", "this connection is authenticated", request)
            return
        try:
            if nonce is None:
                who = await self.hooks.authenticate(key, timestamp, signature)
            else:
                who = await self.hooks.authenticate(key, timestamp, signature, nonce)
        except WsAuthError as exc:
            self._error(exc.code, exc.message, request)
            return
        except Exception:
            # A bug in the hook (hostile values must make it raise WsAuthError): it must
            # not end the connection. Logged without the credentials.
            log.exception("websocket auth hook failed")
            self._error("internal_error", "authentication failed", request)
            return
        account_id = who if isinstance(who, int) else who.account_id
        self.who = who
        self.account_id = account_id
        self._push({"op": "authenticated", "account_id": account_id, **_id_of(request)})

    def _request(self, op: str, request: dict[str, Any]) -> None:
        who = self.who
        if who is None:
            self._error("unauthenticated", f"authenticate before {op!r}", request)
            return
        req_id = request.get("id")
        call: Awaitable[dict[str, Any]]
        if op == "place":
            order = request.get("order")
            if not isinstance(order, dict):
                self._refuse(op, req_id, "bad_request", "place needs an order object")
                return
            call = self.hooks.place(who, order)
        elif "order_id" not in request:
            self._refuse(op, req_id, "bad_request", f"{op} needs an order_id")
            return
        elif op == "cancel":
            call = self.hooks.cancel(who, request["order_id"])
        else:
            body: dict[str, Any] = {
                k: request[k] for k in ("quantity", "price", "stop_price") if k in request
            }
            call = self.hooks.replace(who, request["order_id"], body)
        if self.inflight >= self.limits.max_inflight:
            _close_unawaited(call)
            self._refuse(
                op,
                req_id,
                "too_many_requests",
                f"at most {self.limits.max_inflight} requests in flight per connection",
            )
            return
        self.inflight += 1
        task = asyncio.create_task(self._answer(op, req_id, call))
        self.requests.add(task)
        task.add_done_callback(self.requests.discard)

    async def _answer(self, op: str, req_id: Any, call: Awaitable[dict[str, Any]]) -> None:
        try:
            result = await call
            payload = _encode({"op": op, "id": req_id, "result": result})
        except WsRequestError as exc:
            payload = _encode(
                {
                    "op": op,
                    "id": req_id,
                    "error": {"code": exc.code, "message": exc.message, "details": exc.details},
                }
            )
        except Exception:
            log.exception("websocket %s request failed", op)
            payload = _encode(
                {
                    "op": op,
                    "id": req_id,
                    "error": {
                        "code": "internal_error",
                        "message": "the request failed",
                        "details": None,
                    },
                }
            )
        finally:
            self.inflight -= 1
        self.subscriber.push(payload)

    # ------------------------------------------------------------------ replies

    def _push(self, message: dict[str, Any]) -> None:
        self.subscriber.push(_encode(message))

    def _error(self, code: str, message: str, request: dict[str, Any] | None = None) -> None:
        reply: dict[str, Any] = {"op": "error", "code": code, "message": message}
        if request is not None:
            reply.update(_id_of(request))
        self._push(reply)

    def _refuse(self, op: str, req_id: Any, code: str, message: str) -> None:
        self._push(
            {"op": op, "id": req_id, "error": {"code": code, "message": message, "details": None}}
        )


def _log_outcome(task: asyncio.Task[None]) -> None:
    """Retrieve a connection task's exception (a send to a socket the client just closed is
    normal), so asyncio does not report it as never retrieved."""
    if not task.cancelled():
        error = task.exception()
        if error is not None:
            log.debug("websocket task ended: %r", error)


_ID_TYPES: Final = frozenset({str, int, float, bool, type(None)})
# An absent id reads as None. Every value of these types that the decoder produced can be
# encoded back (the decoder refuses lone surrogates, non-finite numbers, > 4300 digits).


def _id_of(request: dict[str, Any]) -> dict[str, Any]:
    return {"id": request["id"]} if "id" in request else {}


def _quoted(value: object) -> str:
    """A client's op or channel name for an error message: a string's first characters,
    quoted; anything else only by type (its repr could be huge, or nested too deep)."""
    if isinstance(value, str):
        return repr(value[:ECHO_CHARS_MAX]) + ("..." if len(value) > ECHO_CHARS_MAX else "")
    return f"of type {type(value).__name__}"


def _close_unawaited(call: Awaitable[Any]) -> None:
    """A refused request's coroutine was made but will never run: close it quietly (else
    Python warns "coroutine was never awaited")."""
    close = getattr(call, "close", None)
    if close is not None:
        close()


def websocket_router(
    market_data: MarketData,
    hub: Hub,
    sessions: WsHooks[Who],
    limits: WsLimits | None = None,
    connections: Callable[[int], None] | None = None,
) -> APIRouter:
    """The WebSocket routes. Everything runs on the event loop thread that also runs
    `market_data.on_batch`. `connections` is told +1 and -1 as sockets open and close (the
    connection gauge)."""
    limits = limits or WsLimits()
    router = APIRouter()
    count = connections or (lambda _change: None)

    def new_session(websocket: WebSocket) -> _Session[Who]:
        return _Session(websocket, market_data, hub, sessions, limits)

    @router.websocket("/ws")
    async def general(websocket: WebSocket) -> None:
        await websocket.accept()
        count(1)
        try:
            await new_session(websocket).run(interactive=True)
        finally:
            count(-1)

    async def classic(websocket: WebSocket, symbol: str, channel: str) -> None:
        await websocket.accept()
        if not market_data.has(symbol):
            # Accepted first: a close before accept would reach the client as an HTTP 403.
            await websocket.close(code=UNKNOWN_SYMBOL_CODE, reason=f"unknown symbol {symbol}")
            return
        count(1)
        try:
            session = new_session(websocket)
            hub.subscribe(session.subscriber, channel)
            snapshot = market_data.snapshot_bytes(channel)
            if snapshot is not None:
                session.subscriber.push(snapshot)
            await session.run(interactive=False)
        finally:
            count(-1)

    @router.websocket("/ws/market-data/{symbol}")
    async def classic_book(websocket: WebSocket, symbol: str) -> None:
        await classic(websocket, symbol, f"classic.book.{symbol}")

    @router.websocket("/ws/trades/{symbol}")
    async def classic_trades(websocket: WebSocket, symbol: str) -> None:
        await classic(websocket, symbol, f"classic.trades.{symbol}")

    return router
