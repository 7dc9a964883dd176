"""Positions by average cost: opening, adding, reducing, closing and flipping."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from venue.ledger.accounts import Position


def test_buying_opens_a_long_at_cost() -> None:
    position = Position()
    assert position.fill(10, 1_000) == 0
    assert (position.net_lots, position.cost_basis) == (10, 1_000)


def test_selling_part_realizes_against_the_average_cost() -> None:
    position = Position()
    position.fill(10, 1_000)  # avg 100
    position.fill(10, 3_000)  # avg 200
    realized = position.fill(-5, 1_250)  # sell 5 at 250: +50 each over avg 200
    assert realized == 250
    assert (position.net_lots, position.cost_basis, position.realized_pnl) == (15, 3_000, 250)


def test_closing_a_short_realizes_the_difference() -> None:
    position = Position()
    position.fill(-4, 800)  # short 4 at 200
    realized = position.fill(4, 600)  # buy back at 150
    assert realized == 200
    assert (position.net_lots, position.cost_basis) == (0, 0)


def test_flipping_closes_then_opens_the_rest_at_the_fill_price() -> None:
    position = Position()
    position.fill(2, 200)  # long 2 at 100
    realized = position.fill(-5, 600)  # sell 5 at 120: close 2 (+40), open short 3 at 120
    assert realized == 40
    assert (position.net_lots, position.cost_basis) == (-3, 360)


@given(st.lists(st.tuples(st.integers(-50, 50), st.integers(1, 500)), max_size=40))
def test_a_round_trip_realizes_exactly_proceeds_minus_cost(fills: list[tuple[int, int]]) -> None:
    """Whatever the path, once flat, realized P&L is the cash flow: sells in minus buys out."""
    position = Position()
    cash = 0
    for lots, price in fills:
        if lots == 0:
            continue
        notional = abs(lots) * price
        position.fill(lots, notional)
        cash += notional if lots < 0 else -notional
    if position.net_lots != 0:
        lots = -position.net_lots
        notional = abs(lots) * 100
        position.fill(lots, notional)
        cash += notional if lots < 0 else -notional
    assert position.net_lots == 0
    assert position.cost_basis == 0
    assert position.realized_pnl == cash
