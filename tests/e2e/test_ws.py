"""WebSocket against the real server: the book stream always equals the REST book, private
channels, order entry, and the classic feeds."""

from __future__ import annotations

import json
import random
from typing import Any

from tests.e2e.server import Market, Server, ok
from websockets.sync.client import ClientConnection, connect

from venue.client.signing import ws_auth_message

TIMEOUT_S = 10


def receive(ws: ClientConnection) -> dict[str, Any]:
    """The next message: a frame holds one object or an array of them (batched)."""
    waiting = ws.__dict__.setdefault("_venue_pending", [])
    while not waiting:
        frame = json.loads(ws.recv(timeout=TIMEOUT_S))
        waiting.extend(frame if isinstance(frame, list) else [frame])
    return waiting.pop(0)


def receive_until(ws: ClientConnection, wanted: Any) -> dict[str, Any]:
    for _ in range(10_000):
        message = receive(ws)
        if wanted(message):
            return message
    raise AssertionError("message never came")


class BookClient:
    """What a market data client does: a snapshot, then deltas chained by prev_seq."""

    def __init__(self) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.seq = -1
        self.gaps = 0

    def apply(self, message: dict[str, Any]) -> None:
        if message["type"] == "snapshot":
            self.bids = dict(message["bids"])
            self.asks = dict(message["asks"])
            self.seq = message["seq"]
            return
        if message["prev_seq"] != self.seq:
            self.gaps += 1
        self.seq = message["seq"]
        for side, levels in ((self.bids, message["bids"]), (self.asks, message["asks"])):
            for price, qty in levels:
                if qty == "0":
                    side.pop(price, None)
                else:
                    side[price] = qty

    def levels(self) -> tuple[list[list[str]], list[list[str]]]:
        def key(level: tuple[str, str]) -> float:
            return float(level[0])  # ordering only; the values compared are the strings

        bids = [list(x) for x in sorted(self.bids.items(), key=key, reverse=True)]
        asks = [list(x) for x in sorted(self.asks.items(), key=key)]
        return bids, asks


def test_book_stream_equals_the_rest_book(server: Server, market: Market) -> None:
    traders = [market.trader(f"t{i}") for i in range(3)]
    rng = random.Random(7)
    with connect(f"{server.ws_url}/ws") as ws:
        ws.send(json.dumps({"op": "subscribe", "channels": [f"book.{market.symbol}"]}))
        assert receive(ws)["op"] == "subscribed"
        client = BookClient()
        client.apply(receive(ws))
        placed = []
        for _ in range(60):
            trader = rng.choice(traders)
            side = rng.choice(["buy", "sell"])
            price = str(rng.randint(95, 105))
            body = {
                "symbol": market.symbol,
                "side": side,
                "quantity": str(rng.randint(1, 5)),
                "price": price,
            }
            result = ok(trader.post("/api/v1/orders", body))
            placed.append((trader, result["order_id"]))
            if rng.random() < 0.3:
                who, order_id = rng.choice(placed)
                who.delete(f"/api/v1/orders/{order_id}")
        book = ok(
            server.public().request(
                "GET", f"/api/v1/markets/{market.symbol}/book", params={"depth": 1000}, signed=False
            )
        )
        while client.seq < book["seq"]:
            client.apply(receive(ws))
        assert client.seq == book["seq"]
        assert client.gaps == 0
        bids, asks = client.levels()
        assert (bids, asks) == (book["bids"], book["asks"])


