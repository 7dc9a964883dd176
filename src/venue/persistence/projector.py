"""The SQL projector: sequenced commands and their events in, read-model rows out.

Invariants:
- One transaction per `apply_batch`: every row of the batch and `projector_state.last_seq`
  commit together, so `last_seq` is exactly the last command whose rows are all visible.
- Idempotent: commands at or below `last_seq` are skipped, so a batch seen twice (a retry,
  catch-up overlapping live batches) changes nothing the second time.
- No gaps: the first command applied must be `last_seq + 1`, else `ProjectionGapError` and
  nothing is written (a dropped batch is recovered by `catch_up` from the journal).
- Orders are folded by `venue.views.OrderTracker`, the same reducer as the live view, seeded
  from the `orders` table's open rows. If a transaction fails, the tracker (which ran ahead
  of the database) is dropped and reloaded from the table on the next batch.
- Candles are folded by `venue.views.candles.Candles`, the same aggregator as the market
  data projection; a candle begun by an earlier batch is merged in SQL (`candle_merge`).
- Writes are executemany per table (upserts keyed by each table's primary key), never one
  round trip per row. The per-row tables go through `rows.upsert_rows` / `insert_new_rows`:
  tuples into the driver's executemany with SQL text built once per dialect, because this
  thread shares the GIL with the gateway and SQLAlchemy's per-execution Python (compilation
  cache, parameter processing) cost more CPU than the database did.
- `ProjectorThread.submit` never blocks the sequencer: when its bounded queue is full the
  batch is dropped, counted, and the thread later replays the missing seqs from the journal.

Known limitation: catch-up needs the journal from a snapshot at or below `last_seq` onwards;
with segments pruned past that point the projection cannot be completed (a rebuild is
needed, and it needs the whole journal).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final

import msgspec
from sqlalchemy import Connection, Dialect, Engine, bindparam, delete, func, select, update

from venue.core import VenueState
from venue.domain.commands import SequencedCommand
from venue.domain.events import (
    AccountCreated,
    AccountUpdated,
    Event,
    FeeTierSet,
    InstrumentAdded,
    KillSwitchChanged,
    MarketStatusChanged,
    RiskProfileSet,
    TradeExecuted,
)
from venue.domain.values import MarketMode, MarketStatus
from venue.journal.reader import JournalReader, ProgressCallback
from venue.journal.recovery import load_base, replay_into
from venue.journal.snapshots import SnapshotStore
from venue.persistence import schema
from venue.persistence.rows import (
    column_sql,
    excluded_sql,
    greatest_sql,
    insert_new,
    insert_new_rows,
    least_sql,
    name_of,
    placeholder,
    record_of_row,
    side_name,
    tuple_of_fill,
    tuple_of_record,
    tuples_of,
    upsert_rows,
)
from venue.views import Changes, OrderStatus, OrderTracker
from venue.views.candles import INTERVAL_NAMES, INTERVALS_NS, Candles

log = logging.getLogger(__name__)

# The one definition lives in venue.views.candles; this name stays for its importers (queries).
CANDLE_INTERVALS_NS: Final = INTERVALS_NS
CATCH_UP_CHUNK_COMMANDS: Final = 2_000
OPEN_STATUS_VALUES: Final = tuple(s.value for s in OrderStatus if s.is_open)
STATE_ROW_ID: Final = 1


class ProjectionGapError(RuntimeError):
    """A batch would leave seqs unprojected; the missing ones must come from the journal."""


_WANTED_TYPES: Final = (
    TradeExecuted,
    InstrumentAdded,
    MarketStatusChanged,
    AccountCreated,
    AccountUpdated,
    FeeTierSet,
    RiskProfileSet,
    KillSwitchChanged,
)
_WANTED: dict[type, bool] = {}  # by event type: is it one of `_Rows.command`'s?


class _Rows:
    """Everything one `apply_batch` writes besides orders and fills, folded in memory first
    (last value wins per key, so a batch writes each row once)."""

    def __init__(self) -> None:
        self.instruments: dict[str, dict[str, Any]] = {}
        self.market_status: dict[str, dict[str, Any]] = {}
        self.accounts: dict[int, dict[str, Any]] = {}
        self.account_updates: dict[int, dict[str, Any]] = {}
        # Rows of the busy tables are tuples in their table's column order.
        self.trades: list[tuple[Any, ...]] = []
        # Per symbol, the batch's candles (the shared aggregator; merged into stored ones by
        # `candle_merge` when written).
        self.candles: dict[str, Candles] = {}
        self.balances: dict[tuple[int, str], tuple[Any, ...]] = {}
        self.positions: dict[tuple[int, str], tuple[Any, ...]] = {}
        self.fee_tiers: dict[str, dict[str, Any]] = {}
        self.risk_profiles: dict[str, dict[str, Any]] = {}
        self.kill_switches: dict[str, dict[str, Any]] = {}

    def command(self, seq: int, events: Sequence[Event]) -> None:
        for event in events:
            kind = type(event)
            wanted = _WANTED.get(kind)
            if wanted is None:
                wanted = _WANTED[kind] = issubclass(kind, _WANTED_TYPES)
            if not wanted:
                continue  # most events (orders, levels, balances) are the tracker's
            if isinstance(event, TradeExecuted):
                self.trade(seq, event)
            elif isinstance(event, InstrumentAdded):
                instrument = event.instrument
                self.instruments[instrument.symbol] = {
                    "symbol": instrument.symbol,
                    "instrument": msgspec.json.encode(instrument).decode(),
                    "status": name_of(MarketStatus.OPEN),
                    "mode": name_of(MarketMode(instrument.mode)),
                    "seq": seq,
                }
            elif isinstance(event, MarketStatusChanged):
                change = {
                    "status": name_of(MarketStatus(event.status)),
                    "mode": name_of(MarketMode(event.mode)),
                    "seq": seq,
                }
                added = self.instruments.get(event.symbol)
                if added is not None:
                    added.update(change)
                else:
                    self.market_status[event.symbol] = {"symbol_key": event.symbol, **change}
            elif isinstance(event, AccountCreated):
                self.accounts[event.account_id] = {
                    "account_id": event.account_id,
                    # `name` arrives with a later version of the event; older journals lack it
                    "name": getattr(event, "name", "") or "",
                    "fee_tier": event.fee_tier,
                    "risk_profile": event.risk_profile,
                    "created_seq": seq,
                    "updated_seq": seq,
                }
            elif isinstance(event, AccountUpdated):
                change = {
                    "fee_tier": event.fee_tier,
                    "risk_profile": event.risk_profile,
                    "updated_seq": seq,
                }
                created = self.accounts.get(event.account_id)
                if created is not None:
                    created.update(change)
                else:
                    self.account_updates[event.account_id] = {
                        "account_key": event.account_id,
                        **change,
                    }
            elif isinstance(event, FeeTierSet):
                self.fee_tiers[event.name] = {
                    "name": event.name,
                    "maker_bps": event.maker_bps,
                    "taker_bps": event.taker_bps,
                    "seq": seq,
                }
            elif isinstance(event, RiskProfileSet):
                self.risk_profiles[event.name] = {
                    "name": event.name,
                    "max_open_orders": event.max_open_orders,
                    "max_order_notional": event.max_order_notional,
                    "max_position_lots": event.max_position_lots,
                    "max_orders_per_second": event.max_orders_per_second,
                    "daily_loss_limit": event.daily_loss_limit,
                    "seq": seq,
                }
            elif isinstance(event, KillSwitchChanged):
                scope = "venue" if event.account_id is None else str(event.account_id)
                self.kill_switches[scope] = {
                    "scope": scope,
                    "account_id": event.account_id,
                    "active": event.active,
                    "reason": event.reason,
                    "seq": seq,
                }

    def trade(self, seq: int, trade: TradeExecuted) -> None:
        price = trade.price_ticks
        qty = trade.qty_lots
        symbol = trade.symbol
        ts_ns = trade.ts_ns
        self.trades.append(
            (  # schema.trades
                trade.trade_id,
                symbol,
                price,
                qty,
                side_name(trade.aggressor_side),
                trade.maker_order_id,
                trade.taker_order_id,
                seq,
                ts_ns,
            )
        )
        candles = self.candles.get(symbol)
        if candles is None:
            candles = self.candles[symbol] = Candles()
        candles.add(ts_ns, price, qty)

    def ledger(self, seq: int, changes: Changes, balances_from: int, positions_from: int) -> None:
        """The balances and positions `changes` gained from command `seq` (after the given
        indexes), keyed so the batch's last value wins."""
        balances = changes.balances
        for index in range(balances_from, len(balances)):
            event = balances[index]
            account_id, asset = event.account_id, event.asset
            # schema.balances
            self.balances[(account_id, asset)] = (
                account_id,
                asset,
                event.available,
                event.held,
                seq,
            )
        positions = changes.positions
        for index in range(positions_from, len(positions)):
            position = positions[index]
            account_id, symbol = position.account_id, position.symbol
            # schema.positions
            self.positions[(account_id, symbol)] = (
                account_id,
                symbol,
                position.net_lots,
                position.cost_basis,
                position.realized_pnl,
                position.fees_paid,
                seq,
            )


