"""`clearing_price` on its own (DESIGN.md §6, engine/auction.py): every figure below is worked out
by hand from the four-step rule, then checked against a deliberately naive re-statement of the
rule on random books."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from venue.engine.auction import NO_CROSS, ClearingResult, clearing_price

Levels = list[tuple[int, int]]


def test_maximum_volume_decides() -> None:
    # at 98/99/100/101/102: buy 9/9/5/3/3, sell 2/2/5/9/9 -> volume 2/2/5/3/3
    result = clearing_price(
        [(102, 3), (100, 2), (99, 4)], [(98, 2), (100, 3), (101, 4)], 0, 0, None
    )
    assert result == ClearingResult(100, 5, 5, 5)
    assert result.imbalance == 0


def test_minimum_surplus_breaks_a_volume_tie() -> None:
    # at 100/101: buy 9/5, sell 5/7 -> volume 5/5, surplus +4/-2 -> 101 (the reference 100 would
    # have chosen 100)
    result = clearing_price([(101, 5), (100, 4)], [(100, 5), (101, 2)], 0, 0, 100)
    assert result == ClearingResult(101, 5, 5, 7)
    assert result.imbalance == -2


def test_buy_pressure_takes_the_highest_price() -> None:
    # at 99/102: buy 5/5, sell 3/3 -> volume 3, surplus +2 at both
    assert clearing_price([(102, 5)], [(99, 3)], 0, 0, 100) == ClearingResult(102, 3, 5, 3)


def test_sell_pressure_takes_the_lowest_price() -> None:
    # at 98/101: buy 3/3, sell 5/5 -> volume 3, surplus -2 at both
    assert clearing_price([(101, 3)], [(98, 5)], 0, 0, 100) == ClearingResult(98, 3, 3, 5)


def test_market_orders_add_pressure_at_every_price() -> None:
    # a market buy of 2 makes the surplus +4 at 99 and at 102
    assert clearing_price([(102, 5)], [(99, 3)], 2, 0, 100) == ClearingResult(102, 3, 7, 3)
    assert clearing_price([(101, 3)], [(98, 5)], 0, 2, 100) == ClearingResult(98, 3, 3, 7)


@pytest.mark.parametrize(
    ("reference", "price"),
    [(100, 100), (98, 98), (102, 102), (90, 98), (110, 102)],
)
def test_reference_price_clamped_into_the_tied_range(reference: int, price: int) -> None:
    # at 98 and 102: buy 5, sell 5, surplus 0 -> the reference decides, clamped to [98, 102]
    assert clearing_price([(102, 5)], [(98, 5)], 0, 0, reference) == ClearingResult(price, 5, 5, 5)


def test_without_a_reference_the_lower_middle_of_the_range() -> None:
    assert clearing_price([(102, 5)], [(98, 5)], 0, 0, None).price == 100
    assert clearing_price([(101, 5)], [(98, 5)], 0, 0, None).price == 99


def test_a_single_candidate_needs_no_tie_break() -> None:
    assert clearing_price([(100, 3)], [(100, 4)], 0, 0, None) == ClearingResult(100, 3, 3, 4)


def test_no_crossing_means_no_price() -> None:
    assert clearing_price([(99, 3)], [(101, 2)], 0, 0, 100) == NO_CROSS
    assert clearing_price([(99, 3)], [], 0, 0, 100) == NO_CROSS
    assert clearing_price([], [], 0, 0, 100) == NO_CROSS
    assert NO_CROSS.price is None and NO_CROSS.volume == 0


def test_market_orders_alone_cross_at_the_reference_price() -> None:
    assert clearing_price([], [], 5, 3, 100) == ClearingResult(100, 3, 5, 3)
    assert clearing_price([], [], 5, 3, None) == NO_CROSS
    assert clearing_price([], [], 5, 0, 100) == NO_CROSS


def test_market_orders_against_limit_orders_on_the_other_side() -> None:
    # market buy 5 against asks 100x3 101x4: at 100/101 volume 3/5 -> 101
    assert clearing_price([], [(100, 3), (101, 4)], 5, 0, None) == ClearingResult(101, 5, 5, 7)


def test_levels_at_one_price_add_up_in_any_order() -> None:
    bids = [(103, 4), (102, 3), (101, 5), (101, 1)]
    asks = [(100, 6), (101, 4)]
    expected = ClearingResult(101, 10, 13, 10)
    assert clearing_price(bids, asks, 0, 0, None) == expected
    shuffler = random.Random(7)
    for _ in range(5):
        shuffler.shuffle(bids)
        shuffler.shuffle(asks)
        assert clearing_price(bids, asks, 0, 0, None) == expected


# ------------------------------------------------------------------ against a naive statement


def naive_clearing(
    bids: Levels, asks: Levels, market_buy: int, market_sell: int, reference: int | None
) -> ClearingResult:
    """The rulebook, read literally, with no cleverness."""
    prices = sorted({p for p, _ in bids} | {p for p, _ in asks})

    def buying(p: int) -> int:
        return market_buy + sum(q for price, q in bids if price >= p)

    def selling(p: int) -> int:
        return market_sell + sum(q for price, q in asks if price <= p)

    if not prices:
        if reference is None or min(market_buy, market_sell) == 0:
            return NO_CROSS
        return ClearingResult(reference, min(market_buy, market_sell), market_buy, market_sell)
    volume = {p: min(buying(p), selling(p)) for p in prices}
    best = max(volume.values())
    if best == 0:
        return NO_CROSS
    tied = [p for p in prices if volume[p] == best]
    least = min(abs(buying(p) - selling(p)) for p in tied)
    tied = [p for p in tied if abs(buying(p) - selling(p)) == least]
    if all(buying(p) > selling(p) for p in tied):
        price = max(tied)
    elif all(buying(p) < selling(p) for p in tied):
        price = min(tied)
    elif reference is None:
        price = (min(tied) + max(tied)) // 2
    else:
        price = min(max(reference, min(tied)), max(tied))
    return ClearingResult(price, min(buying(price), selling(price)), buying(price), selling(price))


levels = st.lists(st.tuples(st.integers(95, 105), st.integers(1, 9)), max_size=6)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    bids=levels,
    asks=levels,
    market_buy=st.integers(0, 6),
    market_sell=st.integers(0, 6),
    reference=st.none() | st.integers(90, 110),
)
def test_matches_the_naive_rule(
    bids: Levels, asks: Levels, market_buy: int, market_sell: int, reference: int | None
) -> None:
    expected = naive_clearing(bids, asks, market_buy, market_sell, reference)
    assert clearing_price(bids, asks, market_buy, market_sell, reference) == expected


@settings(max_examples=150, deadline=None, derandomize=True)
@given(bids=levels, asks=levels, market_buy=st.integers(0, 6), market_sell=st.integers(0, 6))
def test_the_clearing_price_executes_the_most_volume(
    bids: Levels, asks: Levels, market_buy: int, market_sell: int
) -> None:
    result = clearing_price(bids, asks, market_buy, market_sell, 100)
    if result.price is None:
        return
    for p, _ in bids + asks:
        buy = market_buy + sum(q for price, q in bids if price >= p)
        sell = market_sell + sum(q for price, q in asks if price <= p)
        assert min(buy, sell) <= result.volume
