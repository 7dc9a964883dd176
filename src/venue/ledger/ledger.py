"""The ledger: balances, reservations, settlement and double-entry postings (DESIGN.md §7).

It runs inside `apply`, after the engine: the core reserves an order's funds before the engine
sees it, then hands the ledger the command's events, and the ledger settles every trade and
releases every reservation those events call for. So a trade and its settlement happen in
the same step, and the ledger needs nothing from the engine but its events.

Invariants (checked by `problems()` in tests after every command):
- Conservation: for every asset, the sum of available + held over all accounts, the fee
  account included, equals deposits minus withdrawals. Every movement is a `Posting` from one
  (account, bucket) to another, so postings sum to zero per asset by construction.
- Nothing is ever negative: `_move` refuses (raises: that is a bug, never a business outcome,
  because every check happens before anything moves).
- An account's held amount equals the sum of its live orders' holds.
"""

from __future__ import annotations

from typing import Final

from msgspec.structs import astuple

from venue.domain.events import (
    BalanceChanged,
    Event,
    LedgerPosted,
    LevelUpdated,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderReduced,
    OrderReplaced,
    PositionChanged,
    Posting,
    TradeExecuted,
)
from venue.domain.instrument import Instrument
from venue.domain.values import NS_PER_DAY
from venue.ledger.accounts import (
    AVAILABLE,
    FEE_ACCOUNT_ID,
    HELD,
    OUTSIDE_ACCOUNT_ID,
    Account,
    Balance,
    Hold,
    Position,
)
from venue.ledger.errors import LedgerError
from venue.ledger.fees import DEFAULT_TIERS, FeeTier, buy_reserve_per_lot, fee_on

# Module statics under mypyc: a plain imported name is a dict lookup in the module's globals
# on every use; a Final alias is a C static.
_ASTUPLE: Final = astuple
_LEVEL_UPDATED: Final = LevelUpdated
_ORDER_ACCEPTED: Final = OrderAccepted
_TRADE_EXECUTED: Final = TradeExecuted
_ORDER_CANCELED: Final = OrderCanceled
_ORDER_EXPIRED: Final = OrderExpired
_ORDER_REDUCED: Final = OrderReduced
_ORDER_REPLACED: Final = OrderReplaced
_POSTING: Final = Posting
_LEDGER_POSTED: Final = LedgerPosted
_BALANCE_CHANGED: Final = BalanceChanged
_POSITION_CHANGED: Final = PositionChanged


