"""Order entry with money behind it: the checks and reservation that come before the engine,
and the kill switches after it (DESIGN.md §7).

The order of checks for a new order, first failure wins:
1. the account exists (the fee account does not trade); 2. venue and account kill switches;
3. the engine's own validation (shape, tick/lot rules, band, post-only...); 4. the quote
budget or price cap that bounds a market buy; 5. the risk profile (rate, open orders, order
notional, position); 6. funds: the reservation must be available.
Only then does anything change: the hold is taken and the engine enters the order.

Reservation rules (each is documented again where the ledger keeps it, ledger/fees.py):
- a sell holds its quantity in the base asset;
- a priced buy holds, per lot, its notional at its limit price plus the taker fee, rounded up;
- a market buy with a quote budget holds the budget and never spends more;
- a market buy without one holds per lot at its price cap (the band's edge, or for a stop the
  band above its trigger price), or, in a continuous market with no band, the exact cost of
  the cheapest lots in the book now (the most it can pay, since it trades now or never).
"""

from __future__ import annotations

from venue.domain.commands import CancelAllOrders, PlaceOrder, ReplaceOrder
from venue.domain.events import Event, KillSwitchChanged
from venue.domain.instrument import Instrument
from venue.domain.reject import RejectReason
from venue.domain.values import BPS_DENOMINATOR, CancelReason
from venue.engine.book import ABSENT, BUY, NO_PRICE_CAP, Order, order_from_command
from venue.engine.matching import (
    CALL,
    LIMIT,
    MARKET,
    STOP_LIMIT,
    STOP_MARKET,
    TAKE_PROFIT_LIMIT,
    MatchingEngine,
)
from venue.ledger.accounts import FEE_ACCOUNT_ID, Account
from venue.ledger.fees import FeeTier, buy_reserve_per_lot
from venue.ledger.ledger import Ledger
from venue.risk.limits import (
    RiskProfile,
    check_amendment,
    check_order,
    loss_limit_breached,
    rate_exceeded,
    rate_window_after_order,
)


class Funding:
    """What a new order will hold: `amount` of its asset, `per_lot` (0 for a lump hold), and the
    cap price a market buy may not pass (0: none)."""

    amount: int
    per_lot: int
    cap_price: int

    def __init__(self, amount: int, per_lot: int, cap_price: int) -> None:
        self.amount = amount
        self.per_lot = per_lot
        self.cap_price = cap_price


