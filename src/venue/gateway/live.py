"""The live view (DESIGN.md §9): what the gateway answers private reads from, in memory.

It is a projection of the event stream, updated on the event loop thread with each durable
batch *before* that batch's replies are released (the composition root schedules
`on_batch` ahead of the replies), so a client always reads its own writes.

Holds: every open order (via `views.OrderTracker`), the orders closed recently (bounded),
the fills of the orders it holds, each account's balances and positions, the instruments,
accounts and the client order ids seen (bounded, for resend detection). What falls out of
the bounded parts is answered from the SQL read model.

Invariants:
- Only `on_batch` and the seeding methods (before the sequencer starts) change it; all of
  it runs on the event loop thread, so readers never see a half-applied batch.
- Every collection here has a configured bound except open orders, balances and positions,
  which the core bounds (book size, accounts).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from venue.domain.commands import SequencedCommand
from venue.domain.events import (
    AccountCreated,
    AccountUpdated,
    BalanceChanged,
    Event,
    InstrumentAdded,
    PositionChanged,
    TradeExecuted,
)
from venue.domain.instrument import Instrument
from venue.domain.units import Units
from venue.views.orders import Changes, FillRecord, OrderRecord, OrderTracker

Publisher = Callable[[int, Changes], None]


@dataclass(slots=True)
class AccountInfo:
    account_id: int
    name: str
    fee_tier: str
    risk_profile: str


class LiveView:
    def __init__(
        self,
        closed_capacity: int = 100_000,
        client_id_capacity: int = 1_000_000,
        publisher: Publisher | None = None,
    ) -> None:
        self.tracker = OrderTracker()
        self.closed: OrderedDict[int, OrderRecord] = OrderedDict()
        self.fills: dict[int, list[FillRecord]] = {}
        self.client_ids: OrderedDict[tuple[int, str], int] = OrderedDict()
        self.balances: dict[int, dict[str, BalanceChanged]] = {}
        self.positions: dict[int, dict[str, PositionChanged]] = {}
        self.instruments: dict[str, Instrument] = {}
        self.units: dict[str, Units] = {}
        self.asset_decimals: dict[str, int] = {}
        self.accounts: dict[int, AccountInfo] = {}
        self.last_price: dict[str, int] = {}
        self.last_seq = 0
        self._closed_capacity = closed_capacity
        self._client_id_capacity = client_id_capacity
        self._publisher = publisher

    # ------------------------------------------------------------------ seeding (before start)

    def add_instrument(self, instrument: Instrument) -> None:
        self.instruments[instrument.symbol] = instrument
        self.units[instrument.symbol] = Units(instrument)
        self.asset_decimals.setdefault(instrument.base_asset, instrument.base_decimals)
        self.asset_decimals.setdefault(instrument.quote_asset, instrument.quote_decimals)

    def seed(
        self,
        last_seq: int,
        open_orders: Iterable[OrderRecord],
        balances: Iterable[BalanceChanged],
        positions: Iterable[PositionChanged],
        accounts: Iterable[AccountInfo],
        client_ids: Iterable[tuple[int, str, int]] = (),
    ) -> None:
        self.last_seq = last_seq
        orders = list(open_orders)
        self.tracker.load(orders)
        for record in orders:
            if record.client_order_id is not None:
                self._remember_client_id(record.account_id, record.client_order_id, record.order_id)
        for account_id, client_order_id, order_id in client_ids:
            self._remember_client_id(account_id, client_order_id, order_id)
        for balance in balances:
            self.balances.setdefault(balance.account_id, {})[balance.asset] = balance
        for position in positions:
            self.positions.setdefault(position.account_id, {})[position.symbol] = position
        for account in accounts:
            self.accounts[account.account_id] = account

    # ------------------------------------------------------------------ the projection

    def on_batch(self, commands: Sequence[SequencedCommand], events: Sequence[list[Event]]) -> None:
        tracker = self.tracker
        for sequenced, command_events in zip(commands, events, strict=True):
            if not command_events:
                continue
            changes = tracker.apply(sequenced.seq, sequenced.ts_ns, command_events)
            self._absorb(changes)
            for event in command_events:
                if isinstance(event, TradeExecuted):
                    self.last_price[event.symbol] = event.price_ticks
                elif isinstance(event, InstrumentAdded):
                    self.add_instrument(event.instrument)
                elif isinstance(event, AccountCreated | AccountUpdated):
                    self._account(event)
            if self._publisher is not None:
                self._publisher(sequenced.seq, changes)
        if commands:
            self.last_seq = commands[-1].seq

    def _absorb(self, changes: Changes) -> None:
        for record in changes.orders:
            if record.client_order_id is not None:
                self._remember_client_id(record.account_id, record.client_order_id, record.order_id)
            if not record.status.is_open:
                self._close(record)
        for fill in changes.fills:
            if fill.order_id in self.tracker.open or fill.order_id in self.closed:
                self.fills.setdefault(fill.order_id, []).append(fill)
        for balance in changes.balances:
            self.balances.setdefault(balance.account_id, {})[balance.asset] = balance
        for position in changes.positions:
            self.positions.setdefault(position.account_id, {})[position.symbol] = position

    def _close(self, record: OrderRecord) -> None:
        closed = self.closed
        closed[record.order_id] = record
        if len(closed) > self._closed_capacity:
            old_id, _ = closed.popitem(last=False)
            self.fills.pop(old_id, None)

    def _remember_client_id(self, account_id: int, client_order_id: str, order_id: int) -> None:
        ids = self.client_ids
        ids[(account_id, client_order_id)] = order_id
        if len(ids) > self._client_id_capacity:
            ids.popitem(last=False)

    def _account(self, event: AccountCreated | AccountUpdated) -> None:
        name = getattr(event, "name", "")
        current = self.accounts.get(event.account_id)
        if current is not None and not name:
            name = current.name
        self.accounts[event.account_id] = AccountInfo(
            event.account_id, name, event.fee_tier, event.risk_profile
        )

    # ------------------------------------------------------------------ reads

    def order(self, account_id: int, order_id: int) -> OrderRecord | None:
        """The order, if this view holds it and it is `account_id`'s."""
        record = self.tracker.open.get(order_id) or self.closed.get(order_id)
        if record is None or record.account_id != account_id:
            return None
        return record

    def order_by_client_id(self, account_id: int, client_order_id: str) -> int | None:
        return self.client_ids.get((account_id, client_order_id))

    def fills_of(self, order_id: int) -> list[FillRecord] | None:
        """The order's fills if this view holds the order (an empty list: none yet)."""
        if order_id in self.tracker.open or order_id in self.closed:
            return self.fills.get(order_id, [])
        return None

    def open_orders(self, account_id: int) -> list[OrderRecord]:
        return [r for r in self.tracker.open.values() if r.account_id == account_id]

    def open_order_counts(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(self.instruments, 0)
        for record in self.tracker.open.values():
            counts[record.symbol] = counts.get(record.symbol, 0) + 1
        return counts
