"""Recovery = newest valid snapshot + replay; the hashes must agree everywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from journal_flows import apply_all, directory_image, random_flow, segment_files, write_journal

from venue.core import VenueState
from venue.journal import (
    HashMismatchError,
    JournalConfig,
    JournalReader,
    RecoveryError,
    recover,
    replay,
    verify,
)
from venue.journal.recovery import replay_into


@pytest.mark.parametrize("seed", range(20))
def test_live_recovered_and_full_replay_hashes_are_equal(tmp_path: Path, seed: int) -> None:
    config = JournalConfig(segment_size_max_bytes=2000, snapshots_keep=2)
    commands = random_flow(seed=seed, count=150 + seed * 7, snapshot_every=33 + seed)
    live = write_journal(tmp_path, commands, config=config, batch=1 + seed % 9)
    recovered = recover(tmp_path, config)
    recovered.journal.close()
    assert recovered.state.state_hash() == live.state_hash()
    twin = apply_all(commands)  # never journaled at all
    assert twin.state_hash() == live.state_hash()


def test_a_full_replay_from_seq_1_matches_when_segments_are_kept(tmp_path: Path) -> None:
    config = JournalConfig(snapshots_keep=1)  # 64 MiB segments: nothing is pruned
    commands = random_flow(seed=42, count=400, snapshot_every=100)
    live = write_journal(tmp_path, commands, config=config)
    fresh = VenueState()
    result = replay_into(fresh, JournalReader(tmp_path), 0)
    assert result.replayed == 400
    assert result.marks_checked == 4
    assert fresh.state_hash() == live.state_hash()
    report = verify(tmp_path)
    assert report.ok, report.problems
    assert report.state_hash == live.state_hash()


def test_recovery_uses_the_newest_snapshot_and_replays_only_after_it(tmp_path: Path) -> None:
    commands = random_flow(seed=3, count=250, snapshot_every=100)
    write_journal(tmp_path, commands)
    recovered = recover(tmp_path)
    recovered.journal.close()
    assert recovered.report.snapshot is not None
    assert recovered.report.snapshot.seq == 200
    assert recovered.report.replayed == 50


def test_a_wrong_recorded_hash_stops_startup(tmp_path: Path) -> None:
    commands = random_flow(seed=4, count=60, snapshot_every=30)
    recovered = recover(tmp_path)
    recovered.journal.write(commands)
    recovered.journal.write([], [(30, "0" * 64)])
    recovered.journal.sync()
    recovered.journal.close()
    before = directory_image(tmp_path)
    with pytest.raises(HashMismatchError, match="state hash at seq 30"):
        recover(tmp_path)
    assert directory_image(tmp_path) == before
    assert not verify(tmp_path).ok


def test_a_snapshot_ahead_of_the_journal_stops_startup(tmp_path: Path) -> None:
    commands = random_flow(seed=5, count=100, snapshot_every=90)
    write_journal(tmp_path, commands[:95])
    last = segment_files(tmp_path)[-1]
    recovered_before = recover(tmp_path)
    recovered_before.journal.close()
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 3])  # a cut, then a torn remainder: seq < 90
    with pytest.raises(RecoveryError, match="ahead of the journal"):
        recover(tmp_path)


@pytest.mark.parametrize("to_seq", [0, 1, 57, 120, 199, 200])
def test_replay_to_any_seq_gives_that_seqs_state(tmp_path: Path, to_seq: int) -> None:
    commands = random_flow(seed=6, count=200, snapshot_every=50)
    write_journal(tmp_path, commands)
    state, report = replay(tmp_path, to_seq)
    assert state.last_seq == to_seq
    assert report.state_hash == apply_all(commands[:to_seq]).state_hash()


def test_replay_past_the_end_is_an_error(tmp_path: Path) -> None:
    write_journal(tmp_path, random_flow(seed=7, count=20))
    with pytest.raises(Exception, match="ends at seq 20"):
        replay(tmp_path, 21)


def test_the_initial_state_of_a_new_directory_is_remembered(tmp_path: Path) -> None:
    accounts = recover(tmp_path, initial_state=lambda: VenueState(accounts=True))
    accounts.journal.close()
    again = recover(tmp_path)  # no factory: the genesis snapshot says what it was
    again.journal.close()
    assert again.state.state_hash() == VenueState(accounts=True).state_hash()
    assert again.state.state_hash() != VenueState().state_hash()
