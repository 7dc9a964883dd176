"""Order lifecycle over REST against the real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

from tests.e2e.server import Market, Server, error_code, ok

from venue.client.http import ApiClient


def order(
    market: Market, side: str, quantity: str, price: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"symbol": market.symbol, "side": side, "quantity": quantity}
    if price is not None:
        body["price"] = price
    return body | extra


def place(client: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = ok(client.post("/api/v1/orders", body))
    return result


def test_limit_order_rests_then_fills_in_two_trades(market: Market) -> None:
    maker, taker = market.trader("maker"), market.trader("taker")
    resting = place(maker, order(market, "sell", "1.5", "100.5"))
    assert resting["status"] == "new"
    assert resting["remaining_quantity"] == "1.5"
    first = place(taker, order(market, "buy", "0.5", "101"))
    assert first["status"] == "filled"
    assert first["average_price"] == "100.5"
    assert [f["liquidity"] for f in first["fills"]] == ["taker"]
    again = ok(maker.get(f"/api/v1/orders/{resting['order_id']}"))
    assert again["status"] == "partially_filled"
    assert again["filled_quantity"] == "0.5"
    place(taker, order(market, "buy", "1", "100.5"))
    done = ok(maker.get(f"/api/v1/orders/{resting['order_id']}"))
    assert done["status"] == "filled"
    assert [f["quantity"] for f in done["fills"]] == ["0.5", "1"]
    book = ok(maker.request("GET", f"/api/v1/markets/{market.symbol}/book", signed=False))
    assert book["asks"] == [] and book["bids"] == []


def test_every_order_type_reaches_its_status(market: Market) -> None:
    maker, taker = market.trader("maker"), market.trader("taker")
    place(maker, order(market, "sell", "5", "100"))
    place(maker, order(market, "buy", "5", "90"))
    ioc = place(taker, order(market, "buy", "7", "100", time_in_force="ioc"))
    assert (ioc["status"], ioc["filled_quantity"], ioc["cancel_reason"]) == (
        "canceled",
        "5",
        "ioc_remainder",
    )
    response = taker.post("/api/v1/orders", order(market, "sell", "9", "90", time_in_force="fok"))
    fok = ok(response)
    assert fok["status"] == "canceled" and fok["filled_quantity"] == "0"
    market_sell = place(taker, order(market, "sell", "1", type="market"))
    assert market_sell["status"] == "filled" and market_sell["average_price"] == "90"
    # the last price is now 90: a stop below it waits, one at or above would trigger at once
    stop = place(taker, order(market, "sell", "1", type="stop_market", stop_price="80"))
    assert stop["status"] == "pending_trigger"
    stop_limit = place(taker, order(market, "sell", "1", "79", type="stop_limit", stop_price="80"))
    assert stop_limit["status"] == "pending_trigger"
    take_profit = place(taker, order(market, "sell", "1", type="take_profit", stop_price="120"))
    assert take_profit["status"] == "pending_trigger"
    tp_limit = place(
        taker, order(market, "sell", "1", "121", type="take_profit_limit", stop_price="120")
    )
    assert tp_limit["status"] == "pending_trigger"
    post_only = taker.post("/api/v1/orders", order(market, "buy", "1", "95", post_only=True))
    assert ok(post_only)["status"] == "new"
    crossing = taker.post("/api/v1/orders", order(market, "sell", "1", "85", post_only=True))
    assert crossing.status_code == 422 and error_code(crossing) == "post_only_would_take"
    assert crossing.json()["error"]["details"]["order"]["status"] == "rejected"
    iceberg = place(maker, order(market, "sell", "10", "110", display_quantity="1"))
    book = ok(maker.request("GET", f"/api/v1/markets/{market.symbol}/book", signed=False))
    assert ["110", "1"] in book["asks"]
    assert iceberg["display_quantity"] == "1"
    ok(taker.delete(f"/api/v1/orders/{post_only.json()['order_id']}"))
    ok(taker.delete(f"/api/v1/orders/{take_profit['order_id']}"))
    ok(taker.delete(f"/api/v1/orders/{tp_limit['order_id']}"))
    # a print at 70 (at or below 80) triggers both sell stops
    seller = market.trader("seller")
    place(maker, order(market, "buy", "3", "70"))
    place(seller, order(market, "sell", "4", "90"))  # the rest of the 90 bid: last price 90
    assert ok(taker.get(f"/api/v1/orders/{stop['order_id']}"))["status"] == "pending_trigger"
    place(seller, order(market, "sell", "1", "70"))
    triggered = ok(taker.get(f"/api/v1/orders/{stop['order_id']}"))
    assert (triggered["status"], triggered["average_price"]) == ("filled", "70")
    resting = ok(taker.get(f"/api/v1/orders/{stop_limit['order_id']}"))
    assert (resting["status"], resting["price"]) == ("new", "79")


def test_market_buy_with_a_quote_budget(market: Market) -> None:
    maker, taker = market.trader("maker"), market.trader("taker")
    place(maker, order(market, "sell", "2", "100"))
    bought = place(taker, order(market, "buy", "5", type="market", quote_quantity="150.5"))
    assert bought["status"] in ("filled", "canceled")
    # the budget pays the 20 bps taker fee too: 1.501 x 100 + 0.3002 fits 150.5, 1.502 not
    assert bought["filled_quantity"] == "1.501"


def test_a_resend_with_the_same_client_order_id_creates_nothing(market: Market) -> None:
    trader = market.trader("resender")
    client_id = f"c-{uuid.uuid4().hex[:12]}"
    body = order(market, "buy", "1", "50", client_order_id=client_id)
    first = trader.post("/api/v1/orders", body)
    second = trader.post("/api/v1/orders", body)
    assert ok(first)["order_id"] == ok(second)["order_id"]
    assert second.headers.get("X-Venue-Resent") == "true"
    listed = ok(trader.get("/api/v1/orders", symbol=market.symbol))
    assert [o["client_order_id"] for o in listed["orders"]] == [client_id]
    balances = ok(trader.get("/api/v1/balances"))
    usdt = next(b for b in balances["balances"] if b["asset"] == market.quote)
    assert usdt["held"] == "50.1"  # one order's reservation: 50 + the 20 bps taker fee


def test_cancel_replace_and_cancel_all(market: Market) -> None:
    trader = market.trader("editor")
    a = place(trader, order(market, "buy", "2", "10"))
    b = place(trader, order(market, "buy", "3", "11"))
    replaced = ok(trader.patch(f"/api/v1/orders/{a['order_id']}", {"quantity": "1", "price": "12"}))
    assert (replaced["quantity"], replaced["price"], replaced["status"]) == ("1", "12", "new")
    canceled = ok(trader.delete(f"/api/v1/orders/{b['order_id']}"))
    assert canceled["status"] == "canceled" and canceled["cancel_reason"] == "user"
    again = trader.delete(f"/api/v1/orders/{b['order_id']}")
    assert again.status_code == 404 and error_code(again) == "unknown_order"
    c = place(trader, order(market, "sell", "1", "20"))
    result = ok(trader.delete("/api/v1/orders", symbol=market.symbol))
    assert sorted(result["canceled"]) == sorted([a["order_id"], c["order_id"]])
    open_orders = ok(trader.get("/api/v1/orders", symbol=market.symbol, status="open"))
    assert open_orders["orders"] == []


def test_batch_answers_each_order_on_its_own(market: Market) -> None:
    trader = market.trader("batcher")
    bodies = [
        order(market, "buy", "1", "10"),
        order(market, "buy", "1", "10.001"),  # not on the tick grid
        order(market, "sell", "1", "30"),
    ]
    results = ok(trader.post("/api/v1/orders/batch", {"orders": bodies}))["results"]
    assert results[0]["order"]["status"] == "new"
    assert results[1]["error"]["code"] == "invalid_request"
    assert results[2]["order"]["status"] == "new"


def test_bad_input_is_refused_with_a_specific_error_and_changes_nothing(market: Market) -> None:
    trader = market.trader("careless")
    cases = [
        (order(market, "buy", "1.0001", "10"), "invalid_request", "quantity"),
        (order(market, "buy", "1", "10.005"), "invalid_request", "price"),
        (order(market, "buy", "-1", "10"), "invalid_request", "quantity"),
        (order(market, "hold", "1", "10"), "invalid_request", "side"),
        (order(market, "buy", "1", 10), "invalid_request", "price"),
        (order(market, "buy", "1", "10", colour="red"), "invalid_request", "colour"),
        (
            {"symbol": "NOPE-USDT", "side": "buy", "quantity": "1", "price": "1"},
            "unknown_symbol",
            "",
        ),
        (order(market, "buy", "1"), "price_required", ""),
        (order(market, "buy", "1000000000", "100"), "insufficient_balance", ""),
    ]
    for body, code, field_name in cases:
        response = trader.post("/api/v1/orders", body)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert error_code(response) == code, (body, response.text)
        assert field_name in response.json()["error"]["message"], response.text
    listed = ok(trader.get("/api/v1/orders", symbol=market.symbol, status="open"))
    assert listed["orders"] == []
    balances = ok(trader.get("/api/v1/balances"))["balances"]
    assert all(b["held"] == "0" for b in balances)


def test_fills_balances_positions_and_ledger_agree(market: Market) -> None:
    maker, taker = market.trader("maker"), market.trader("taker")
    place(maker, order(market, "sell", "2", "100"))
    place(taker, order(market, "buy", "2", "100"))
    fills = ok(taker.get("/api/v1/fills", symbol=market.symbol))["fills"]
    assert [(f["quantity"], f["price"], f["liquidity"], f["fee"]) for f in fills] == [
        ("2", "100", "taker", "0.4")
    ]
    balances = {b["asset"]: b for b in ok(taker.get("/api/v1/balances"))["balances"]}
    assert balances[market.base]["available"] == "1000002"
    assert balances[market.quote]["available"] == "999799.6"
    positions = ok(taker.get("/api/v1/positions"))["positions"]
    assert positions[0]["symbol"] == market.symbol and positions[0]["net_quantity"] == "2"
    postings = ok(taker.get("/api/v1/ledger"))["postings"]
    reasons = {p["reason"] for p in postings}
    assert {"deposit", "trade", "fee"} <= reasons


def test_public_market_data(server: Server, market: Market) -> None:
    maker, taker = market.trader("maker"), market.trader("taker")
    place(maker, order(market, "sell", "1", "100"))
    place(maker, order(market, "buy", "1", "99"))
    place(taker, order(market, "buy", "0.5", "100"))
    public = server.public()
    path = f"/api/v1/markets/{market.symbol}"
    bbo = ok(public.request("GET", f"{path}/bbo", signed=False))
    assert bbo["bid"][0] == "99" and bbo["ask"] == ["100", "0.5"]
    trades = ok(public.request("GET", f"{path}/trades", signed=False))
    assert trades[0]["price"] == "100" and trades[0]["quantity"] == "0.5"
    ticker = ok(public.request("GET", f"{path}/ticker", signed=False))
    assert ticker["last"] == "100"
    candles = ok(public.request("GET", f"{path}/candles", params={"interval": "1m"}, signed=False))
    assert candles[-1]["close"] == "100"
    assert public.request("GET", "/api/v1/markets/NOPE/book", signed=False).status_code == 404
    instruments = ok(public.request("GET", "/api/v1/instruments", signed=False))
    assert market.symbol in {i["symbol"] for i in instruments}
    assert public.request("GET", "/health", signed=False).status_code == 200
    metrics = public.request("GET", "/metrics", signed=False).text
    assert "venue_orders_total" in metrics and "venue_journal_fsync_seconds" in metrics


def test_answers_have_the_shapes_the_openapi_document_gives(server: Server, market: Market) -> None:
    from venue.gateway.responses import (
        Balances,
        Book,
        ErrorBody,
        FillPage,
        Order,
        OrderPage,
        Positions,
    )

    maker, taker = market.trader("maker"), market.trader("taker")
    resting = place(maker, order(market, "sell", "1", "100", client_order_id="shape-1"))
    Order.model_validate(resting)
    Order.model_validate(place(taker, order(market, "buy", "0.5", "100")))
    Order.model_validate(ok(maker.get(f"/api/v1/orders/{resting['order_id']}")))
    OrderPage.model_validate(ok(maker.get("/api/v1/orders")))
    FillPage.model_validate(ok(maker.get("/api/v1/fills")))
    Balances.model_validate(ok(maker.get("/api/v1/balances")))
    Positions.model_validate(ok(maker.get("/api/v1/positions")))
    path = f"/api/v1/markets/{market.symbol}/book"
    Book.model_validate(ok(server.public().request("GET", path, signed=False)))
    ErrorBody.model_validate(maker.delete("/api/v1/orders/999999999").json())
    document = ok(server.public().request("GET", "/openapi.json", signed=False))
    post = document["paths"]["/api/v1/orders"]["post"]["responses"]
    assert post["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Order")
    assert "422" in post and "401" in post
