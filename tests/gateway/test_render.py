"""What the API shows of a position: figures derived exactly from the ledger's integers."""

from __future__ import annotations

from venue.domain.events import PositionChanged
from venue.domain.instrument import Instrument
from venue.domain.units import Units
from venue.gateway.render import position_json
from venue.ledger.accounts import Position

BTC_USDT = Instrument.create("BTC-USDT", "BTC", "USDT", "0.01", "0.001", 8, 6)


def test_average_price_stays_exact_after_a_partial_close() -> None:
    """Bought 1 lot at 100.01 and 2 at 100.02, then sold 1: the cost basis left (rounded
    down in minor units by the ledger) is not a whole number of tick x lot notionals, and the
    average price must come from it as it is, not from it rounded down to ticks again."""
    units = Units(BTC_USDT)
    mult = BTC_USDT.notional_per_tick_lot
    assert mult == 10  # 0.01 x 0.001 BTC = 0.00001 USDT = 10 minor units
    position = Position(7, "BTC-USDT")
    position.fill(1, 10_001 * 1 * mult)
    position.fill(2, 10_002 * 2 * mult)
    position.fill(-1, 10_003 * 1 * mult)
    assert (position.net_lots, position.cost_basis) == (2, 200_034)
    event = PositionChanged(
        7, "BTC-USDT", position.net_lots, position.cost_basis, position.realized_pnl, 0
    )
    shown = position_json(event, units, last_price_ticks=10_003)
    assert shown["average_price"] == "100.017"  # 200,034 / (2 lots x 10) ticks x 0.01
    assert shown["cost_basis"] == "0.200034"
    assert shown["unrealized_pnl"] == "0.000026"  # 2 x 10,003 x 10 - 200,034 minor units