class Projector:
    """Writes batches of sequenced commands and their events into the read model. Use from
    one thread at a time (the projector thread, or catch-up before it starts)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._tracker: OrderTracker | None = None
        self.last_seq = 0  # as of the last batch this object committed (or read)

    # ------------------------------------------------------------------ state

    def read_last_seq(self) -> int:
        with self.engine.connect() as connection:
            self.last_seq = _last_seq(connection)
        return self.last_seq

    def reset(self) -> None:
        """Forget the in-memory order tracker (after the tables changed under it)."""
        self._tracker = None

    def _load_tracker(self, connection: Connection) -> OrderTracker:
        tracker = OrderTracker()
        rows = connection.execute(
            select(schema.orders).where(schema.orders.c.status.in_(OPEN_STATUS_VALUES))
        ).mappings()
        tracker.load(record_of_row(row) for row in rows)
        return tracker

    # ------------------------------------------------------------------ batches

    def apply_batch(
        self, commands: Sequence[SequencedCommand], events: Sequence[list[Event]]
    ) -> None:
        if len(commands) != len(events):
            raise ValueError(f"{len(commands)} commands but {len(events)} event lists")
        if not commands:
            return
        try:
            with self.engine.begin() as connection:
                last = _last_seq(connection, for_update=True)
                if commands[-1].seq <= last:
                    self.last_seq = last
                    return
                tracker = self._tracker or self._load_tracker(connection)
                self._tracker = tracker
                changes = Changes()
                rows = _Rows()
                expected = last + 1
                for command, produced in zip(commands, events, strict=True):
                    seq = command.seq
                    if seq <= last:
                        continue
                    if seq != expected:
                        raise ProjectionGapError(
                            f"the read model is at seq {expected - 1}; seq {seq} would leave "
                            "a gap (replay the missing seqs from the journal: catch_up)"
                        )
                    expected += 1
                    balances_from = len(changes.balances)
                    positions_from = len(changes.positions)
                    tracker.apply(seq, command.ts_ns, produced, into=changes)
                    rows.ledger(seq, changes, balances_from, positions_from)
                    rows.command(seq, produced)
                _write(connection, changes, rows)
                connection.exec_driver_sql(
                    _state_sql(connection.dialect)[1], (expected - 1, STATE_ROW_ID)
                )
        except BaseException:
            self._tracker = None  # it may have run ahead of what was committed
            raise
        self.last_seq = expected - 1


_STATE_SQL: dict[str, tuple[str, str, str]] = {}


def _state_sql(dialect: Dialect) -> tuple[str, str, str]:
    """`projector_state`'s statements: select last_seq, update it, select it for update."""
    sql = _STATE_SQL.get(dialect.name)
    if sql is None:
        mark = placeholder(dialect)
        table = dialect.identifier_preparer.format_table(schema.projector_state)
        select_sql = f"SELECT last_seq FROM {table} WHERE id = {mark}"
        # A second projector on one database waits at the FOR UPDATE (SQLite: at BEGIN
        # IMMEDIATE, the writer engine's lock).
        locking = select_sql + " FOR UPDATE" if dialect.name == "postgresql" else select_sql
        update_sql = f"UPDATE {table} SET last_seq = {mark} WHERE id = {mark}"
        sql = _STATE_SQL[dialect.name] = (select_sql, update_sql, locking)
    return sql


