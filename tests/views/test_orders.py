"""The order tracker against a real venue: statuses, fills, fees and averages of each flow."""

from __future__ import annotations

import random
from typing import Any

import pytest
from tests.accounts.driver import BTC_USDT, Driver

from venue.domain.commands import (
    CancelOrder,
    Command,
    PlaceOrder,
    ReplaceOrder,
    SequencedCommand,
    SetMarketMode,
    Tick,
    Uncross,
)
from venue.domain.events import Event
from venue.domain.instrument import Instrument
from venue.domain.values import (
    MarketMode,
    OrderType,
    SelfTradePrevention,
    Side,
    TimeInForce,
)
from venue.views import Changes, FillRecord, OrderRecord, OrderStatus, OrderTracker

SYMBOL = "BTC-USDT"
BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET


class Tracked(Driver):
    """The driver, with a tracker fed every command's events and every record kept by id."""

    def __init__(self, *instruments: Instrument) -> None:
        self.tracker = OrderTracker()
        self.records: dict[int, OrderRecord] = {}
        self.last: Changes = Changes()
        self.fills: list[FillRecord] = []
        super().__init__(*instruments)

    def run(self, command: Command, ts: int | None = None) -> list[Event]:
        events = super().run(command, ts)
        self.last = self.tracker.apply(self.seq, self.ts, events)
        for record in self.last.orders:
            self.records[record.order_id] = record
        self.fills.extend(self.last.fills)
        return events

    def place(self, account: int, side: Side, qty: int, price: int | None = None, **kw: Any) -> int:
        order_type = kw.pop("order_type", LIMIT if price is not None else MARKET)
        self.run(PlaceOrder(account, SYMBOL, side, order_type, qty, price, **kw))
        return self.seq

    def order(self, order_id: int) -> OrderRecord:
        return self.records[order_id]


def venue(*instruments: Instrument) -> tuple[Tracked, int, int]:
    driver = Tracked(*instruments)
    buyer = driver.account(USDT=10**12, BTC=10**12)
    seller = driver.account(USDT=10**12, BTC=10**12)
    return driver, buyer, seller


def open_matches_engine(driver: Tracked) -> None:
    engine_orders = {oid: order.remaining for oid, order in driver.state.engine.orders.items()}
    tracked = {oid: record.remaining_lots for oid, record in driver.tracker.open.items()}
    assert tracked == engine_orders


def test_limit_rests_then_partially_then_fully_filled() -> None:
    driver, buyer, seller = venue()
    resting = driver.place(seller, SELL, 10, 10_000)
    assert driver.order(resting).status is OrderStatus.NEW
    assert driver.order(resting).remaining_lots == 10
    taker1 = driver.place(buyer, BUY, 4, 10_000)
    assert driver.order(resting).status is OrderStatus.PARTIALLY_FILLED
    assert driver.order(resting).remaining_lots == 6
    assert driver.order(taker1).status is OrderStatus.FILLED
    assert [f.order_id for f in driver.last.fills] == [resting, taker1]
    maker_fill, taker_fill = driver.last.fills
    assert (maker_fill.liquidity, taker_fill.liquidity) == ("maker", "taker")
    assert (maker_fill.side, taker_fill.side) == (SELL, BUY)
    # notional 10_000 x 4 x 10 (quote minor units per tick-lot) = 400_000; 10 and 20 bps
    assert (maker_fill.fee, taker_fill.fee) == (400, 800)
    assert maker_fill.fee_asset == taker_fill.fee_asset == "USDT"
    driver.place(buyer, BUY, 6, 10_100)  # trades at the maker's price
    record = driver.order(resting)
    assert record.status is OrderStatus.FILLED
    assert (record.filled_lots, record.remaining_lots) == (10, 0)
    assert record.filled_notional == 10_000 * 10
    assert record.filled_notional // record.filled_lots == 10_000  # average price
    assert record.fee_paid == 400 + 600
    assert resting not in driver.tracker.open
    open_matches_engine(driver)


