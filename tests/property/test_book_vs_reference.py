"""The real core against the naive reference book (DESIGN.md §10, rung 3).

A Hypothesis state machine sends the same random commands to `venue.core.apply` (the bare
matching engine, `VenueState()`) and to `ReferenceBook`, and after every step compares:
- the trades of the step, in order (price, qty, maker and taker ids and accounts, and the
  remaining quantities the trade reports for both orders);
- the other outcomes of the step as a multiset: accepted, rejected (with reason), canceled
  (with reason and quantity), reduced by self-trade prevention, replaced (priority kept/lost);
- the whole book, per side: levels best first, each with its orders FIFO as
  (order_id, visible, remaining);
- the L2 deltas: the last `LevelUpdated` of a level matches the book after the step, and every
  level that changed was reported;
- `state.check_invariants() == []`.

One market with no price band; prices in a narrow band so orders cross often; small
quantities; three accounts, so self-trade prevention fires; icebergs, IOC, FOK, post-only and
market orders; cancels and replaces aimed at live, dead and never-issued ids, by their owner
or by someone else.

Disagreements it found are kept, shrunk, in test_regressions.py. If one is an engine bug that
cannot be fixed at once, pin it there with `xfail(strict=True)`; this machine then fails too,
so it has to be taught to avoid that exact situation until the fix lands (say so, in its rule).
"""

from __future__ import annotations

from typing import Literal

import hypothesis
import msgspec
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from property.reference_book import Level, Outcome, ReferenceBook, StepResult, Trade
from property.strategies import (
    ACCOUNTS,
    HIGH_PRICE,
    INSTRUMENT,
    LOW_PRICE,
    RESTING,
    SYMBOL,
    TAKING,
    ci_friendly_settings,
    place_orders,
)
from venue.core import VenueState, apply
from venue.domain.commands import (
    AddInstrument,
    CancelOrder,
    Command,
    PlaceOrder,
    ReplaceOrder,
    SequencedCommand,
)
from venue.domain.events import (
    CommandRejected,
    Event,
    LevelUpdated,
    OrderAccepted,
    OrderCanceled,
    OrderReduced,
    OrderRejected,
    OrderReplaced,
    TradeExecuted,
)
from venue.domain.values import Side

Target = tuple[Literal["live", "any"], int, bool]
targets = st.tuples(
    st.sampled_from(("live", "live", "live", "any")),
    st.integers(0, 1 << 16),
    st.sampled_from((True, True, True, False)),  # ask as the owner (else a random account)
)
LevelTotals = dict[tuple[Side, int], tuple[int, int]]


# ---------------------------------------------------------------------- reading the engine


def engine_levels(state: VenueState, side: Side) -> list[Level]:
    market = state.engine.markets[SYMBOL]
    book_side = market.bids if side == Side.BUY else market.asks
    return [
        (level.price, [(o.order_id, o.visible, o.remaining) for o in level.orders()])
        for level in book_side.sorted_levels()
    ]


def level_totals(state: VenueState) -> LevelTotals:
    """(side, price) -> (visible qty, order count), summed from the orders themselves."""
    return {
        (side, price): (sum(visible for _, visible, _ in orders), len(orders))
        for side in Side
        for price, orders in engine_levels(state, side)
    }


def engine_result(events: list[Event]) -> StepResult:
    """The engine's events in the reference's vocabulary."""
    result = StepResult()
    for happened in events:
        if isinstance(happened, TradeExecuted):
            result.trades.append(
                Trade(
                    happened.price_ticks,
                    happened.qty_lots,
                    happened.maker_order_id,
                    happened.taker_order_id,
                    happened.maker_account_id,
                    happened.taker_account_id,
                    happened.maker_remaining_lots,
                    happened.taker_remaining_lots,
                )
            )
            continue
        outcome = _outcome(happened)
        if outcome is not None:
            result.outcomes.append(outcome)
    return result


def _outcome(happened: Event) -> Outcome | None:
    if isinstance(happened, OrderAccepted):
        qty = happened.order.qty_lots
        return Outcome("accepted", happened.order_id, "", qty, qty)
    if isinstance(happened, OrderRejected):
        return Outcome("rejected", happened.order_id, happened.reason.value, 0, 0)
    if isinstance(happened, CommandRejected):
        command = happened.command
        assert isinstance(command, CancelOrder | ReplaceOrder)
        return Outcome("rejected", command.order_id, happened.reason.value, 0, 0)
    if isinstance(happened, OrderCanceled):
        return Outcome(
            "canceled", happened.order_id, happened.reason.name, happened.remaining_lots, 0
        )
    if isinstance(happened, OrderReduced):
        return Outcome(
            "reduced", happened.order_id, "", happened.reduced_lots, happened.remaining_lots
        )
    if isinstance(happened, OrderReplaced):
        kept = "kept" if happened.priority_kept else "lost"
        return Outcome(
            "replaced", happened.order_id, kept, happened.qty_lots, happened.remaining_lots
        )
    return None


