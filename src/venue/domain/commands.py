"""Commands: imperative, frozen requests to change the venue. The sequencer wraps each one in a
`SequencedCommand` with its `seq` and `ts_ns`; `core.apply` is a pure function of the state and
that wrapper (DESIGN.md §3).

Commands are msgspec structs: cheap to build on the hot path, and one tagged, array-like
msgpack encoding serves the journal. Field order is part of the journal format: append new
fields at the end with a default, never reorder.
"""

from __future__ import annotations

import msgspec

from venue.domain.instrument import Instrument
from venue.domain.values import MarketMode, OrderType, SelfTradePrevention, Side, TimeInForce


class PlaceOrder(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """A new order. Its order id is the seq of the command that places it.

    - `price_ticks` is the limit price (LIMIT, STOP_LIMIT, TAKE_PROFIT_LIMIT) and must be absent
      for MARKET, STOP_MARKET and TAKE_PROFIT.
    - `stop_price_ticks` is the trigger price of the four triggered types.
    - `display_qty_lots` makes an iceberg: only that much shows in the book at a time.
    - `expire_ts_ns` is required for GTD and refused otherwise.
    """

    account_id: int
    symbol: str
    side: Side
    order_type: OrderType
    qty_lots: int
    price_ticks: int | None = None
    stop_price_ticks: int | None = None
    tif: TimeInForce = TimeInForce.GTC
    expire_ts_ns: int | None = None
    post_only: bool = False
    display_qty_lots: int | None = None
    stp: SelfTradePrevention = SelfTradePrevention.CANCEL_NEWEST
    client_order_id: str | None = None
    quote_qty: int | None = None
    """Market buys only: spend at most this much quote (minor units, fees included). The
    order's `qty_lots` still caps the lots bought."""


class CancelOrder(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    account_id: int
    order_id: int


class ReplaceOrder(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """Amend a live order. `qty_lots` is the new *total* quantity, filled part included (as FIX
    OrderQty). Reducing quantity keeps time priority; a new price or a larger quantity loses it.
    None leaves a field unchanged."""

    account_id: int
    order_id: int
    qty_lots: int | None = None
    price_ticks: int | None = None
    stop_price_ticks: int | None = None


class CancelAllOrders(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """Cancel every live order (resting and pending-trigger) of an account, in one market or all."""

    account_id: int
    symbol: str | None = None


class AddInstrument(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    instrument: Instrument


class HaltMarket(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    symbol: str


class ResumeMarket(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    symbol: str


class SetMarketMode(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """Switch between continuous trading and call mode. Leaving call mode uncrosses first (an
    opening auction, then continuous trading)."""

    symbol: str
    mode: MarketMode
    auction_interval_ns: int | None = None


class Uncross(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """Run the call auction of a market in call mode now."""

    symbol: str


class Tick(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """Time passes: expire GTD/DAY orders and uncross periodic auctions due at the command's ts."""


class TakeSnapshot(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """Marks the place of a snapshot in the journal; the core answers with the state hash."""


class CreateAccount(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """Open an account; its id is the seq of this command. `name` is a label for people: the
    core carries it into `AccountCreated` and keeps no state of it."""

    fee_tier: str = "default"
    risk_profile: str = "default"
    name: str = ""


class UpdateAccount(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    account_id: int
    fee_tier: str | None = None
    risk_profile: str | None = None


class Deposit(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    account_id: int
    asset: str
    amount: int


class Withdraw(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    account_id: int
    asset: str
    amount: int


class SetFeeTier(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """Create or change a fee tier. A negative maker fee is a rebate."""

    name: str
    maker_bps: int
    taker_bps: int


class SetRiskProfile(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """Create or change a risk profile; None means no limit. Notional and loss limits are in
    minor units of the instrument's quote asset."""

    name: str
    max_open_orders: int | None = None
    max_order_notional: int | None = None
    max_position_lots: int | None = None
    max_orders_per_second: int | None = None
    daily_loss_limit: int | None = None


class SetKillSwitch(msgspec.Struct, frozen=True, gc=False, array_like=True, tag=True):
    """Switch an account's kill switch (or the venue's, with account_id None) on or off.
    Switching on cancels the open orders it covers."""

    account_id: int | None
    active: bool


Command = (
    PlaceOrder
    | CancelOrder
    | ReplaceOrder
    | CancelAllOrders
    | AddInstrument
    | HaltMarket
    | ResumeMarket
    | SetMarketMode
    | Uncross
    | Tick
    | TakeSnapshot
    | CreateAccount
    | UpdateAccount
    | Deposit
    | Withdraw
    | SetFeeTier
    | SetRiskProfile
    | SetKillSwitch
)


class SequencedCommand(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """A command with the identity and time the sequencer gave it. `seq` starts at 1 and has no
    gaps; `ts_ns` never decreases."""

    seq: int
    ts_ns: int
    command: Command
