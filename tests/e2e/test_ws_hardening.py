"""Hostile input on `/ws` against the real server: whatever a client sends, the connection
answers `{"op":"error",...}` and stays open (bad JSON at any depth, undecodable binary
frames, hostile auth values, odd ids and ops); repeated channels subscribe once; internal
hub channels cannot be named. One in-process test drives a hook that raises, which no
real hook should do, to show that even a bug in a hook cannot kill the connection (the
hooks are served by uvicorn in a thread: the real authenticator no longer raises)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from tests.e2e.server import Market, Server, free_port
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import ClientConnection, connect

from venue.client.signing import ws_auth_message
from venue.gateway.ws import websocket_router
from venue.marketdata.hub import Hub
from venue.marketdata.projection import MarketData

TIMEOUT_S = 10
ERROR_CODES_OF_BAD_CREDENTIALS = {
    "unauthenticated",
    "invalid_signature",
    "stale_timestamp",
    "bad_request",
    "invalid_request",
}


def receive(ws: ClientConnection) -> dict[str, Any]:
    """The next message: a frame holds one object or an array of them (batched)."""
    waiting = ws.__dict__.setdefault("_venue_pending", [])
    while not waiting:
        frame = json.loads(ws.recv(timeout=TIMEOUT_S))
        waiting.extend(frame if isinstance(frame, list) else [frame])
    message: dict[str, Any] = waiting.pop(0)
    return message


def until_pong(ws: ClientConnection, ping_id: str) -> list[dict[str, Any]]:
    """Everything received before the pong that answers `ping_id` (the pong excluded)."""
    ws.send(json.dumps({"op": "ping", "id": ping_id}))
    out: list[dict[str, Any]] = []
    while True:
        message = receive(ws)
        if message.get("op") == "pong" and message.get("id") == ping_id:
            return out
        out.append(message)


def assert_alive(ws: ClientConnection) -> None:
    assert until_pong(ws, "alive") == []


def nested_list(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


# ---------------------------------------------------------------------- A: bad frames


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_deeply_nested_json_answers_bad_json_and_keeps_the_connection(
    server: Server, binary: bool
) -> None:
    with connect(f"{server.ws_url}/ws") as ws:
        for frame in (nested_list(1000), nested_object(1000), nested_list(5000)):
            ws.send(frame.encode() if binary else frame)
            answer = receive(ws)
            assert answer["op"] == "error" and answer["code"] == "bad_json", answer
            assert_alive(ws)


@pytest.mark.parametrize(
    "frame",
    [
        b"\xff\xfe",
        b'["\xc3"]',
        b'{"op":"ping","id":"\xff"}',
        b'{"op":"ping","id":"\\ud800"}',
        b"",
        b"\x00",
        b"   ",
        b'{"op":"ping"',
        b"9" * 5000,
        b"1e99999",
        b"NaN",
    ],
)
def test_undecodable_binary_frames_answer_bad_json(server: Server, frame: bytes) -> None:
    with connect(f"{server.ws_url}/ws") as ws:
        ws.send(frame)
        answer = receive(ws)
        assert answer["op"] == "error" and answer["code"] == "bad_json", answer
        assert_alive(ws)


def test_a_text_frame_that_is_not_utf8_is_closed_with_1007(server: Server) -> None:
    """Not JSON's business: RFC 6455 fails such a connection, with a close frame (1007)."""
    with connect(f"{server.ws_url}/ws") as ws:
        ws.send(b'{"op":"ping","id":"\xff"}', text=True)
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv(timeout=TIMEOUT_S)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (b"null", "bad_request"),
        (b"17", "bad_request"),
        (b'"ping"', "bad_request"),
        (b'[{"op":"ping"}]', "bad_request"),
        (b'{"op":"ping","id":' + nested_list(900).encode() + b"}", "bad_request"),
        (b'{"op":"ping","id":{"a":1}}', "bad_request"),
        (b'{"op":' + nested_list(900).encode() + b"}", "unknown_op"),
        (b'{"op":"' + b"x" * 60_000 + b'"}', "unknown_op"),
        (b'{"op":"subscribe","channels":[' + nested_list(900).encode() + b"]}", "unknown_channel"),
        (b'{"op":"subscribe","channels":["' + b"x" * 60_000 + b'"]}', "unknown_channel"),
        (b'{"op":"auth","key":' + nested_list(900).encode() + b"}", "bad_request"),
    ],
    ids=lambda value: value[:24] if isinstance(value, bytes) else value,
)
def test_valid_json_that_is_no_request_answers_an_error(
    server: Server, request_: bytes, code: str
) -> None:
    with connect(f"{server.ws_url}/ws") as ws:
        ws.send(request_.decode())
        answer = receive(ws)
        assert answer["op"] == "error" and answer["code"] == code, answer
        assert "id" not in answer or isinstance(answer["id"], str | int | float)
        assert len(answer["message"]) < 300
        assert_alive(ws)


