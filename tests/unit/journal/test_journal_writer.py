"""FileJournal: one write per call, fsync on request, rotation, failure is final."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import pytest
from journal_flows import apply_all, random_flow, segment_files

from venue.journal import (
    FaultyFileOps,
    FsyncPolicy,
    JournalConfig,
    JournalFailedError,
    JournalLockedError,
    OsFileOps,
    recover,
)


class RecordingFileOps(OsFileOps):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def write_all(self, fd: int, data: bytes) -> None:
        self.calls.append("write")
        super().write_all(fd, data)

    def fsync(self, fd: int) -> None:
        self.calls.append("fsync")
        super().fsync(fd)

    def fsync_dir(self, path: Path) -> None:
        self.calls.append(f"fsync_dir {path.name}")
        super().fsync_dir(path)

    def open_append(self, path: Path, *, create: bool) -> int:
        if create:
            self.calls.append(f"create {path.name}")
        return super().open_append(path, create=create)


def test_one_write_and_one_fsync_per_batch(tmp_path: Path) -> None:
    ops = RecordingFileOps()
    recovered = recover(tmp_path, fileops=ops)
    ops.calls.clear()
    commands = random_flow(seed=1, count=30)
    recovered.journal.write(commands[:10])
    recovered.journal.sync()
    recovered.journal.write(commands[10:], [(3, "h")])
    recovered.journal.sync()
    recovered.journal.close()
    assert ops.calls == ["write", "fsync", "write", "fsync"]
    assert recovered.journal.fsyncs == 2


def test_segments_rotate_at_the_size_limit_with_contiguous_names(tmp_path: Path) -> None:
    ops = RecordingFileOps()
    recovered = recover(tmp_path, JournalConfig(segment_size_max_bytes=500), fileops=ops)
    commands = random_flow(seed=2, count=100)
    for start in range(0, 100, 10):
        recovered.journal.write(commands[start : start + 10])
        recovered.journal.sync()
    recovered.journal.close()
    names = [path.name for path in segment_files(tmp_path)]
    assert len(names) >= 3
    assert names[0] == "segment-00000000000000000001.log"
    assert all((n - 1) % 10 == 0 for n in (int(name[8:28]) for name in names))
    created = [call for call in ops.calls if call.startswith("create")]
    for name in names[1:]:
        at = ops.calls.index(f"create {name}")
        assert ops.calls[at + 1] == f"fsync_dir {tmp_path.name}"
    assert len(created) == len(names)
    again = recover(tmp_path)
    again.journal.close()
    assert again.state.last_seq == 100


def test_a_write_that_does_not_continue_the_seqs_is_refused(tmp_path: Path) -> None:
    recovered = recover(tmp_path)
    commands = random_flow(seed=3, count=5)
    with pytest.raises(ValueError, match="expected 1"):
        recovered.journal.write(commands[1:])
    recovered.journal.close()


def test_disk_full_fails_the_journal_for_good(tmp_path: Path) -> None:
    ops = FaultyFileOps()
    recovered = recover(tmp_path, fileops=ops)
    ops.bytes_left = 300
    commands = random_flow(seed=4, count=40)
    recovered.journal.write(commands[:2])
    recovered.journal.sync()
    with pytest.raises(OSError) as raised:
        recovered.journal.write(commands[2:40])
    assert raised.value.errno == errno.ENOSPC
    with pytest.raises(JournalFailedError):
        recovered.journal.sync()
    with pytest.raises(JournalFailedError):
        recovered.journal.write(commands[2:3])
    recovered.journal.close()
    again = recover(tmp_path)  # whole records of the partial write stay, the rest is torn
    again.journal.close()
    assert 2 <= again.state.last_seq < 40
    assert again.state.state_hash() == apply_all(commands[: again.state.last_seq]).state_hash()
    assert again.report.torn is not None


def test_a_failed_fsync_is_never_retried(tmp_path: Path) -> None:
    ops = FaultyFileOps()
    recovered = recover(tmp_path, fileops=ops)
    ops.fsync_fail_at = ops.fsync_calls + 2  # the second fsync of the journal fails
    commands = random_flow(seed=5, count=10)
    recovered.journal.write(commands[:5])
    recovered.journal.sync()
    recovered.journal.write(commands[5:])
    with pytest.raises(OSError):
        recovered.journal.sync()
    calls = ops.fsync_calls
    with pytest.raises(JournalFailedError):
        recovered.journal.sync()
    assert ops.fsync_calls == calls
    recovered.journal.close()


def test_policy_none_never_fsyncs_and_says_it_is_unsafe(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ops = RecordingFileOps()
    with caplog.at_level(logging.WARNING):
        recovered = recover(tmp_path, JournalConfig(fsync=FsyncPolicy.NONE), fileops=ops)
    ops.calls.clear()
    recovered.journal.write(random_flow(seed=6, count=5))
    recovered.journal.sync()
    recovered.journal.close()
    assert ops.calls == ["write"]
    assert not recovered.journal.fsync_enabled
    assert any("UNSAFE" in record.message for record in caplog.records)


def test_only_one_process_opens_a_journal(tmp_path: Path) -> None:
    first = recover(tmp_path)
    with pytest.raises(JournalLockedError):
        recover(tmp_path)
    first.journal.close()
    second = recover(tmp_path)
    second.journal.close()
