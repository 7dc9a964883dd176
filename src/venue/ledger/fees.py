"""Fee tiers and the exact integer fee arithmetic.

Rules (all amounts in minor units of the instrument's quote asset, `bps` = basis points):
- A charge (bps >= 0) is rounded UP: the venue never under-charges by a fraction of a unit.
- A rebate (maker bps < 0) is rounded UP in magnitude too, i.e. against the venue, so a
  market maker is never short-changed; and it is funded by the taker fee of the same trade:
  it never exceeds that fee, so the fee account can never go negative whatever the tiers.
- A buy order reserves, per lot, its notional at its limit price plus the taker fee on one
  lot rounded up. Since ceil(q * x) <= q * ceil(x), that reservation always covers the fill
  cost at any price at or below the limit, at either the maker or the taker rate.
- The rates are those of the account's tier when the order was accepted (locked per order),
  so a tier change never leaves a live order under-reserved.
"""

from __future__ import annotations

from typing import Final

BPS: Final = 10_000


class FeeTier:
    name: str
    maker_bps: int
    taker_bps: int

    def __init__(self, name: str, maker_bps: int, taker_bps: int) -> None:
        self.name = name
        self.maker_bps = maker_bps
        self.taker_bps = taker_bps

    def problem(self) -> str | None:
        if not 0 <= self.taker_bps < BPS:
            return "taker_bps must lie in [0, 10000)"
        if not -BPS < self.maker_bps <= self.taker_bps:
            return "maker_bps must lie in (-10000, taker_bps]"
        return None


DEFAULT_TIERS = (
    FeeTier("default", 10, 20),
    FeeTier("vip", 5, 10),
    FeeTier("market_maker", -2, 10),
)


def fee_on(notional: int, bps: int) -> int:
    """Signed fee on a notional: positive is a charge, negative a rebate; both rounded up in
    magnitude (see the module docstring)."""
    # Floor division of a negative number rounds away from zero: -ceil(|x|). So the same
    # expression rounds a charge up and a rebate up in magnitude.
    if bps >= 0:
        return -(-notional * bps // BPS)
    return notional * bps // BPS


def buy_reserve_per_lot(price_ticks: int, notional_per_tick_lot: int, taker_bps: int) -> int:
    """Quote reserved per lot by a buy limited at `price_ticks`."""
    lot_notional = price_ticks * notional_per_tick_lot
    return lot_notional + fee_on(lot_notional, taker_bps)