def _last_seq(connection: Connection, *, for_update: bool = False) -> int:
    statements = _state_sql(connection.dialect)
    query = statements[2] if for_update else statements[0]
    last = connection.exec_driver_sql(query, (STATE_ROW_ID,)).scalar()
    if last is None:
        insert_new(connection, schema.projector_state, [{"id": STATE_ROW_ID, "last_seq": 0}])
        return 0
    return int(last)


def _write(connection: Connection, changes: Changes, rows: _Rows) -> None:
    if rows.instruments:
        instruments = tuples_of(schema.instruments, list(rows.instruments.values()))
        upsert_rows(connection, schema.instruments, instruments, ("symbol",))
    if rows.market_status:
        table = schema.instruments
        connection.execute(
            update(table)
            .where(table.c.symbol == bindparam("symbol_key"))
            .values(status=bindparam("status"), mode=bindparam("mode"), seq=bindparam("seq")),
            list(rows.market_status.values()),
        )
    if rows.accounts:
        accounts = tuples_of(schema.accounts, list(rows.accounts.values()))
        upsert_rows(connection, schema.accounts, accounts, ("account_id",))
    if rows.account_updates:
        table = schema.accounts
        connection.execute(
            update(table)
            .where(table.c.account_id == bindparam("account_key"))
            .values(
                fee_tier=bindparam("fee_tier"),
                risk_profile=bindparam("risk_profile"),
                updated_seq=bindparam("updated_seq"),
            ),
            list(rows.account_updates.values()),
        )
    upsert_rows(
        connection, schema.orders, [tuple_of_record(r) for r in changes.orders], ("order_id",)
    )
    insert_new_rows(connection, schema.fills, [tuple_of_fill(f) for f in changes.fills])
    insert_new_rows(connection, schema.trades, rows.trades)
    insert_new_rows(connection, schema.ledger_postings, _posting_rows(changes))
    upsert_rows(connection, schema.balances, list(rows.balances.values()), ("account_id", "asset"))
    upsert_rows(
        connection, schema.positions, list(rows.positions.values()), ("account_id", "symbol")
    )
    _write_candles(connection, rows.candles)
    for table, keyed, keys in (
        (schema.fee_tiers, rows.fee_tiers, ("name",)),
        (schema.risk_profiles, rows.risk_profiles, ("name",)),
        (schema.kill_switches, rows.kill_switches, ("scope",)),
    ):
        if keyed:
            upsert_rows(connection, table, tuples_of(table, list(keyed.values())), keys)