def test_average_price_over_two_levels() -> None:
    driver, buyer, seller = venue()
    driver.place(seller, SELL, 1, 10_000)
    driver.place(seller, SELL, 3, 10_004)
    taker = driver.place(buyer, BUY, 4, 10_010)
    record = driver.order(taker)
    assert record.filled_notional == 10_000 + 3 * 10_004
    assert record.status is OrderStatus.FILLED
    assert record.updated_seq == taker == record.created_seq


def test_ioc_remainder_is_canceled_after_its_fill() -> None:
    driver, buyer, seller = venue()
    driver.place(seller, SELL, 2, 10_000)
    ioc = driver.place(buyer, BUY, 5, 10_000, tif=TimeInForce.IOC)
    record = driver.order(ioc)
    assert record.status is OrderStatus.CANCELED
    assert record.cancel_reason == "ioc_remainder"
    assert (record.filled_lots, record.remaining_lots) == (2, 0)
    assert [r.order_id for r in driver.last.orders].count(ioc) == 1
    open_matches_engine(driver)


def test_fok_that_cannot_fill_is_canceled_and_fok_that_can_fills() -> None:
    driver, buyer, seller = venue()
    driver.place(seller, SELL, 2, 10_000)
    fok = driver.place(buyer, BUY, 5, 10_000, tif=TimeInForce.FOK)
    assert driver.order(fok).status is OrderStatus.CANCELED
    assert driver.order(fok).cancel_reason == "fok_not_filled"
    assert driver.order(fok).filled_lots == 0
    assert driver.last.fills == []
    fok2 = driver.place(buyer, BUY, 2, 10_000, tif=TimeInForce.FOK)
    assert driver.order(fok2).status is OrderStatus.FILLED


def test_market_order_fills_across_the_book() -> None:
    driver, buyer, seller = venue()
    driver.place(seller, SELL, 2, 10_000)
    driver.place(seller, SELL, 2, 10_001)
    market = driver.place(buyer, BUY, 3)
    record = driver.order(market)
    assert record.order_type is MARKET
    assert record.price_ticks is None
    assert record.status is OrderStatus.FILLED
    assert record.filled_notional == 2 * 10_000 + 10_001
    assert len(driver.last.fills) == 4


def test_stop_waits_for_its_trigger_then_trades() -> None:
    driver, buyer, seller = venue()
    stop = driver.place(buyer, BUY, 1, order_type=OrderType.STOP_MARKET, stop_price_ticks=10_050)
    assert driver.order(stop).status is OrderStatus.PENDING_TRIGGER
    assert stop in driver.tracker.open
    driver.place(seller, SELL, 1, 10_050)
    driver.place(seller, SELL, 5, 10_060)
    driver.place(buyer, BUY, 1, 10_050)  # prints 10_050: triggers the stop, which takes 10_060
    record = driver.order(stop)
    assert record.status is OrderStatus.FILLED
    assert record.filled_notional == 10_060
    open_matches_engine(driver)


def test_replace_changes_price_and_quantity() -> None:
    driver, buyer, _seller = venue()
    order = driver.place(buyer, BUY, 10, 9_900)
    driver.run(ReplaceOrder(buyer, order, qty_lots=7, price_ticks=9_950))
    record = driver.order(order)
    assert (record.qty_lots, record.remaining_lots, record.price_ticks) == (7, 7, 9_950)
    assert record.status is OrderStatus.NEW
    assert record.updated_seq == driver.seq
    open_matches_engine(driver)


def test_self_trade_cancels_the_newest_order() -> None:
    driver, buyer, _seller = venue()
    resting = driver.place(buyer, SELL, 3, 10_000)
    newest = driver.place(buyer, BUY, 3, 10_000)
    assert driver.order(newest).status is OrderStatus.CANCELED
    assert driver.order(newest).cancel_reason == "self_trade"
    assert driver.order(resting).status is OrderStatus.NEW
    assert driver.last.fills == []


