"""Orders and fills as readers see them, folded from events alone (DESIGN.md §9).

`OrderTracker` is the one reducer behind both the gateway's in-memory live view and the SQL
projector, so the two can never disagree about an order's status, fills or fees.

Invariants:
- `OrderTracker.open` holds exactly the orders that are still working (new, partially filled,
  pending their trigger), keyed by order id; `remaining_lots` of each equals the engine's
  remaining quantity of that order. A closed order leaves `open` when the `apply` call that
  closed it returns (it is still found while that call runs, so a later event of the same
  command reaches it).
- `Changes.orders` lists each order a call (or a batch of calls sharing one `Changes`) touched
  exactly once, as the same object the tracker holds, in its state after the call(s).
- Fees are resolved after every event of a command has been seen, because the ledger posts a
  command's `LedgerPosted` after its trades. A fill's fee is what its account paid for that
  trade ("fee" postings debit the payer) minus what it received ("rebate" postings credit
  the receiver), in the quote asset's minor units; without a ledger (accounts off) it is 0.
- `filled_notional` is the sum of price_ticks * qty_lots over the order's fills: the average
  price is filled_notional / filled_lots ticks (formatted by the gateway; no float here).

Known limitations: events about an order the tracker never saw (seeded late) change no
record; their fills are still reported when the side can be derived (the taker's side is the
aggressor side, the maker's the opposite; for an auction trade the side is known only from a
tracked record, otherwise that fill is skipped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
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
    OrderRejected,
    OrderReplaced,
    PositionChanged,
    Posting,
    StopTriggered,
    TradeExecuted,
)
from venue.domain.values import OrderType, SelfTradePrevention, Side, TimeInForce

_LEVEL_UPDATED: Final = LevelUpdated
LIQUIDITY_MAKER: Final = "maker"
LIQUIDITY_TAKER: Final = "taker"
LIQUIDITY_AUCTION: Final = "auction"


class OrderStatus(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    PENDING_TRIGGER = "pending_trigger"

    @property
    def is_open(self) -> bool:
        return self in _OPEN_STATUSES


_OPEN_STATUSES: Final = frozenset(
    {OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_TRIGGER}
)


@dataclass(slots=True)
class OrderRecord:
    order_id: int
    account_id: int
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    qty_lots: int
    price_ticks: int | None
    stop_price_ticks: int | None
    display_qty_lots: int | None
    post_only: bool
    stp: SelfTradePrevention
    client_order_id: str | None
    expire_ts_ns: int | None
    quote_qty: int | None
    status: OrderStatus
    filled_lots: int
    filled_notional: int  # sum of price_ticks * qty_lots over fills
    remaining_lots: int  # still working (0 once closed)
    reject_reason: str | None  # a RejectReason value
    cancel_reason: str | None  # a CancelReason name, lowercased ("user", "self_trade", ...)
    fee_paid: int  # quote minor units, negative = net rebate
    created_seq: int
    created_ts_ns: int
    updated_seq: int
    updated_ts_ns: int


_Find = Callable[[int], OrderRecord | None]
_Touch = Callable[[OrderRecord], None]


@dataclass(slots=True, frozen=True)
class FillRecord:
    trade_id: int
    order_id: int
    account_id: int
    symbol: str
    side: Side
    price_ticks: int
    qty_lots: int
    liquidity: str  # "maker" | "taker" | "auction" (a trade without aggressor side)
    fee: int  # quote minor units charged on this fill, negative for a rebate
    fee_asset: str | None
    seq: int
    ts_ns: int


@dataclass(slots=True)
class Changes:
    """What one command (or a batch sharing this object) changed."""

    orders: list[OrderRecord] = field(default_factory=list)
    fills: list[FillRecord] = field(default_factory=list)
    balances: list[BalanceChanged] = field(default_factory=list)
    positions: list[PositionChanged] = field(default_factory=list)
    postings: list[tuple[int, int, Posting]] = field(default_factory=list)  # (seq, ts_ns, ...)
    # Ids already in `orders`, so a batch reports each order once.
    order_ids: set[int] = field(default_factory=set, repr=False)

    def _touch(self, record: OrderRecord) -> None:
        if record.order_id not in self.order_ids:
            self.order_ids.add(record.order_id)
            self.orders.append(record)


def record_of_place(
    order_id: int, seq: int, ts_ns: int, event: OrderAccepted | OrderRejected
) -> OrderRecord:
    """The record of a newly accepted (or rejected) order."""
    order = event.order
    rejected = isinstance(event, OrderRejected)
    if rejected:
        status = OrderStatus.REJECTED
    elif order.order_type.is_triggered:
        status = OrderStatus.PENDING_TRIGGER
    else:
        status = OrderStatus.NEW
    return OrderRecord(
        order_id=order_id,
        account_id=order.account_id,
        symbol=order.symbol,
        side=Side(order.side),
        order_type=OrderType(order.order_type),
        tif=TimeInForce(order.tif),
        qty_lots=order.qty_lots,
        price_ticks=order.price_ticks,
        stop_price_ticks=order.stop_price_ticks,
        display_qty_lots=order.display_qty_lots,
        post_only=order.post_only,
        stp=SelfTradePrevention(order.stp),
        client_order_id=order.client_order_id,
        expire_ts_ns=order.expire_ts_ns,
        quote_qty=order.quote_qty,
        status=status,
        filled_lots=0,
        filled_notional=0,
        remaining_lots=0 if rejected else order.qty_lots,
        reject_reason=str(event.reason.value) if isinstance(event, OrderRejected) else None,
        cancel_reason=None,
        fee_paid=0,
        created_seq=seq,
        created_ts_ns=ts_ns,
        updated_seq=seq,
        updated_ts_ns=ts_ns,
    )


class _Fees:
    """One command's fee and rebate postings by trade: (account, signed fee, asset) in the
    order the ledger made them (taker first, then maker)."""

    __slots__ = ("by_trade",)

    def __init__(self, postings: Iterable[Posting]) -> None:
        self.by_trade: dict[int, list[tuple[int, int, str]]] = {}
        for posting in postings:
            if posting.trade_id == 0:
                continue
            if posting.reason == "fee":
                entry = (posting.debit_account, posting.amount, posting.asset)
            elif posting.reason == "rebate":
                entry = (posting.credit_account, -posting.amount, posting.asset)
            else:
                continue
            self.by_trade.setdefault(posting.trade_id, []).append(entry)

    def take(self, trade_id: int, account_id: int) -> tuple[int, str | None]:
        """The fee of `account_id` on this trade, consumed so that two fills of one account
        on one trade (never printed today) would not both count it."""
        entries = self.by_trade.get(trade_id)
        if entries:
            for index, (account, amount, asset) in enumerate(entries):
                if account == account_id:
                    del entries[index]
                    return amount, asset
        return 0, None


class OrderTracker:
    """Folds events into OrderRecords. Holds the open orders (plus the ones a command just
    closed, until it returns). The caller seeds it with the open orders at start (`load`)."""

    open: dict[int, OrderRecord]

    def __init__(self) -> None:
        self.open = {}

    def load(self, records: Iterable[OrderRecord]) -> None:
        for record in records:
            if record.status.is_open:
                self.open[record.order_id] = record

    def apply(
        self, seq: int, ts_ns: int, events: Sequence[Event], into: Changes | None = None
    ) -> Changes:
        changes = into if into is not None else Changes()
        open_orders = self.open
        closed: dict[int, OrderRecord] = {}  # closed by this command, still reachable in it
        trades: list[TradeExecuted] = []
        postings: list[Posting] = []

        def find(order_id: int) -> OrderRecord | None:
            record = open_orders.get(order_id)
            return record if record is not None else closed.get(order_id)

        def touch(record: OrderRecord) -> None:
            record.updated_seq = seq
            record.updated_ts_ns = ts_ns
            changes._touch(record)
            if not record.status.is_open and record.order_id in open_orders:
                closed[record.order_id] = open_orders.pop(record.order_id)

        record: OrderRecord | None
        for event in events:
            kind = type(event)
            if kind is _LEVEL_UPDATED:
                continue  # the most frequent event; nothing here for orders
            if isinstance(event, TradeExecuted):
                trades.append(event)
                self._trade(event, find, touch)
            elif isinstance(event, OrderAccepted):
                placed = record_of_place(event.order_id, seq, ts_ns, event)
                open_orders[placed.order_id] = placed
                touch(placed)
            elif isinstance(event, OrderRejected):
                touch(record_of_place(event.order_id, seq, ts_ns, event))
            elif isinstance(event, OrderCanceled):
                record = find(event.order_id)
                if record is not None:
                    record.status = OrderStatus.CANCELED
                    record.cancel_reason = event.reason.name.lower()
                    record.remaining_lots = 0
                    touch(record)
            elif isinstance(event, OrderExpired):
                record = find(event.order_id)
                if record is not None:
                    record.status = OrderStatus.EXPIRED
                    record.remaining_lots = 0
                    touch(record)
            elif isinstance(event, OrderReduced):
                record = find(event.order_id)
                if record is not None:
                    record.qty_lots -= event.reduced_lots
                    record.remaining_lots = event.remaining_lots
                    if event.remaining_lots == 0:
                        record.status = OrderStatus.CANCELED
                        record.cancel_reason = "self_trade"
                    touch(record)
            elif isinstance(event, OrderReplaced):
                record = find(event.order_id)
                if record is not None:
                    record.qty_lots = event.qty_lots
                    record.price_ticks = event.price_ticks
                    record.stop_price_ticks = event.stop_price_ticks
                    record.remaining_lots = event.remaining_lots
                    touch(record)
            elif isinstance(event, StopTriggered):
                record = find(event.order_id)
                if record is not None:
                    record.status = (
                        OrderStatus.PARTIALLY_FILLED if record.filled_lots else OrderStatus.NEW
                    )
                    touch(record)
            elif isinstance(event, LedgerPosted):
                postings.extend(event.postings)
                append_posting = changes.postings.append
                for posting in event.postings:
                    append_posting((seq, ts_ns, posting))
            elif isinstance(event, BalanceChanged):
                changes.balances.append(event)
            elif isinstance(event, PositionChanged):
                changes.positions.append(event)
        if trades:
            self._fills(seq, ts_ns, trades, _Fees(postings), find, changes)
        return changes

    @staticmethod
    def _trade(event: TradeExecuted, find: _Find, touch: _Touch) -> None:
        notional = event.price_ticks * event.qty_lots
        for order_id, remaining in (
            (event.maker_order_id, event.maker_remaining_lots),
            (event.taker_order_id, event.taker_remaining_lots),
        ):
            record = find(order_id)
            if record is None:
                continue
            record.filled_lots += event.qty_lots
            record.filled_notional += notional
            record.remaining_lots = remaining
            record.status = OrderStatus.FILLED if remaining == 0 else OrderStatus.PARTIALLY_FILLED
            touch(record)

    @staticmethod
    def _fills(
        seq: int,
        ts_ns: int,
        trades: list[TradeExecuted],
        fees: _Fees,
        find: _Find,
        changes: Changes,
    ) -> None:
        append = changes.fills.append
        for trade in trades:
            aggressor = trade.aggressor_side
            maker = find(trade.maker_order_id)
            taker = find(trade.taker_order_id)
            if aggressor is None:
                liquidity_maker = liquidity_taker = LIQUIDITY_AUCTION
                maker_side = maker.side if maker is not None else None
                taker_side = taker.side if taker is not None else None
            else:
                liquidity_maker, liquidity_taker = LIQUIDITY_MAKER, LIQUIDITY_TAKER
                maker_side, taker_side = Side(aggressor).opposite, Side(aggressor)
            # The ledger charges the taker first, then the maker: take fees in that order.
            taker_fee, taker_asset = fees.take(trade.trade_id, trade.taker_account_id)
            maker_fee, maker_asset = fees.take(trade.trade_id, trade.maker_account_id)
            if maker is not None:
                maker.fee_paid += maker_fee
            if taker is not None:
                taker.fee_paid += taker_fee
            if maker_side is not None:
                append(
                    FillRecord(
                        trade.trade_id,
                        trade.maker_order_id,
                        trade.maker_account_id,
                        trade.symbol,
                        maker_side,
                        trade.price_ticks,
                        trade.qty_lots,
                        liquidity_maker,
                        maker_fee,
                        maker_asset,
                        seq,
                        ts_ns,
                    )
                )
            if taker_side is not None:
                append(
                    FillRecord(
                        trade.trade_id,
                        trade.taker_order_id,
                        trade.taker_account_id,
                        trade.symbol,
                        taker_side,
                        trade.price_ticks,
                        trade.qty_lots,
                        liquidity_taker,
                        taker_fee,
                        taker_asset,
                        seq,
                        ts_ns,
                    )
                )
