"""The sequencer: seqs without gaps, time that never goes back, nothing out before durable."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future

import pytest
from runtime_support import MemoryJournal, RecordingSnapshots, order

from venue.core import VenueState
from venue.domain.commands import (
    AddInstrument,
    PlaceOrder,
    SequencedCommand,
    TakeSnapshot,
    Tick,
)
from venue.domain.events import Event, SnapshotMarked
from venue.domain.instrument import Instrument
from venue.domain.values import OrderType, Side, TimeInForce
from venue.runtime import (
    FakeClock,
    NotCommittedError,
    OverloadedError,
    Reply,
    Sequencer,
    SequencerConfig,
    SequencerStoppedError,
    median_of,
)

SECOND = 1_000_000_000


@pytest.fixture
def no_thread_leaks() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.name.startswith("venue")]
    assert not leaked


def test_seqs_start_after_the_state_and_have_no_gaps(no_thread_leaks: None) -> None:
    journal = MemoryJournal()
    with Sequencer(VenueState(), journal, config=SequencerConfig(batch_size_max=3)) as seq:
        futures = [seq.submit(order()) for _ in range(20)]
        replies = [future.result(5) for future in futures]
    assert [reply.seq for reply in replies] == list(range(1, 21))
    assert [c.seq for c in journal.durable] == list(range(1, 21))
    assert journal.closed


def test_stamped_time_never_decreases_even_if_the_wall_clock_steps_back() -> None:
    clock = FakeClock(wall_ns=5 * SECOND)
    journal = MemoryJournal()
    with Sequencer(VenueState(), journal, clock=clock) as seq:
        first = seq.submit(order()).result(5)
        clock.set_wall_ns(1 * SECOND)
        second = seq.submit(order()).result(5)
        clock.set_wall_ns(9 * SECOND)
        third = seq.submit(order()).result(5)
    assert (first.ts_ns, second.ts_ns, third.ts_ns) == (5 * SECOND, 5 * SECOND, 9 * SECOND)


def test_nothing_leaves_before_the_batch_is_durable(no_thread_leaks: None) -> None:
    gate = threading.Event()
    journal = MemoryJournal(gate=gate)
    delivered: list[int] = []

    def listener(commands: Sequence[SequencedCommand], events: Sequence[list[Event]]) -> None:
        delivered.extend(c.seq for c in commands)

    seq = Sequencer(VenueState(), journal, listeners=[listener]).start()
    future = seq.submit(order())
    assert journal.sync_started.wait(5)
    for _ in range(100):  # applying overlaps the fsync: the batch is applied before it ends
        if seq.stats.batches:
            break
        threading.Event().wait(0.01)
    assert seq.stats.batches == 1
    assert not future.done()
    assert delivered == []
    gate.set()
    assert future.result(5).seq == 1
    assert delivered == [1]
    seq.close()


def test_a_full_inbox_answers_overloaded_at_once() -> None:
    gate = threading.Event()
    journal = MemoryJournal(gate=gate)
    config = SequencerConfig(inbox_capacity=5, batch_size_max=2, inflight_batches_max=1)
    seq = Sequencer(VenueState(), journal, config=config).start()
    accepted: list[Future[Reply]] = []
    with pytest.raises(OverloadedError):
        for _ in range(100):
            accepted.append(seq.submit(order()))
    # at most: one batch in the journal, one being applied, the inbox full
    assert len(accepted) <= 5 + 2 * 2
    gate.set()
    assert [f.result(5).seq for f in accepted] == list(range(1, len(accepted) + 1))
    seq.close()


def test_submit_many_and_asyncio_callers_get_their_replies_in_order() -> None:
    journal = MemoryJournal()
    seq = Sequencer(VenueState(), journal, config=SequencerConfig(batch_size_max=8)).start()

    async def client() -> list[Reply]:
        return list(await asyncio.gather(*(seq.execute(order(i)) for i in range(1, 30))))

    many = seq.submit_many([order(i) for i in range(5)])
    async_replies = asyncio.run(client())
    many_replies = many.result(5)
    seq.close()
    assert [r.seq for r in many_replies] == list(range(1, 6))
    assert [r.seq for r in async_replies] == list(range(6, 35))
    assert all(r.events for r in async_replies)
    with pytest.raises(ValueError, match="at most 8"):
        seq.submit_many([order()] * 9)


def test_ticks_are_fed_at_the_configured_interval_once_something_is_due() -> None:
    """A GTD order expiring at wall + 250 ms, ticks every 100 ms: no Tick is journaled while
    nothing is due, one is at the first interval past the expiry, and it expires the order."""
    clock = FakeClock()
    journal = MemoryJournal()
    config = SequencerConfig(tick_interval_ns=100_000_000)
    expire_at = clock.wall_ns() + 250_000_000
    with Sequencer(VenueState(), journal, config=config, clock=clock) as seq:
        seq.submit(AddInstrument(Instrument.create("X-Y", "X", "Y", "1", "1", 0, 0))).result(5)
        placed = seq.submit(
            PlaceOrder(
                1,
                "X-Y",
                Side.BUY,
                OrderType.LIMIT,
                1,
                100,
                tif=TimeInForce.GTD,
                expire_ts_ns=expire_at,
            )
        ).result(5)
        for _ in range(2):  # 100 and 200 ms: the order is not due yet
            clock.advance(100_000_000)
            seq.poke()
            seq.submit(order()).result(5)
        assert [type(c.command) for c in journal.durable].count(Tick) == 0
        clock.advance(100_000_000)  # 300 ms: due
        seq.poke()
        seq.submit(order()).result(5)
        clock.advance(100_000_000)  # nothing left to expire: no more Ticks
        seq.poke()
        seq.submit(order()).result(5)
    ticks = [c for c in journal.durable if isinstance(c.command, Tick)]
    assert len(ticks) == 1
    assert ticks[0].ts_ns >= expire_at
    assert placed.seq not in seq.state.engine.orders  # it rested, then the Tick expired it
    assert type(placed.events[0]).__name__ == "OrderAccepted"
    assert seq.stats.ticks == 1


def test_an_idle_venue_journals_no_ticks() -> None:
    clock = FakeClock()
    journal = MemoryJournal()
    config = SequencerConfig(tick_interval_ns=100_000_000)
    with Sequencer(VenueState(), journal, config=config, clock=clock) as seq:
        seq.submit(AddInstrument(Instrument.create("X-Y", "X", "Y", "1", "1", 0, 0))).result(5)
        seq.submit(PlaceOrder(1, "X-Y", Side.BUY, OrderType.LIMIT, 1, 100)).result(5)  # GTC
        for _ in range(20):
            clock.advance(100_000_000)
            seq.poke()
        seq.submit(order()).result(5)
    assert [c.seq for c in journal.durable] == [1, 2, 3]
    assert seq.stats.ticks == 0


def test_snapshots_every_n_commands_are_saved_after_they_are_durable() -> None:
    journal = MemoryJournal()
    snapshots = RecordingSnapshots()
    config = SequencerConfig(snapshot_every_commands=10, batch_size_max=4)
    with Sequencer(VenueState(), journal, snapshots=snapshots, config=config) as seq:
        for _ in range(25):
            seq.submit(order()).result(5)
    snapshot_seqs = [c.seq for c in journal.durable if isinstance(c.command, TakeSnapshot)]
    assert snapshot_seqs
    assert [s for s, _, _ in snapshots.saved] == snapshot_seqs
    assert [s for s, _ in journal.marks] == snapshot_seqs
    for seq_number, state_hash, image in snapshots.saved:
        assert VenueState.from_snapshot(image).state_hash() == state_hash
        assert VenueState.from_snapshot(image).last_seq == seq_number


def test_snapshots_by_time_only_when_something_changed() -> None:
    clock = FakeClock()
    journal = MemoryJournal()
    snapshots = RecordingSnapshots()
    config = SequencerConfig(snapshot_every_ns=SECOND)
    with Sequencer(VenueState(), journal, snapshots=snapshots, config=config, clock=clock) as seq:
        seq.submit(order()).result(5)
        clock.advance(SECOND)
        seq.poke()
        assert snapshots.done.wait(5)
        clock.advance(SECOND)  # nothing happened since: no snapshot is due
        seq.poke()
        threading.Event().wait(0.05)
    kinds = [type(c.command) for c in journal.durable]
    assert kinds == [PlaceOrder, TakeSnapshot]


def test_a_failed_fsync_stops_acknowledgement_and_answers_not_committed() -> None:
    gate = threading.Event()
    journal = MemoryJournal(gate=gate, fail_sync_at=2)
    fatal: list[BaseException] = []
    config = SequencerConfig(batch_size_max=1)
    seq = Sequencer(VenueState(), journal, config=config, on_fatal=fatal.append).start()
    first = seq.submit(order())
    gate.set()
    assert first.result(5).seq == 1
    gate.clear()
    later = [seq.submit(order()) for _ in range(5)]
    gate.set()
    assert seq.wait_stopped(5)
    for future in later:
        with pytest.raises(NotCommittedError):
            future.result(5)
    with pytest.raises(SequencerStoppedError):
        seq.submit(order())
    assert len(fatal) == 1
    assert isinstance(seq.failure, OSError)
    assert journal.syncs == 2  # never retried
    seq.close()


def test_a_bug_in_the_core_stops_the_sequencer(monkeypatch: pytest.MonkeyPatch) -> None:
    import venue.runtime.sequencer as module

    def broken(state: VenueState, command: SequencedCommand) -> list[Event]:
        raise ZeroDivisionError("bug")

    monkeypatch.setattr(module, "apply", broken)
    fatal: list[BaseException] = []
    seq = Sequencer(VenueState(), MemoryJournal(), on_fatal=fatal.append).start()
    future = seq.submit(order())
    with pytest.raises(NotCommittedError, match="ZeroDivisionError"):
        future.result(5)
    assert seq.wait_stopped(5)
    assert isinstance(fatal[0], ZeroDivisionError)
    seq.close()


def test_close_finishes_everything_accepted(no_thread_leaks: None) -> None:
    journal = MemoryJournal()
    seq = Sequencer(VenueState(), journal).start()
    futures = [seq.submit(order()) for _ in range(50)]
    seq.close()
    assert all(f.done() and f.result().seq for f in futures)
    with pytest.raises(SequencerStoppedError):
        seq.submit(order())


def test_the_snapshot_hash_is_the_one_the_core_answered() -> None:
    journal = MemoryJournal()
    with Sequencer(VenueState(), journal) as seq:
        reply = seq.submit(TakeSnapshot()).result(5)
    marked = [e for e in reply.events if isinstance(e, SnapshotMarked)]
    assert marked and marked[0].state_hash


def test_median_of_a_distribution() -> None:
    from collections import Counter

    assert median_of(Counter()) == 0.0
    assert median_of(Counter({5: 1})) == 5
    assert median_of(Counter({1: 1, 3: 1})) == 2
    assert median_of(Counter({1: 2, 10: 1})) == 1
    assert median_of(Counter({1: 1, 2: 1, 10: 2})) == 6


def test_replies_of_a_submission_have_consecutive_seqs() -> None:
    with Sequencer(VenueState(), MemoryJournal()) as seq:
        replies = seq.submit_many([order(i) for i in range(4)]).result(5)
        empty = seq.submit_many([]).result(5)
    assert len(replies) == 4
    assert [reply.seq for reply in replies] == [1, 2, 3, 4]
    assert replies[-1] == replies[3]
    assert replies[0].events == replies.events[0]
    assert len(empty) == 0


def test_a_loops_projections_run_before_its_replies_in_one_delivery_step() -> None:
    """Read-your-writes by construction: when an awaited reply resumes its coroutine, the
    loop listener has already applied that reply's batch; and a listener that raises is
    counted and logged while the replies still go out."""
    seen: list[int] = []

    def view(commands: Sequence[SequencedCommand], events: Sequence[list[Event]]) -> None:
        seen.extend(c.seq for c in commands)

    def broken(commands: Sequence[SequencedCommand], events: Sequence[list[Event]]) -> None:
        raise RuntimeError("a projection bug")

    async def client() -> list[tuple[int, int]]:
        loop = asyncio.get_running_loop()
        seq = Sequencer(
            VenueState(), MemoryJournal(), loop_listeners=[(loop, view), (loop, broken)]
        ).start()
        try:

            async def one(i: int) -> tuple[int, int]:
                reply = await seq.execute(order(i))
                return reply.seq, max(seen)  # no await between the reply and this read

            return list(await asyncio.gather(*(one(i) for i in range(1, 60))))
        finally:
            seq.close()
            assert seq.stats.listener_failures == seq.stats.batches >= 1

    answers = asyncio.run(client())
    assert all(latest >= reply_seq for reply_seq, latest in answers)
    assert sorted(reply_seq for reply_seq, _ in answers) == list(range(1, 60))
