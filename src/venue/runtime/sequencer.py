"""The sequencer: the single writer of the venue state (DESIGN.md §1, §8, §12).

Three threads, one job each:

- the *sequencer thread* owns the `VenueState`. It drains the inbox in batches of at most
  `batch_size_max` commands, adds due timer commands (`Tick` every `tick_interval_ns` when
  an expiry or a periodic auction is due, `TakeSnapshot`), stamps seq
  (1, 2, 3, ... no gaps) and `ts_ns` (the wall clock, clamped so it never decreases: one
  stamp per batch), hands the batch to the journal thread, then applies it with
  `core.apply` while the journal writes it. Once the journal reports the batch durable, it
  delivers, in seq order: first to the listeners (projections), then the replies (see
  "Delivery" below);
- the *journal thread* takes everything queued since its last round (a group commit of one
  or more batches), writes it with one `write` and makes it durable with one fsync, then
  publishes the highest durable seq;
- the *snapshot thread* saves the state images taken at `TakeSnapshot`s, once durable.

Invariants:
- Nothing leaves the venue (listener call, reply) before the batch is durable: delivery
  happens only for batches whose last seq is at most the durable seq.
- The inbox holds at most `inbox_capacity` commands; a submission that does not fit raises
  `OverloadedError` at once. At most `inflight_batches_max` batches are applied-but-not-durable;
  beyond that the sequencer stops draining the inbox until the journal catches up. Every
  queue is bounded, so memory is too.
- A failed journal write or fsync is final: the journal thread stops, the sequencer delivers
  what was durable before the failure, answers every other caller `NotCommittedError`, stops
  accepting, and calls `on_fatal` (the composition root exits the process non-zero). It
  never retries an fsync. An exception from `core.apply` (a bug) is handled the same way.
- A snapshot image is taken on the sequencer thread right after its `TakeSnapshot` is
  applied; the file is written only after the journal holds that seq durably. The mark
  (seq, hash) is journaled with the next write.

Delivery, one step per durable batch and event loop:
- `listeners` run on the sequencer thread (a projection with its own queue: the SQL
  projector). `loop_listeners` are (event loop, listener) pairs for projections that live on
  an event loop (the live view, market data): for each such loop, ONE `call_soon_threadsafe`
  per batch runs that loop's listeners and then resolves that loop's waiting replies, in that
  order by construction, so a client always reads its own writes. A listener that raises is
  logged and counted (`SequencerStats.listener_failures`), and the replies still go out.

Known limitations:
- A command that makes `core.apply` raise is journaled before it is applied, so the restart
  raises again while replaying it (recovery reports the seq and stops): fixing the core bug
  is the way out.
- Replies to thread callers use `concurrent.futures.Future`, which costs a few microseconds
  each; `submit_many` (one future and one `Replies` per chunk) and `submit_async` are the
  cheap paths.
- The per-command work here (stamping, the journal's encoding, delivery) costs about 2 us of
  CPU under the GIL, beside `apply` itself: see `venue bench journal`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Final, TypeAlias

from venue.core import VenueState, apply
from venue.domain.commands import Command, SequencedCommand, TakeSnapshot, Tick
from venue.domain.events import Event, SnapshotMarked
from venue.runtime.clock import Clock, SystemClock
from venue.runtime.ports import JournalPort, SnapshotPoint, SnapshotPort
from venue.runtime.replies import (
    AsyncOutcome,
    NotCommittedError,
    OverloadedError,
    Replies,
    Reply,
    SequencerStoppedError,
    settle_async,
)

log = logging.getLogger(__name__)

# Inbox entry kinds: who waits for the reply, and how it is told.
_INTERNAL: Final = 0  # a timer command: nobody waits
_THREAD: Final = 1  # one command, a concurrent.futures.Future[Reply]
_ASYNC: Final = 2  # one command, (loop, asyncio.Future[Reply])
_MANY: Final = 3  # a list of commands, a concurrent.futures.Future[Replies]

# (kind, command or list of commands, waiter): typed loosely, the kind says what is inside
Entry: TypeAlias = tuple[int, Any, Any]
Listener = Callable[[Sequence[SequencedCommand], Sequence[list[Event]]], None]
"""Called on the sequencer thread with each durable batch, in seq order, before its replies."""


@dataclass(frozen=True)
class SequencerConfig:
    inbox_capacity: int = 100_000  # commands waiting to be sequenced
    batch_size_max: int = 4096  # commands per batch (one journal write at most)
    inflight_batches_max: int = 64  # batches applied but not yet durable
    tick_interval_ns: int = 0  # feed a Tick this often; 0: never
    snapshot_every_commands: int = 0  # TakeSnapshot after this many commands; 0: never
    snapshot_every_ns: int = 0  # TakeSnapshot this often (if anything changed); 0: never

    def __post_init__(self) -> None:
        for name in ("inbox_capacity", "batch_size_max", "inflight_batches_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("tick_interval_ns", "snapshot_every_commands", "snapshot_every_ns"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


@dataclass
class SequencerStats:
    """Counters, updated by the runtime's threads; read them after `close()` for exact
    figures (they are plain ints, so a read while running is merely a moment's view)."""

    commands: int = 0
    batches: int = 0
    batch_sizes: Counter[int] = field(default_factory=Counter)  # commands per batch
    commit_groups: int = 0  # journal rounds: one write + one fsync each
    commit_sizes: Counter[int] = field(default_factory=Counter)  # commands per round
    fsyncs: int = 0
    ticks: int = 0
    snapshots_taken: int = 0
    snapshots_saved: int = 0
    snapshots_dropped: int = 0  # a newer one arrived before the older was written
    snapshot_failures: int = 0
    listener_failures: int = 0


def median_of(counts: Counter[int]) -> float:
    """Median of a distribution given as value -> occurrences (0.0 if empty)."""
    total = sum(counts.values())
    if total == 0:
        return 0.0
    wanted = sorted({(total - 1) // 2, total // 2})
    found: list[int] = []
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        while wanted and wanted[0] < seen:
            found.append(value)
            wanted.pop(0)
    return sum(found) / len(found)


class _Batch:
    """One batch: its commands (timers first, then the inbox entries' commands in order, then
    a TakeSnapshot if due), the entries waiting for replies and the events of each command."""

    __slots__ = ("commands", "entries", "entries_start", "events", "last_seq", "snapshot")

    def __init__(
        self,
        commands: list[SequencedCommand],
        entries: list[Entry],
        entries_start: int,
        events: list[list[Event]],
        snapshot: tuple[int, str, bytes] | None,
    ) -> None:
        self.commands = commands
        self.entries = entries
        self.entries_start = entries_start  # index of the first entry's command
        self.events = events
        self.last_seq = commands[-1].seq
        self.snapshot = snapshot


class Sequencer:
    """Owns a `VenueState` on its own thread; see the module docstring. Use as a context
    manager, or call `start()` and `close()`."""

    def __init__(
        self,
        state: VenueState,
        journal: JournalPort,
        *,
        snapshots: SnapshotPort | None = None,
        config: SequencerConfig | None = None,
        clock: Clock | None = None,
        listeners: Sequence[Listener] = (),
        loop_listeners: Sequence[tuple[asyncio.AbstractEventLoop, Listener]] = (),
        on_fatal: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.config = config or SequencerConfig()
        self.stats = SequencerStats()
        self._state = state
        self._journal = journal
        self._snapshots = snapshots
        self._clock: Clock = clock or SystemClock()
        self._listeners = list(listeners)
        self._loop_listeners: dict[asyncio.AbstractEventLoop, list[Listener]] = {}
        for loop, listener in loop_listeners:
            self._loop_listeners.setdefault(loop, []).append(listener)
        self._on_fatal = on_fatal
        self._next_seq = state.last_seq + 1
        self._last_ts_ns = state.last_ts_ns
        # Guarded by _lock: the inbox, the sleep/wake handshake, durable seq, failure, stop.
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._sleeping = False
        self._inbox: deque[Entry] = deque()
        self._inbox_count = 0
        self._accepting = False
        self._stopping = False
        self._durable_seq = state.last_seq
        self._failure: BaseException | None = None
        # The journal thread's queue: (commands, marks) per batch.
        self._journal_cond = threading.Condition()
        self._journal_queue: deque[tuple[list[SequencedCommand], list[tuple[int, str]]]] = deque()
        self._journal_closing = False
        # The snapshot thread's queue: at most one image waits.
        self._snapshot_cond = threading.Condition()
        self._snapshot_pending: tuple[int, str, bytes] | None = None
        self._snapshot_closing = False
        self._in_hand: list[Entry] = []  # taken from the inbox, not yet in a batch
        self._threads: list[threading.Thread] = []
        self._done = threading.Event()
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Sequencer:
        if self._started:
            raise RuntimeError("a sequencer starts once")
        self._started = True
        self._accepting = True
        targets = [("venue-sequencer", self._run), ("venue-journal", self._journal_loop)]
        if self._snapshots is not None:
            targets.append(("venue-snapshots", self._snapshot_loop))
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def close(self, timeout: float | None = None) -> None:
        """Stop accepting, finish everything already accepted (sequenced, durable, replied),
        write the pending snapshot, close the journal. Idempotent."""
        if not self._started:
            self._started = True
            self._done.set()
            self._journal.close()
            return
        with self._lock:
            self._accepting = False
            self._stopping = True
            self._wake_locked()
        current = threading.current_thread()  # close() may be called from on_fatal
        for thread in self._threads:
            if thread is not current:
                thread.join(timeout)

    def __enter__(self) -> Sequencer:
        return self.start() if not self._started else self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def failure(self) -> BaseException | None:
        """Why the sequencer stopped on its own, or None."""
        return self._failure

    @property
    def state(self) -> VenueState:
        """The live state. Only safe to read once the sequencer is closed."""
        return self._state

    def wait_stopped(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def poke(self) -> None:
        """Make the sequencer look at its timers now (tests with a FakeClock)."""
        with self._lock:
            self._wake_locked()

    # ------------------------------------------------------------------ submission

    def submit(self, command: Command) -> Future[Reply]:
        """Submit from any thread; the future resolves once the command is durable and
        applied. Raises OverloadedError (inbox full) or SequencerStoppedError at once."""
        future: Future[Reply] = Future()
        self._put((_THREAD, command, future), 1)
        return future

    def submit_many(self, commands: Sequence[Command]) -> Future[Replies]:
        """Submit up to `batch_size_max` commands in one go: they are sequenced together, in
        order, with consecutive seqs; one future for all the replies (`Replies`)."""
        if len(commands) > self.config.batch_size_max:
            raise ValueError(f"at most {self.config.batch_size_max} commands at once")
        future: Future[Replies] = Future()
        if not commands:
            future.set_result(Replies(self._next_seq, 0, []))
            return future
        self._put((_MANY, list(commands), future), len(commands))
        return future

    def submit_async(self, command: Command) -> asyncio.Future[Reply]:
        """Submit from a coroutine; await the result. Replies reach the event loop once per
        batch (one `call_soon_threadsafe` per loop per batch)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        self._put((_ASYNC, command, (loop, future)), 1)
        return future

    async def execute(self, command: Command) -> Reply:
        return await self.submit_async(command)

    def _put(self, entry: Entry, count: int) -> None:
        with self._lock:
            if not self._accepting:
                reason = self._failure or "the sequencer is not running"
                raise SequencerStoppedError(f"not accepted: {reason}")
            if self._inbox_count + count > self.config.inbox_capacity:
                raise OverloadedError(f"inbox full ({self.config.inbox_capacity} commands)")
            self._inbox.append(entry)
            self._inbox_count += count
            if self._sleeping:
                self._sleeping = False
                self._wake.set()

    def _wake_locked(self) -> None:
        if self._sleeping:
            self._sleeping = False
        self._wake.set()

    # ------------------------------------------------------------------ sequencer thread

    def _run(self) -> None:
        inflight: deque[_Batch] = deque()
        try:
            self._loop(inflight)
        except BaseException as exc:  # a bug in the core or here: stop, never guess
            log.critical("sequencer stopped by %s: %s", type(exc).__name__, exc, exc_info=True)
            with self._lock:
                if self._failure is None:
                    self._failure = exc
        failure = self._failure
        if failure is not None:
            self._fail_everything(inflight, failure)
        self._shutdown_workers(flush=failure is None)
        self._done.set()
        if failure is not None and self._on_fatal is not None:
            self._on_fatal(failure)

    def _loop(self, inflight: deque[_Batch]) -> None:
        config = self.config
        clock = self._clock
        now = clock.monotonic_ns()
        next_tick = now + config.tick_interval_ns if config.tick_interval_ns else None
        next_snapshot = now + config.snapshot_every_ns if config.snapshot_every_ns else None
        since_snapshot = 0
        marks: list[tuple[int, str]] = []
        while True:
            if self._failure is not None:
                return
            durable = self._durable_seq
            while inflight and inflight[0].last_seq <= durable:
                self._deliver(inflight.popleft())
            entries: list[Entry] = []
            count = 0
            room = len(inflight) < config.inflight_batches_max
            if room:  # otherwise wait for the journal: timers too, or a stall grows memory
                entries, count = self._take(config.batch_size_max)
            now = clock.monotonic_ns()
            timers: list[Command] = []
            if room and next_tick is not None and now >= next_tick:
                next_tick = now + config.tick_interval_ns
                if self._tick_due():
                    timers.append(Tick())
                    self.stats.ticks += 1
            since_snapshot += count + len(timers)
            snapshot_due = room and (
                (
                    config.snapshot_every_commands
                    and since_snapshot >= config.snapshot_every_commands
                )
                or (next_snapshot is not None and now >= next_snapshot and since_snapshot > 0)
            )
            if snapshot_due:
                since_snapshot = 0
                if next_snapshot is not None:
                    next_snapshot = now + config.snapshot_every_ns
            if entries or timers or snapshot_due:
                self._in_hand = entries  # answered NotCommitted if sequencing raises
                batch = self._sequence(entries, timers, bool(snapshot_due), marks)
                inflight.append(batch)
                self._in_hand = []
                continue
            if self._stopping and not inflight:
                with self._lock:
                    if not self._inbox:
                        break
                continue
            self._sleep(inflight, self._timeout_s(now, next_tick, next_snapshot))
        if marks:
            self._enqueue_journal([], marks)

    def _tick_due(self) -> bool:
        """Would a Tick stamped now change anything? (A Tick that would not is left out: an
        idle venue writes nothing, and seqs are not spent on empty Ticks.)"""
        due = self._state.next_due_ns()
        return due is not None and due <= max(self._clock.wall_ns(), self._last_ts_ns)

    def _take(self, limit: int) -> tuple[list[Entry], int]:
        entries: list[Entry] = []
        count = 0
        with self._lock:
            inbox = self._inbox
            while inbox:
                entry = inbox[0]
                size = len(entry[1]) if entry[0] == _MANY else 1
                if count + size > limit and count:
                    break
                inbox.popleft()
                entries.append(entry)
                count += size
            self._inbox_count -= count
        return entries, count

    def _timeout_s(self, now: int, *deadlines: int | None) -> float | None:
        due = [deadline for deadline in deadlines if deadline is not None]
        if not due:
            return None
        return max(0, min(due) - now) / 1e9

    def _sleep(self, inflight: deque[_Batch], timeout_s: float | None) -> None:
        with self._lock:
            inbox_ready = self._inbox and len(inflight) < self.config.inflight_batches_max
            durable_ready = inflight and inflight[0].last_seq <= self._durable_seq
            if inbox_ready or durable_ready or self._failure is not None:
                return
            if self._stopping and not inflight:
                return
            self._sleeping = True
            self._wake.clear()
        self._wake.wait(timeout_s)
        with self._lock:
            self._sleeping = False

    def _sequence(
        self,
        entries: list[Entry],
        timers: list[Command],
        snapshot_due: bool,
        marks: list[tuple[int, str]],
    ) -> _Batch:
        """Stamp, hand to the journal, apply: one batch."""
        ts_ns = self._clock.wall_ns()
        ts_ns = max(ts_ns, self._last_ts_ns)  # the wall clock stepped back: time stands still
        self._last_ts_ns = ts_ns
        seq = self._next_seq
        commands: list[SequencedCommand] = []
        append = commands.append
        for command in timers:
            append(SequencedCommand(seq, ts_ns, command))
            seq += 1
        for kind, payload, _ in entries:
            if kind == _MANY:  # C-level loops: this is per command on the hot path
                count = len(payload)
                commands.extend(
                    map(SequencedCommand, range(seq, seq + count), repeat(ts_ns, count), payload)
                )
                seq += count
            else:
                append(SequencedCommand(seq, ts_ns, payload))
                seq += 1
        if snapshot_due:
            append(SequencedCommand(seq, ts_ns, TakeSnapshot()))
            seq += 1
        self._next_seq = seq
        self._enqueue_journal(commands, marks[:])
        marks.clear()
        state = self._state
        events = list(map(apply, repeat(state, len(commands)), commands))
        snapshot = None
        if snapshot_due:
            last = events[-1]
            state_hash = next(e.state_hash for e in last if type(e) is SnapshotMarked)
            snapshot = (commands[-1].seq, state_hash, state.snapshot())
            marks.append(SnapshotPoint(commands[-1].seq, state_hash))
            self.stats.snapshots_taken += 1
        self.stats.commands += len(commands)
        self.stats.batches += 1
        self.stats.batch_sizes[len(commands)] += 1
        return _Batch(commands, entries, len(timers), events, snapshot)

    def _deliver(self, batch: _Batch) -> None:
        """The batch is durable: projections first, then every waiter (asyncio waiters and
        the loop's projections get one call_soon_threadsafe per loop: "Delivery" above)."""
        commands = batch.commands
        events = batch.events
        self._run_listeners(self._listeners, commands, events)
        index = batch.entries_start
        by_loop: dict[asyncio.AbstractEventLoop, list[AsyncOutcome]] = {}
        for kind, payload, waiter in batch.entries:
            if kind == _THREAD:
                command = commands[index]
                _resolve(waiter, Reply(command.seq, command.ts_ns, events[index]))
                index += 1
            elif kind == _ASYNC:
                loop, future = waiter
                command = commands[index]
                reply = Reply(command.seq, command.ts_ns, events[index])
                by_loop.setdefault(loop, []).append((future, reply))
                index += 1
            elif kind == _MANY:
                size = len(payload)
                first = commands[index]
                _resolve(waiter, Replies(first.seq, first.ts_ns, events[index : index + size]))
                index += size
        for loop, listeners in self._loop_listeners.items():
            _call_in_loop(
                loop, self._deliver_on_loop, listeners, commands, events, by_loop.pop(loop, [])
            )
        for loop, outcomes in by_loop.items():
            _call_in_loop(loop, settle_async, outcomes)
        if batch.snapshot is not None:
            self._enqueue_snapshot(batch.snapshot)

    def _run_listeners(
        self,
        listeners: Sequence[Listener],
        commands: Sequence[SequencedCommand],
        events: Sequence[list[Event]],
    ) -> None:
        for listener in listeners:
            try:
                listener(commands, events)
            except Exception:  # a projection's bug must not stop the venue; it is rebuildable
                self.stats.listener_failures += 1
                log.exception(
                    "listener %r failed on the batch ending at seq %d", listener, commands[-1].seq
                )

    def _deliver_on_loop(
        self,
        listeners: Sequence[Listener],
        commands: Sequence[SequencedCommand],
        events: Sequence[list[Event]],
        outcomes: list[AsyncOutcome],
    ) -> None:
        """On the event loop: the loop's projections, then its replies (one step)."""
        self._run_listeners(listeners, commands, events)
        if outcomes:
            settle_async(outcomes)

    def _fail_everything(self, inflight: deque[_Batch], failure: BaseException) -> None:
        """After a failure: deliver what was durable, answer everyone else NotCommittedError."""
        with self._lock:
            self._accepting = False
            pending = list(self._inbox)
            self._inbox.clear()
            self._inbox_count = 0
            durable = self._durable_seq
        while inflight and inflight[0].last_seq <= durable:
            self._deliver(inflight.popleft())
        message = f"not committed: the venue stopped ({type(failure).__name__}: {failure})"
        entries = [entry for batch in inflight for entry in batch.entries]
        entries += self._in_hand + pending
        inflight.clear()
        self._in_hand = []
        by_loop: dict[asyncio.AbstractEventLoop, list[AsyncOutcome]] = {}
        for kind, _, waiter in entries:
            if kind == _ASYNC:
                loop, future = waiter
                by_loop.setdefault(loop, []).append((future, NotCommittedError(message)))
            elif kind != _INTERNAL:
                _fail(waiter, NotCommittedError(message))
        for loop, outcomes in by_loop.items():
            _call_in_loop(loop, settle_async, outcomes)

    # ------------------------------------------------------------------ journal thread

    def _enqueue_journal(
        self, commands: list[SequencedCommand], marks: list[tuple[int, str]]
    ) -> None:
        with self._journal_cond:
            self._journal_queue.append((commands, marks))
            self._journal_cond.notify()

    def _journal_loop(self) -> None:
        journal = self._journal
        cond = self._journal_cond
        queue = self._journal_queue
        stats = self.stats
        while True:
            with cond:
                while not queue and not self._journal_closing:
                    cond.wait()
                if not queue:
                    return
                rounds = list(queue)
                queue.clear()
            commands: list[SequencedCommand] = []
            marks: list[tuple[int, str]] = []
            for batch_commands, batch_marks in rounds:
                commands.extend(batch_commands)
                marks.extend(batch_marks)
            try:
                journal.write(commands, marks)
                journal.sync()
            except BaseException as exc:  # disk full, I/O error: final, never retried
                log.critical("journal failed, acknowledgements stop: %s", exc)
                with self._lock:
                    if self._failure is None:
                        self._failure = exc
                    self._wake_locked()
                return
            stats.commit_groups += 1
            stats.commit_sizes[len(commands)] += 1
            if journal.fsync_enabled:
                stats.fsyncs += 1
            if commands:
                with self._lock:
                    self._durable_seq = commands[-1].seq
                    if self._sleeping:
                        self._sleeping = False
                        self._wake.set()

    # ------------------------------------------------------------------ snapshot thread

    def _enqueue_snapshot(self, snapshot: tuple[int, str, bytes]) -> None:
        if self._snapshots is None:
            return
        with self._snapshot_cond:
            if self._snapshot_pending is not None:
                self.stats.snapshots_dropped += 1
            self._snapshot_pending = snapshot
            self._snapshot_cond.notify()

    def _snapshot_loop(self) -> None:
        store = self._snapshots
        assert store is not None
        cond = self._snapshot_cond
        while True:
            with cond:
                while self._snapshot_pending is None and not self._snapshot_closing:
                    cond.wait()
                pending = self._snapshot_pending
                self._snapshot_pending = None
                if pending is None:
                    return
            seq, state_hash, image = pending
            try:
                store.save(seq, state_hash, image)
            except Exception:  # the journal stays the truth; the next snapshot may succeed
                self.stats.snapshot_failures += 1
                log.exception("snapshot at seq %d not saved", seq)
            else:
                self.stats.snapshots_saved += 1

    def _shutdown_workers(self, *, flush: bool) -> None:
        """Stop the journal thread (after writing what is queued, if `flush`) and the
        snapshot thread (after saving what is pending, if `flush`); close the journal."""
        with self._journal_cond:
            if not flush:
                self._journal_queue.clear()
            self._journal_closing = True
            self._journal_cond.notify()
        with self._snapshot_cond:
            if not flush:
                self._snapshot_pending = None
            self._snapshot_closing = True
            self._snapshot_cond.notify()
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join()
        try:
            self._journal.close()
        except OSError as exc:
            log.error("closing the journal: %s", exc)


def _resolve(future: Future[Any], value: object) -> None:
    if future.set_running_or_notify_cancel():
        future.set_result(value)


def _fail(future: Future[Any], error: BaseException) -> None:
    if future.set_running_or_notify_cancel():
        future.set_exception(error)


def _call_in_loop(
    loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any
) -> None:
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        log.debug("event loop closed; a delivery was dropped")
