"""The sequencer on the real file journal: determinism, disk full, fsync failure."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest
from tests.tmpfs import mounted_tmpfs

from venue.core import VenueState
from venue.domain.commands import AddInstrument, CancelOrder, Command, PlaceOrder, SequencedCommand
from venue.domain.instrument import Instrument
from venue.domain.values import OrderType, Side
from venue.journal import (
    FaultyFileOps,
    JournalConfig,
    JournalReader,
    SegmentRetention,
    recover,
)
from venue.journal.recovery import replay_into
from venue.runtime import NotCommittedError, Replies, Reply, Sequencer, SequencerConfig


def flow(seed: int, count: int) -> list[Command]:
    rng = random.Random(seed)
    commands: list[Command] = [AddInstrument(Instrument.create("F", "B", "Q", "1", "1", 0, 0))]
    for index in range(count):
        if rng.random() < 0.7 or index < 5:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            price = rng.randrange(95, 106)
            commands.append(PlaceOrder(index % 7, "F", side, OrderType.LIMIT, 3, price))
        else:
            commands.append(CancelOrder(rng.randrange(7), rng.randrange(2, index + 2)))
    return commands


def run(sequencer: Sequencer, commands: list[Command], seed: int) -> None:
    rng = random.Random(seed)
    pending: list[Future[Reply] | Future[Replies]] = []
    position = 0
    while position < len(commands):
        size = rng.randrange(1, sequencer.config.batch_size_max + 1)
        chunk = commands[position : position + size]
        position += size
        if size == 1:
            pending.append(sequencer.submit(chunk[0]))
        else:
            pending.append(sequencer.submit_many(chunk))
    for future in pending:
        future.result(30)


@pytest.mark.parametrize("seed", range(12))
def test_live_hash_equals_recovered_and_full_replay_hashes(tmp_path: Path, seed: int) -> None:
    journal_config = JournalConfig(
        segment_size_max_bytes=4096 * (1 + seed % 3), segment_retention=SegmentRetention.KEEP
    )
    config = SequencerConfig(
        batch_size_max=16 + seed, snapshot_every_commands=50 + 10 * seed, inbox_capacity=10_000
    )
    recovered = recover(tmp_path, journal_config)
    with Sequencer(
        recovered.state, recovered.journal, snapshots=recovered.snapshots, config=config
    ) as sequencer:
        run(sequencer, flow(seed, 400), seed)
    live = sequencer.state.state_hash()
    again = recover(tmp_path, journal_config)
    again.journal.close()
    assert again.state.state_hash() == live
    full = VenueState()  # from seq 1, all segments kept, no snapshot used
    replay_into(full, JournalReader(tmp_path), 0)
    assert full.state_hash() == live


def acknowledged_and_refused(
    sequencer: Sequencer, commands: list[Command]
) -> tuple[list[tuple[Command, Reply]], int]:
    futures: list[tuple[Command, Future[Reply]]] = []
    for command in commands:
        try:
            futures.append((command, sequencer.submit(command)))
        except NotCommittedError:
            break
        if len(futures) % 5 == 0:
            futures[-1][1].exception(10)  # let batches form and fail in between
    acked: list[tuple[Command, Reply]] = []
    refused = 0
    for command, future in futures:
        error = future.exception(10)
        if error is None:
            acked.append((command, future.result()))
        else:
            assert isinstance(error, NotCommittedError)
            refused += 1
    return acked, refused


def assert_acknowledged_are_durable(directory: Path, acked: list[tuple[Command, Reply]]) -> None:
    """After a restart every acknowledged command is in the state, at its seq."""
    recovered = recover(directory)
    recovered.journal.close()
    records = {
        record.seq: record.command
        for record in JournalReader(directory).records(0)
        if isinstance(record, SequencedCommand)
    }
    for command, reply in acked:
        assert records[reply.seq] == command
        assert reply.seq <= recovered.state.last_seq


@pytest.mark.parametrize("budget", [600, 2500, 9000])
def test_disk_full_stops_acknowledgement_and_the_restart_is_consistent(
    tmp_path: Path, budget: int
) -> None:
    ops = FaultyFileOps()
    recovered = recover(tmp_path, fileops=ops)
    ops.bytes_left = budget
    fatal: list[BaseException] = []
    sequencer = Sequencer(
        recovered.state,
        recovered.journal,
        config=SequencerConfig(batch_size_max=8),
        on_fatal=fatal.append,
    ).start()
    acked, refused = acknowledged_and_refused(sequencer, flow(budget, 600))
    assert sequencer.wait_stopped(10)
    sequencer.close()
    assert fatal and refused
    assert acked
    assert_acknowledged_are_durable(tmp_path, acked)


@pytest.mark.parametrize("fail_at", [1, 3, 10])
def test_an_fsync_failure_stops_acknowledgement_and_the_restart_is_consistent(
    tmp_path: Path, fail_at: int
) -> None:
    ops = FaultyFileOps()
    recovered = recover(tmp_path, fileops=ops)
    ops.fsync_fail_at = ops.fsync_calls + fail_at
    sequencer = Sequencer(
        recovered.state, recovered.journal, config=SequencerConfig(batch_size_max=4)
    ).start()
    acked, refused = acknowledged_and_refused(sequencer, flow(fail_at, 300))
    assert sequencer.wait_stopped(10)
    sequencer.close()
    assert refused
    assert len(acked) < 300
    assert_acknowledged_are_durable(tmp_path, acked)


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs, where the machine lets us mount one (root, no sandbox)."""
    with mounted_tmpfs(tmp_path, "64k") as mount_point:
        yield mount_point


def test_a_really_full_tmpfs_stops_acknowledgement(tiny_tmpfs: Path) -> None:
    directory = tiny_tmpfs / "journal"
    recovered = recover(directory)
    fatal: list[BaseException] = []
    sequencer = Sequencer(
        recovered.state,
        recovered.journal,
        config=SequencerConfig(batch_size_max=64),
        on_fatal=fatal.append,
    ).start()
    acked, refused = acknowledged_and_refused(sequencer, flow(7, 5000))
    assert sequencer.wait_stopped(10)
    sequencer.close()
    assert fatal and "No space left" in str(fatal[0])
    assert refused and acked
    assert_acknowledged_are_durable(directory, acked)
