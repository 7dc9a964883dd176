"""Durability (DESIGN.md §8): the checksummed journal with group commit, snapshots, and
recovery, the only startup path. Synchronous file code, no threads: the runtime drives it.

Sits beside `venue.runtime` (neither imports the other) and above `venue.core`.
"""

from venue.journal.config import FsyncPolicy, JournalConfig, SegmentRetention
from venue.journal.fileops import FaultyFileOps, FileOps, OsFileOps
from venue.journal.reader import CorruptJournalError, JournalError, JournalReader, TornTail
from venue.journal.recovery import (
    HashMismatchError,
    Recovered,
    RecoveryError,
    RecoveryReport,
    recover,
    replay,
    verify,
)
from venue.journal.snapshots import SnapshotStore
from venue.journal.writer import FileJournal, JournalFailedError, JournalLockedError

__all__ = [
    "CorruptJournalError",
    "FaultyFileOps",
    "FileJournal",
    "FileOps",
    "FsyncPolicy",
    "HashMismatchError",
    "JournalConfig",
    "JournalError",
    "JournalFailedError",
    "JournalLockedError",
    "JournalReader",
    "OsFileOps",
    "Recovered",
    "RecoveryError",
    "RecoveryReport",
    "SegmentRetention",
    "SnapshotStore",
    "TornTail",
    "recover",
    "replay",
    "verify",
]
