"""Snapshots: atomic files, newest K kept, damaged ones skipped, old segments retired."""

from __future__ import annotations

from pathlib import Path

from journal_flows import apply_all, random_flow, segment_files, write_journal

from venue.journal import JournalConfig, SegmentRetention, SnapshotStore, recover
from venue.journal.layout import list_snapshots


def test_snapshots_are_written_atomically_and_read_back(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    state = apply_all(random_flow(seed=1, count=50))
    path = store.save(50, state.state_hash(), state.snapshot())
    assert path.name == "snapshot-00000000000000000050.snap"
    assert not list(tmp_path.glob("*.tmp"))
    image = store.load(store.list()[-1])
    assert (image.seq, image.state_hash, image.state) == (
        50,
        state.state_hash(),
        state.snapshot(),
    )


def test_the_newest_k_are_kept_and_older_segments_deleted(tmp_path: Path) -> None:
    config = JournalConfig(segment_size_max_bytes=600, snapshots_keep=2)
    commands = random_flow(seed=2, count=300, snapshot_every=50)
    live = write_journal(tmp_path, commands, config=config)
    seqs = [snapshot.seq for snapshot in list_snapshots(tmp_path)]
    assert seqs == [250, 300]
    first_segment = int(segment_files(tmp_path)[0].name[8:28])
    assert first_segment <= 251  # the oldest kept snapshot can still replay forward
    assert first_segment > 100  # and the segments below it are gone
    recovered = recover(tmp_path, config)
    recovered.journal.close()
    assert recovered.state.state_hash() == live.state_hash()


def test_archive_retention_moves_old_segments_aside(tmp_path: Path) -> None:
    config = JournalConfig(
        segment_size_max_bytes=600, snapshots_keep=1, segment_retention=SegmentRetention.ARCHIVE
    )
    write_journal(tmp_path, random_flow(seed=3, count=200, snapshot_every=100), config=config)
    archived = sorted((tmp_path / "archive").glob("segment-*.log"))
    assert archived
    assert archived[0].name == "segment-00000000000000000001.log"


def test_a_damaged_newest_snapshot_is_skipped_for_the_one_before(tmp_path: Path) -> None:
    config = JournalConfig(snapshots_keep=3)
    commands = random_flow(seed=4, count=120, snapshot_every=40)
    live = write_journal(tmp_path, commands, config=config)
    newest = list_snapshots(tmp_path)[-1].path
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    recovered = recover(tmp_path, config)
    recovered.journal.close()
    assert recovered.report.snapshot is not None
    assert recovered.report.snapshot.seq == 80
    assert [s.path for s in recovered.report.skipped] == [newest]
    assert "CRC mismatch" in recovered.report.skipped[0].reason
    assert recovered.state.state_hash() == live.state_hash()


def test_a_leftover_temporary_snapshot_is_removed_at_startup(tmp_path: Path) -> None:
    write_journal(tmp_path, random_flow(seed=5, count=20))
    (tmp_path / "snapshot-00000000000000000019.snap.tmp").write_bytes(b"half")
    recovered = recover(tmp_path)
    recovered.journal.close()
    assert not list(tmp_path.glob("*.tmp"))
    assert recovered.report.removed_temporary


def test_a_new_directory_gets_a_genesis_snapshot_of_the_initial_state(tmp_path: Path) -> None:
    recovered = recover(tmp_path)
    recovered.journal.close()
    assert [s.seq for s in list_snapshots(tmp_path)] == [0]