# ---------------------------------------------------------------------- the machine


class BookVsReference(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = VenueState()
        self.reference = ReferenceBook()
        self.seq = 0
        self.owners: dict[int, int] = {}
        events = self._apply(AddInstrument(INSTRUMENT))
        assert not any(isinstance(e, CommandRejected) for e in events)

    # -------------------------------------------------------------- plumbing

    def _apply(self, command: Command) -> list[Event]:
        self.seq += 1
        return apply(self.state, SequencedCommand(self.seq, 1_000 * self.seq, command))

    def _step(self, command: Command, expected: StepResult) -> None:
        before = level_totals(self.state)
        events = self._apply(command)
        actual = engine_result(events)
        assert actual.trades == expected.trades, f"trades differ for {command!r}"
        assert sorted(actual.outcomes) == sorted(expected.outcomes), (
            f"outcomes differ for {command!r}"
        )
        self._check_level_updates(before, events)
        for outcome in expected.outcomes:
            hypothesis.event(f"{outcome.kind} {outcome.detail}".strip())
        if expected.trades:
            hypothesis.event("traded")

    def _check_level_updates(self, before: LevelTotals, events: list[Event]) -> None:
        after = level_totals(self.state)
        reported = {
            (e.side, e.price_ticks): (e.qty_lots, e.order_count)
            for e in events
            if isinstance(e, LevelUpdated)
        }
        for key, totals in reported.items():
            assert after.get(key, (0, 0)) == totals, f"LevelUpdated {key} says {totals}"
        changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
        missing = changed - reported.keys()
        assert not missing, f"levels changed but not reported: {missing}"

    def _target(self, target: Target) -> tuple[int, int]:
        """(account_id, order_id) for a cancel or replace."""
        which, index, as_owner = target
        live = self.reference.live_ids()
        if which == "live" and live:
            order_id = live[index % len(live)]
        else:  # any id up to one past the next: live, dead, the instrument's seq, or unused
            order_id = 1 + index % (self.seq + 2)
        owner = self.owners.get(order_id)
        if as_owner and owner is not None:
            return owner, order_id
        return ACCOUNTS[index % len(ACCOUNTS)], order_id

    def _place(self, order: PlaceOrder) -> None:
        order_id = self.seq + 1
        self.owners[order_id] = order.account_id
        expected = self.reference.place(order_id, order)
        self._step(order, expected)

    # -------------------------------------------------------------- rules

    @initialize(orders=st.lists(place_orders(RESTING, passive=True), max_size=12))
    def build_depth(self, orders: list[PlaceOrder]) -> None:
        """Start most runs from a book with some depth, where matching gets interesting."""
        for order in orders:
            self._place(order)

    # Three rules place orders (add depth, join a level, take), so most steps place an order.
    @rule(order=place_orders(RESTING, passive=True))
    def place_resting(self, order: PlaceOrder) -> None:
        self._place(order)

    @rule(order=place_orders(RESTING, passive=True), pick=st.integers(0, 7))
    def join_level(self, order: PlaceOrder, pick: int) -> None:
        """Queue behind the orders of an existing level (FIFO, refills and STP need company)."""
        levels = self.reference.levels(order.side)
        if levels:
            order = msgspec.structs.replace(order, price_ticks=levels[pick % len(levels)][0])
        self._place(order)

    @rule(order=place_orders(TAKING, passive=False))
    def place_taking(self, order: PlaceOrder) -> None:
        self._place(order)

    @rule(aim=targets)
    def cancel(self, aim: Target) -> None:
        account_id, order_id = self._target(aim)
        expected = self.reference.cancel(account_id, order_id)
        self._step(CancelOrder(account_id, order_id), expected)

    @rule(
        aim=targets,
        qty=st.one_of(st.none(), st.integers(0, 8)),
        price=st.one_of(st.none(), st.integers(LOW_PRICE, HIGH_PRICE)),
    )
    def replace(self, aim: Target, qty: int | None, price: int | None) -> None:
        account_id, order_id = self._target(aim)
        expected = self.reference.replace(account_id, order_id, qty, price)
        self._step(ReplaceOrder(account_id, order_id, qty_lots=qty, price_ticks=price), expected)

    # -------------------------------------------------------------- after every step

    @invariant()
    def books_agree(self) -> None:
        for side in Side:
            assert engine_levels(self.state, side) == self.reference.levels(side), side.name

    @invariant()
    def engine_invariants_hold(self) -> None:
        assert self.state.check_invariants() == []


TestBookVsReference = BookVsReference.TestCase
TestBookVsReference.settings = ci_friendly_settings(max_examples=250, stateful_step_count=40)
