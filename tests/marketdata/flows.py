"""Drivers for the market data tests: a real `VenueState` (bare matching engine) fed with
commands, whose batches go to a `MarketData`, and a client that rebuilds a book from
snapshot + deltas the way a WebSocket client would."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import msgspec

from venue.core import VenueState, apply
from venue.domain.commands import (
    AddInstrument,
    CancelOrder,
    Command,
    PlaceOrder,
    ReplaceOrder,
    SequencedCommand,
)
from venue.domain.events import Event
from venue.domain.instrument import Instrument
from venue.domain.values import OrderType, Side, TimeInForce
from venue.marketdata import Hub, MarketData, Subscriber

SYMBOL = "BTC-USD"
# Tick 0.5 and lot 0.001: decimal text is not the integer, so formatting is exercised.
INSTRUMENT = Instrument.create(SYMBOL, "BTC", "USD", "0.5", "0.001", 8, 4)
MINUTE_NS = 60_000_000_000


class Venue:
    """A VenueState and a MarketData kept in step, batch by batch."""

    def __init__(self, market_data: MarketData, *, start_ts_ns: int = 1_700_000_000_000_000_000):
        self.state = VenueState()
        self.market_data = market_data
        self.ts_ns = start_ts_ns
        # How a batch reaches the projection: directly, or e.g. through the test client's
        # event loop (the projection lives on the loop thread, as in the server).
        self.deliver: Callable[[list[SequencedCommand], list[list[Event]]], None] | None = None

    def run(self, commands: list[Command], *, step_ns: int = 1_000) -> list[list[Event]]:
        """Apply `commands` as one batch and deliver it."""
        sequenced: list[SequencedCommand] = []
        events: list[list[Event]] = []
        for command in commands:
            self.ts_ns += step_ns
            item = SequencedCommand(self.state.last_seq + 1, self.ts_ns, command)
            sequenced.append(item)
            events.append(apply(self.state, item))
        if self.deliver is None:
            self.market_data.on_batch(sequenced, events)
        else:
            self.deliver(sequenced, events)
        return events

    def engine_levels(self, symbol: str = SYMBOL) -> tuple[list[tuple[int, int, int]], ...]:
        market = self.state.engine.markets[symbol]
        return (
            [(lvl.price, lvl.qty, lvl.count) for lvl in market.bids.sorted_levels()],
            [(lvl.price, lvl.qty, lvl.count) for lvl in market.asks.sorted_levels()],
        )

    def random_command(self, rng: random.Random, symbol: str = SYMBOL) -> Command:
        roll = rng.random()
        live = list(self.state.engine.orders)
        if live and roll < 0.2:
            return CancelOrder(1, rng.choice(live))
        if live and roll < 0.3:
            return ReplaceOrder(
                1,
                rng.choice(live),
                qty_lots=rng.randint(1, 12),
                price_ticks=rng.choice((None, rng.randint(190, 210))),
            )
        side = rng.choice((Side.BUY, Side.SELL))
        if roll < 0.35:
            return PlaceOrder(
                rng.randint(1, 4),
                symbol,
                side,
                OrderType.MARKET,
                rng.randint(1, 20),
                tif=TimeInForce.IOC,
            )
        centre = 200 if side == Side.BUY else 201
        spread = rng.choice((3, 3, 3, 12))
        price = (
            centre - rng.randint(-1, spread)
            if side == Side.BUY
            else centre + rng.randint(-1, spread)
        )
        display = rng.choice((None, None, None, 2))
        return PlaceOrder(
            rng.randint(1, 4),
            symbol,
            side,
            OrderType.LIMIT,
            rng.randint(1, 10),
            price_ticks=price,
            display_qty_lots=display,
        )

    def random_flow(self, rng: random.Random, commands: int, symbol: str = SYMBOL) -> None:
        done = 0
        while done < commands:
            size = rng.randint(1, 8)
            self.run([self.random_command(rng, symbol) for _ in range(size)])
            done += size


def new_venue(hub: Hub | None = None, **options: Any) -> Venue:
    venue = Venue(MarketData(hub, **options))
    venue.run([AddInstrument(INSTRUMENT)])
    return venue


def decode(payload: bytes) -> Any:
    return msgspec.json.decode(payload)


def drain(subscriber: Subscriber) -> list[Any]:
    return [decode(payload) for payload in subscriber.drain()]


class BookClient:
    """Keeps a book from one snapshot and the deltas after it, checking the seq chain."""

    def __init__(self, snapshot: Any) -> None:
        assert snapshot["type"] == "snapshot"
        self.seq: int = snapshot["seq"]
        self.bids = dict(snapshot["bids"])
        self.asks = dict(snapshot["asks"])
        self.gap = False

    def apply(self, delta: Any) -> None:
        assert delta["type"] == "delta"
        if delta["prev_seq"] != self.seq:
            self.gap = True
        assert delta["seq"] > delta["prev_seq"]
        self.seq = delta["seq"]
        for side, levels in ((self.bids, delta["bids"]), (self.asks, delta["asks"])):
            for price, qty in levels:
                if qty == "0":
                    side.pop(price, None)
                else:
                    side[price] = qty

    def levels(self) -> tuple[list[list[str]], list[list[str]]]:
        from decimal import Decimal

        bids = sorted(self.bids.items(), key=lambda item: Decimal(item[0]), reverse=True)
        asks = sorted(self.asks.items(), key=lambda item: Decimal(item[0]))
        return [list(level) for level in bids], [list(level) for level in asks]
