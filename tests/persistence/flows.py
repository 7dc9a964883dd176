"""A venue flow that exercises every table of the read model, and helpers to compare."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import Engine, select
from tests.accounts.driver import BTC_USDT, ETH_USDT, Driver

from venue.domain.commands import (
    CancelOrder,
    Command,
    HaltMarket,
    PlaceOrder,
    ReplaceOrder,
    ResumeMarket,
    SequencedCommand,
    SetFeeTier,
    SetKillSwitch,
    SetMarketMode,
    SetRiskProfile,
    Tick,
    Uncross,
    UpdateAccount,
)
from venue.domain.events import Event, LedgerPosted, Posting
from venue.domain.values import MarketMode, OrderType, SelfTradePrevention, Side, TimeInForce
from venue.persistence import schema
from venue.views import Changes, FillRecord, OrderRecord, OrderTracker

SYMBOLS = ("BTC-USDT", "ETH-USDT")
MINUTE_NS = 60_000_000_000


class Flow:
    """Commands run on a real venue (accounts on), kept with their events."""

    def __init__(self, step_ns: int = 7_000_000_000) -> None:
        self.driver = Driver(BTC_USDT, ETH_USDT, step_ns=step_ns)
        self.placed: list[tuple[int, int]] = []  # (order id, account id)

    @property
    def history(self) -> list[SequencedCommand]:
        return self.driver.history

    def events(self) -> list[list[Event]]:
        return [self.driver.events_by_seq[c.seq] for c in self.history]

    def run(self, command: Command) -> int:
        self.driver.run(command)
        if isinstance(command, PlaceOrder):
            self.placed.append((self.driver.seq, command.account_id))
        return self.driver.seq


def build_flow(seed: int, steps: int = 300) -> tuple[Flow, list[int]]:
    rng = random.Random(seed)
    flow = Flow()
    run = flow.run
    run(SetFeeTier("vip", 5, 15))
    run(SetRiskProfile("tight", max_open_orders=50))
    accounts = [
        flow.driver.account(USDT=10**13, BTC=10**12, ETH=10**12),
        flow.driver.account("market_maker", USDT=10**13, BTC=10**12, ETH=10**12),
        flow.driver.account("vip", "tight", USDT=10**13, BTC=10**12, ETH=10**12),
    ]
    run(UpdateAccount(accounts[0], fee_tier="vip"))
    for step in range(steps):
        account = rng.choice(accounts)
        symbol = rng.choice(SYMBOLS)
        roll = rng.random()
        if step == steps // 3:
            run(SetMarketMode("ETH-USDT", MarketMode.CALL))
        elif step == steps // 3 + 20:
            run(Uncross("ETH-USDT"))
            run(SetMarketMode("ETH-USDT", MarketMode.CONTINUOUS))
        elif step == steps // 2:
            run(HaltMarket("BTC-USDT"))
            run(ResumeMarket("BTC-USDT"))
        elif step == 2 * steps // 3:
            run(SetKillSwitch(accounts[2], True))
            run(SetKillSwitch(accounts[2], False))
        elif roll < 0.6 or not flow.placed:
            side = rng.choice((Side.BUY, Side.SELL))
            price = rng.randrange(9_990, 10_011)
            qty = rng.randrange(1, 9)
            kind = rng.random()
            if kind < 0.1:
                run(PlaceOrder(account, symbol, side, OrderType.MARKET, qty))
            elif kind < 0.2:
                tif = rng.choice((TimeInForce.IOC, TimeInForce.FOK))
                run(PlaceOrder(account, symbol, side, OrderType.LIMIT, qty, price, tif=tif))
            elif kind < 0.27:
                run(
                    PlaceOrder(
                        account,
                        symbol,
                        side,
                        OrderType.STOP_LIMIT,
                        qty,
                        price,
                        stop_price_ticks=rng.randrange(9_990, 10_011),
                    )
                )
            elif kind < 0.32:
                expire = flow.driver.ts + rng.randrange(1, 4) * MINUTE_NS
                run(
                    PlaceOrder(
                        account,
                        symbol,
                        side,
                        OrderType.LIMIT,
                        qty,
                        price,
                        tif=TimeInForce.GTD,
                        expire_ts_ns=expire,
                    )
                )
            else:
                stp = rng.choice(list(SelfTradePrevention))
                run(
                    PlaceOrder(
                        account,
                        symbol,
                        side,
                        OrderType.LIMIT,
                        qty,
                        price,
                        stp=stp,
                        client_order_id=f"c{step}",
                    )
                )
        elif roll < 0.75:
            order_id, owner = rng.choice(flow.placed)
            run(CancelOrder(owner, order_id))
        elif roll < 0.87:
            order_id, owner = rng.choice(flow.placed)
            run(ReplaceOrder(owner, order_id, qty_lots=rng.randrange(1, 12)))
        elif roll < 0.9:
            run(PlaceOrder(account, symbol, Side.BUY, OrderType.LIMIT, 10**9, 10_000))  # rejected
        else:
            run(Tick())
    return flow, accounts


def expected_orders_and_fills(
    history: list[SequencedCommand], events: list[list[Event]]
) -> tuple[dict[int, OrderRecord], list[FillRecord], list[tuple[int, int, Posting]]]:
    tracker = OrderTracker()
    records: dict[int, OrderRecord] = {}
    fills: list[FillRecord] = []
    postings: list[tuple[int, int, Posting]] = []
    for command, produced in zip(history, events, strict=True):
        changes: Changes = tracker.apply(command.seq, command.ts_ns, produced)
        records.update((r.order_id, r) for r in changes.orders)
        fills.extend(changes.fills)
        for event in produced:
            if isinstance(event, LedgerPosted):
                postings.extend((command.seq, command.ts_ns, p) for p in event.postings)
    return records, fills, postings


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection table's rows, sorted (to compare two projections)."""
    result: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table in schema.PROJECTION_TABLES:
            rows = connection.execute(select(table)).all()
            result[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return result