def test_private_channels_and_order_entry(server: Server, market: Market) -> None:
    trader = market.trader("ws-trader")
    other = market.trader("ws-other")
    with connect(f"{server.ws_url}/ws") as ws:
        ws.send(json.dumps({"op": "subscribe", "channels": ["orders"]}))
        refused = receive(ws)
        assert refused["op"] == "error" and refused["code"] == "unauthenticated"
        ws.send(json.dumps(ws_auth_message(trader.key_id or "", trader.secret or "")))
        authenticated = receive(ws)
        assert authenticated["op"] == "authenticated"
        assert authenticated["account_id"] == trader.account_id  # type: ignore[attr-defined]
        ws.send(json.dumps({"op": "subscribe", "channels": ["orders", "fills", "balances"]}))
        assert receive(ws)["op"] == "subscribed"
        # another account's feed cannot be named directly
        theirs_channel = f"private.{other.account_id}.orders"  # type: ignore[attr-defined]
        ws.send(json.dumps({"op": "subscribe", "channels": [theirs_channel]}))
        assert receive(ws)["code"] == "unknown_channel"
        order = {"symbol": market.symbol, "side": "buy", "quantity": "2", "price": "10"}
        ws.send(json.dumps({"op": "place", "id": "r1", "order": order}))
        answer = receive_until(ws, lambda m: m.get("id") == "r1")
        assert answer["result"]["status"] == "new"
        order_id = answer["result"]["order_id"]
        ok(
            other.post(
                "/api/v1/orders",
                {"symbol": market.symbol, "side": "sell", "quantity": "1", "price": "10"},
            )
        )
        fill = receive_until(ws, lambda m: m.get("channel") == "fills")
        assert fill["fill"]["order_id"] == order_id and fill["fill"]["quantity"] == "1"
        ws.send(json.dumps({"op": "cancel", "id": "r2", "order_id": order_id}))
        canceled = receive_until(ws, lambda m: m.get("id") == "r2")
        assert canceled["result"]["status"] == "canceled"
        bad = {"symbol": market.symbol, "side": "buy", "quantity": "2", "price": "10.001"}
        ws.send(json.dumps({"op": "place", "id": "r3", "order": bad}))
        refused = receive_until(ws, lambda m: m.get("id") == "r3")
        assert refused["error"]["code"] == "invalid_request"
        # another account's order cannot be canceled from here
        theirs = ok(
            other.post(
                "/api/v1/orders",
                {"symbol": market.symbol, "side": "sell", "quantity": "1", "price": "14"},
            )
        )
        ws.send(json.dumps({"op": "cancel", "id": "r4", "order_id": theirs["order_id"]}))
        assert receive_until(ws, lambda m: m.get("id") == "r4")["error"]["code"] == "unknown_order"
    assert ok(other.get(f"/api/v1/orders/{theirs['order_id']}"))["status"] == "new"


def test_read_only_key_cannot_trade_over_websocket(server: Server, market: Market) -> None:
    reader = market.trader("ws-reader", role="read_only")
    with connect(f"{server.ws_url}/ws") as ws:
        ws.send(json.dumps(ws_auth_message(reader.key_id or "", reader.secret or "")))
        assert receive(ws)["op"] == "authenticated"
        order = {"symbol": market.symbol, "side": "buy", "quantity": "1", "price": "10"}
        ws.send(json.dumps({"op": "place", "id": "x", "order": order}))
        assert receive_until(ws, lambda m: m.get("id") == "x")["error"]["code"] == "forbidden"


def test_classic_feeds(server: Server, market: Market) -> None:
    maker, taker = market.trader("c-maker"), market.trader("c-taker")
    with (
        connect(f"{server.ws_url}/ws/market-data/{market.symbol}") as book_ws,
        connect(f"{server.ws_url}/ws/trades/{market.symbol}") as trades_ws,
    ):
        first = receive(book_ws)
        assert set(first) == {"timestamp", "symbol", "asks", "bids"}
        resting = ok(
            maker.post(
                "/api/v1/orders",
                {"symbol": market.symbol, "side": "sell", "quantity": "1", "price": "20"},
            )
        )
        taking = ok(
            taker.post(
                "/api/v1/orders",
                {"symbol": market.symbol, "side": "buy", "quantity": "1", "price": "20"},
            )
        )
        trade = receive(trades_ws)
        assert trade["price"] == "20" and trade["quantity"] == "1"
        assert trade["aggressor_side"] == "buy"
        assert (trade["maker_order_id"], trade["taker_order_id"]) == (
            resting["order_id"],
            taking["order_id"],
        )
        update = receive(book_ws)
        assert update["symbol"] == market.symbol and update["asks"] in ([["20", "1"]], [])