def _posting_rows(changes: Changes) -> list[tuple[Any, ...]]:
    result: list[tuple[Any, ...]] = []
    append = result.append
    previous_seq = -1
    index = 0
    for seq, ts_ns, posting in changes.postings:
        index = index + 1 if seq == previous_seq else 0
        previous_seq = seq
        append(
            (  # schema.ledger_postings
                seq,
                index,
                ts_ns,
                posting.debit_account,
                posting.debit_bucket,
                posting.credit_account,
                posting.credit_bucket,
                posting.asset,
                posting.amount,
                posting.reason,
                posting.trade_id,
            )
        )
    return result


def candle_merge(dialect: Dialect) -> dict[str, str]:
    """A candle already begun by an earlier batch keeps its open and merges the rest."""
    table = schema.candles

    def old(name: str) -> str:
        return column_sql(dialect, table, name)

    def new(name: str) -> str:
        return excluded_sql(dialect, name)

    return {
        "high_ticks": greatest_sql(dialect, old("high_ticks"), new("high_ticks")),
        "low_ticks": least_sql(dialect, old("low_ticks"), new("low_ticks")),
        "close_ticks": new("close_ticks"),
        "volume_lots": f"{old('volume_lots')} + {new('volume_lots')}",
        "notional": f"{old('notional')} + {new('notional')}",
        "trade_count": f"{old('trade_count')} + {new('trade_count')}",
    }


CANDLE_KEYS: Final = ("symbol", "interval", "start_ns")


def _write_candles(connection: Connection, candles: dict[str, Candles]) -> None:
    if not candles:
        return
    # schema.candles: the key, then open, high, low, close, volume, notional, trade count
    rows = [
        (
            symbol,
            interval,
            c.start_ns,
            c.open,
            c.high,
            c.low,
            c.close,
            c.volume,
            c.notional,
            c.trades,
        )
        for symbol, held in candles.items()
        for index, interval in enumerate(INTERVAL_NAMES)
        for c in held.all(index)
    ]
    upsert_rows(connection, schema.candles, rows, CANDLE_KEYS, candle_merge)


# ---------------------------------------------------------------------- catch-up and rebuild


def _accounts_state() -> VenueState:
    return VenueState(accounts=True)


