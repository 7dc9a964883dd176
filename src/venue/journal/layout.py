"""Where things live in a journal directory, and how their names encode seqs.

A venue's data dir holds its journal directory as `<data dir>/journal`.

    <dir>/LOCK                                   held (flock) by the one process writing
    <dir>/segment-<first seq, 20 digits>.log     records, in seq order
    <dir>/snapshot-<seq, 20 digits>.snap         the whole state after `seq`
    <dir>/*.tmp                                  a snapshot being written (ignored, removed)
    <dir>/archive/                               pruned segments, if retention is "archive"

Invariants:
- A segment's name is the seq of the first command it holds (or would hold, if empty);
  segments sorted by name are in seq order and contiguous: segment i holds exactly the seqs
  from its name up to the next segment's name minus one.
- Zero-padded names sort lexically and numerically alike.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

JOURNAL_SUBDIR = "journal"  # of a venue data dir
LOCK_NAME = "LOCK"
ARCHIVE_DIRNAME = "archive"
TMP_SUFFIX = ".tmp"
_SEGMENT = re.compile(r"^segment-(\d{20})\.log$")
_SNAPSHOT = re.compile(r"^snapshot-(\d{20})\.snap$")


class Segment(NamedTuple):
    first_seq: int
    path: Path


class SnapshotFile(NamedTuple):
    seq: int
    path: Path


def segment_path(directory: Path, first_seq: int) -> Path:
    return directory / f"segment-{first_seq:020d}.log"


def snapshot_path(directory: Path, seq: int) -> Path:
    return directory / f"snapshot-{seq:020d}.snap"


def list_segments(directory: Path) -> list[Segment]:
    found = []
    for path in directory.iterdir():
        match = _SEGMENT.match(path.name)
        if match:
            found.append(Segment(int(match.group(1)), path))
    return sorted(found)


def list_snapshots(directory: Path) -> list[SnapshotFile]:
    """Snapshot files, oldest first (validity is not checked here)."""
    found = []
    for path in directory.iterdir():
        match = _SNAPSHOT.match(path.name)
        if match:
            found.append(SnapshotFile(int(match.group(1)), path))
    return sorted(found)


def list_temporary(directory: Path) -> list[Path]:
    return sorted(path for path in directory.iterdir() if path.name.endswith(TMP_SUFFIX))
