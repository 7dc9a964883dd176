"""The WebSocket layer through a real ASGI app (FastAPI + starlette's TestClient): the
projection is driven on the app's event loop thread, as in the server."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning
from starlette.websockets import WebSocketDisconnect

with warnings.catch_warnings():
    # starlette 1.10 asks for `httpx2`; the project pins `httpx`, which still works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from marketdata.flows import SYMBOL, BookClient, Venue, new_venue
from venue.domain.commands import PlaceOrder
from venue.domain.values import OrderType, Side
from venue.gateway.ws import (
    WsAuthError,
    WsLimits,
    WsRequestError,
    websocket_router,
)
from venue.marketdata import Hub


def receive(ws: Any) -> Any:
    """The next message: a frame holds one object or, when several were waiting, an array."""
    waiting = ws.__dict__.setdefault("_venue_pending", [])
    while not waiting:
        frame = ws.receive_json()
        waiting.extend(frame if isinstance(frame, list) else [frame])
    return waiting.pop(0)


def limit(side: Side, qty: int, price: int, account: int = 1) -> PlaceOrder:
    return PlaceOrder(account, SYMBOL, side, OrderType.LIMIT, qty, price_ticks=price)


class FakeHooks:
    """Accepts key "good" as account 42; places orders by echoing them; refuses order 13."""

    def __init__(self) -> None:
        self.placed: list[tuple[int, dict[str, Any]]] = []
        self.gate: asyncio.Event | None = None

    async def authenticate(self, key: str, timestamp: int | str, signature: str) -> int:
        if key != "good" or signature != "sig":
            raise WsAuthError("invalid_signature", "the signature does not match")
        return 42

    async def place(self, account_id: int, body: dict[str, Any]) -> dict[str, Any]:
        if self.gate is not None:
            await self.gate.wait()
        self.placed.append((account_id, body))
        if body.get("quantity") == "0":
            raise WsRequestError("invalid_quantity", "quantity must be positive", {"field": "q"})
        return {"order_id": len(self.placed), "status": "new", **body}

    async def cancel(self, account_id: int, order_id: Any) -> dict[str, Any]:
        if order_id == 13:
            raise WsRequestError("unknown_order", "no such order")
        return {"order_id": order_id, "status": "canceled"}

    async def replace(self, account_id: int, order_id: Any, body: dict[str, Any]) -> dict[str, Any]:
        return {"order_id": order_id, "account_id": account_id, **body}


class Harness:
    def __init__(self, limits: WsLimits) -> None:
        self.hub = Hub()
        self.venue: Venue = new_venue(self.hub)
        self.hooks = FakeHooks()
        app = FastAPI()
        app.include_router(websocket_router(self.venue.market_data, self.hub, self.hooks, limits))
        self.client = TestClient(app)

    def run(self, *commands: Any) -> None:
        self.venue.run(list(commands))


@pytest.fixture
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    limits = getattr(request, "param", WsLimits())
    harness = Harness(limits)
    with harness.client:
        portal = harness.client.portal
        assert portal is not None
        # Deliver batches on the app's event loop thread, as the composition root does.
        harness.venue.deliver = lambda commands, events: portal.call(
            harness.venue.market_data.on_batch, commands, events
        )
        yield harness


def until(ws: Any, op: str) -> list[Any]:
    """Messages up to and including the first with this op."""
    out = []
    while True:
        message = receive(ws)
        out.append(message)
        if message.get("op") == op:
            return out


def test_subscribe_sends_the_ack_then_the_snapshot_then_deltas(harness: Harness) -> None:
    harness.run(limit(Side.BUY, 5, 200), limit(Side.SELL, 2, 210))
    with harness.client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "subscribe", "channels": [f"book.{SYMBOL}", f"bbo.{SYMBOL}"]})
        assert receive(ws) == {
            "op": "subscribed",
            "channels": [f"book.{SYMBOL}", f"bbo.{SYMBOL}"],
        }
        snapshot = receive(ws)
        assert snapshot["type"] == "snapshot"
        assert snapshot["seq"] == 3
        assert snapshot["bids"] == [["100", "0.005"]]
        assert snapshot["asks"] == [["105", "0.002"]]
        bbo = receive(ws)
        assert bbo["channel"] == f"bbo.{SYMBOL}"
        assert bbo["bid"] == ["100", "0.005"]
        harness.run(limit(Side.BUY, 1, 210, account=2))
        delta = receive(ws)
        assert delta["type"] == "delta"
        assert delta["prev_seq"] == 3
        assert delta["asks"] == [["105", "0.001"]]
        client = BookClient(snapshot)
        client.apply(delta)
        book = harness.venue.market_data.book(SYMBOL, 100)
        assert client.levels() == (book["bids"], book["asks"])
        assert receive(ws)["ask"] == ["105", "0.001"]  # the BBO moved too
        ws.send_json({"op": "unsubscribe", "channels": [f"bbo.{SYMBOL}"]})
        assert receive(ws) == {"op": "unsubscribed", "channels": [f"bbo.{SYMBOL}"]}
        harness.run(limit(Side.BUY, 1, 190, account=2))  # deeper: the BBO stays
        assert receive(ws)["type"] == "delta"
        ws.send_json({"op": "ping", "id": 7})
        assert receive(ws) == {"op": "pong", "id": 7}  # no BBO message in between


def test_bad_requests_answer_errors_and_keep_the_connection(harness: Harness) -> None:
    with harness.client.websocket_connect("/ws") as ws:
        ws.send_text("{not json")
        assert receive(ws)["code"] == "bad_json"
        ws.send_json([1, 2])
        assert receive(ws)["code"] == "bad_request"
        ws.send_json({"op": "dance", "id": "x"})
        assert receive(ws) == {
            "op": "error",
            "code": "unknown_op",
            "message": "unknown op 'dance'",
            "id": "x",
        }
        ws.send_json({"op": "subscribe", "channels": ["book.NOPE"]})
        assert receive(ws)["code"] == "unknown_channel"
        ws.send_json({"op": "subscribe", "channels": [f"candles.{SYMBOL}.2m"]})
        assert receive(ws)["code"] == "unknown_channel"
        ws.send_json({"op": "subscribe", "channels": ["orders"]})
        assert receive(ws)["code"] == "unauthenticated"
        ws.send_json({"op": "place", "id": 1, "order": {}})
        assert receive(ws) == {
            "op": "error",
            "code": "unauthenticated",
            "message": "authenticate before 'place'",
            "id": 1,
        }
        ws.send_text("x" * 70_000)
        assert receive(ws)["code"] == "message_too_large"
        ws.send_json({"op": "ping"})
        assert receive(ws) == {"op": "pong"}


@pytest.mark.parametrize("harness", [WsLimits(max_subscriptions=3)], indirect=True)
def test_too_many_subscriptions_is_refused_whole(harness: Harness) -> None:
    with harness.client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "subscribe", "channels": [f"trades.{SYMBOL}", f"ticker.{SYMBOL}"]})
        until(ws, "subscribed")
        assert receive(ws)["channel"] == f"ticker.{SYMBOL}"  # its snapshot
        ws.send_json(
            {"op": "subscribe", "channels": [f"candles.{SYMBOL}.1m", f"candles.{SYMBOL}.5m"]}
        )
        assert receive(ws)["code"] == "too_many_subscriptions"
        ws.send_json({"op": "subscribe", "channels": [f"candles.{SYMBOL}.1m", f"trades.{SYMBOL}"]})
        assert receive(ws)["op"] == "subscribed"


def test_auth_opens_private_channels_and_order_entry(harness: Harness) -> None:
    with harness.client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "auth", "key": "bad", "timestamp": 1, "signature": "sig"})
        assert receive(ws) == {
            "op": "error",
            "code": "invalid_signature",
            "message": "the signature does not match",
        }
        ws.send_json({"op": "auth", "key": "good", "timestamp": "1", "signature": "sig"})
        assert receive(ws) == {"op": "authenticated", "account_id": 42}
        ws.send_json({"op": "subscribe", "channels": ["orders", "fills"]})
        assert receive(ws) == {"op": "subscribed", "channels": ["orders", "fills"]}
        assert harness.hub.has_subscribers("private.42.orders")
        order = {"symbol": SYMBOL, "side": "buy", "type": "limit", "quantity": "1"}
        ws.send_json({"op": "place", "id": "a", "order": order})
        assert receive(ws) == {
            "op": "place",
            "id": "a",
            "result": {"order_id": 1, "status": "new", **order},
        }
        assert harness.hooks.placed == [(42, order)]
        ws.send_json({"op": "place", "id": "b", "order": {**order, "quantity": "0"}})
        assert receive(ws) == {
            "op": "place",
            "id": "b",
            "error": {
                "code": "invalid_quantity",
                "message": "quantity must be positive",
                "details": {"field": "q"},
            },
        }
        ws.send_json({"op": "cancel", "id": 3, "order_id": 13})
        assert receive(ws)["error"]["code"] == "unknown_order"
        ws.send_json({"op": "cancel", "id": 4, "order_id": 5})
        assert receive(ws) == {
            "op": "cancel",
            "id": 4,
            "result": {"order_id": 5, "status": "canceled"},
        }
        ws.send_json({"op": "replace", "id": 5, "order_id": 5, "quantity": "2", "junk": 1})
        assert receive(ws) == {
            "op": "replace",
            "id": 5,
            "result": {"order_id": 5, "account_id": 42, "quantity": "2"},
        }
        ws.send_json({"op": "cancel", "id": 6})
        assert receive(ws)["error"]["code"] == "bad_request"
        # what the gateway publishes on the account's channels reaches the client
        harness.client.portal.call(harness.hub.publish, "private.42.fills", b'{"x":1}')  # type: ignore[union-attr]
        assert receive(ws) == {"x": 1}


@pytest.mark.parametrize("harness", [WsLimits(max_inflight=2)], indirect=True)
def test_requests_run_concurrently_up_to_the_in_flight_limit(harness: Harness) -> None:
    gate = harness.client.portal.call(asyncio.Event)  # type: ignore[union-attr]
    harness.hooks.gate = gate
    with harness.client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "auth", "key": "good", "timestamp": 1, "signature": "sig"})
        until(ws, "authenticated")
        for number in range(3):
            ws.send_json({"op": "place", "id": number, "order": {"n": number}})
        refused = receive(ws)
        assert refused["id"] == 2
        assert refused["error"]["code"] == "too_many_requests"
        harness.client.portal.call(gate.set)  # type: ignore[union-attr]
        answers = [receive(ws), receive(ws)]
        assert sorted(answer["id"] for answer in answers) == [0, 1]
        assert all("result" in answer for answer in answers)


@pytest.mark.parametrize("harness", [WsLimits(queue_capacity=5)], indirect=True)
def test_a_slow_consumer_is_closed_with_4008_and_others_are_unaffected(harness: Harness) -> None:
    with (
        harness.client.websocket_connect("/ws") as slow,
        harness.client.websocket_connect(f"/ws/trades/{SYMBOL}") as other,
    ):
        slow.send_json({"op": "subscribe", "channels": [f"book.{SYMBOL}"]})
        until(slow, "subscribed")
        receive(slow)  # the snapshot
        # One batch of 20 book changes, delivered in one step of the loop: 20 deltas > 5.
        harness.run(*(limit(Side.BUY, 1, 150 + i) for i in range(20)))
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                receive(slow)
        assert closed.value.code == 4008
        assert closed.value.reason == "slow consumer: send queue full"
        assert not harness.hub.has_subscribers(f"book.{SYMBOL}")
        harness.run(limit(Side.SELL, 1, 169, account=2))
        assert receive(other)["price"] == "84.5"


def test_classic_book_feed_sends_the_top_ten_at_once_and_on_change(harness: Harness) -> None:
    harness.run(*(limit(Side.SELL, 1, 300 + i) for i in range(12)))
    with harness.client.websocket_connect(f"/ws/market-data/{SYMBOL}") as ws:
        first = receive(ws)
        assert set(first) == {"timestamp", "symbol", "asks", "bids"}
        assert first["symbol"] == SYMBOL
        assert len(first["asks"]) == 10
        assert first["asks"][0] == ["150", "0.001"]
        assert first["bids"] == []
        assert isinstance(first["timestamp"], int)
        harness.run(limit(Side.BUY, 2, 250))
        update = receive(ws)
        assert update["bids"] == [["125", "0.002"]]
        assert update["timestamp"] == harness.venue.ts_ns // 1_000_000


def test_classic_trades_feed_format(harness: Harness) -> None:
    with harness.client.websocket_connect(f"/ws/trades/{SYMBOL}") as ws:
        harness.run(limit(Side.SELL, 1, 210), limit(Side.BUY, 1, 210, account=2))
        assert receive(ws) == {
            "timestamp": harness.venue.ts_ns // 1_000_000,
            "symbol": SYMBOL,
            "trade_id": 1,
            "price": "105",
            "quantity": "0.001",
            "aggressor_side": "buy",
            "maker_order_id": 2,
            "taker_order_id": 3,
        }


@pytest.mark.parametrize("path", ["/ws/market-data/NOPE", "/ws/trades/NOPE"])
def test_classic_feeds_close_an_unknown_symbol_with_4004(harness: Harness, path: str) -> None:
    with harness.client.websocket_connect(path) as ws, pytest.raises(WebSocketDisconnect) as closed:
        receive(ws)
    assert closed.value.code == 4004


@pytest.mark.parametrize("batch", [None, False, True])
def test_one_message_per_frame_unless_the_client_asks_for_batches(
    harness: Harness, batch: bool | None
) -> None:
    """The ack and the snapshot of a subscribe are queued in one step, so a batching
    connection gets them in one array frame and a default one in two object frames."""
    harness.run(limit(Side.BUY, 5, 100))
    with harness.client.websocket_connect("/ws") as ws:
        request: dict[str, Any] = {"op": "subscribe", "channels": [f"book.{SYMBOL}"]}
        if batch is not None:
            request["batch"] = batch
        ws.send_json(request)
        first = ws.receive_json()
        if batch:
            assert isinstance(first, list) and [m.get("op") for m in first][:1] == ["subscribed"]
            assert len(first) == 2 and first[1]["type"] == "snapshot"
        else:
            assert isinstance(first, dict) and first["op"] == "subscribed"
            second = ws.receive_json()
            assert isinstance(second, dict) and second["type"] == "snapshot"
        ws.send_json({"op": "subscribe", "channels": [f"bbo.{SYMBOL}"], "batch": "yes"})
        refused = receive(ws)
        assert refused["op"] == "error" and refused["code"] == "bad_request"
