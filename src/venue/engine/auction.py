"""The call auction's uniform clearing price (DESIGN.md §6), as a pure function of the two
demand curves. Kept apart from the book so the four-step rule can be read and tested alone.

Inputs are aggregates: for each limit price the total quantity (hidden iceberg quantity
included: everything participates in an uncross) and the total of market orders per side.

The price is chosen among the limit prices in the book by
1. maximum executable volume, then
2. minimum surplus (|buy volume - sell volume| at that price), then
3. market pressure: the highest price if every remaining candidate has more buying than
   selling, the lowest if every one has more selling, then
4. the reference price (last trade) clamped into [lowest, highest] remaining candidate. With no
   reference price, the lower middle of that range (documented choice: deterministic and
   inside the range).
With no limit prices at all, market orders on both sides cross at the reference price.
"""

from __future__ import annotations

from typing import NamedTuple


class ClearingResult(NamedTuple):
    price: int | None
    volume: int
    buy_volume: int
    sell_volume: int

    @property
    def imbalance(self) -> int:
        """Surplus at the clearing price: positive means unmatched buying."""
        return self.buy_volume - self.sell_volume


NO_CROSS = ClearingResult(None, 0, 0, 0)


def clearing_price(
    bids: list[tuple[int, int]],
    asks: list[tuple[int, int]],
    market_buy_qty: int,
    market_sell_qty: int,
    reference_price: int | None,
) -> ClearingResult:
    """`bids` and `asks` are (price, total qty) per level, in any order."""
    prices = sorted({price for price, _ in bids} | {price for price, _ in asks})
    if not prices:
        volume = min(market_buy_qty, market_sell_qty)
        if volume == 0 or reference_price is None:
            return NO_CROSS
        return ClearingResult(reference_price, volume, market_buy_qty, market_sell_qty)

    buy_at = _cumulative(bids, prices, market_buy_qty, buying=True)
    sell_at = _cumulative(asks, prices, market_sell_qty, buying=False)

    best_volume = max(min(buy_at[i], sell_at[i]) for i in range(len(prices)))
    if best_volume == 0:
        return NO_CROSS
    tied = [i for i in range(len(prices)) if min(buy_at[i], sell_at[i]) == best_volume]
    least_surplus = min(abs(buy_at[i] - sell_at[i]) for i in tied)
    tied = [i for i in tied if abs(buy_at[i] - sell_at[i]) == least_surplus]

    if all(buy_at[i] > sell_at[i] for i in tied):
        chosen_price = prices[tied[-1]]
    elif all(buy_at[i] < sell_at[i] for i in tied):
        chosen_price = prices[tied[0]]
    else:
        low, high = prices[tied[0]], prices[tied[-1]]
        if reference_price is None:
            chosen_price = (low + high) // 2
        else:
            chosen_price = min(max(reference_price, low), high)
    buy_volume = market_buy_qty + sum(qty for price, qty in bids if price >= chosen_price)
    sell_volume = market_sell_qty + sum(qty for price, qty in asks if price <= chosen_price)
    return ClearingResult(chosen_price, min(buy_volume, sell_volume), buy_volume, sell_volume)


def _cumulative(
    levels: list[tuple[int, int]], prices: list[int], market_qty: int, buying: bool
) -> list[int]:
    """Quantity willing to trade at each candidate price: buyers at or above it, sellers at or
    below it, market orders at any price."""
    per_price: dict[int, int] = {}
    for price, qty in levels:
        per_price[price] = per_price.get(price, 0) + qty
    out = [0] * len(prices)
    running = market_qty
    order = range(len(prices) - 1, -1, -1) if buying else range(len(prices))
    for i in order:
        running += per_price.get(prices[i], 0)
        out[i] = running
    return out
