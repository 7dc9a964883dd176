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

_LEVEL_UPDATED: Final = LevelUpdated
_ORDER_ACCEPTED: Final = OrderAccepted
_POSTING: Final = Posting
_BALANCE_CHANGED: Final = BalanceChanged


class Ledger:
    accounts: dict[int, Account]
    tiers: dict[str, FeeTier]
    holds: dict[int, Hold]
    assets: dict[str, int]
    instruments: dict[str, Instrument]
    deposited: dict[str, int]
    withdrawn: dict[str, int]
    postings: list[Posting]
    dirty_balances: dict[Balance, None]
    dirty_positions: dict[Position, None]
    traded_accounts: dict[int, Account]

    def __init__(self) -> None:
        self.accounts = {FEE_ACCOUNT_ID: Account(FEE_ACCOUNT_ID, "default", "default")}
        self.tiers = {tier.name: tier for tier in DEFAULT_TIERS}
        self.holds = {}
        self.assets = {}
        self.instruments = {}
        self.deposited = {}
        self.withdrawn = {}
        self.postings = []
        self.dirty_balances = {}
        self.dirty_positions = {}
        self.traded_accounts = {}

    # ------------------------------------------------------------------ movements

    def _move(
        self,
        debit: Account | None,
        debit_bucket: int,
        credit: Account | None,
        credit_bucket: int,
        asset: str,
        amount: int,
        reason: str,
        trade_id: int,
    ) -> None:
        """Move `amount` from one (account, bucket) to another; None is the outside world."""
        if amount == 0:
            return
        if amount < 0:
            raise LedgerError(f"negative posting {amount} {asset} ({reason})")
        if debit is not None:
            balance = debit.balance(asset)
            if debit_bucket == AVAILABLE:
                if balance.available < amount:
                    raise LedgerError(
                        f"account {debit.account_id} {asset} available would go negative"
                    )
                balance.available -= amount
            else:
                if balance.held < amount:
                    raise LedgerError(f"account {debit.account_id} {asset} held would go negative")
                balance.held -= amount
            self.dirty_balances[balance] = None
        if credit is not None:
            balance = credit.balance(asset)
            if credit_bucket == AVAILABLE:
                balance.available += amount
            else:
                balance.held += amount
            self.dirty_balances[balance] = None
        self.postings.append(
            _POSTING(
                OUTSIDE_ACCOUNT_ID if debit is None else debit.account_id,
                debit_bucket,
                OUTSIDE_ACCOUNT_ID if credit is None else credit.account_id,
                credit_bucket,
                asset,
                amount,
                reason,
                trade_id,
            )
        )

    def deposit(self, account: Account, asset: str, amount: int) -> None:
        self._move(None, AVAILABLE, account, AVAILABLE, asset, amount, "deposit", 0)
        self.deposited[asset] = self.deposited.get(asset, 0) + amount

    def withdraw(self, account: Account, asset: str, amount: int) -> None:
        self._move(account, AVAILABLE, None, AVAILABLE, asset, amount, "withdrawal", 0)
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
        asset = instrument.quote_asset if is_buy else instrument.base_asset
        hold = Hold(
            order_id,
            account,
            instrument.symbol,
            is_buy,
            asset,
            amount,
            per_lot,
            tier.maker_bps,
            tier.taker_bps,
        )
        self.holds[order_id] = hold
        account.open_orders += 1
        self._move(account, AVAILABLE, account, HELD, asset, amount, "reserve", 0)

    def resize_needed(self, hold: Hold, price_ticks: int, remaining_lots: int) -> int:
        """How much more (positive) or less (negative) a hold must reserve after a replace to
        `price_ticks` (used only where it sets the per-lot figure) and `remaining_lots`."""
        if hold.per_lot == 0:
            return 0
        return remaining_lots * self._per_lot(hold, price_ticks) - hold.amount

    def _per_lot(self, hold: Hold, price_ticks: int) -> int:
        instrument = self.instruments[hold.symbol]
        if hold.is_buy and price_ticks:
            return buy_reserve_per_lot(
                price_ticks, instrument.notional_per_tick_lot, hold.taker_bps
            )
        return hold.per_lot

    def _set_hold(self, hold: Hold, required: int) -> None:
        difference = required - hold.amount
        account = hold.account
        if difference > 0:
            self._move(account, AVAILABLE, account, HELD, hold.asset, difference, "reserve", 0)
        elif difference < 0:
            self._move(account, HELD, account, AVAILABLE, hold.asset, -difference, "release", 0)
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
        command's events matter here; the rest are skipped with one identity test against C
        statics (the Final aliases below), not a lookup of each class by name."""
        for index in range(start, len(events)):
            event = events[index]
            kind = type(event)
            if kind is _LEVEL_UPDATED or kind is _ORDER_ACCEPTED:
                continue
            if isinstance(event, TradeExecuted):
                self._settle(event, ts_ns)
            elif isinstance(event, (OrderCanceled, OrderExpired)):
                self._end(event.order_id)
            elif isinstance(event, OrderReduced):
                self._shrink(event.order_id, event.remaining_lots)
            elif isinstance(event, OrderReplaced):
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
        maker = self.holds.get(trade.maker_order_id)
        taker = self.holds.get(trade.taker_order_id)
        if maker is None or taker is None:
            raise LedgerError(f"trade {trade.trade_id} between orders without reservations")
        if maker.is_buy:
            buy, sell = maker, taker
            buy_remaining, sell_remaining = trade.maker_remaining_lots, trade.taker_remaining_lots
        else:
            buy, sell = taker, maker
            buy_remaining, sell_remaining = trade.taker_remaining_lots, trade.maker_remaining_lots
        instrument = self.instruments[trade.symbol]
        trade_id = trade.trade_id
        notional = trade.price_ticks * trade.qty_lots * instrument.notional_per_tick_lot
        base_amount = trade.qty_lots * instrument.base_units_per_lot
        buyer = buy.account
        seller = sell.account
        quote = instrument.quote_asset
        self._move(
            seller, HELD, buyer, AVAILABLE, instrument.base_asset, base_amount, "trade", trade_id
        )
        sell.amount -= base_amount
        self._move(buyer, HELD, seller, AVAILABLE, quote, notional, "trade", trade_id)
        buy.amount -= notional
        taker_fee = fee_on(notional, taker.taker_bps)
        maker_fee = fee_on(notional, maker.maker_bps)
        maker_fee = max(maker_fee, -taker_fee)  # a rebate is funded by this trade's taker fee
        self._charge(taker, quote, taker_fee, trade_id)
        self._charge(maker, quote, maker_fee, trade_id)
        symbol = trade.symbol
        buyer_fee = taker_fee if buy is taker else maker_fee
        seller_fee = taker_fee if sell is taker else maker_fee
        self._position(buyer, symbol, trade.qty_lots, notional, buyer_fee, ts_ns)
        self._position(seller, symbol, -trade.qty_lots, notional, seller_fee, ts_ns)
        self._after_fill(buy, buy_remaining)
        self._after_fill(sell, sell_remaining)

    def _charge(self, hold: Hold, quote: str, fee: int, trade_id: int) -> None:
        fee_account = self.accounts[FEE_ACCOUNT_ID]
        account = hold.account
        if fee > 0:
            if hold.is_buy:
                self._move(account, HELD, fee_account, AVAILABLE, quote, fee, "fee", trade_id)
                hold.amount -= fee
            else:
                self._move(account, AVAILABLE, fee_account, AVAILABLE, quote, fee, "fee", trade_id)
        elif fee < 0:
            self._move(fee_account, AVAILABLE, account, AVAILABLE, quote, -fee, "rebate", trade_id)

    def _after_fill(self, hold: Hold, remaining_lots: int) -> None:
        if remaining_lots == 0:
            self._end(hold.order_id)
        elif hold.per_lot:
            self._set_hold(hold, remaining_lots * hold.per_lot)

    def _position(
        self, account: Account, symbol: str, signed_lots: int, notional: int, fee: int, ts_ns: int
    ) -> None:
        position = account.position(symbol)
        realized = position.fill(signed_lots, notional)
        position.fees_paid += fee
        day = ts_ns // NS_PER_DAY
        if account.pnl_day != day:
            account.pnl_day = day
            account.day_pnl = 0
        account.day_pnl += realized - fee
        self.dirty_positions[position] = None
        self.traded_accounts[account.account_id] = account

    # ------------------------------------------------------------------ per command

    def flush(self, out: list[Event]) -> None:
        """Append this command's postings, changed balances and positions to `out`."""
        if self.postings:
            out.append(LedgerPosted(self.postings))
            self.postings = []
        if self.dirty_balances:
            for balance in self.dirty_balances:
                out.append(
                    _BALANCE_CHANGED(
                        balance.account_id, balance.asset, balance.available, balance.held
                    )
                )
            self.dirty_balances = {}
        if self.dirty_positions:
            for position in self.dirty_positions:
                out.append(
                    PositionChanged(
                        position.account_id,
                        position.symbol,
                        position.net_lots,
                        position.cost_basis,
                        position.realized_pnl,
                        position.fees_paid,
                    )
                )
            self.dirty_positions = {}
        self.traded_accounts = {}

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
