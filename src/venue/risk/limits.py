"""Risk profiles and the pre-trade checks that use them.

Each check is O(1) on figures the caller already holds, and answers the RejectReason it
breaks or None. Limits of None mean "no limit". The venue starts with a "default" profile
(no limits); operators tighten it or add profiles with SetRiskProfile.

Known limitation: notional and loss limits are plain minor-unit figures, applied in whatever
quote asset an instrument uses; a venue whose markets quote in several assets should give
accounts profiles per quote asset.
"""

from __future__ import annotations

from typing import Final

from venue.domain.reject import RejectReason

NS_PER_SECOND: Final = 1_000_000_000


class RiskProfile:
    name: str
    max_open_orders: int | None
    max_order_notional: int | None
    max_position_lots: int | None
    max_orders_per_second: int | None
    daily_loss_limit: int | None

    def __init__(
        self,
        name: str,
        max_open_orders: int | None = None,
        max_order_notional: int | None = None,
        max_position_lots: int | None = None,
        max_orders_per_second: int | None = None,
        daily_loss_limit: int | None = None,
    ) -> None:
        self.name = name
        self.max_open_orders = max_open_orders
        self.max_order_notional = max_order_notional
        self.max_position_lots = max_position_lots
        self.max_orders_per_second = max_orders_per_second
        self.daily_loss_limit = daily_loss_limit

    def limits_size(self) -> bool:
        """Does any limit depend on an order's size, value or open-order count? (If not, the
        caller need not work out its notional or position.)"""
        return (
            self.max_open_orders is not None
            or self.max_order_notional is not None
            or self.max_position_lots is not None
        )

    def problem(self) -> str | None:
        for field, value in (
            ("max_open_orders", self.max_open_orders),
            ("max_order_notional", self.max_order_notional),
            ("max_position_lots", self.max_position_lots),
            ("max_orders_per_second", self.max_orders_per_second),
            ("daily_loss_limit", self.daily_loss_limit),
        ):
            if value is not None and value < 0:
                return f"{field} must not be negative"
        return None


def rate_exceeded(window_second: int, window_count: int, ts_ns: int, limit: int | None) -> bool:
    """Would one more order break `limit` orders per second? The window is the current second
    of sequencer time (a fixed window: simple, O(1), deterministic)."""
    if limit is None:
        return False
    if ts_ns // NS_PER_SECOND != window_second:
        return limit < 1
    return window_count >= limit


def rate_window_after_order(window_second: int, window_count: int, ts_ns: int) -> tuple[int, int]:
    """The (second, count) window once an order at `ts_ns` is counted in it."""
    second = ts_ns // NS_PER_SECOND
    if second != window_second:
        return second, 1
    return second, window_count + 1


def check_order(
    profile: RiskProfile,
    open_orders: int,
    notional: int,
    position_lots: int,
    signed_qty_lots: int,
) -> RejectReason | None:
    """The limits of one new order. `notional` is its worst-case value in quote minor units;
    `signed_qty_lots` is positive for a buy."""
    if profile.max_open_orders is not None and open_orders >= profile.max_open_orders:
        return RejectReason.MAX_OPEN_ORDERS
    return check_amendment(profile, notional, position_lots, signed_qty_lots)


def check_amendment(
    profile: RiskProfile, notional: int, position_lots: int, signed_added_lots: int
) -> RejectReason | None:
    """The limits an order's size must keep, new or amended: its notional, and the position it
    could lead to if it filled. An order that only reduces exposure passes the position check."""
    if profile.max_order_notional is not None and notional > profile.max_order_notional:
        return RejectReason.MAX_ORDER_NOTIONAL
    limit = profile.max_position_lots
    if limit is not None:
        after = abs(position_lots + signed_added_lots)
        if after > limit and after > abs(position_lots):
            return RejectReason.MAX_POSITION
    return None


def loss_limit_breached(profile: RiskProfile, day_pnl: int) -> bool:
    limit = profile.daily_loss_limit
    return limit is not None and day_pnl < -limit
