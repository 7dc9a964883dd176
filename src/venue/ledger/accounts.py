"""Accounts, balances, positions and per-order reservations (holds).

Invariants:
- Every balance is two non-negative integers in the asset's minor units: `available` (free to
  spend or withdraw) and `held` (reserved by live orders).
- An account's `held` in an asset equals the sum of its live orders' holds in that asset.
- A position's `cost_basis` is the total entry notional of the open quantity; the average cost
  is `cost_basis / |net_lots|` and is left to readers, so no rounding accumulates here.
"""

from __future__ import annotations

from typing import Final

from venue.domain.instrument import Instrument

# Final: mypyc inlines these instead of looking each use up in the module's globals.
AVAILABLE: Final = 1
HELD: Final = 2
FEE_ACCOUNT_ID: Final = 0
OUTSIDE_ACCOUNT_ID: Final = -1


class Balance:
    """One account's balance in one asset; it knows whose it is, so the ledger can track the
    balances a command changed by identity instead of building (account, asset) keys."""

    account_id: int
    asset: str
    available: int
    held: int
    changed: bool  # already listed among the current command's changed balances

    def __init__(self, account_id: int, asset: str, available: int = 0, held: int = 0) -> None:
        self.account_id = account_id
        self.asset = asset
        self.available = available
        self.held = held
        self.changed = False


class Position:
    account_id: int
    symbol: str
    net_lots: int
    cost_basis: int
    realized_pnl: int
    fees_paid: int
    changed: bool  # already listed among the current command's changed positions

    def __init__(self, account_id: int = 0, symbol: str = "") -> None:
        self.account_id = account_id
        self.symbol = symbol
        self.net_lots = 0
        self.cost_basis = 0
        self.realized_pnl = 0
        self.fees_paid = 0
        self.changed = False

    def fill(self, signed_lots: int, notional: int) -> int:
        """Apply a fill of `signed_lots` (positive: bought) worth `notional`; returns the P&L it
        realized, by average cost. Closing part of a position removes that share of the cost
        basis (rounded down; the last lot out takes what is left, so nothing is lost)."""
        net = self.net_lots
        if net == 0 or (net > 0) == (signed_lots > 0):
            self.net_lots = net + signed_lots
            self.cost_basis += notional
            return 0
        size = abs(signed_lots)
        closing = min(size, abs(net))
        removed_cost = self.cost_basis * closing // abs(net)
        closing_notional = notional * closing // size
        realized = closing_notional - removed_cost if net > 0 else removed_cost - closing_notional
        self.cost_basis -= removed_cost
        self.net_lots = net + (closing if signed_lots > 0 else -closing)
        opening = size - closing
        if opening:
            self.net_lots += opening if signed_lots > 0 else -opening
            self.cost_basis = notional - closing_notional
        self.realized_pnl += realized
        return realized


class Account:
    account_id: int
    fee_tier: str
    risk_profile: str
    balances: dict[str, Balance]
    positions: dict[str, Position]
    open_orders: int
    kill_switch: bool
    rate_second: int
    rate_count: int
    pnl_day: int
    day_pnl: int

    def __init__(self, account_id: int, fee_tier: str, risk_profile: str) -> None:
        self.account_id = account_id
        self.fee_tier = fee_tier
        self.risk_profile = risk_profile
        self.balances = {}
        self.positions = {}
        self.open_orders = 0
        self.kill_switch = False
        # Orders accepted in the second `rate_second` of sequencer time (the rate limit).
        self.rate_second = -1
        self.rate_count = 0
        # Realized P&L net of fees on the UTC day `pnl_day` (for the daily loss limit).
        self.pnl_day = -1
        self.day_pnl = 0

    def balance(self, asset: str) -> Balance:
        balance = self.balances.get(asset)
        if balance is None:
            balance = Balance(self.account_id, asset)
            self.balances[asset] = balance
        return balance

    def position(self, symbol: str) -> Position:
        position = self.positions.get(symbol)
        if position is None:
            position = Position(self.account_id, symbol)
            self.positions[symbol] = position
        return position


class Hold:
    """What one live order has reserved. A buy with `per_lot` > 0 keeps exactly
    `remaining * per_lot` held and releases the rest after each fill; a sell keeps
    `remaining * base_units_per_lot`; a lump hold (`per_lot` 0: a quote budget, or a market buy
    bounded by the book) pays fills from its amount and releases the rest when the order ends.

    Settlement reads everything it needs from the two holds of a trade: the instrument's
    figures are copied here, and the balances a fill moves are found once per order and kept
    (`held` for the reserved asset, `counter` for the other one; None until first used, so
    a balance exists only once money has moved through it, as before this cache)."""

    order_id: int
    account: Account
    symbol: str
    is_buy: bool
    asset: str
    amount: int
    per_lot: int
    maker_bps: int
    taker_bps: int
    base_asset: str
    quote_asset: str
    base_units_per_lot: int
    notional_per_tick_lot: int
    held: Balance | None
    counter: Balance | None
    position: Position | None

    def __init__(
        self,
        order_id: int,
        account: Account,
        instrument: Instrument,
        is_buy: bool,
        amount: int,
        per_lot: int,
        maker_bps: int,
        taker_bps: int,
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.symbol = instrument.symbol
        self.is_buy = is_buy
        self.base_asset = instrument.base_asset
        self.quote_asset = instrument.quote_asset
        self.asset = self.quote_asset if is_buy else self.base_asset
        self.amount = amount
        self.per_lot = per_lot
        self.maker_bps = maker_bps
        self.taker_bps = taker_bps
        self.base_units_per_lot = instrument.base_units_per_lot
        self.notional_per_tick_lot = instrument.notional_per_tick_lot
        self.held = None
        self.counter = None
        self.position = None

    def held_balance(self) -> Balance:
        balance = self.held
        if balance is None:
            balance = self.held = self.account.balance(self.asset)
        return balance

    def counter_balance(self) -> Balance:
        """The balance a fill pays into: base for a buy, quote for a sell."""
        balance = self.counter
        if balance is None:
            asset = self.base_asset if self.is_buy else self.quote_asset
            balance = self.counter = self.account.balance(asset)
        return balance

    def account_position(self) -> Position:
        position = self.position
        if position is None:
            position = self.position = self.account.position(self.symbol)
        return position
