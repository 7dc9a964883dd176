"""Events: past-tense, frozen facts that `core.apply` returns for each command.

Every projection (live view, market data, SQL read model) is built from these alone, so they
carry what readers need and nothing they would have to recompute:
- `LevelUpdated` is the L2 delta: the aggregate *visible* quantity and order count of one price
  level after the command touched it (qty 0 means the level is gone).
- `TradeExecuted` carries both orders' remaining quantities, so a reader knows which order
  filled without tracking the book.
"""

from __future__ import annotations

import msgspec

from venue.domain.commands import Command, PlaceOrder, ReplaceOrder
from venue.domain.instrument import Instrument
from venue.domain.reject import RejectReason
from venue.domain.values import CancelReason, MarketMode, MarketStatus, Side


class OrderAccepted(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """The order passed every check. Its fields are those of the command that placed it."""

    order_id: int
    order: PlaceOrder


class OrderRejected(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    order_id: int
    reason: RejectReason
    order: PlaceOrder


class CommandRejected(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """Any command other than PlaceOrder that changed nothing."""

    reason: RejectReason
    command: Command


class TradeExecuted(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """One fill between a resting (maker) and an incoming (taker) order, at the maker's price.

    In a call auction there is no aggressor: `aggressor_side` is None, every trade prints at the
    uniform clearing price, and the maker is the order that arrived first.
    """

    trade_id: int
    symbol: str
    price_ticks: int
    qty_lots: int
    maker_order_id: int
    taker_order_id: int
    maker_account_id: int
    taker_account_id: int
    aggressor_side: Side | None
    ts_ns: int
    maker_remaining_lots: int
    taker_remaining_lots: int


class OrderCanceled(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    order_id: int
    account_id: int
    symbol: str
    remaining_lots: int
    reason: CancelReason


class OrderReduced(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """Self-trade prevention (decrement-and-cancel) took `reduced_lots` off a live order."""

    order_id: int
    account_id: int
    symbol: str
    reduced_lots: int
    remaining_lots: int


class OrderExpired(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    order_id: int
    account_id: int
    symbol: str
    remaining_lots: int


class OrderReplaced(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """The order now has these figures. `priority_kept` tells whether it kept its queue place."""

    order_id: int
    account_id: int
    symbol: str
    price_ticks: int | None
    stop_price_ticks: int | None
    qty_lots: int
    remaining_lots: int
    priority_kept: bool
    change: ReplaceOrder


class StopTriggered(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """A stop or take-profit order's trigger was reached by the last trade price; the order now
    acts as a market or limit order with the same id."""

    order_id: int
    account_id: int
    symbol: str
    last_price_ticks: int


class LevelUpdated(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    symbol: str
    side: Side
    price_ticks: int
    qty_lots: int
    order_count: int


class AuctionIndicative(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """What the call auction would do if it uncrossed now. With no crossing, `price_ticks` is None,
    paired volume 0, and the best bid and ask are given instead."""

    symbol: str
    price_ticks: int | None
    paired_lots: int
    imbalance_lots: int
    imbalance_side: Side | None
    best_bid_ticks: int | None
    best_ask_ticks: int | None


class AuctionUncrossed(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    symbol: str
    price_ticks: int | None
    volume_lots: int
    trade_count: int


class InstrumentAdded(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    instrument: Instrument


class MarketStatusChanged(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    symbol: str
    status: MarketStatus
    mode: MarketMode


class SnapshotMarked(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """Answer to TakeSnapshot: the hash of the state after the command's seq."""

    state_hash: str


class AccountCreated(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    account_id: int
    fee_tier: str
    risk_profile: str
    name: str = ""


class AccountUpdated(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    account_id: int
    fee_tier: str
    risk_profile: str


class FeeTierSet(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    name: str
    maker_bps: int
    taker_bps: int


class RiskProfileSet(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    name: str
    max_open_orders: int | None
    max_order_notional: int | None
    max_position_lots: int | None
    max_orders_per_second: int | None
    daily_loss_limit: int | None


class KillSwitchChanged(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """`account_id` None is the venue-wide switch. `reason` says who switched it: an operator
    ("manual") or the daily loss limit ("daily_loss_limit")."""

    account_id: int | None
    active: bool
    reason: str


class Posting(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """One double-entry line: `amount` of `asset` leaves the debited ledger account and enters
    the credited one. A ledger account is (account id, bucket): bucket 1 is available, 2 held.
    Account 0 is the venue's fee account; account -1 the outside world (deposits and
    withdrawals). `trade_id` is 0 when the posting is not part of a trade."""

    debit_account: int
    debit_bucket: int
    credit_account: int
    credit_bucket: int
    asset: str
    amount: int
    reason: str
    trade_id: int


class LedgerPosted(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """Every posting of one command, in the order they were made (they sum to zero per asset)."""

    postings: list[Posting]


class BalanceChanged(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """An account's balance in one asset after the command (one event per changed balance)."""

    account_id: int
    asset: str
    available: int
    held: int


class PositionChanged(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """Net position after the command; average cost is cost_basis / |net_lots| (readers derive
    unrealized P&L from the last price)."""

    account_id: int
    symbol: str
    net_lots: int
    cost_basis: int
    realized_pnl: int
    fees_paid: int


Event = (
    OrderAccepted
    | OrderRejected
    | CommandRejected
    | TradeExecuted
    | OrderCanceled
    | OrderReduced
    | OrderExpired
    | OrderReplaced
    | StopTriggered
    | LevelUpdated
    | AuctionIndicative
    | AuctionUncrossed
    | InstrumentAdded
    | MarketStatusChanged
    | SnapshotMarked
    | AccountCreated
    | AccountUpdated
    | FeeTierSet
    | RiskProfileSet
    | KillSwitchChanged
    | LedgerPosted
    | BalanceChanged
    | PositionChanged
)