def test_decrement_and_cancel_reduces_both_orders() -> None:
    driver, buyer, _seller = venue()
    resting = driver.place(buyer, SELL, 5, 10_000)
    newest = driver.place(buyer, BUY, 3, 10_000, stp=SelfTradePrevention.DECREMENT_AND_CANCEL)
    assert driver.order(resting).remaining_lots == 2
    assert driver.order(resting).qty_lots == 2
    assert driver.order(resting).status is OrderStatus.NEW
    assert driver.order(newest).status is OrderStatus.CANCELED
    assert driver.order(newest).cancel_reason == "self_trade"
    open_matches_engine(driver)


def test_user_cancel() -> None:
    driver, buyer, _seller = venue()
    order = driver.place(buyer, BUY, 5, 9_000)
    driver.run(CancelOrder(buyer, order))
    assert driver.order(order).status is OrderStatus.CANCELED
    assert driver.order(order).cancel_reason == "user"
    assert not driver.tracker.open


def test_rejected_order_for_insufficient_balance() -> None:
    driver = Tracked(BTC_USDT)
    poor = driver.account(USDT=100)
    order = driver.place(poor, BUY, 5, 10_000, client_order_id="c-1")
    record = driver.order(order)
    assert record.status is OrderStatus.REJECTED
    assert record.reject_reason == "insufficient_balance"
    assert record.client_order_id == "c-1"
    assert record.remaining_lots == 0
    assert order not in driver.tracker.open


def test_maker_rebate_is_a_negative_fee() -> None:
    driver = Tracked(BTC_USDT)
    maker_account = driver.account("market_maker", BTC=10**12)
    taker_account = driver.account(USDT=10**12)
    maker = driver.place(maker_account, SELL, 5, 10_000)
    taker = driver.place(taker_account, BUY, 3)
    fills = {f.order_id: f for f in driver.last.fills}
    assert fills[maker].fee == -60  # -2 bps of 300_000
    assert fills[taker].fee == 600
    assert driver.order(maker).fee_paid == -60
    assert driver.order(taker).fee_paid == 600


def test_gtd_order_expires_on_tick() -> None:
    driver, buyer, _seller = venue()
    expire = driver.ts + 50_000_000
    order = driver.place(buyer, BUY, 1, 9_000, tif=TimeInForce.GTD, expire_ts_ns=expire)
    driver.run(Tick(), ts=expire + 1)
    assert driver.order(order).status is OrderStatus.EXPIRED
    assert driver.order(order).remaining_lots == 0
    assert not driver.tracker.open


def test_call_auction_uncross_fills_at_one_price() -> None:
    driver, buyer, seller = venue()
    driver.run(SetMarketMode(SYMBOL, MarketMode.CALL))
    bid = driver.place(buyer, BUY, 3, 10_010)
    ask = driver.place(seller, SELL, 2, 10_000)
    assert driver.order(bid).status is OrderStatus.NEW
    driver.run(Uncross(SYMBOL))
    fills = driver.last.fills
    assert {f.liquidity for f in fills} == {"auction"}
    assert {(f.order_id, f.side, f.qty_lots) for f in fills} == {(bid, BUY, 2), (ask, SELL, 2)}
    assert len({f.price_ticks for f in fills}) == 1
    assert driver.order(bid).status is OrderStatus.PARTIALLY_FILLED
    assert driver.order(ask).status is OrderStatus.FILLED
    open_matches_engine(driver)


def test_fills_of_orders_it_never_saw_still_come_out_when_the_side_is_known() -> None:
    driver, buyer, seller = venue()
    maker = driver.place(seller, SELL, 2, 10_000)
    late = OrderTracker()  # seeded after the maker was placed, without it
    driver.place(buyer, BUY, 2, 10_000)
    changes = late.apply(driver.seq, driver.ts, driver.events_by_seq[driver.seq])
    assert [(f.order_id, f.side) for f in changes.fills] == [(maker, SELL), (driver.seq, BUY)]
    assert [r.order_id for r in changes.orders] == [driver.seq]  # accepted and filled here
    assert changes.orders[0].status is OrderStatus.FILLED
    assert late.open == {}


