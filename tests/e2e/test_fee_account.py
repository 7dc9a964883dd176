"""The venue's fee account (0) is visible to admins, so fees reconcile through the API, and
is nobody's to trade, fund or key."""

from __future__ import annotations

from decimal import Decimal

from tests.e2e.server import Market, Server, error_code, ok


def test_fees_collected_show_on_the_fee_account(server: Server, market: Market) -> None:
    with server.admin() as admin:
        ok(admin.post("/api/v1/admin/fee-tiers", {"name": "ten", "maker_bps": 0, "taker_bps": 10}))
        before = ok(admin.get("/api/v1/admin/accounts/0/balances"))
        maker = market.trader("fee-maker")
        taker = market.trader("fee-taker")
        ok(admin.patch(f"/api/v1/admin/accounts/{taker.account_id}", {"fee_tier": "ten"}))  # type: ignore[attr-defined]
        order = {"symbol": market.symbol, "side": "sell", "quantity": "1", "price": "100"}
        traders_before = [ok(t.get("/api/v1/balances")) for t in (maker, taker)]
        ok(maker.post("/api/v1/orders", order))
        ok(taker.post("/api/v1/orders", order | {"side": "buy"}))
        traders_after = [ok(t.get("/api/v1/balances")) for t in (maker, taker)]
        after = ok(admin.get("/api/v1/admin/accounts/0/balances"))
        accounts = ok(admin.get("/api/v1/admin/accounts"))
        refused_key = admin.post("/api/v1/admin/accounts/0/api-keys", {"role": "trader"})
        refused_deposit = admin.post(
            "/api/v1/admin/accounts/0/deposits", {"asset": market.quote, "amount": "1"}
        )

    def quote_total(body: dict[str, object]) -> Decimal:
        rows = body["balances"]
        assert isinstance(rows, list)
        return sum((Decimal(r["total"]) for r in rows if r["asset"] == market.quote), Decimal(0))

    # What the two traders paid in fees (their quote went down by exactly that, the trade
    # itself moved quote from one to the other) is what the venue's account received;
    # the taker's 10 bps of 100 USDT are among it.
    paid = sum(map(quote_total, traders_before)) - sum(map(quote_total, traders_after))
    collected = quote_total(after) - quote_total(before)
    assert collected == paid
    assert collected >= Decimal("0.1")
    assert accounts[0]["account_id"] == 0
    assert refused_key.status_code == 404 and error_code(refused_key) == "not_found"
    assert refused_deposit.status_code == 404
    peek = taker.get("/api/v1/admin/accounts/0/balances")
    assert peek.status_code == 403 and error_code(peek) == "forbidden"
