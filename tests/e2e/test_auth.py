"""Signatures, roles and the access matrix: one account can never see or touch another's."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
from tests.e2e.server import Market, Server, error_code, ok

from venue.client.signing import sign


def raw_request(
    server: Server, key_id: str, secret: str, timestamp: int, body: dict[str, Any] | None = None
) -> httpx.Response:
    raw = b"" if body is None else json.dumps(body).encode()
    method = "GET" if body is None else "POST"
    path = "/api/v1/balances" if body is None else "/api/v1/orders"
    headers = {
        "X-VENUE-KEY": key_id,
        "X-VENUE-TIMESTAMP": str(timestamp),
        "X-VENUE-SIGNATURE": sign(secret, timestamp, method, path, "", raw),
        "content-type": "application/json",
    }
    return httpx.request(method, server.url + path, content=raw or None, headers=headers)


def test_signature_errors(server: Server, market: Market) -> None:
    trader = market.trader("signer")
    key_id, secret = trader.key_id or "", trader.secret or ""
    now = int(time.time() * 1000)
    assert raw_request(server, key_id, secret, now).status_code == 200
    wrong = raw_request(server, key_id, secret + "x", now + 1)
    assert wrong.status_code == 401 and error_code(wrong) == "invalid_signature"
    stale = raw_request(server, key_id, secret, now - 60_000)
    assert stale.status_code == 401 and error_code(stale) == "stale_timestamp"
    future = raw_request(server, key_id, secret, now + 60_000)
    assert error_code(future) == "stale_timestamp"
    unknown = raw_request(server, "vk_nobody", secret, now)
    assert unknown.status_code == 401 and error_code(unknown) == "unauthenticated"
    missing = httpx.get(server.url + "/api/v1/balances")
    assert missing.status_code == 401 and error_code(missing) == "unauthenticated"
    body = {"symbol": market.symbol, "side": "buy", "quantity": "1", "price": "1"}
    stamp = int(time.time() * 1000)
    first = raw_request(server, key_id, secret, stamp, body)
    assert first.status_code == 200, first.text
    replay = raw_request(server, key_id, secret, stamp, body)
    assert replay.status_code == 401 and error_code(replay) == "replayed_request"
    orders = ok(trader.get("/api/v1/orders", symbol=market.symbol))["orders"]
    assert len(orders) == 1  # the replay placed nothing
    tampered_headers = {
        "X-VENUE-KEY": key_id,
        "X-VENUE-TIMESTAMP": str(stamp + 5),
        "X-VENUE-SIGNATURE": sign(secret, stamp + 5, "POST", "/api/v1/orders", "", b"{}"),
        "content-type": "application/json",
    }
    tampered = httpx.post(
        server.url + "/api/v1/orders", content=json.dumps(body).encode(), headers=tampered_headers
    )
    assert error_code(tampered) == "invalid_signature"
    log = server.log()
    assert secret not in log and server.admin_key()["secret"] not in log
    assert tampered_headers["X-VENUE-SIGNATURE"] not in log


def test_roles(server: Server, market: Market) -> None:
    reader = market.trader("reader", role="read_only")
    assert ok(reader.get("/api/v1/balances"))["balances"]
    body = {"symbol": market.symbol, "side": "buy", "quantity": "1", "price": "1"}
    refused = reader.post("/api/v1/orders", body)
    assert refused.status_code == 403 and error_code(refused) == "forbidden"
    trader = market.trader("plain")
    not_admin = trader.post("/api/v1/admin/accounts", {"name": "sneaky"})
    assert not_admin.status_code == 403
    with server.admin() as admin:
        accounts = ok(admin.get("/api/v1/admin/accounts"))
    assert "sneaky" not in {a["name"] for a in accounts}


def test_access_matrix_account_a_against_account_b(server: Server, market: Market) -> None:
    a, b = market.trader("alice"), market.trader("bob")
    b_order = ok(
        b.post(
            "/api/v1/orders",
            {"symbol": market.symbol, "side": "buy", "quantity": "1", "price": "5"},
        )
    )
    ok(
        a.post(
            "/api/v1/orders",
            {"symbol": market.symbol, "side": "sell", "quantity": "1", "price": "50"},
        )
    )
    b_id = b_order["order_id"]
    b_key = b.key_id
    before = ok(b.get(f"/api/v1/orders/{b_id}"))
    attempts = [
        a.get(f"/api/v1/orders/{b_id}"),
        a.delete(f"/api/v1/orders/{b_id}"),
        a.patch(f"/api/v1/orders/{b_id}", {"quantity": "0.5"}),
        a.delete(f"/api/v1/api-keys/{b_key}"),
    ]
    for response in attempts:
        assert response.status_code == 404, response.text
    assert b_id not in {o["order_id"] for o in ok(a.get("/api/v1/orders"))["orders"]}
    assert all(f["order_id"] != b_id for f in ok(a.get("/api/v1/fills"))["fills"])
    assert ok(a.get("/api/v1/fills", order_id=b_id))["fills"] == []
    a_account = a.account_id  # type: ignore[attr-defined]
    assert ok(a.get("/api/v1/balances"))["account_id"] == a_account
    postings = ok(a.get("/api/v1/ledger"))["postings"]
    b_account = b.account_id  # type: ignore[attr-defined]
    assert all(b_account not in (p["debit_account"], p["credit_account"]) for p in postings)
    assert {k["key_id"] for k in ok(a.get("/api/v1/api-keys"))} == {a.key_id}
    # cancel-all by A leaves B's order alone
    ok(a.delete("/api/v1/orders", symbol=market.symbol))
    after = ok(b.get(f"/api/v1/orders/{b_id}"))
    assert after["status"] == before["status"] == "new"
    assert after["quantity"] == before["quantity"]
    ok(b.get("/api/v1/balances"))  # B's key still works


def test_revoked_key_stops_working(market: Market) -> None:
    trader = market.trader("revoker")
    ok(trader.delete(f"/api/v1/api-keys/{trader.key_id}"))
    refused = trader.get("/api/v1/balances")
    assert refused.status_code == 401


def test_admin_cli_talks_to_the_running_server(server: Server) -> None:
    import subprocess
    import sys

    env = {"VENUE_DATA_DIR": str(server.data_dir), "PATH": "/usr/bin:/bin"}
    args = [
        sys.executable,
        "-m",
        "venue.cli",
        "admin",
        "create-account",
        "cli-made",
        "--url",
        server.url,
    ]
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    account = json.loads(result.stdout)
    assert account["name"] == "cli-made" and account["account_id"] > 0
    with server.admin() as admin:
        names = {a["name"] for a in ok(admin.get("/api/v1/admin/accounts"))}
    assert "cli-made" in names


def test_identical_requests_in_one_millisecond_are_not_replays(
    server: Server, market: Market
) -> None:
    """The project's client makes each request unique with a nonce in the signed string;
    the same signature sent twice is still a replay."""
    trader = market.trader("burst")
    statuses = [trader.get("/api/v1/balances").status_code for _ in range(200)]
    assert statuses == [200] * 200
    key_id, secret = trader.key_id or "", trader.secret or ""
    stamp = int(time.time() * 1000)
    headers = {
        "X-VENUE-KEY": key_id,
        "X-VENUE-TIMESTAMP": str(stamp),
        "X-VENUE-NONCE": "n-1",
        "X-VENUE-SIGNATURE": sign(secret, stamp, "GET", "/api/v1/balances", "", b"", "n-1"),
    }
    first = httpx.get(server.url + "/api/v1/balances", headers=headers)
    assert first.status_code == 200, first.text
    again = httpx.get(server.url + "/api/v1/balances", headers=headers)
    assert again.status_code == 401 and error_code(again) == "replayed_request"
    other_nonce = headers | {"X-VENUE-NONCE": "n-2"}  # signed for n-1: does not verify
    forged = httpx.get(server.url + "/api/v1/balances", headers=other_nonce)
    assert forged.status_code == 401 and error_code(forged) == "invalid_signature"
    unsigned_nonce = {k: v for k, v in headers.items() if k != "X-VENUE-NONCE"}
    stripped = httpx.get(server.url + "/api/v1/balances", headers=unsigned_nonce)
    assert stripped.status_code == 401 and error_code(stripped) == "invalid_signature"


def test_an_unsigned_large_body_is_refused_before_it_is_read(server: Server) -> None:
    """413 for a body over the cap, 401 for a private route with no credentials, both
    answered without reading the body (the client is still sending when the answer comes)."""
    big = b"x" * (100 * 1024 * 1024)
    response = httpx.patch(server.url + "/api/v1/orders/1", content=big, timeout=30)
    assert response.status_code == 413 and error_code(response) == "invalid_request"

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked
        yield b"{" + b" " * 1000
        yield b" " * 1000 + b"}"

    anonymous = httpx.post(server.url + "/api/v1/admin/accounts", content=chunks(), timeout=30)
    assert anonymous.status_code == 401 and error_code(anonymous) == "unauthenticated"
    huge_chunked = httpx.post(
        server.url + "/api/v1/markets/X/unknown", content=iter([b"y" * 70_000] * 4), timeout=30
    )
    assert huge_chunked.status_code == 413
    assert httpx.get(server.url + "/health").status_code == 200