def catch_up(
    projector: Projector,
    journal_dir: Path,
    to_seq: int | None = None,
    *,
    chunk_commands: int = CATCH_UP_CHUNK_COMMANDS,
    progress: ProgressCallback | None = None,
    on_chunk: Callable[[int], None] | None = None,
    initial_state: Callable[[], VenueState] = _accounts_state,
) -> int:
    """Project the journal's commands after the read model's `last_seq` (up to `to_seq`,
    default the journal's end), replaying read-only from the newest snapshot at or below
    `last_seq`, in chunks of `chunk_commands`. Returns the seq reached.

    `initial_state` is the state at seq 0, used when no snapshot at or below `last_seq` is
    left (the genesis snapshot is pruned once `snapshots_keep` newer ones exist, but with
    segments kept the whole journal can still be replayed from it): the server's venue, with
    accounts. The journal's snapshot marks catch a wrong one."""
    last = projector.read_last_seq()
    if to_seq is not None and last >= to_seq:
        return last
    store = SnapshotStore(journal_dir)
    # A snapshot beyond last_seq would hide the commands the read model still needs.
    state, base, _skipped = load_base(store, at_most_seq=last, initial_state=initial_state)
    base_seq = base.seq if base is not None else 0
    commands: list[SequencedCommand] = []
    events: list[list[Event]] = []

    def flush() -> None:
        projector.apply_batch(commands, events)
        if on_chunk is not None:
            on_chunk(commands[-1].seq)
        commands.clear()
        events.clear()

    def observe(command: SequencedCommand, produced: list[Event]) -> None:
        if command.seq <= last:
            return
        commands.append(command)
        events.append(produced)
        if len(commands) >= chunk_commands:
            flush()

    replay_into(state, JournalReader(journal_dir, progress), base_seq, to_seq, observe=observe)
    if commands:
        flush()
    if to_seq is not None and projector.last_seq < to_seq:
        raise ProjectionGapError(f"the journal ends at seq {projector.last_seq}, before {to_seq}")
    return projector.last_seq


def clear_projections(engine: Engine) -> None:
    """Empty every projection table (never the identity tables) and reset `last_seq` to 0."""
    with engine.begin() as connection:
        for table in schema.PROJECTION_TABLES:
            connection.execute(delete(table))
        insert_new(connection, schema.projector_state, [{"id": STATE_ROW_ID, "last_seq": 0}])


def rebuild(
    projector: Projector,
    journal_dir: Path,
    *,
    progress: ProgressCallback | None = None,
    on_chunk: Callable[[int], None] | None = None,
    initial_state: Callable[[], VenueState] = _accounts_state,
) -> int:
    """Clear the projections and project the whole journal again. Returns the seq reached."""
    clear_projections(projector.engine)
    projector.reset()
    return catch_up(
        projector,
        journal_dir,
        progress=progress,
        on_chunk=on_chunk,
        initial_state=initial_state,
    )


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: int(
                connection.execute(select(func.count()).select_from(table)).scalar_one()
            )
            for table in (*schema.PROJECTION_TABLES, *schema.IDENTITY_TABLES)
        }


# ---------------------------------------------------------------------- the thread


COALESCE_COMMANDS_MAX: Final = 20_000


