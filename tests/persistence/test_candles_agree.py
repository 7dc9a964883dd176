"""The market data projection and the SQL projector tell the same story about every candle:
the same event stream fed to both (the SQL projector in uneven batches, so stored candles are
merged across transactions) gives identical candles in every interval, and both match a
naive fold of the trades."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import Engine
from tests.accounts.driver import BTC_USDT, ETH_USDT, Driver
from tests.persistence.flows import build_flow

from venue.domain.commands import PlaceOrder, SequencedCommand
from venue.domain.events import Event, TradeExecuted
from venue.domain.values import OrderType, Side
from venue.marketdata import MarketData
from venue.persistence.projector import Projector
from venue.persistence.queries import Queries
from venue.views.candles import INTERVALS_NS

MINUTE_NS = 60_000_000_000
BASE_NS = 1_700_000_000 * 1_000_000_000 + 17  # not aligned to any interval
Stream = tuple[list[SequencedCommand], list[list[Event]]]


def random_flow_stream(seed: int) -> Stream:
    """`build_flow`: every kind of command (auctions, halts, stops...), 7 s apart."""
    flow, _ = build_flow(seed)
    return flow.history, flow.events()


def jumpy_stream(seed: int) -> Stream:
    """Crossing orders on two symbols at times that jump by nanoseconds to days, so trades
    land on both sides of every interval's boundaries; sweeps make several trades (at
    several prices) in one command."""
    rng = random.Random(seed)
    driver = Driver(BTC_USDT, ETH_USDT, step_ns=1)
    seller = driver.account(BTC=10**12, ETH=10**12)
    buyer = driver.account(USDT=10**14)
    ts = BASE_NS
    for _ in range(150):
        ts += rng.choice((1, 999, MINUTE_NS - 1, 7 * MINUTE_NS, 61 * MINUTE_NS, 1441 * MINUTE_NS))
        symbol = rng.choice(("BTC-USDT", "ETH-USDT"))
        levels = rng.randint(1, 3)
        for _level in range(levels):
            price = rng.randrange(9_990, 10_011)
            driver.run(
                PlaceOrder(seller, symbol, Side.SELL, OrderType.LIMIT, rng.randint(1, 5), price),
                ts=ts,
            )
        driver.run(PlaceOrder(buyer, symbol, Side.BUY, OrderType.LIMIT, 5 * levels, 10_010), ts=ts)
    history = driver.history
    return history, [driver.events_by_seq[c.seq] for c in history]


def naive_candles(events: list[list[Event]]) -> dict[tuple[str, str], list[tuple[int, ...]]]:
    """(symbol, interval) -> rows (start, open, high, low, close, volume, trades, notional)."""
    folded: dict[tuple[str, str, int], list[int]] = {}
    for produced in events:
        for event in produced:
            if not isinstance(event, TradeExecuted):
                continue
            price, qty, ts = event.price_ticks, event.qty_lots, event.ts_ns
            for name, length in INTERVALS_NS.items():
                key = (event.symbol, name, ts // length * length)
                row = folded.setdefault(key, [key[2], price, price, price, price, 0, 0, 0])
                row[2] = max(row[2], price)
                row[3] = min(row[3], price)
                row[4] = price
                row[5] += qty
                row[6] += 1
                row[7] += price * qty
    out: dict[tuple[str, str], list[tuple[int, ...]]] = {}
    for (symbol, name, _start), row in sorted(folded.items()):
        out.setdefault((symbol, name), []).append(tuple(row))
    return out


@pytest.mark.parametrize(
    "stream",
    [random_flow_stream(3), jumpy_stream(5)],
    ids=["random-flow", "jumpy-times"],
)
def test_market_data_and_sql_projector_build_identical_candles(
    engine: Engine, stream: Stream
) -> None:
    commands, events = stream
    expected = naive_candles(events)
    assert len(expected[("BTC-USDT", "1m")]) >= 3  # the stream does cross boundaries

    market_data = MarketData(candles_kept=10_000)
    rng = random.Random(11)
    index = 0
    while index < len(commands):  # uneven batches, as the event loop sees them
        size = rng.randint(1, 40)
        market_data.on_batch(commands[index : index + size], events[index : index + size])
        index += size

    projector = Projector(engine)
    index = 0
    while index < len(commands):  # other batches: a candle is often split across commits
        size = rng.randint(1, 25)
        projector.apply_batch(commands[index : index + size], events[index : index + size])
        index += size
    queries = Queries(engine)

    for symbol in ("BTC-USDT", "ETH-USDT"):
        for interval in INTERVALS_NS:
            stored = [
                (
                    c.start_ns,
                    c.open_ticks,
                    c.high_ticks,
                    c.low_ticks,
                    c.close_ticks,
                    c.volume_lots,
                    c.trade_count,
                    c.notional,
                )
                for c in queries.candles(symbol, interval, start_ns=0, limit=10_000)
            ]
            live = market_data.candle_rows(symbol, interval)
            assert live == stored, (symbol, interval)
            assert stored == expected.get((symbol, interval), []), (symbol, interval)