class Ledger:
    accounts: dict[int, Account]
    fee_account: Account
    tiers: dict[str, FeeTier]
    holds: dict[int, Hold]
    assets: dict[str, int]
    instruments: dict[str, Instrument]
    deposited: dict[str, int]
    withdrawn: dict[str, int]
    postings: list[Posting]
    changed_balances: list[Balance]
    changed_positions: list[Position]
    recording: bool

    def __init__(self) -> None:
        self.fee_account = Account(FEE_ACCOUNT_ID, "default", "default")
        self.accounts = {FEE_ACCOUNT_ID: self.fee_account}
        self.tiers = {tier.name: tier for tier in DEFAULT_TIERS}
        self.holds = {}
        self.assets = {}
        self.instruments = {}
        self.deposited = {}
        self.withdrawn = {}
        self.postings = []
        self.changed_balances = []
        self.changed_positions = []
        # Off only while replaying a journal nobody observes: money moves exactly the same,
        # but no postings or BalanceChanged/PositionChanged events are made (see flush).
        self.recording = True

    def set_accounts(self, accounts: dict[int, Account]) -> None:
        """Replace every account (snapshot restore); the fee account is among them."""
        self.accounts = accounts
        self.fee_account = accounts[FEE_ACCOUNT_ID]

    # ------------------------------------------------------------------ movements

    def _post(
        self,
        debit: Balance | None,
        debit_bucket: int,
        credit: Balance | None,
        credit_bucket: int,
        asset: str,
        amount: int,
        reason: str,
        trade_id: int,
    ) -> None:
        """Move `amount` of `asset` from one (balance, bucket) to another and record the
        posting; None is the outside world. The caller never passes 0 (nothing to record)."""
        if amount < 0:
            raise LedgerError(f"negative posting {amount} {asset} ({reason})")
        debit_account = OUTSIDE_ACCOUNT_ID
        credit_account = OUTSIDE_ACCOUNT_ID
        if debit is not None:
            debit_account = debit.account_id
            if debit_bucket == AVAILABLE:
                if debit.available < amount:
                    raise LedgerError(
                        f"account {debit_account} {asset} available would go negative"
                    )
                debit.available -= amount
            else:
                if debit.held < amount:
                    raise LedgerError(f"account {debit_account} {asset} held would go negative")
                debit.held -= amount
            if not debit.changed and self.recording:
                debit.changed = True
                self.changed_balances.append(debit)
        if credit is not None:
            credit_account = credit.account_id
            if credit_bucket == AVAILABLE:
                credit.available += amount
            else:
                credit.held += amount
            if not credit.changed and self.recording:
                credit.changed = True
                self.changed_balances.append(credit)
        if not self.recording:
            return
        self.postings.append(
            _POSTING(
                debit_account,
                debit_bucket,
                credit_account,
                credit_bucket,
                asset,
                amount,
                reason,
                trade_id,
            )
        )

    def deposit(self, account: Account, asset: str, amount: int) -> None:
        if amount:
            self._post(
                None, AVAILABLE, account.balance(asset), AVAILABLE, asset, amount, "deposit", 0
            )
        self.deposited[asset] = self.deposited.get(asset, 0) + amount

    def withdraw(self, account: Account, asset: str, amount: int) -> None:
        if amount:
            balance = account.balance(asset)
            self._post(balance, AVAILABLE, None, AVAILABLE, asset, amount, "withdrawal", 0)
        self.withdrawn[asset] = self.withdrawn.get(asset, 0) + amount

    def available(self, account: Account, asset: str) -> int:
        balance = account.balances.get(asset)
        return 0 if balance is None else balance.available

    # ------------------------------------------------------------------ reservations

    def open_hold(
        self,
        order_id: int,
        account: Account,
        instrument: Instrument,
        is_buy: bool,
        amount: int,
        per_lot: int,
        tier: FeeTier,
    ) -> None:
        """Reserve `amount` for a new order (the caller checked it is available)."""
        hold = Hold(
            order_id, account, instrument, is_buy, amount, per_lot, tier.maker_bps, tier.taker_bps
        )
        self.holds[order_id] = hold
        account.open_orders += 1
        if amount:
            balance = hold.held_balance()
            self._post(balance, AVAILABLE, balance, HELD, hold.asset, amount, "reserve", 0)

    def resize_needed(self, hold: Hold, price_ticks: int, remaining_lots: int) -> int:
        """How much more (positive) or less (negative) a hold must reserve after a replace to
        `price_ticks` (used only where it sets the per-lot figure) and `remaining_lots`."""
        if hold.per_lot == 0:
            return 0
        return remaining_lots * self._per_lot(hold, price_ticks) - hold.amount

    def _per_lot(self, hold: Hold, price_ticks: int) -> int:
        if hold.is_buy and price_ticks:
            return buy_reserve_per_lot(price_ticks, hold.notional_per_tick_lot, hold.taker_bps)
        return hold.per_lot

    def _set_hold(self, hold: Hold, required: int) -> None:
        difference = required - hold.amount
        if difference:
            balance = hold.held_balance()
            if difference > 0:
                self._post(balance, AVAILABLE, balance, HELD, hold.asset, difference, "reserve", 0)
            else:
                self._post(balance, HELD, balance, AVAILABLE, hold.asset, -difference, "release", 0)
            hold.amount = required

    def _end(self, order_id: int) -> None:
        hold = self.holds.pop(order_id, None)
        if hold is None:
            return
        hold.account.open_orders -= 1
        self._set_hold(hold, 0)

    # ------------------------------------------------------------------ settlement

    def process(self, events: list[Event], start: int, ts_ns: int) -> None:
        """Settle and release everything events[start:] call for. Only a handful of the
        command's events matter here; the rest are skipped with identity tests against C
        statics (the Final aliases above), not a lookup of each class by name."""
        for index in range(start, len(events)):
            event = events[index]
            kind = type(event)
            if kind is _LEVEL_UPDATED or kind is _ORDER_ACCEPTED:
                continue
            if isinstance(event, _TRADE_EXECUTED):
                self._settle(event, ts_ns)
            elif isinstance(event, (_ORDER_CANCELED, _ORDER_EXPIRED)):
                self._end(event.order_id)
            elif isinstance(event, _ORDER_REDUCED):
                self._shrink(event.order_id, event.remaining_lots)
            elif isinstance(event, _ORDER_REPLACED):
                self._replaced(event)

    def _shrink(self, order_id: int, remaining_lots: int) -> None:
        hold = self.holds.get(order_id)
        if hold is not None and hold.per_lot:
            self._set_hold(hold, remaining_lots * hold.per_lot)

    def _replaced(self, event: OrderReplaced) -> None:
        hold = self.holds.get(event.order_id)
        if hold is None or hold.per_lot == 0:
            return
        hold.per_lot = self._per_lot(hold, event.price_ticks or 0)
        self._set_hold(hold, event.remaining_lots * hold.per_lot)

    def _settle(self, trade: TradeExecuted, ts_ns: int) -> None:
        # One C call for the fields instead of an attribute lookup each (see engine/book.py).
        fields = _ASTUPLE(trade)
        trade_id: int = fields[0]
        price: int = fields[2]
        qty: int = fields[3]
        maker_remaining: int = fields[10]
        taker_remaining: int = fields[11]
        maker = self.holds.get(fields[4])
        taker = self.holds.get(fields[5])
        if maker is None or taker is None:
            raise LedgerError(f"trade {trade_id} between orders without reservations")
        if maker.is_buy:
            buy, sell = maker, taker
            buy_remaining, sell_remaining = maker_remaining, taker_remaining
        else:
            buy, sell = taker, maker
            buy_remaining, sell_remaining = taker_remaining, maker_remaining
        notional = price * qty * buy.notional_per_tick_lot
        base_amount = qty * buy.base_units_per_lot
        quote = buy.quote_asset
        # The buyer's quote (reserved) and base balances; the seller's base (reserved), quote.
        buyer_quote = buy.held_balance()
        seller_quote = sell.counter_balance()
        if base_amount:
            self._post(
                sell.held_balance(),
                HELD,
                buy.counter_balance(),
                AVAILABLE,
                buy.base_asset,
                base_amount,
                "trade",
                trade_id,
            )
            sell.amount -= base_amount
        if notional:
            self._post(
                buyer_quote, HELD, seller_quote, AVAILABLE, quote, notional, "trade", trade_id
            )
            buy.amount -= notional
        taker_fee = fee_on(notional, taker.taker_bps)
        maker_fee = fee_on(notional, maker.maker_bps)
        maker_fee = max(maker_fee, -taker_fee)  # a rebate is funded by this trade's taker fee
        if taker_fee or maker_fee:
            fee_balance = self.fee_account.balance(quote)
            self._charge(taker, fee_balance, quote, taker_fee, trade_id)
            self._charge(maker, fee_balance, quote, maker_fee, trade_id)
        buyer_fee = taker_fee if buy is taker else maker_fee
        seller_fee = taker_fee if sell is taker else maker_fee
        self._position(buy, qty, notional, buyer_fee, ts_ns)
        self._position(sell, -qty, notional, seller_fee, ts_ns)
        self._after_fill(buy, buy_remaining)
        self._after_fill(sell, sell_remaining)

    def _charge(
        self, hold: Hold, fee_balance: Balance, quote: str, fee: int, trade_id: int
    ) -> None:
        """A fee (positive) or rebate (negative) in the quote asset. A buy pays from what it
        reserved; a sell from the quote the trade just paid it; a rebate is paid as available."""
        if fee > 0:
            if hold.is_buy:
                self._post(
                    hold.held_balance(), HELD, fee_balance, AVAILABLE, quote, fee, "fee", trade_id
                )
                hold.amount -= fee
            else:
                self._post(
                    hold.counter_balance(),
                    AVAILABLE,
                    fee_balance,
                    AVAILABLE,
                    quote,
                    fee,
                    "fee",
                    trade_id,
                )
        elif fee < 0:
            balance = hold.held_balance() if hold.is_buy else hold.counter_balance()
            self._post(fee_balance, AVAILABLE, balance, AVAILABLE, quote, -fee, "rebate", trade_id)

    def _after_fill(self, hold: Hold, remaining_lots: int) -> None:
        if remaining_lots == 0:
            self._end(hold.order_id)
        elif hold.per_lot:
            self._set_hold(hold, remaining_lots * hold.per_lot)

    def _position(self, hold: Hold, signed_lots: int, notional: int, fee: int, ts_ns: int) -> None:
        position = hold.account_position()
        realized = position.fill(signed_lots, notional)
        position.fees_paid += fee
        account = hold.account
        day = ts_ns // NS_PER_DAY
        if account.pnl_day != day:
            account.pnl_day = day
            account.day_pnl = 0
        account.day_pnl += realized - fee
        if not position.changed:
            position.changed = True
            self.changed_positions.append(position)

    # ------------------------------------------------------------------ per command

    def flush(self, out: list[Event]) -> None:
        """Append this command's postings, changed balances and positions to `out` (when not
        recording: only forget which positions changed; the loss limits needed them)."""
        if not self.recording:
            for position in self.changed_positions:
                position.changed = False
            self.changed_positions = []
            return
        if self.postings:
            out.append(_LEDGER_POSTED(self.postings))
            self.postings = []
        if self.changed_balances:
            for balance in self.changed_balances:
                balance.changed = False
                out.append(
                    _BALANCE_CHANGED(
                        balance.account_id, balance.asset, balance.available, balance.held
                    )
                )
            self.changed_balances = []
        if self.changed_positions:
            for position in self.changed_positions:
                position.changed = False
                out.append(
                    _POSITION_CHANGED(
                        position.account_id,
                        position.symbol,
                        position.net_lots,
                        position.cost_basis,
                        position.realized_pnl,
                        position.fees_paid,
                    )
                )
            self.changed_positions = []

    def problems(self) -> list[str]:
        """Every broken ledger invariant (empty when all hold)."""
        found: list[str] = []
        totals: dict[str, int] = {}
        held_by_holds: dict[tuple[int, str], int] = {}
        for hold in self.holds.values():
            key = (hold.account.account_id, hold.asset)
            held_by_holds[key] = held_by_holds.get(key, 0) + hold.amount
        for account in self.accounts.values():
            for asset, balance in account.balances.items():
                if balance.available < 0 or balance.held < 0:
                    found.append(f"account {account.account_id} {asset} negative")
                expected_held = held_by_holds.get((account.account_id, asset), 0)
                if balance.held != expected_held:
                    found.append(
                        f"account {account.account_id} {asset} held {balance.held}"
                        f" but its orders hold {expected_held}"
                    )
                totals[asset] = totals.get(asset, 0) + balance.available + balance.held
        for asset in sorted(set(totals) | set(self.deposited)):
            expected = self.deposited.get(asset, 0) - self.withdrawn.get(asset, 0)
            if totals.get(asset, 0) != expected:
                total = totals.get(asset, 0)
                found.append(f"{asset}: balances sum to {total}, deposits - withdrawals {expected}")
        return found