class ProjectorThread:
    """Runs a Projector on its own thread, fed batches by the sequencer (`submit` is a
    sequencer listener: `(commands, events)`).

    The queue holds at most `queue_batches_max` batches. `submit` never blocks: with the queue
    full it drops the batch (counted in `dropped`, the first missing seq in
    `first_dropped_seq`) and every batch after it until the thread has caught up from the
    journal in `journal_dir` up to the newest seq submitted so far. Without a journal
    directory, a drop stops the thread with `ProjectionGapError` in `failure`.

    A batch that fails is retried `retries_max` times after a growing pause, then the thread
    stops with the error in `failure` (the venue keeps running: the read model is a
    projection, rebuildable from the journal)."""

    def __init__(
        self,
        projector: Projector,
        queue_batches_max: int,
        *,
        journal_dir: Path | None = None,
        retries_max: int = 3,
        retry_pause_s: float = 0.2,
    ) -> None:
        if queue_batches_max < 1:
            raise ValueError("queue_batches_max must be at least 1")
        self.projector = projector
        self.queue_batches_max = queue_batches_max
        self.journal_dir = journal_dir
        self.retries_max = retries_max
        self.retry_pause_s = retry_pause_s
        self.dropped = 0
        self.first_dropped_seq: int | None = None
        self.failure: BaseException | None = None
        self._queue: deque[tuple[Sequence[SequencedCommand], Sequence[list[Event]]]] = deque()
        self._cond = threading.Condition()
        self._submitted_seq = 0
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="sql-projector", daemon=True)

    @property
    def last_seq(self) -> int:
        return self.projector.last_seq

    @property
    def lag_commands(self) -> int:
        """How far the read model is behind the newest submitted seq."""
        return max(0, self._submitted_seq - self.projector.last_seq)

    def start(self) -> ProjectorThread:
        self.projector.read_last_seq()
        self._thread.start()
        return self

    def submit(self, commands: Sequence[SequencedCommand], events: Sequence[list[Event]]) -> None:
        if not commands:
            return
        with self._cond:
            self._submitted_seq = max(self._submitted_seq, commands[-1].seq)
            if self._closing or self.failure is not None:
                return
            if self.first_dropped_seq is not None or len(self._queue) >= self.queue_batches_max:
                if self.first_dropped_seq is None:
                    self.first_dropped_seq = commands[0].seq
                self.dropped += 1
                self._cond.notify()
                return
            self._queue.append((commands, events))
            self._cond.notify()

    def close(self, timeout: float | None = None) -> None:
        """Apply what is queued (and catch up a pending gap), then stop."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once everything submitted is projected (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.failure is not None:
                return False
            if self.projector.last_seq >= self._submitted_seq:
                return True
            time.sleep(0.005)
        return False

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and self.first_dropped_seq is None and not self._closing:
                    self._cond.wait()
                gap = self.first_dropped_seq is not None
                if gap and (self.journal_dir is not None or not self._queue):
                    # Everything up to the newest submitted seq comes from the journal; the
                    # queued batches are inside that range.
                    to_seq = self._submitted_seq
                    self._queue.clear()
                    self.first_dropped_seq = None
                    job: Callable[[], None] = partial(self._catch_up, to_seq)
                elif self._queue:
                    # Everything queued goes in one transaction (one commit, one fsync under
                    # SQLite): the busier the venue, the bigger the projector's batches.
                    commands, events = self._take_queued()
                    job = partial(self._apply, commands, events)
                else:
                    return  # closing and drained
            if not self._attempt(job):
                return

    def _take_queued(self) -> tuple[list[SequencedCommand], list[list[Event]]]:
        """Pop queued batches (at least one, then up to `COALESCE_COMMANDS_MAX` commands)."""
        commands: list[SequencedCommand] = []
        events: list[list[Event]] = []
        queue = self._queue
        while queue and (not commands or len(commands) + len(queue[0][0]) <= COALESCE_COMMANDS_MAX):
            batch_commands, batch_events = queue.popleft()
            commands.extend(batch_commands)
            events.extend(batch_events)
        return commands, events

    def _apply(self, commands: Sequence[SequencedCommand], events: Sequence[list[Event]]) -> None:
        try:
            self.projector.apply_batch(commands, events)
        except ProjectionGapError:
            # The read model was behind when this thread started: fill in from the journal
            # (which includes this batch).
            self._catch_up(commands[-1].seq)

    def _catch_up(self, to_seq: int) -> None:
        if self.journal_dir is None:
            raise ProjectionGapError(
                f"batches were dropped (read model at seq {self.projector.last_seq}, venue at "
                f"{to_seq}) and no journal directory was given to catch up from"
            )
        log.warning(
            "SQL projector queue overflowed: catching up seqs %d..%d from the journal",
            self.projector.last_seq + 1,
            to_seq,
        )
        catch_up(self.projector, self.journal_dir, to_seq)

    def _attempt(self, job: Callable[[], None]) -> bool:
        for attempt in range(self.retries_max + 1):
            try:
                job()
                return True
            except ProjectionGapError as exc:
                return self._fail(exc)  # retrying cannot fill a gap
            except Exception as exc:  # the database may be back after a pause; then give up
                if attempt == self.retries_max:
                    return self._fail(exc)
                log.exception("SQL projector batch failed (attempt %d), retrying", attempt + 1)
            time.sleep(self.retry_pause_s * (attempt + 1))
        return False

    def _fail(self, error: BaseException) -> bool:
        log.error("SQL projector stopped: %s", error)
        with self._cond:
            self.failure = error
            self._queue.clear()
        return False
