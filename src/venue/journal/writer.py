"""The file journal: appends records to segment files, one write per call, fsync on request.

`FileJournal` is synchronous and owns no thread: the runtime calls `write` then `sync` from its
journal thread (group commit: everything queued since the last call goes in one `write`).

Invariants:
- `write` issues exactly one `write_all` for all the records it is given; `sync` one fsync
  (none under `FsyncPolicy.NONE`). Neither ever retries: the first OSError marks the journal
  failed, and every later call raises `JournalFailedError` at once. The caller must stop
  acknowledging; the next start recovers to what is durable.
- Segments rotate before a write once the current one holds `segment_size_max_bytes` or more.
  The old segment is fsynced (unless already synced, or under policy none) before the new one
  is created, and the directory is fsynced after the creation, so the new segment is never on
  disk without its predecessor being complete.
- The new segment is named after the seq of the next command (`next_seq`), whatever the
  write holds, so segment names stay contiguous.
- Only one process writes a journal directory: the writer holds an exclusive `flock` on
  `<dir>/LOCK` from open to close (released by the kernel if the process dies).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from venue.domain.commands import SequencedCommand
from venue.journal.codec import encode_records
from venue.journal.config import UNSAFE_FSYNC_WARNING, FsyncPolicy, JournalConfig
from venue.journal.fileops import FileOps, OsFileOps
from venue.journal.layout import LOCK_NAME, segment_path

log = logging.getLogger(__name__)


class JournalFailedError(OSError):
    """A write or fsync failed earlier: nothing written since may be acknowledged."""


class JournalLockedError(RuntimeError):
    """Another process holds this journal directory."""


def lock_directory(directory: Path) -> int:
    """Take the directory's exclusive lock; returns the descriptor that holds it."""
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JournalLockedError(f"{directory} is in use by another venue process") from None
    return fd


class FileJournal:
    """Appends to `<dir>/segment-*.log`. Construct through `journal.recovery.recover`, which
    checks and repairs the tail first and knows where to continue."""

    def __init__(
        self,
        directory: Path,
        *,
        next_seq: int,
        tail_segment: Path | None,
        config: JournalConfig | None = None,
        fileops: FileOps | None = None,
        lock_fd: int | None = None,
    ) -> None:
        self.directory = directory
        self.config = config or JournalConfig()
        self.fileops: FileOps = fileops or OsFileOps()
        self.next_seq = next_seq
        self._lock_fd = lock_fd
        self._failed: BaseException | None = None
        self._dirty = False
        self.writes = 0
        self.fsyncs = 0
        self.bytes_written = 0
        self.rotations = 0
        if self.config.fsync == FsyncPolicy.NONE:
            log.warning(UNSAFE_FSYNC_WARNING)
        if tail_segment is None:
            self._path = segment_path(directory, next_seq)
            self._fd = self._create(self._path)
            self._size = 0
        else:
            self._path = tail_segment
            self._fd = self.fileops.open_append(tail_segment, create=False)
            self._size = tail_segment.stat().st_size

    @property
    def fsync_enabled(self) -> bool:
        return self.config.fsync == FsyncPolicy.BATCH

    @property
    def segment(self) -> Path:
        return self._path

    def write(
        self, commands: Sequence[SequencedCommand], marks: Sequence[tuple[int, str]] = ()
    ) -> None:
        """Append the records of `commands` (in seq order, continuing `next_seq`) and `marks`
        ((seq, state_hash) of TakeSnapshots already written) with one write. Durable only
        after `sync`."""
        self._check()
        if commands and commands[0].seq != self.next_seq:
            raise ValueError(f"write starts at seq {commands[0].seq}, expected {self.next_seq}")
        data = encode_records(commands, marks)
        try:
            if self._size >= self.config.segment_size_max_bytes:
                self._rotate()
            self.fileops.write_all(self._fd, data)
        except BaseException as exc:
            self._failed = exc
            raise
        self._dirty = True
        self._size += len(data)
        self.writes += 1
        self.bytes_written += len(data)
        if commands:
            self.next_seq = commands[-1].seq + 1

    def sync(self) -> None:
        """fsync the current segment (a no-op under policy none). Never retried."""
        self._check()
        if not self.fsync_enabled:
            return
        try:
            self.fileops.fsync(self._fd)
        except BaseException as exc:
            self._failed = exc
            raise
        self._dirty = False
        self.fsyncs += 1

    def close(self) -> None:
        """Close the segment and release the directory lock. Does not fsync: call `sync`
        first if that matters (after a failure it must not be retried)."""
        if self._fd >= 0:
            self.fileops.close(self._fd)
            self._fd = -1
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _check(self) -> None:
        if self._failed is not None:
            raise JournalFailedError(f"journal failed earlier: {self._failed}") from self._failed
        if self._fd < 0:
            raise JournalFailedError("journal is closed")

    def _rotate(self) -> None:
        if self._dirty and self.fsync_enabled:
            self.fileops.fsync(self._fd)
            self.fsyncs += 1
            self._dirty = False
        self.fileops.close(self._fd)
        self._fd = -1
        self._path = segment_path(self.directory, self.next_seq)
        self._fd = self._create(self._path)
        self._size = 0
        self.rotations += 1

    def _create(self, path: Path) -> int:
        fd = self.fileops.open_append(path, create=True)
        try:
            self.fileops.fsync_dir(self.directory)
        except BaseException:
            self.fileops.close(fd)
            raise
        return fd
