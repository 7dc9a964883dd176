"""Test doubles for the runtime: an in-memory journal port with a gate and fault cues, and a
snapshot port that records what it is given."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Sequence

from venue.domain.commands import Command, PlaceOrder, SequencedCommand
from venue.domain.values import OrderType, Side


class MemoryJournal:
    """`JournalPort` in memory. `gate`: sync blocks until it is set. `fail_sync_at`: the n-th
    sync (1-based) raises EIO, and so does every later call."""

    fsync_enabled = True

    def __init__(
        self, *, gate: threading.Event | None = None, fail_sync_at: int | None = None
    ) -> None:
        self.gate = gate
        self.fail_sync_at = fail_sync_at
        self.written: list[SequencedCommand] = []
        self.durable: list[SequencedCommand] = []
        self.marks: list[tuple[int, str]] = []
        self.writes = 0
        self.syncs = 0
        self.closed = False
        self.failed = False
        self.sync_started = threading.Event()

    def write(
        self, commands: Sequence[SequencedCommand], marks: Sequence[tuple[int, str]] = ()
    ) -> None:
        if self.failed:
            raise OSError(errno.EIO, "failed earlier")
        self.writes += 1
        self.written.extend(commands)
        self.marks.extend(marks)

    def sync(self) -> None:
        if self.failed:
            raise OSError(errno.EIO, "failed earlier")
        self.sync_started.set()
        if self.gate is not None:
            self.gate.wait(10)
        self.syncs += 1
        if self.fail_sync_at is not None and self.syncs >= self.fail_sync_at:
            self.failed = True
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        self.durable = list(self.written)

    def close(self) -> None:
        self.closed = True


class RecordingSnapshots:
    def __init__(self) -> None:
        self.saved: list[tuple[int, str, bytes]] = []
        self.done = threading.Event()

    def save(self, seq: int, state_hash: str, state: bytes) -> None:
        self.saved.append((seq, state_hash, state))
        self.done.set()


def order(account_id: int = 1, price: int = 100, side: Side = Side.BUY) -> Command:
    """A resting limit order on a symbol that does not exist: the core rejects it, which is
    enough for the runtime (it only needs commands that apply)."""
    return PlaceOrder(account_id, "NOPE", side, OrderType.LIMIT, 1, price)
