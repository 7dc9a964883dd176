"""The file operations the journal and the snapshot store use: the fault-injection seam.

Every byte the journal writes and every fsync it asks for goes through a `FileOps`. Production
uses `OsFileOps` (plain `os` calls on raw file descriptors); tests use `FaultyFileOps` to make
a write fail with ENOSPC once a byte budget is spent, or the n-th fsync fail with EIO, exactly
as a full disk or a dying device would.

Invariants:
- `write_all` either writes every byte or raises: a short write is retried for the rest, an
  OSError propagates (the caller treats it as fatal and never acknowledges).
- `fsync` is never retried here or by any caller: after a failed fsync the kernel may have
  dropped the dirty pages, so a retry that "succeeds" proves nothing.
- `fsync_dir` makes a create, rename or delete in that directory durable.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Protocol


class FileOps(Protocol):
    def open_append(self, path: Path, *, create: bool) -> int:
        """A write-only descriptor positioned at the end; `create` makes a new, empty file
        (failing if it exists)."""
        ...

    def open_write_new(self, path: Path) -> int:
        """A write-only descriptor on a new (or emptied) file."""
        ...

    def write_all(self, fd: int, data: bytes) -> None: ...

    def fsync(self, fd: int) -> None: ...

    def fsync_dir(self, path: Path) -> None: ...

    def close(self, fd: int) -> None: ...

    def rename(self, source: Path, target: Path) -> None: ...

    def remove(self, path: Path) -> None: ...

    def truncate(self, path: Path, size: int) -> None:
        """Cut a file to `size` bytes and fsync it."""
        ...


class OsFileOps:
    """The real thing: `os` calls on raw descriptors (no Python buffering in between)."""

    def open_append(self, path: Path, *, create: bool) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
        if create:
            flags |= os.O_CREAT | os.O_EXCL
        return os.open(path, flags, 0o644)

    def open_write_new(self, path: Path) -> int:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)

    def write_all(self, fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def fsync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self, fd: int) -> None:
        os.close(fd)

    def rename(self, source: Path, target: Path) -> None:
        os.replace(source, target)

    def remove(self, path: Path) -> None:
        os.unlink(path)

    def truncate(self, path: Path, size: int) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        finally:
            os.close(fd)


class FaultyFileOps(OsFileOps):
    """`OsFileOps` that fails on cue, for tests of disk-full and I/O errors.

    - `bytes_left`: writes succeed until this many bytes are written; the write that crosses
      the budget writes what still fits (a partial record, as a full disk leaves) and raises
      ENOSPC; every later write raises ENOSPC at once.
    - `fsync_fail_at`: the n-th call to `fsync` (1-based) and every later one raises EIO.
    The counters are public so a test can see how far things got.
    """

    def __init__(self, *, bytes_left: int | None = None, fsync_fail_at: int | None = None):
        self.bytes_left = bytes_left
        self.fsync_fail_at = fsync_fail_at
        self.fsync_calls = 0
        self.bytes_written = 0

    def write_all(self, fd: int, data: bytes) -> None:
        if self.bytes_left is not None and len(data) > self.bytes_left:
            fitting = self.bytes_left
            if fitting:
                super().write_all(fd, data[:fitting])
                self.bytes_written += fitting
            self.bytes_left = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        super().write_all(fd, data)
        self.bytes_written += len(data)
        if self.bytes_left is not None:
            self.bytes_left -= len(data)

    def fsync(self, fd: int) -> None:
        self.fsync_calls += 1
        if self.fsync_fail_at is not None and self.fsync_calls >= self.fsync_fail_at:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        super().fsync(fd)
