"""What the runtime needs from the journal and the snapshot store, as Protocols.

The runtime and the journal are sibling layers (DESIGN.md §2: `runtime | journal → core`):
neither imports the other. `venue.journal.FileJournal` and `venue.journal.SnapshotStore`
satisfy these Protocols structurally; the composition root (main, the benchmark, the
simulation's child process) wires them together.

Contract of a `JournalPort`, relied on by the sequencer:
- `write` appends all it is given with one write; `sync` makes everything written so far
  durable (a no-op if `fsync_enabled` is False). Both raise OSError on failure and must never
  be retried by their callers; after a failure every later call raises too.
- Both are only ever called from one thread (the sequencer's journal thread).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from venue.domain.commands import SequencedCommand


class SnapshotPoint(NamedTuple):
    """The hash `core.apply` answered to the TakeSnapshot at `seq` (journaled as a mark)."""

    seq: int
    state_hash: str


class JournalPort(Protocol):
    @property
    def fsync_enabled(self) -> bool: ...

    def write(
        self, commands: Sequence[SequencedCommand], marks: Sequence[tuple[int, str]] = ()
    ) -> None: ...

    def sync(self) -> None: ...

    def close(self) -> None: ...


class SnapshotPort(Protocol):
    def save(self, seq: int, state_hash: str, state: bytes) -> object:
        """Store the state at `seq` durably. Called only once the journal holds `seq`
        durably, from the runtime's snapshot thread."""
        ...
