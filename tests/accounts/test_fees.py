"""Fee arithmetic: exact integers, charges rounded up, rebates rounded up in magnitude, and a
buy's per-lot reservation always covers what a fill can cost."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from venue.ledger.fees import FeeTier, buy_reserve_per_lot, fee_on


def test_a_charge_rounds_up_in_the_venues_favour() -> None:
    assert fee_on(10_000, 20) == 20
    assert fee_on(10_001, 20) == 21  # 20.002 -> 21
    assert fee_on(1, 1) == 1  # a sliver of a unit is still one unit
    assert fee_on(0, 20) == 0


def test_a_rebate_is_negative_and_rounds_up_in_magnitude() -> None:
    assert fee_on(10_000, -2) == -2
    assert fee_on(10_001, -2) == -3  # -2.0002 -> -3: against the venue
    assert fee_on(1, -2) == -1


def test_zero_fee_is_zero() -> None:
    assert fee_on(123_456_789, 0) == 0


def test_tier_rules() -> None:
    assert FeeTier("ok", -2, 10).problem() is None
    assert FeeTier("maker above taker", 11, 10).problem() is not None
    assert FeeTier("negative taker", -1, -1).problem() is not None
    assert FeeTier("absurd", 0, 10_000).problem() is not None


@given(
    limit=st.integers(1, 10**7),
    fill_price_offset=st.integers(0, 10**6),
    lots=st.integers(1, 10**4),
    mult=st.integers(1, 1000),
    taker_bps=st.integers(0, 500),
    maker_bps=st.integers(-500, 500),
)
def test_per_lot_reservation_covers_any_fill_at_or_below_the_limit(
    limit: int, fill_price_offset: int, lots: int, mult: int, taker_bps: int, maker_bps: int
) -> None:
    price = max(1, limit - fill_price_offset)
    maker_bps = min(maker_bps, taker_bps)
    reserved = lots * buy_reserve_per_lot(limit, mult, taker_bps)
    notional = price * lots * mult
    for bps in (taker_bps, maker_bps):
        assert notional + max(0, fee_on(notional, bps)) <= reserved


@given(
    price=st.integers(1, 10**9),
    bps=st.integers(0, 500),
    lot=st.sampled_from(["1", "0.01", "0.001"]),
)
def test_the_engine_spends_a_budget_at_the_ledgers_per_lot_reservation(
    price: int, bps: int, lot: str
) -> None:
    """The engine (which may not import the ledger) bounds a quote budget with its own copy of
    the per-lot cost; it must equal what the ledger reserves and charges, to the unit."""
    from venue.domain.instrument import Instrument
    from venue.engine.matching import Market, _lot_cost

    instrument = Instrument.create("X-Y", "X", "Y", "0.01", lot, 8, 6)
    market = Market(instrument)
    assert _lot_cost(market, price, bps) == buy_reserve_per_lot(
        price, instrument.notional_per_tick_lot, bps
    )
