"""Kill the server mid-stream and restart it: nothing acknowledged is lost, on SQLite and
PostgreSQL, and the read model catches up from the journal."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.server import Market, Server, ok
from tests.postgres import require_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    if request.param == "postgresql":
        require_postgres()
    instance = Server(tmp_path / "var", backend=request.param).start()
    try:
        yield instance
    finally:
        instance.close()


def test_a_crash_mid_stream_loses_nothing_acknowledged(own_server: Server) -> None:
    market = Market(own_server, "CRASH-USDT")
    traders = [market.trader(f"t{i}") for i in range(2)]
    acknowledged: dict[int, str] = {}
    stop = threading.Event()

    def flow(index: int) -> None:
        trader = traders[index]
        n = 0
        while not stop.is_set():
            n += 1
            side = "buy" if (n + index) % 2 else "sell"
            price = str(100 + (n % 7) - 3)
            body = {"symbol": market.symbol, "side": side, "quantity": "1", "price": price}
            try:
                response = trader.post("/api/v1/orders", body)
            except httpx.HTTPError:
                return  # the server died under this request: not acknowledged
            if response.status_code == 200:
                acknowledged[response.json()["order_id"]] = trader.key_id or ""

    threads = [threading.Thread(target=flow, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    while len(acknowledged) < 150:
        threading.Event().wait(0.05)
    own_server.stop(signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join()
    own_server.start()
    by_key = {t.key_id: t for t in traders}
    for order_id, key_id in acknowledged.items():
        record = ok(by_key[key_id].get(f"/api/v1/orders/{order_id}"))
        assert record["order_id"] == order_id
    # the read model caught up: every acknowledged order is in the history pages too
    listed: set[int] = set()
    for trader in traders:
        cursor = None
        while True:
            page = ok(trader.get("/api/v1/orders", symbol=market.symbol, cursor=cursor, limit=1000))
            listed.update(o["order_id"] for o in page["orders"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert set(acknowledged) <= listed
    # and the state after the restart still trades
    ok(
        traders[0].post(
            "/api/v1/orders",
            {"symbol": market.symbol, "side": "buy", "quantity": "1", "price": "99"},
        )
    )
    market.close()


def test_a_graceful_restart_keeps_keys_orders_and_balances(own_server: Server) -> None:
    market = Market(own_server, "KEEP-USDT")
    trader = market.trader("keeper")
    resting = ok(
        trader.post(
            "/api/v1/orders",
            {"symbol": market.symbol, "side": "buy", "quantity": "2", "price": "50"},
        )
    )
    balances = ok(trader.get("/api/v1/balances"))["balances"]
    own_server.restart()
    assert ok(trader.get(f"/api/v1/orders/{resting['order_id']}"))["status"] == "new"
    assert ok(trader.get("/api/v1/balances"))["balances"] == balances
    book = ok(
        own_server.public().request("GET", f"/api/v1/markets/{market.symbol}/book", signed=False)
    )
    assert book["bids"] == [["50", "2"]]
    market.close()


def test_trading_goes_on_when_the_read_model_database_goes_away(tmp_path: Path) -> None:
    require_postgres()
    from tests.e2e.server import drop_database

    server = Server(tmp_path / "var", backend="postgresql").start()
    try:
        market = Market(server, "GONE-USDT")
        trader = market.trader("stoic")
        assert server.database is not None
        drop_database(server.database)  # kills the read model's connections and its data
        placed = trader.post(
            "/api/v1/orders",
            {"symbol": market.symbol, "side": "buy", "quantity": "1", "price": "99"},
        )
        assert ok(placed)["status"] == "new"  # the venue trades on its journal and live view
        assert ok(trader.get(f"/api/v1/orders/{placed.json()['order_id']}"))["status"] == "new"
        history = trader.get("/api/v1/fills")
        assert history.status_code == 503
        assert history.json()["error"]["code"] == "unavailable"
        assert httpx.get(f"{server.url}/ready").status_code == 503
        market.close()
    finally:
        server.close()


def test_max_orders_per_second_limits_every_account_by_default(tmp_path: Path) -> None:
    server = Server(tmp_path / "var", env={"MAX_ORDERS_PER_SECOND": "3"}).start()
    try:
        market = Market(server, "RATE-USDT")
        trader = market.trader("hasty")
        body = {"symbol": market.symbol, "side": "buy", "quantity": "1", "price": "99"}
        # 12 orders back to back span at most three one-second windows (9 allowed)
        responses = [trader.post("/api/v1/orders", body) for _ in range(12)]
        refused = [r for r in responses if r.status_code == 429]
        assert refused, [r.status_code for r in responses]
        assert {r.json()["error"]["code"] for r in refused} == {"order_rate_limit"}
        market.close()
    finally:
        server.close()
