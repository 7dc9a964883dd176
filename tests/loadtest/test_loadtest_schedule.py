"""The open-loop schedule and the order flow, without a network."""

from __future__ import annotations

import random
from decimal import Decimal

from venue.loadtest.driver import (
    Cancel,
    CancelAll,
    FlowConfig,
    OrderFlow,
    Place,
    Schedule,
    error_code,
    ws_url,
)
from venue.loadtest.setup import Market, default_deposits

S = 1_000_000_000


def test_slots_are_due_at_fixed_intervals_from_the_start() -> None:
    schedule = Schedule(rate=4.0, start_ns=1_000, total=8)
    assert [schedule.intended_ns(k) for k in range(4)] == [
        1_000,
        1_000 + S // 4,
        1_000 + S // 2,
        1_000 + 3 * S // 4,
    ]
    assert schedule.due(999) == 0
    assert schedule.due(1_000) == 1
    assert schedule.due(1_000 + S // 4 - 1) == 1
    assert schedule.due(1_000 + S // 4) == 2
    assert schedule.due(10 * S) == 8  # never more than the run has


def test_due_agrees_with_the_intended_times_at_awkward_rates() -> None:
    rng = random.Random(7)
    for rate in (3.0, 7.0, 333.3, 12_345.0):
        schedule = Schedule(rate=rate, start_ns=5, total=10_000)
        for _ in range(500):
            now = rng.randrange(0, 2 * S)
            due = schedule.due(now)
            assert due == 0 or schedule.intended_ns(due - 1) <= now
            assert due == schedule.total or schedule.intended_ns(due) > now


def test_a_late_wake_up_makes_the_backlog_due_at_once_with_its_own_intended_times() -> None:
    # What the dispatcher sees after a 0.5 s client stall at 100/s: 50 slots due together;
    # each keeps its intended time, so its latency includes the stall.
    schedule = Schedule.for_run(rate=100.0, start_ns=0, seconds=1.0)
    assert schedule.total == 100
    due = schedule.due(S // 2)
    assert due == 51
    assert schedule.intended_ns(0) == 0
    assert schedule.intended_ns(50) == S // 2


def test_the_measured_part_starts_at_the_first_slot_after_the_warm_up() -> None:
    schedule = Schedule.for_run(rate=10.0, start_ns=0, seconds=3.0)
    assert schedule.total == 30
    assert schedule.first_slot_at_or_after(0) == 0
    assert schedule.first_slot_at_or_after(S) == 10
    assert schedule.first_slot_at_or_after(S + 1) == 11


MARKET = Market("BTC-USDT", "BTC", "USDT", Decimal("0.5"), Decimal("0.001"), mid_ticks=54_000)


def test_orders_are_unique_on_the_grid_and_near_the_mid() -> None:
    flow = OrderFlow(MARKET, accounts=3, config=FlowConfig(cancel_all_every=0), seed=1, run_id="t")
    places = [flow.next(slot, slot % 3, 3) for slot in range(2_000)]
    assert all(isinstance(p, Place) for p in places)  # nothing rests yet: nothing to cancel
    ids = [p.client_order_id for p in places if isinstance(p, Place)]
    assert len(set(ids)) == len(ids)
    crossing = 0
    for place in places:
        assert isinstance(place, Place)
        price = Decimal(place.order["price"])
        qty = Decimal(place.order["quantity"])
        assert price % MARKET.tick == 0 and qty % MARKET.lot == 0
        ticks = int(price / MARKET.tick)
        assert abs(ticks - MARKET.mid_ticks) <= 20
        assert 1 <= int(qty / MARKET.lot) <= 5
        buy = place.order["side"] == "buy"
        crossing += (ticks > MARKET.mid_ticks) if buy else (ticks < MARKET.mid_ticks)
    assert 0 < crossing < len(places) // 2  # some cross, most are passive


def test_resting_orders_are_canceled_oldest_first_and_kept_bounded() -> None:
    config = FlowConfig(cancel_ratio=0.0, max_open_per_account=3, cancel_all_every=0)
    flow = OrderFlow(MARKET, accounts=1, config=config, seed=1, run_id="t")
    for order_id in range(3):
        flow.on_order(0, {"order_id": order_id, "status": "new"})
    flow.on_order(0, {"order_id": 99, "status": "filled"})  # not resting: never canceled
    actions = [flow.next(slot, 0, 1) for slot in range(4)]
    assert actions[0] == Cancel(0, 0)
    assert isinstance(actions[1], Place)  # below the cap again


def test_cancel_alls_come_periodically_and_rotate_over_the_accounts() -> None:
    config = FlowConfig(cancel_all_every=10, cancel_ratio=0.0)
    flow = OrderFlow(MARKET, accounts=4, config=config, seed=1, run_id="t")
    alls = [a for slot in range(100) if isinstance(a := flow.next(slot, 0, 4), CancelAll)]
    assert [a.account for a in alls] == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]


def test_error_codes_come_from_the_venues_error_body() -> None:
    assert error_code({"error": {"code": "insufficient_balance"}}, 400) == "insufficient_balance"
    assert error_code(None, 502) == "http_502"
    assert error_code({"detail": "x"}, 422) == "http_422"


def test_the_websocket_url_follows_the_http_one() -> None:
    assert ws_url("http://127.0.0.1:8000/") == "ws://127.0.0.1:8000/ws"
    assert ws_url("https://venue.example") == "wss://venue.example/ws"


def test_deposits_cover_both_assets() -> None:
    deposits = default_deposits(MARKET)
    assert deposits["USDT"] == Decimal(100_000_000)
    assert deposits["BTC"] == Decimal(3703)  # 100M / 27000, whole units