class Trading:
    """The engine, the ledger and the risk profiles, used together for one command."""

    engine: MatchingEngine
    ledger: Ledger
    profiles: dict[str, RiskProfile]
    venue_kill_switch: bool
    loss_limited: bool  # some profile has a daily loss limit: settlement must look for breaches

    def __init__(self, engine: MatchingEngine, ledger: Ledger) -> None:
        self.engine = engine
        self.ledger = ledger
        self.profiles = {}
        self.loss_limited = False
        self.venue_kill_switch = False
        self.set_profile(RiskProfile("default"))

    def set_profile(self, profile: RiskProfile) -> None:
        """Add or replace a risk profile (the only way profiles change)."""
        self.profiles[profile.name] = profile
        self.loss_limited = any(p.daily_loss_limit is not None for p in self.profiles.values())

    # ------------------------------------------------------------------ new orders

    def place(
        self, order_id: int, cmd: PlaceOrder, ts: int, out: list[Event]
    ) -> RejectReason | None:
        account = self.ledger.accounts.get(cmd.account_id)
        if account is None or account.account_id == FEE_ACCOUNT_ID:
            return RejectReason.UNKNOWN_ACCOUNT
        if self.venue_kill_switch:
            return RejectReason.VENUE_KILL_SWITCH
        if account.kill_switch:
            return RejectReason.ACCOUNT_KILL_SWITCH
        order = order_from_command(order_id, cmd)
        reason = self.engine.check(order, ts)
        if reason is not None:
            return reason
        tier = self.ledger.tiers[account.fee_tier]
        instrument = self.ledger.instruments[order.symbol]
        funding = self._funding(account, order, instrument, tier)
        if funding is None:
            return RejectReason.UNBOUNDED_MARKET_ORDER
        reason = self._risk(account, order, instrument, funding, ts)
        if reason is not None:
            return reason
        is_buy = order.side == BUY
        asset = instrument.quote_asset if is_buy else instrument.base_asset
        if funding.amount > self.ledger.available(account, asset):
            return RejectReason.INSUFFICIENT_BALANCE
        account.rate_second, account.rate_count = rate_window_after_order(
            account.rate_second, account.rate_count, ts
        )
        self.ledger.open_hold(
            order_id, account, instrument, is_buy, funding.amount, funding.per_lot, tier
        )
        start = len(out)
        self.engine.admit(order, ts, out, funding.cap_price, tier.taker_bps)
        self.settle(out, start, ts)
        return None

    def _funding(
        self, account: Account, order: Order, instrument: Instrument, tier: FeeTier
    ) -> Funding | None:
        qty = order.qty
        if order.side != BUY:
            per_lot = instrument.base_units_per_lot
            return Funding(qty * per_lot, per_lot, 0)
        mult = instrument.notional_per_tick_lot
        order_type = order.order_type
        if order_type == LIMIT or order_type == STOP_LIMIT or order_type == TAKE_PROFIT_LIMIT:
            per_lot = buy_reserve_per_lot(order.price, mult, tier.taker_bps)
            return Funding(qty * per_lot, per_lot, 0)
        if order.budget != ABSENT:
            return Funding(order.budget, 0, 0)
        band = instrument.price_band_bps
        if order_type != MARKET:
            if band == 0:
                return None
            cap = order.stop_price * (BPS_DENOMINATOR + band) // BPS_DENOMINATOR
            per_lot = buy_reserve_per_lot(cap, mult, tier.taker_bps)
            return Funding(qty * per_lot, per_lot, cap)
        cap = self.engine.market_limit(order.symbol, BUY)
        if cap != NO_PRICE_CAP:
            per_lot = buy_reserve_per_lot(cap, mult, tier.taker_bps)
            return Funding(qty * per_lot, per_lot, cap)
        if self.engine.markets[order.symbol].mode == CALL:
            return None
        cost = self.engine.buy_walk_cost(order.symbol, qty, account.account_id, tier.taker_bps)
        return Funding(cost, 0, 0)

    def _risk(
        self, account: Account, order: Order, instrument: Instrument, funding: Funding, ts: int
    ) -> RejectReason | None:
        profile = self.profiles[account.risk_profile]
        if rate_exceeded(
            account.rate_second, account.rate_count, ts, profile.max_orders_per_second
        ):
            return RejectReason.ORDER_RATE_LIMIT
        if not profile.limits_size():
            return None
        if order.budget != ABSENT:
            notional = order.budget
        elif order.side == BUY and funding.per_lot == 0:
            notional = funding.amount  # bounded by the book: what it can spend, fees included
        else:
            price = order.price if order.price != ABSENT else funding.cap_price
            notional = (
                self._worst_price(order, price) * order.qty * instrument.notional_per_tick_lot
            )
        position = account.positions.get(order.symbol)
        net = 0 if position is None else position.net_lots
        signed = order.qty if order.side == BUY else -order.qty
        return check_order(profile, account.open_orders, notional, net, signed)

    def _worst_price(self, order: Order, price: int) -> int:
        """The price an order is valued at for its notional limit: its limit or cap; else a
        stop's trigger; else the reference price; else the touch it would trade against."""
        if price > 0:
            return price
        if order.order_type >= STOP_MARKET and order.stop_price > 0:
            return order.stop_price
        market = self.engine.markets[order.symbol]
        reference = market.reference_price()
        if reference:
            return reference
        touch = market.best_ask() if order.side == BUY else market.best_bid()
        return touch or 0

    # ------------------------------------------------------------------ amendments

    def replace(self, cmd: ReplaceOrder, ts: int, out: list[Event]) -> RejectReason | None:
        """Check that the account can fund the amended order, then let the engine amend it."""
        order = self.engine.orders.get(cmd.order_id)
        hold = self.ledger.holds.get(cmd.order_id)
        if order is not None and hold is not None and order.account_id == cmd.account_id:
            reason = self.engine.validate_replace(cmd)
            if reason is not None:
                return reason
            new_qty = order.qty if cmd.qty_lots is None else cmd.qty_lots
            new_remaining = new_qty - (order.qty - order.remaining)
            new_price = order.price if cmd.price_ticks is None else cmd.price_ticks
            account = hold.account
            profile = self.profiles[account.risk_profile]
            mult = self.ledger.instruments[order.symbol].notional_per_tick_lot
            notional = self._worst_price(order, new_price) * new_qty * mult
            position = account.positions.get(order.symbol)
            net = 0 if position is None else position.net_lots
            # The position the amended order could lead to if it filled; an amendment that
            # does not grow the order adds no exposure and passes.
            exposure = new_remaining if new_qty > order.qty else 0
            reason = check_amendment(profile, notional, net, exposure if hold.is_buy else -exposure)
            if reason is not None:
                return reason
            needed = self.ledger.resize_needed(hold, new_price, new_remaining)
            if needed > self.ledger.available(account, hold.asset):
                return RejectReason.INSUFFICIENT_BALANCE
        start = len(out)
        reason = self.engine.replace(cmd, ts, out)
        if reason is None:
            self.settle(out, start, ts)
        return reason

    # ------------------------------------------------------------------ after the engine

    def settle(self, out: list[Event], start: int, ts: int) -> None:
        """Settle what the engine did; trip the kill switch of any account past its daily loss
        limit (which cancels its orders, and those cancels settle too)."""
        ledger = self.ledger
        ledger.process(out, start, ts)
        if not self.loss_limited or not ledger.changed_positions:
            return
        tripped: list[Account] = []
        for position in ledger.changed_positions:  # in the order the accounts first traded
            account = ledger.accounts[position.account_id]
            if (
                not account.kill_switch
                and account.account_id != FEE_ACCOUNT_ID
                and account not in tripped
                and loss_limit_breached(self.profiles[account.risk_profile], account.day_pnl)
            ):
                tripped.append(account)
        for account in tripped:
            account.kill_switch = True
            out.append(KillSwitchChanged(account.account_id, True, "daily_loss_limit"))
            self.cancel_account(account.account_id, out, ts, CancelReason.KILL_SWITCH)

    def cancel_account(
        self, account_id: int, out: list[Event], ts: int, reason: CancelReason
    ) -> None:
        start = len(out)
        self.engine.cancel_all(CancelAllOrders(account_id), out, reason)
        self.ledger.process(out, start, ts)
