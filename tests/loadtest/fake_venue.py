"""A small stand-in for the venue's API (aiohttp.web on 127.0.0.1, a random port), enough for
`venue loadtest`: admin accounts/deposits/keys, instruments, book, orders (place, cancel,
cancel-all) over REST and WebSocket, and a `book.<symbol>` channel with a seq chain.

It checks what a real venue checks of a client: every private request is signed correctly
and no signature is used twice (replays are refused and recorded in `auth_failures`), and
prices and quantities are exact multiples of the tick and lot. It does not match orders: a
placed order rests (status "new") unless `fill_every` says otherwise.

Knobs for the tests: `stall_on_order=n, stall_s=s` holds the n-th order (1-based) for s
seconds before answering, which also holds everything behind it on the same connection;
`drop_delta_for=(subscriber, n)` silently skips the n-th delta (1-based) for one subscriber.

It runs in its own thread with its own event loop (`running_venue`), so the load test's loop
and the venue's never wait on each other except through the sockets, as with a real server.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from venue.client.signing import (
    KEY_HEADER,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)

ADMIN_KEY = {"key_id": "admin-1", "secret": "admin-secret"}
SYMBOL = "BTC-USDT"
TICK = Decimal("0.5")
LOT = Decimal("0.001")


def error(status: int, code: str, message: str = "") -> web.Response:
    body = {"error": {"code": code, "message": message or code, "details": {}}}
    return web.json_response(body, status=status)


@dataclass
class RestingOrder:
    order_id: int
    account: int
    side: str
    price: Decimal
    qty: Decimal


@dataclass
class FakeVenue:
    stall_on_order: int | None = None
    stall_s: float = 0.0
    drop_delta_for: tuple[int, int] | None = None
    fill_every: int = 0
    initial_bid: Decimal | None = None
    initial_ask: Decimal | None = None
    keys: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    accounts: dict[int, str] = field(default_factory=dict)
    deposits: list[tuple[int, str, str]] = field(default_factory=list)
    orders: dict[int, RestingOrder] = field(default_factory=dict)
    levels: dict[tuple[str, Decimal], Decimal] = field(default_factory=dict)
    client_order_ids: list[str] = field(default_factory=list)
    auth_failures: list[str] = field(default_factory=list)
    bad_orders: list[str] = field(default_factory=list)
    placed: int = 0
    canceled: int = 0
    cancel_alls: int = 0
    ws_cancels: int = 0
    ws_cancel_requests: int = 0
    ws_place_answers: int = 0
    seq: int = 100
    last_delta_seq: int = 100
    deltas_sent: int = 0
    delta_seqs: list[int] = field(default_factory=list)
    _seen_signatures: set[str] = field(default_factory=set)
    _subscribers: list[asyncio.Queue[str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.keys[ADMIN_KEY["key_id"]] = (ADMIN_KEY["secret"], None)

    # -- the app -------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/instruments", self.instruments)
        app.router.add_get("/api/v1/markets/{symbol}/book", self.book)
        app.router.add_post("/api/v1/admin/accounts", self.create_account)
        app.router.add_post("/api/v1/admin/accounts/{id}/deposits", self.deposit)
        app.router.add_post("/api/v1/admin/accounts/{id}/api-keys", self.create_key)
        app.router.add_post("/api/v1/orders", self.post_order)
        app.router.add_delete("/api/v1/orders/{id}", self.delete_order)
        app.router.add_delete("/api/v1/orders", self.delete_all)
        app.router.add_get("/ws", self.websocket)
        return app

    async def authenticate(self, request: web.Request, body: bytes) -> int | web.Response | None:
        """The account of a correctly signed, fresh request (None for the admin key), or the
        error response."""
        key = request.headers.get(KEY_HEADER, "")
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if key not in self.keys:
            self.auth_failures.append(f"unknown key {key!r}")
            return error(401, "unauthenticated")
        secret, account = self.keys[key]
        nonce = request.headers.get(NONCE_HEADER)
        expected = sign(
            secret, timestamp, request.method, request.path, request.query_string, body, nonce
        )
        if signature != expected:
            self.auth_failures.append(f"bad signature {request.method} {request.path_qs}")
            return error(401, "bad_signature")
        if signature in self._seen_signatures:
            self.auth_failures.append(f"replay {request.method} {request.path_qs}")
            return error(401, "replayed")
        self._seen_signatures.add(signature)
        return account

    async def instruments(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    "symbol": SYMBOL,
                    "base_asset": "BTC",
                    "quote_asset": "USDT",
                    "tick_size": str(TICK),
                    "lot_size": str(LOT),
                }
            ]
        )

    async def book(self, request: web.Request) -> web.Response:
        bids: dict[Decimal, Decimal] = {}
        asks: dict[Decimal, Decimal] = {}
        if self.initial_bid is not None:
            bids[self.initial_bid] = LOT
        if self.initial_ask is not None:
            asks[self.initial_ask] = LOT
        for order in self.orders.values():
            levels = bids if order.side == "buy" else asks
            levels[order.price] = levels.get(order.price, Decimal(0)) + order.qty
        depth = int(request.query.get("depth", "10"))
        return web.json_response(
            {
                "symbol": request.match_info["symbol"],
                "seq": self.last_delta_seq,
                "bids": [[str(p), str(q)] for p, q in sorted(bids.items(), reverse=True)][:depth],
                "asks": [[str(p), str(q)] for p, q in sorted(asks.items())][:depth],
            }
        )

    async def create_account(self, request: web.Request) -> web.Response:
        body = await request.read()
        who = await self.authenticate(request, body)
        if isinstance(who, web.Response):
            return who
        if who is not None:
            return error(403, "forbidden")
        account_id = len(self.accounts) + 1
        self.accounts[account_id] = json.loads(body)["name"]
        return web.json_response({"account_id": account_id, "name": self.accounts[account_id]})

    async def deposit(self, request: web.Request) -> web.Response:
        body = await request.read()
        who = await self.authenticate(request, body)
        if isinstance(who, web.Response):
            return who
        payload = json.loads(body)
        Decimal(payload["amount"])  # must parse
        self.deposits.append((int(request.match_info["id"]), payload["asset"], payload["amount"]))
        return web.json_response({"ok": True})

    async def create_key(self, request: web.Request) -> web.Response:
        body = await request.read()
        who = await self.authenticate(request, body)
        if isinstance(who, web.Response):
            return who
        account_id = int(request.match_info["id"])
        key_id = f"key-{account_id}"
        self.keys[key_id] = (f"secret-{account_id}", account_id)
        return web.json_response({"key_id": key_id, "secret": f"secret-{account_id}"})

    # -- orders ----------------------------------------------------------------------------

    async def place(self, account: int, order: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, order JSON or error body)."""
        self.placed += 1
        if self.placed == self.stall_on_order:
            await asyncio.sleep(self.stall_s)
        self.client_order_ids.append(order["client_order_id"])
        price, qty = Decimal(order["price"]), Decimal(order["quantity"])
        if price % TICK or qty % LOT or price <= 0 or qty <= 0:
            self.bad_orders.append(f"{order['price']} x {order['quantity']}")
            return 400, {
                "error": {"code": "invalid_price_or_quantity", "message": "", "details": {}}
            }
        self.seq += 1
        order_id = self.seq
        status = "new"
        if self.fill_every and self.placed % self.fill_every == 0:
            status = "filled"
        else:
            self.orders[order_id] = RestingOrder(order_id, account, order["side"], price, qty)
            self.add_to_level(order["side"], price, qty)
            self.publish(order["side"], price, self.level_qty(order["side"], price))
        return 200, {
            "order_id": order_id,
            "client_order_id": order["client_order_id"],
            "status": status,
        }

    def level_qty(self, side: str, price: Decimal) -> Decimal:
        return self.levels.get((side, price), Decimal(0))

    def add_to_level(self, side: str, price: Decimal, qty: Decimal) -> None:
        self.levels[side, price] = self.level_qty(side, price) + qty

    def cancel(self, order_id: int) -> None:
        order = self.orders.pop(order_id)
        self.add_to_level(order.side, order.price, -order.qty)
        self.canceled += 1
        self.seq += 1
        self.publish(order.side, order.price, self.level_qty(order.side, order.price))

    async def post_order(self, request: web.Request) -> web.Response:
        body = await request.read()
        who = await self.authenticate(request, body)
        if isinstance(who, web.Response):
            return who
        assert who is not None
        status, answer = await self.place(who, json.loads(body))
        return web.json_response(answer, status=status)

    async def delete_order(self, request: web.Request) -> web.Response:
        who = await self.authenticate(request, await request.read())
        if isinstance(who, web.Response):
            return who
        order_id = int(request.match_info["id"])
        order = self.orders.get(order_id)
        if order is None or order.account != who:
            return error(404, "unknown_order")
        self.cancel(order_id)
        return web.json_response({"order_id": order_id, "status": "canceled"})

    async def delete_all(self, request: web.Request) -> web.Response:
        who = await self.authenticate(request, await request.read())
        if isinstance(who, web.Response):
            return who
        assert request.query.get("symbol") == SYMBOL
        self.cancel_alls += 1
        mine = [o.order_id for o in self.orders.values() if o.account == who]
        for order_id in mine:
            self.cancel(order_id)
        return web.json_response({"canceled": len(mine)})

    # -- WebSocket -------------------------------------------------------------------------

    def publish(self, side: str, price: Decimal, qty: Decimal) -> None:
        level = [[str(price), str(qty)]]
        delta = {
            "channel": f"book.{SYMBOL}",
            "type": "delta",
            "seq": self.seq,
            "prev_seq": self.last_delta_seq,
            "ts": time.time_ns(),
            "bids": level if side == "buy" else [],
            "asks": level if side == "sell" else [],
        }
        self.last_delta_seq = self.seq
        self.deltas_sent += 1
        self.delta_seqs.append(self.seq)
        text = json.dumps(delta)
        for index, queue in enumerate(self._subscribers):
            if self.drop_delta_for == (index, self.deltas_sent):
                continue
            queue.put_nowait(text)

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        account: int | None = None
        feed: asyncio.Queue[str | None] | None = None
        writer: asyncio.Task[None] | None = None
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            op = data.get("op")
            if op == "auth":
                secret, account = self.keys.get(data["key"], ("", None))
                expected = sign(secret, data["timestamp"], "GET", "/ws", "", b"", data.get("nonce"))
                if data["signature"] != expected:
                    self.auth_failures.append("bad ws auth")
                    await socket.send_json({"op": "error", "error": {"code": "bad_signature"}})
                    continue
                await socket.send_json({"op": "authenticated", "account_id": account})
            elif op == "place":
                if account is None:
                    await socket.send_json(
                        {"op": "place", "id": data["id"], "error": {"code": "unauthenticated"}}
                    )
                    continue
                status, answer = await self.place(account, data["order"])
                key = "result" if status == 200 else "error"
                reply = {"op": "place", "id": data["id"], key: answer.get("error", answer)}
                # Like the venue under load, every other answer comes in a frame that is
                # an array of messages (here of one), which the driver must unpack.
                self.ws_place_answers += 1
                await socket.send_json([reply] if self.ws_place_answers % 2 else reply)
            elif op == "cancel":
                self.ws_cancel_requests += 1
                order = self.orders.get(int(data["order_id"]))
                if order is None or order.account != account:
                    reply = {"op": "cancel", "id": data["id"], "error": {"code": "unknown_order"}}
                else:
                    self.cancel(order.order_id)
                    self.ws_cancels += 1
                    result = {"order_id": order.order_id, "status": "canceled"}
                    reply = {"op": "cancel", "id": data["id"], "result": result}
                await socket.send_json(reply)
            elif op == "subscribe":
                feed = asyncio.Queue()
                await socket.send_json({"op": "subscribed", "channels": data["channels"]})
                snapshot = {
                    "channel": f"book.{SYMBOL}",
                    "type": "snapshot",
                    "seq": self.last_delta_seq,
                    "bids": [],
                    "asks": [],
                }
                # Snapshot and registration in one step: no delta falls between them.
                feed.put_nowait(json.dumps(snapshot))
                self._subscribers.append(feed)
                writer = asyncio.create_task(self._feed(socket, feed))
        if feed is not None:
            feed.put_nowait(None)
        if writer is not None:
            await asyncio.gather(writer, return_exceptions=True)
        return socket

    async def _feed(self, socket: web.WebSocketResponse, feed: asyncio.Queue[str | None]) -> None:
        while (text := await feed.get()) is not None:
            if socket.closed:
                return
            await socket.send_str(text)


@contextmanager
def running_venue(venue: FakeVenue) -> Iterator[str]:
    """Serve `venue` on 127.0.0.1 (random port) in a thread; yields the base URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def start() -> None:
        runner = web.AppRunner(venue.app(), handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["port"] = runner.addresses[0][1]
        state["runner"] = runner

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(state["runner"].cleanup())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield f"http://127.0.0.1:{state['port']}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
