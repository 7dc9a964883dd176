"""The runtime around the pure core (DESIGN.md §1, §12): the sequencer thread that owns the
state, clocks, reply correlation for threads and asyncio, and timers (as commands).

Sits beside `venue.journal`: it talks to the journal through the Protocols in
`venue.runtime.ports`, and the composition root wires the two together.
"""

from venue.runtime.clock import Clock, FakeClock, SystemClock
from venue.runtime.ports import JournalPort, SnapshotPoint, SnapshotPort
from venue.runtime.process import exit_process_on_fatal, tune_gc
from venue.runtime.replies import (
    NotCommittedError,
    OverloadedError,
    Replies,
    Reply,
    SequencerStoppedError,
    SubmitError,
)
from venue.runtime.sequencer import Sequencer, SequencerConfig, SequencerStats, median_of

__all__ = [
    "Clock",
    "FakeClock",
    "JournalPort",
    "NotCommittedError",
    "OverloadedError",
    "Replies",
    "Reply",
    "Sequencer",
    "SequencerConfig",
    "SequencerStats",
    "SequencerStoppedError",
    "SnapshotPoint",
    "SnapshotPort",
    "SubmitError",
    "SystemClock",
    "exit_process_on_fatal",
    "median_of",
    "tune_gc",
]
