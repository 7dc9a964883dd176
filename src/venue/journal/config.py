"""Journal settings: a plain typed value, validated on construction (a later issue moves the
venue's settings to pydantic-settings; these fields and defaults stay).

Invariants:
- `fsync=FsyncPolicy.BATCH` (the default) is the only durable policy: a command is
  acknowledged only after the fsync that covers its record returned.
- `FsyncPolicy.NONE` never fsyncs the journal: a crash of the machine (not just the process)
  loses acknowledged commands. It exists for benchmarks only and is labelled UNSAFE wherever
  it is chosen (help text, logs, benchmark output).
- At least one snapshot is kept; segments are only pruned below the oldest kept snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FsyncPolicy(StrEnum):
    BATCH = "batch"
    NONE = "none"


class SegmentRetention(StrEnum):
    """What happens to segments older than the oldest kept snapshot."""

    DELETE = "delete"
    ARCHIVE = "archive"  # moved to `<dir>/archive/`, for audit or a replay from seq 1
    KEEP = "keep"


UNSAFE_FSYNC_WARNING = (
    "UNSAFE: journal fsync policy 'none': acknowledged commands are NOT durable and are lost "
    "if the machine crashes. For benchmarks only, never for a venue that trades."
)

MIB = 1 << 20


@dataclass(frozen=True)
class JournalConfig:
    fsync: FsyncPolicy = FsyncPolicy.BATCH
    segment_size_max_bytes: int = 64 * MIB
    snapshots_keep: int = 2
    segment_retention: SegmentRetention = SegmentRetention.DELETE
    snapshot_size_max_bytes: int = 4096 * MIB - 1  # the u32 length of the snapshot's record

    def __post_init__(self) -> None:
        if self.segment_size_max_bytes < 1:
            raise ValueError("segment_size_max_bytes must be positive")
        if self.snapshots_keep < 1:
            raise ValueError("snapshots_keep must be at least 1")
        if not 0 < self.snapshot_size_max_bytes < 1 << 32:
            raise ValueError("snapshot_size_max_bytes must fit a u32")
