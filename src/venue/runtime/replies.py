"""Replies and the errors a caller of the sequencer can get.

Invariants:
- A `Reply` exists only for a command whose journal record is durable (or written, under the
  unsafe fsync policy none) and which has been applied: holding one is the acknowledgement.
- `OverloadedError` is raised at submission, synchronously: the command never entered the venue.
- `NotCommittedError` means the venue stopped (journal failure, a bug in the core, shutdown)
  before acknowledging. The command may or may not be in the state after the restart
  (its record may have reached the disk before the failure), but it was never acknowledged
  and is never half-applied.
- `SequencerStoppedError` (a `NotCommittedError`) is raised at submission once the sequencer
  no longer accepts commands: the command never entered the venue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import msgspec

from venue.domain.events import Event


class Reply(msgspec.Struct, frozen=True, gc=False):
    """The acknowledgement of one command: its seq, its stamped time and its events."""

    seq: int
    ts_ns: int
    events: list[Event]


class Replies(msgspec.Struct, frozen=True, gc=False):
    """The acknowledgements of commands submitted together (`submit_many`): they have the
    consecutive seqs `first_seq`, `first_seq + 1`, ... and one stamped time. One object per
    submission instead of one per command; index or iterate it for `Reply`s."""

    first_seq: int
    ts_ns: int
    events: list[list[Event]]

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, index: int) -> Reply:
        if index < 0:
            index += len(self.events)
        return Reply(self.first_seq + index, self.ts_ns, self.events[index])

    def __iter__(self) -> Iterator[Reply]:
        first, ts_ns = self.first_seq, self.ts_ns
        for offset, events in enumerate(self.events):
            yield Reply(first + offset, ts_ns, events)


class SubmitError(Exception):
    """A command was not acknowledged."""


class OverloadedError(SubmitError):
    """The inbox is full: retry later (the venue sheds load rather than queue without bound)."""


class NotCommittedError(SubmitError):
    """The venue stopped before this command was acknowledged."""


class SequencerStoppedError(NotCommittedError):
    """The sequencer does not accept commands any more."""


AsyncOutcome = tuple["asyncio.Future[Reply]", "Reply | BaseException"]


def settle_async(outcomes: Sequence[AsyncOutcome]) -> None:
    """Resolve asyncio futures; runs in their event loop (scheduled once per batch). A future
    whose awaiting task was cancelled is left alone: its command still ran."""
    for future, outcome in outcomes:
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