# ---------------------------------------------------------------------- B: hostile auth


def hostile_auth_messages(key_id: str, secret: str) -> list[dict[str, Any]]:
    good = ws_auth_message(key_id, secret)
    now = good["timestamp"]
    return [
        good | {"signature": "é" * 64},
        good | {"signature": "\u0000" * 64},
        good | {"signature": "é" * 10_000},
        good | {"key": "é" * 16},
        good | {"key": "k" * 10_000},
        good | {"key": "é" * 16, "signature": "é" * 64},
        good | {"timestamp": "é"},
        good | {"timestamp": "\uff11\uff12\uff13"},  # fullwidth digits
        good | {"timestamp": str(now) + "é"},
        good | {"timestamp": 10**30},
        good | {"timestamp": 10**4000},
        good | {"timestamp": -1},
        good | {"timestamp": -(10**30)},
        good | {"timestamp": 1.5},
        good | {"timestamp": float(str(now))},
        good | {"timestamp": None},
        good | {"timestamp": True},
    ]


def test_hostile_auth_values_answer_an_error_and_keep_the_connection(
    server: Server, market: Market
) -> None:
    trader = market.trader("ws-hostile-auth")
    key_id, secret = trader.key_id or "", trader.secret or ""
    with connect(f"{server.ws_url}/ws") as ws:
        for number, message in enumerate(hostile_auth_messages(key_id, secret)):
            ws.send(json.dumps(message | {"id": number}))
            answer = receive(ws)
            assert answer["op"] == "error", (message, answer)
            assert answer["code"] in ERROR_CODES_OF_BAD_CREDENTIALS, (message, answer)
            assert answer.get("id") == number
            assert_alive(ws)
        # still usable: the real credentials authenticate this same connection
        ws.send(json.dumps(ws_auth_message(key_id, secret)))
        assert receive(ws)["account_id"] == trader.account_id  # type: ignore[attr-defined]


class BrokenHooks:
    """Hooks with a bug: each raises what a hostile value once made the authenticator
    raise (`hmac.compare_digest` on non-ASCII text)."""

    async def authenticate(
        self, key: str, timestamp: int | str, signature: str, nonce: str | None = None
    ) -> int:
        if key == "good":
            return 7
        raise TypeError("comparing strings with non-ASCII characters is not supported")

    async def place(self, who: int, body: dict[str, Any]) -> dict[str, Any]:
        raise TypeError("a bug")

    async def cancel(self, who: int, order_id: Any) -> dict[str, Any]:
        raise RecursionError("a bug")

    async def replace(self, who: int, order_id: Any, body: dict[str, Any]) -> dict[str, Any]:
        return {"unencodable": object()}


@pytest.fixture
def broken_server() -> Iterator[str]:
    """The WebSocket routes with `BrokenHooks`, served by uvicorn (as `venue serve` does) in
    a thread; yields the `/ws` URL."""
    hub = Hub()
    app = FastAPI()
    app.include_router(websocket_router(MarketData(hub), hub, BrokenHooks()))
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws="websockets-sansio", lifespan="off", log_config=None
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT_S
    while not instance.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        instance.should_exit = True
        thread.join(TIMEOUT_S)


