"""Bad input over every route: each case answers its status and error code, and changes
nothing (no command is sequenced: the venue's seq is the same before and after).

The cases are the hostile probe's findings (issue 10) and their families: values that cannot
be held (1e30 instruments, 2**63 cursors), decimals that are not the wire's one grammar, more
digits than Decimal's default 28, non-ASCII or repeated auth headers, malformed bodies, and
another account's orders.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from tests.e2e.server import Market, Server, error_code, ok

from venue.client.http import ApiClient
from venue.client.signing import now_ms, sign

HUGE = "1" * 40
DIGITS_29 = "20000.009999999999999999999999999"  # rounds to 20000.01 in a 28-digit context


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    body: Any = None  # dict/list: JSON; bytes: sent as is
    query: str = ""
    who: str = "trader"  # trader | reader | admin | anon
    status: int = 400
    code: str = "invalid_request"
    field: str | None = None  # the field the error must name, when it names one
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class World:
    server: Server
    market: Market
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    other_order: int = 0
    own_order: int = 0


def order(**changes: Any) -> dict[str, Any]:
    return {"symbol": "@", "side": "buy", "quantity": "0.01", "price": "20000"} | changes


def instrument(**changes: Any) -> dict[str, Any]:
    base = {
        "symbol": "BAD-USD",
        "base_asset": "BAD",
        "quote_asset": "USD",
        "tick_size": "0.01",
        "lot_size": "0.001",
    }
    return base | changes


PRICE_FAMILY = [
    ("29_digits_not_on_tick", DIGITS_29),
    ("spaces", " 20000 "),
    ("underscore", "20_000"),
    ("fullwidth_digits", "\uff12\uff10\uff10\uff10\uff10"),
    ("arabic_indic_digits", "\u0662\u0660\u0660\u0660\u0660"),
    ("exponent", "2e4"),
    ("negative", "-20000"),
    ("plus_sign", "+20000"),
    ("nan", "NaN"),
    ("infinity", "Infinity"),
    ("empty", ""),
    ("leading_point", ".5"),
    ("trailing_point", "5."),
    ("trailing_newline", "20000\n"),
    ("too_long", "1" * 65),
    ("too_large", HUGE),
]

CASES: list[Case] = [
    # --- order entry: the decimal grammar, exactness, types
    *(
        Case(f"price_{n}", "POST", "/api/v1/orders", order(price=v), field="price")
        for n, v in PRICE_FAMILY
    ),
    Case(
        "quantity_31_digits_not_on_lot",
        "POST",
        "/api/v1/orders",
        order(quantity="0.0100000000000000000000000000001"),
        field="quantity",
    ),
    Case("quantity_exponent", "POST", "/api/v1/orders", order(quantity="1e-2"), field="quantity"),
    Case("quantity_number", "POST", "/api/v1/orders", order(quantity=0.01), field="quantity"),
    Case(
        "stop_price_fullwidth",
        "POST",
        "/api/v1/orders",
        order(type="stop_limit", stop_price="\uff11"),
        field="stop_price",
    ),
    Case(
        "display_quantity_bad",
        "POST",
        "/api/v1/orders",
        order(display_quantity="1_0"),
        field="display_quantity",
    ),
    Case(
        "quote_quantity_bad",
        "POST",
        "/api/v1/orders",
        order(type="market", price=None, quote_quantity="1e3"),
        field="quote_quantity",
    ),
    Case(
        "expire_time_huge",
        "POST",
        "/api/v1/orders",
        order(time_in_force="gtd", expire_time=2**63),
        field="expire_time",
    ),
    Case(
        "client_order_id_control",
        "POST",
        "/api/v1/orders",
        order(client_order_id="a\u0000b"),
        field="client_order_id",
    ),
    Case("unknown_field", "POST", "/api/v1/orders", order(colour="red"), field="colour"),
    Case("malformed_json", "POST", "/api/v1/orders", b'{"symbol": ', field="body"),
    Case("deep_json", "POST", "/api/v1/orders", b"[" * 5000 + b"]" * 5000),
    Case(
        "trailing_slash_no_redirect",
        "POST",
        "/api/v1/orders/",
        order(),
        status=404,
        code="not_found",
    ),
    Case("batch_not_a_list", "POST", "/api/v1/orders/batch", {"orders": order()}, field="orders"),
    # --- lists: one cursor parser
    *(
        Case(f"{route}_cursor_{n}", "GET", f"/api/v1/{route}", query=f"cursor={v}", field="cursor")
        for route, parts in (("orders", 1), ("fills", 2), ("ledger", 2))
        for n, v in (
            ("2_63", ":".join(["9223372036854775808"] * parts)),
            ("negative", ":".join(["-1"] * parts)),
            ("26_digits", ":".join(["12345678901234567890123456"] * parts)),
            ("fullwidth", ":".join(["\uff11"] * parts)),
            ("underscore", ":".join(["1_0"] * parts)),
            ("wrong_parts", "1:2:3"),
        )
    ),
    Case("orders_bad_status", "GET", "/api/v1/orders", query="status=lost", field="status"),
    Case("orders_limit_zero", "GET", "/api/v1/orders", query="limit=0", field="limit"),
    Case("orders_start_negative", "GET", "/api/v1/orders", query="start=-1", field="start"),
    # --- one order, one answer: not yours or not there
    *(
        Case(
            f"{m.lower()}_{n}_order",
            m,
            "/api/v1/orders/{" + n + "}",
            b,
            status=404,
            code="unknown_order",
        )
        for m, b in (("GET", None), ("DELETE", None), ("PATCH", {"price": "1"}))
        for n in ("other", "missing", "zero", "huge")
    ),
    Case("patch_malformed_json", "PATCH", "/api/v1/orders/{own}", b'{"price": ', field="body"),
    Case("patch_number_price", "PATCH", "/api/v1/orders/{own}", {"price": 1}, field="price"),
    Case("patch_exponent_price", "PATCH", "/api/v1/orders/{own}", {"price": "2e4"}, field="price"),
    Case("get_order_not_a_number", "GET", "/api/v1/orders/abc", field="order_id"),
    # --- auth headers
    Case(
        "signature_non_ascii",
        "GET",
        "/api/v1/balances",
        status=401,
        code="invalid_signature",
        headers=(("X-VENUE-SIGNATURE", "\u00e9" * 64),),
    ),
    Case(
        "signature_short",
        "GET",
        "/api/v1/balances",
        status=401,
        code="invalid_signature",
        headers=(("X-VENUE-SIGNATURE", "ab"),),
    ),
    *(
        Case(
            f"timestamp_{n}",
            "GET",
            "/api/v1/balances",
            status=401,
            code="stale_timestamp",
            headers=(("X-VENUE-TIMESTAMP", v),),
        )
        for n, v in (
            ("underscore", "1796401_244478"),
            ("plus_sign", "+1796401244478"),
            ("decimal_point", "1796401244478.0"),
            ("fullwidth", "\uff11\uff17"),
            ("negative", "-5"),
            ("huge", "9" * 40),
        )
    ),
    Case(
        "nonce_bad",
        "GET",
        "/api/v1/balances",
        code="invalid_request",
        headers=(("X-VENUE-NONCE", "a b"),),
    ),
    Case(
        "recv_window_underscore",
        "GET",
        "/api/v1/balances",
        headers=(("X-VENUE-RECV-WINDOW", "5_000"),),
    ),
    *(
        Case(f"duplicate_{h.lower()}", "GET", "/api/v1/balances", headers=((h, v),))
        for h, v in (
            ("X-VENUE-KEY", "vk_x"),
            ("X-VENUE-TIMESTAMP", "1"),
            ("X-VENUE-SIGNATURE", "a" * 64),
        )
    ),
    Case(
        "duplicate_key_on_fast_path",
        "POST",
        "/api/v1/orders",
        order(),
        headers=(("X-VENUE-KEY", "vk_x"),),
    ),
    # --- admin: every integer a command carries is range-checked before it exists
    Case(
        "instrument_tick_lot_1e30",
        "POST",
        "/api/v1/admin/instruments",
        instrument(tick_size="1e30", lot_size="1e30"),
        who="admin",
        code="invalid_instrument",
        field="lot_size",
    ),
    Case(
        "instrument_max_quantity_1e30",
        "POST",
        "/api/v1/admin/instruments",
        instrument(max_quantity="1e30"),
        who="admin",
        code="invalid_instrument",
        field="max_quantity",
    ),
    Case(
        "instrument_tick_lot_too_large",
        "POST",
        "/api/v1/admin/instruments",
        instrument(tick_size="1" + "0" * 20, lot_size="1" + "0" * 20),
        who="admin",
        code="invalid_instrument",
    ),
    Case(
        "instrument_max_quantity_too_large",
        "POST",
        "/api/v1/admin/instruments",
        instrument(max_quantity=HUGE),
        who="admin",
        code="invalid_instrument",
        field="max_quantity",
    ),
    Case(
        "instrument_min_notional_too_large",
        "POST",
        "/api/v1/admin/instruments",
        instrument(min_notional=HUGE),
        who="admin",
        code="invalid_instrument",
        field="min_notional",
    ),
    Case(
        "instrument_reference_too_large",
        "POST",
        "/api/v1/admin/instruments",
        instrument(reference_price=HUGE),
        who="admin",
        code="invalid_instrument",
        field="reference_price",
    ),
    Case(
        "instrument_band_100",
        "POST",
        "/api/v1/admin/instruments",
        instrument(price_band_pct="100"),
        who="admin",
        code="invalid_instrument",
        field="price_band_pct",
    ),
    Case(
        "instrument_tick_many_digits",
        "POST",
        "/api/v1/admin/instruments",
        instrument(tick_size="0." + "0" * 40 + "1"),
        who="admin",
        code="invalid_instrument",
    ),
    *(
        Case(
            f"account_name_{n}",
            "POST",
            "/api/v1/admin/accounts",
            {"name": v},
            who="admin",
            field="name",
        )
        for n, v in (
            ("nul", "a\u0000b"),
            ("newline", "a\nb"),
            ("bidi_override", "abc\u202etxt"),
            ("bidi_isolate", "a\u2066b"),
            ("zero_width", "a\u200bb"),
        )
    ),
    Case(
        "fee_tier_name_control",
        "POST",
        "/api/v1/admin/fee-tiers",
        {"name": "t\u0007", "maker_bps": 0, "taker_bps": 1},
        who="admin",
        field="name",
    ),
    Case(
        "risk_profile_name_bidi",
        "POST",
        "/api/v1/admin/risk-profiles",
        {"name": "p\u202e"},
        who="admin",
        field="name",
    ),
    *(
        Case(
            f"deposit_{n}",
            "POST",
            "/api/v1/admin/accounts/{trader}/deposits",
            {"asset": "USDT", "amount": v},
            who="admin",
            field="amount",
        )
        for n, v in (
            ("exponent", "1e3"),
            ("too_large", HUGE),
            ("29_digits", DIGITS_29),
            ("underscore", "1_000"),
        )
    ),
    Case(
        "kill_switch_account_2_63",
        "POST",
        "/api/v1/admin/kill-switch",
        {"account_id": 2**63, "active": True},
        who="admin",
        field="account_id",
    ),
    Case(
        "admin_route_as_trader",
        "POST",
        "/api/v1/admin/accounts",
        {"name": "x"},
        status=403,
        code="forbidden",
    ),
]


@pytest.fixture(scope="module")
def world(server: Server) -> Iterator[World]:
    market = Market(server, "BAD-USDT", quote_asset="USDT")
    trader = market.trader("bad-input-trader")
    reader_account = market.trader("bad-input-reader", role="read_only")
    other = market.trader("bad-input-other")
    placed = ok(other.post("/api/v1/orders", order(symbol=market.symbol, price="1")))
    own = ok(trader.post("/api/v1/orders", order(symbol=market.symbol, price="1")))
    admin = server.admin_key()
    instance = World(server, market, other_order=placed["order_id"], own_order=own["order_id"])
    instance.keys = {
        "trader": (trader.key_id or "", trader.secret or ""),
        "reader": (reader_account.key_id or "", reader_account.secret or ""),
        "admin": (admin["key_id"], admin["secret"]),
    }
    instance.keys["trader_account"] = (str(trader.account_id), "")  # type: ignore[attr-defined]
    yield instance
    market.close()


def _path(world: World, template: str) -> str:
    return template.format(
        other=world.other_order,
        own=world.own_order,
        missing=world.own_order + 10**9,
        zero=0,
        huge=10**20,
        trader=world.keys["trader_account"][0],
    )


def _send(world: World, case: Case) -> httpx.Response:
    path = _path(world, case.path)
    query = quote(case.query, safe="=&:")  # signed as it travels: percent-encoded
    if isinstance(case.body, bytes):
        raw = case.body
    elif case.body is None:
        raw = b""
    else:
        text = json.dumps(case.body).replace('"@"', json.dumps(world.market.symbol))
        raw = text.encode()
    headers: list[tuple[str, str]] = []
    if raw:
        headers.append(("content-type", "application/json"))
    if case.who != "anon":
        key_id, secret = world.keys[case.who]
        stamp = now_ms()
        headers += [
            ("X-VENUE-KEY", key_id),
            ("X-VENUE-TIMESTAMP", str(stamp)),
            ("X-VENUE-SIGNATURE", sign(secret, stamp, case.method, path, query, raw)),
        ]
    # A case's header is added beside the signed one (a duplicate) in the duplicate_* cases,
    # and replaces it otherwise.
    for name, value in case.headers:
        if case.name.startswith("duplicate_"):
            headers.append((name, value))
        else:
            headers = [(n, v) for n, v in headers if n != name] + [(name, value)]
    url = world.server.url + path + (f"?{query}" if query else "")
    encoded = [(n.encode(), v.encode()) for n, v in headers]
    return httpx.request(case.method, url, content=raw or None, headers=encoded, timeout=10)


def _seq(world: World) -> int:
    key_id, secret = world.keys["admin"]
    with ApiClient(world.server.url, key_id, secret) as admin:
        seq: int = ok(admin.get("/api/v1/balances"))["seq"]
        return seq


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(world: World, case: Case) -> None:
    before = _seq(world)
    response = _send(world, case)
    assert response.status_code == case.status, response.text
    assert error_code(response) == case.code, response.text
    if case.field is not None:
        details = response.json()["error"]["details"]
        named = {details.get("field")} | {p["field"] for p in details.get("problems", [])}
        assert case.field in named, response.text
    assert _seq(world) == before, "a refused request sequenced a command"
    assert httpx.get(world.server.url + "/health", timeout=5).status_code == 200