def test_accounts_off_gives_zero_fees() -> None:
    from venue.core import VenueState, apply
    from venue.domain.commands import AddInstrument

    state = VenueState(accounts=False)
    tracker = OrderTracker()
    commands: list[Command] = [
        AddInstrument(BTC_USDT),
        PlaceOrder(7, SYMBOL, SELL, LIMIT, 3, 10_000),
        PlaceOrder(8, SYMBOL, BUY, LIMIT, 3, 10_000),
    ]
    changes = Changes()
    for seq, command in enumerate(commands, start=1):
        tracker.apply(seq, seq, apply(state, SequencedCommand(seq, seq, command)), into=changes)
    assert [(f.fee, f.fee_asset) for f in changes.fills] == [(0, None), (0, None)]
    assert {r.order_id: r.status for r in changes.orders} == {
        2: OrderStatus.FILLED,
        3: OrderStatus.FILLED,
    }


def random_flow(driver: Tracked, accounts: list[int], rng: random.Random, steps: int) -> None:
    placed: list[int] = []
    for _ in range(steps):
        roll = rng.random()
        account = rng.choice(accounts)
        if roll < 0.55 or not placed:
            side = rng.choice((BUY, SELL))
            kind = rng.random()
            kwargs: dict[str, Any] = {}
            if kind < 0.1:
                price = None
            elif kind < 0.2:
                kwargs["tif"] = rng.choice((TimeInForce.IOC, TimeInForce.FOK))
                price = rng.randrange(9_990, 10_011)
            elif kind < 0.3:
                kwargs["order_type"] = OrderType.STOP_LIMIT
                kwargs["stop_price_ticks"] = rng.randrange(9_990, 10_011)
                price = rng.randrange(9_990, 10_011)
            elif kind < 0.4:
                kwargs["stp"] = rng.choice(list(SelfTradePrevention))
                price = rng.randrange(9_990, 10_011)
            elif kind < 0.45:
                kwargs["display_qty_lots"] = 1
                price = rng.randrange(9_990, 10_011)
            else:
                price = rng.randrange(9_990, 10_011)
            placed.append(driver.place(account, side, rng.randrange(1, 8), price, **kwargs))
        elif roll < 0.75:
            order_id = rng.choice(placed)
            owner = driver.records[order_id].account_id if order_id in driver.records else account
            driver.run(CancelOrder(owner, order_id))
        elif roll < 0.9:
            order_id = rng.choice(placed)
            owner = driver.records[order_id].account_id if order_id in driver.records else account
            driver.run(
                ReplaceOrder(
                    owner,
                    order_id,
                    qty_lots=rng.randrange(1, 10),
                    price_ticks=rng.choice((None, rng.randrange(9_990, 10_011))),
                )
            )
        else:
            driver.run(Tick())
        open_matches_engine(driver)


@pytest.mark.parametrize("seed", range(6))
def test_open_orders_equal_the_engines_after_a_random_flow(seed: int) -> None:
    rng = random.Random(seed)
    driver = Tracked(BTC_USDT)
    accounts = [driver.account(USDT=10**12, BTC=10**12) for _ in range(4)]
    random_flow(driver, accounts, rng, 400)
    # The fills add up to each record's filled figures and fees.
    lots: dict[int, int] = {}
    notional: dict[int, int] = {}
    fees: dict[int, int] = {}
    for fill in driver.fills:
        lots[fill.order_id] = lots.get(fill.order_id, 0) + fill.qty_lots
        notional[fill.order_id] = notional.get(fill.order_id, 0) + fill.qty_lots * fill.price_ticks
        fees[fill.order_id] = fees.get(fill.order_id, 0) + fill.fee
    assert lots, "the flow traded"
    for record in driver.records.values():
        assert record.filled_lots == lots.get(record.order_id, 0)
        assert record.filled_notional == notional.get(record.order_id, 0)
        assert record.fee_paid == fees.get(record.order_id, 0)
        if record.status is OrderStatus.FILLED:
            assert record.remaining_lots == 0
            assert record.filled_lots == record.qty_lots