def test_an_exception_in_a_hook_answers_an_error_and_keeps_the_connection(
    broken_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    with connect(broken_server) as ws:
        hostile = {"op": "auth", "id": 1, "key": "é", "timestamp": 1, "signature": "é" * 64}
        ws.send(json.dumps(hostile))
        assert receive(ws) == {
            "op": "error",
            "code": "internal_error",
            "message": "authentication failed",
            "id": 1,
        }
        assert_alive(ws)
        ws.send(json.dumps({"op": "auth", "key": "good", "timestamp": 1, "signature": "s"}))
        assert receive(ws)["op"] == "authenticated"
        for op, extra in (
            ("place", {"order": {}}),
            ("cancel", {"order_id": 1}),
            ("replace", {"order_id": 1}),
        ):
            ws.send(json.dumps({"op": op, "id": op, **extra}))
            answer = receive(ws)
            assert answer["id"] == op and answer["error"]["code"] == "internal_error", answer
        assert_alive(ws)
    assert "websocket auth hook failed" in caplog.text


# ---------------------------------------------------------------------- C: channels


def test_a_repeated_channel_is_subscribed_once_with_one_snapshot(
    server: Server, market: Market
) -> None:
    symbol = market.symbol
    book, bbo = f"book.{symbol}", f"bbo.{symbol}"
    with connect(f"{server.ws_url}/ws") as ws:
        ws.send(json.dumps({"op": "subscribe", "channels": [bbo, bbo, book, bbo, book]}))
        messages = until_pong(ws, "p1")
        assert messages[0] == {"op": "subscribed", "channels": [bbo, book]}
        snapshots = [str(m.get("channel")) for m in messages[1:]]
        assert sorted(snapshots) == [bbo, book], messages
        ws.send(json.dumps({"op": "unsubscribe", "channels": [book, book]}))
        assert until_pong(ws, "p2") == [{"op": "unsubscribed", "channels": [book]}]


def test_only_client_facing_channels_can_be_subscribed(server: Server, market: Market) -> None:
    symbol = market.symbol
    trader = market.trader("ws-channels")
    account_id = trader.account_id  # type: ignore[attr-defined]
    internal = [
        f"classic.book.{symbol}",
        f"classic.trades.{symbol}",
        f"private.{account_id}.orders",
        f"private.{account_id}.fills",
        f"private.{account_id}.balances",
        "private.1.orders",
        f"BOOK.{symbol}",
        f"book.{symbol}.x",
        f"candles.{symbol}",
        f"candles.{symbol}.7m",
        "book.",
        "",
    ]
    public = [
        f"book.{symbol}",
        f"bbo.{symbol}",
        f"trades.{symbol}",
        f"candles.{symbol}.1m",
        f"ticker.{symbol}",
        f"auction.{symbol}",
    ]
    with connect(f"{server.ws_url}/ws") as ws:
        for authenticated in (False, True):
            for name in internal:
                # alone, and beside a valid channel: refused whole, nothing subscribed
                for channels in ([name], [f"bbo.{symbol}", name]):
                    ws.send(json.dumps({"op": "subscribe", "id": "s", "channels": channels}))
                    answer = until_pong(ws, "p")
                    assert len(answer) == 1, (channels, answer)
                    assert answer[0]["code"] == "unknown_channel", (channels, answer)
            if not authenticated:
                ws.send(json.dumps(ws_auth_message(trader.key_id or "", trader.secret or "")))
                assert receive(ws)["op"] == "authenticated"
        ws.send(json.dumps({"op": "subscribe", "channels": [*public, "orders", "fills"]}))
        answer = until_pong(ws, "p3")
        assert answer[0] == {"op": "subscribed", "channels": [*public, "orders", "fills"]}


def test_a_subscriber_still_gets_updates_after_the_hostile_frames(
    server: Server, market: Market
) -> None:
    """The same connection: hostile frames first, then an ordinary book subscription."""
    trader = market.trader("ws-after")
    with connect(f"{server.ws_url}/ws") as ws:
        ws.send(nested_list(1000))
        assert receive(ws)["code"] == "bad_json"
        ws.send(b"\xff")
        assert receive(ws)["code"] == "bad_json"
        ws.send(json.dumps({"op": "subscribe", "channels": [f"bbo.{market.symbol}"]}))
        assert receive(ws)["op"] == "subscribed"
        assert receive(ws)["channel"] == f"bbo.{market.symbol}"
        response = trader.post(
            "/api/v1/orders",
            {"symbol": market.symbol, "side": "buy", "quantity": "1", "price": "10"},
        )
        assert response.status_code == 200, response.text
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            message = receive(ws)
            if message.get("bid") is not None:
                assert message["bid"] == ["10", "1"]
                return
        raise AssertionError("no bbo update")
