"""Fixed examples from the property tests: each is the shrunk form of a disagreement between the
engine and the rulebook (DESIGN.md §6), kept as a plain test so it never comes back.

An engine bug that is not fixed yet goes here marked
`pytest.mark.xfail(strict=True, raises=AssertionError, reason="engine bug: ...")`: it fails
today and turns red (XPASS) the day the engine is fixed, as a reminder to drop the marker.
"""

from __future__ import annotations

import pytest

from property.reference_book import ReferenceBook
from property.strategies import INSTRUMENT, SYMBOL
from venue.core import VenueState, apply
from venue.domain.commands import AddInstrument, Command, PlaceOrder, SequencedCommand
from venue.domain.events import Event, OrderCanceled, TradeExecuted
from venue.domain.values import CancelReason, OrderType, SelfTradePrevention, Side, TimeInForce

BookView = list[tuple[int, list[tuple[int, int, int]]]]


def run(*commands: Command) -> tuple[VenueState, list[list[Event]]]:
    """A venue without accounts, the test instrument listed at seq 1, then `commands` at seq 2..."""
    state = VenueState()
    events = [
        apply(state, SequencedCommand(seq, seq, command))
        for seq, command in enumerate([AddInstrument(INSTRUMENT), *commands], start=1)
    ]
    return state, events


def book(state: VenueState, side: Side) -> BookView:
    market = state.engine.markets[SYMBOL]
    book_side = market.bids if side == Side.BUY else market.asks
    return [
        (level.price, [(o.order_id, o.visible, o.remaining) for o in level.orders()])
        for level in book_side.sorted_levels()
    ]


def limit(
    account: int,
    side: Side,
    qty: int,
    price: int,
    *,
    tif: TimeInForce = TimeInForce.GTC,
    display_qty_lots: int | None = None,
    stp: SelfTradePrevention = SelfTradePrevention.CANCEL_NEWEST,
) -> PlaceOrder:
    return PlaceOrder(
        account,
        SYMBOL,
        side,
        OrderType.LIMIT,
        qty,
        price_ticks=price,
        tif=tif,
        display_qty_lots=display_qty_lots,
        stp=stp,
    )


# ---------------------------------------------------------------------- engine bugs, fixed


def test_an_order_that_traded_before_resting_shows_only_what_remains() -> None:
    """Was: a taker that partly filled rested with `visible` = its original size (fixed in
    d12cf9d). Also covers an iceberg taker and a taker reduced by decrement-and-cancel."""
    state, _ = run(
        limit(1, Side.SELL, 2, 100),  # 2
        limit(2, Side.BUY, 5, 100),  # 3: fills 2, rests 3
        limit(1, Side.SELL, 1, 101),  # 4
        limit(2, Side.BUY, 6, 101, display_qty_lots=4),  # 5: fills 1, rests 5 showing 4
        limit(3, Side.SELL, 2, 102),  # 6
        limit(3, Side.BUY, 5, 102, stp=SelfTradePrevention.DECREMENT_AND_CANCEL),  # 7: 3 left
    )
    assert state.check_invariants() == []
    assert book(state, Side.BUY) == [(102, [(7, 3, 3)]), (101, [(5, 4, 5)]), (100, [(3, 3, 3)])]


@pytest.mark.parametrize(
    "stp",
    [
        SelfTradePrevention.CANCEL_NEWEST,
        SelfTradePrevention.CANCEL_BOTH,
        SelfTradePrevention.DECREMENT_AND_CANCEL,
    ],
)
def test_fok_never_fills_partly_when_an_iceberg_refill_queues_behind_an_own_order(
    stp: SelfTradePrevention,
) -> None:
    """Was: `_fok_fillable` counted an iceberg's whole reserve as if it traded in place, but each
    refill goes to the back of the level, behind the taker's own resting order; so a FOK order
    filled partly and was then canceled by self-trade prevention (fixed in 25702ee).

    Bids at 100: account 1's iceberg (5 lots showing 1), then account 2's 5 lots. Account 2
    sells 3 FOK at 100. Only 1 lot can trade before its own order is next in the queue (the
    iceberg's refill goes behind it), so the order is not fillable: FOK_NOT_FILLED, no trade,
    book untouched. The engine used to trade 1 lot and then cancel (or decrement) the rest."""
    state, events = run(
        limit(1, Side.BUY, 5, 100, display_qty_lots=1),  # 2
        limit(2, Side.BUY, 5, 100),  # 3
        limit(2, Side.SELL, 3, 100, tif=TimeInForce.FOK, stp=stp),  # 4
    )
    last = events[-1]
    assert [e for e in last if isinstance(e, TradeExecuted)] == []
    canceled = [
        (e.order_id, e.reason, e.remaining_lots) for e in last if isinstance(e, OrderCanceled)
    ]
    assert canceled == [(4, CancelReason.FOK_NOT_FILLED, 3)]
    assert book(state, Side.BUY) == [(100, [(2, 1, 5), (3, 5, 5)])]


def test_the_reference_book_agrees_with_the_rulebook_on_the_fok_example() -> None:
    """The expectation above is what the reference book (matching a copy to decide FOK) says."""
    reference = ReferenceBook()
    reference.place(2, limit(1, Side.BUY, 5, 100, display_qty_lots=1))
    reference.place(3, limit(2, Side.BUY, 5, 100))
    result = reference.place(4, limit(2, Side.SELL, 3, 100, tif=TimeInForce.FOK))
    assert result.trades == []
    assert [(o.kind, o.detail, o.lots) for o in result.outcomes][1:] == [
        ("canceled", "FOK_NOT_FILLED", 3)
    ]
    assert reference.levels(Side.BUY) == [(100, [(2, 1, 5), (3, 5, 5)])]
