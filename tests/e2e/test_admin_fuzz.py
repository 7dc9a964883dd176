"""No admin or trader input can stop the venue (issue 10, finding 1).

A server of its own (it is stopped and its journal verified at the end): every admin
operation is fuzzed with schemathesis as the admin, then every field of every admin body
gets extreme values (1e30, 40-digit numbers, 2**63, NUL, bidi overrides, deep nesting). The
venue must answer no 5xx, still be alive and ready, and its journal must verify.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.core import NotSet
from tests.e2e.server import Market, Server

from venue.client.signing import signed_headers

EXAMPLES_PER_OPERATION = 30
EXTREMES: list[Any] = [
    "1e30",
    "1" * 40,
    "9" * 64,
    "0." + "0" * 60 + "1",
    "-1",
    2**63,
    -(2**63),
    10**30,
    1e308,
    "a\u0000b",
    "x\u202ey",
    "",
    None,
    True,
    [[[[[]]]]],
]


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("venue-admin-fuzz") / "var"
    instance = Server(data_dir).start()
    try:
        yield instance
    finally:
        instance.close()


def _admin_bodies(market: Market, account_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    symbol = market.symbol
    return [
        (
            "POST",
            "/api/v1/admin/instruments",
            {
                "symbol": "FZ-USD",
                "base_asset": "FZ",
                "quote_asset": "USD",
                "tick_size": "0.01",
                "lot_size": "0.01",
                "min_quantity": "0.01",
                "max_quantity": "100",
                "min_notional": "1",
                "price_band_pct": "10",
                "reference_price": "10",
                "auction_interval_ms": 0,
                "max_book_orders": 10,
            },
        ),
        ("POST", "/api/v1/admin/accounts", {"name": "fz", "fee_tier": "default"}),
        ("PATCH", f"/api/v1/admin/accounts/{account_id}", {"fee_tier": "default"}),
        ("POST", f"/api/v1/admin/accounts/{account_id}/deposits", {"asset": "USDT", "amount": "1"}),
        (
            "POST",
            f"/api/v1/admin/accounts/{account_id}/withdrawals",
            {"asset": "USDT", "amount": "1"},
        ),
        ("POST", f"/api/v1/admin/accounts/{account_id}/api-keys", {"role": "trader", "label": "x"}),
        ("POST", f"/api/v1/admin/markets/{symbol}/mode", {"mode": "continuous"}),
        ("POST", "/api/v1/admin/kill-switch", {"account_id": account_id, "active": False}),
        ("POST", "/api/v1/admin/fee-tiers", {"name": "fz", "maker_bps": 0, "taker_bps": 1}),
        ("POST", "/api/v1/admin/risk-profiles", {"name": "fz", "max_open_orders": 5}),
    ]


def test_no_admin_input_stops_the_venue(own_server: Server) -> None:
    server = own_server
    market = Market(server, "FZB-USDT", quote_asset="USDT")
    trader = market.trader("fuzz-target")
    admin = server.admin_key()
    failures: list[str] = []
    sent = 0
    with httpx.Client(base_url=server.url, timeout=10) as http:

        def send(method: str, path: str, query: str, body: bytes) -> None:
            nonlocal sent
            headers = {"content-type": "application/json"} if body else {}
            headers |= signed_headers(admin["key_id"], admin["secret"], method, path, query, body)
            url = path + (f"?{query}" if query else "")
            response = http.request(method, url, content=body or None, headers=headers)
            sent += 1
            if response.status_code >= 500:
                failures.append(
                    f"{method} {url} {body[:200]!r} -> {response.status_code} {response.text[:200]}"
                )

        # 1. Every field of every admin body, one extreme value at a time.
        for method, path, valid in _admin_bodies(market, trader.account_id):  # type: ignore[attr-defined]
            for name in valid:
                for value in EXTREMES:
                    send(method, path, "", json.dumps(valid | {name: value}).encode())

        # 2. Schemathesis over the admin operations of the served OpenAPI document.
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        operations = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            if "/admin/" not in operation.path:
                continue

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                derandomize=True,
            )
            @given(case=operation.as_strategy())
            def check(case: Any) -> None:
                query = urlencode(case.query or {}, doseq=True)
                has_body = not isinstance(case.body, NotSet) and case.body is not None
                body = json.dumps(case.body).encode() if has_body else b""
                send(case.method, case.formatted_path, query, body)

            check()
            operations += 1
    assert operations >= 10, operations
    assert sent > 500, sent
    assert failures == []
    assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200
    assert httpx.get(f"{server.url}/ready", timeout=5).status_code == 200
    market.close()

    # 3. The journal of everything that was accepted verifies, and the venue restarts on it.
    server.stop()
    verify = subprocess.run(
        [sys.executable, "-m", "venue.cli", "journal", "verify", str(server.data_dir / "journal")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    server.start()
    assert httpx.get(f"{server.url}/ready", timeout=5).status_code == 200
