"""Seeded command flows and a synchronous journal writer for the journal's tests.

`write_journal` drives `FileJournal` and `SnapshotStore` the way the sequencer does (write,
sync, apply; snapshot images saved after the sync; marks journaled with the next write), but
on the calling thread, so tests are exact and quick.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from venue.core import VenueState, apply
from venue.domain.commands import (
    AddInstrument,
    CancelOrder,
    Command,
    PlaceOrder,
    SequencedCommand,
    TakeSnapshot,
    Tick,
)
from venue.domain.events import SnapshotMarked
from venue.domain.instrument import Instrument
from venue.domain.values import OrderType, Side, TimeInForce
from venue.journal import JournalConfig, recover

SYMBOL = "T"
START_TS_NS = 1_700_000_000_000_000_000


def random_flow(seed: int, count: int, *, snapshot_every: int = 0) -> list[SequencedCommand]:
    """`count` sequenced commands on one instrument: places (limit, some IOC and GTD),
    cancels of earlier orders (some already gone: rejected, which is fine), ticks, and a
    TakeSnapshot every `snapshot_every` commands."""
    rng = random.Random(seed)
    instrument = Instrument.create(SYMBOL, "B", "Q", "1", "1", 0, 0)
    commands: list[Command] = [AddInstrument(instrument)]
    placed: list[int] = []
    ts = START_TS_NS
    out = [SequencedCommand(1, ts, commands[0])]
    for seq in range(2, count + 1):
        ts += rng.randrange(0, 2_000_000)
        roll = rng.random()
        command: Command
        if snapshot_every and seq % snapshot_every == 0:
            command = TakeSnapshot()
        elif roll < 0.6 or not placed:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            tif = rng.choice([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.GTD])
            command = PlaceOrder(
                account_id=rng.randrange(1, 20),
                symbol=SYMBOL,
                side=side,
                order_type=OrderType.LIMIT,
                qty_lots=rng.randrange(1, 50),
                price_ticks=rng.randrange(990, 1010),
                tif=tif,
                expire_ts_ns=ts + rng.randrange(1, 50_000_000) if tif == TimeInForce.GTD else None,
            )
            placed.append(seq)
        elif roll < 0.95:
            command = CancelOrder(account_id=rng.randrange(1, 20), order_id=rng.choice(placed))
        else:
            command = Tick()
        out.append(SequencedCommand(seq, ts, command))
    return out


def apply_all(commands: Sequence[SequencedCommand], state: VenueState | None = None) -> VenueState:
    state = state or VenueState()
    for command in commands:
        apply(state, command)
    return state


def write_journal(
    directory: Path,
    commands: Sequence[SequencedCommand],
    *,
    config: JournalConfig | None = None,
    batch: int = 7,
) -> VenueState:
    """Journal `commands` in batches as the sequencer would (snapshots included) and return
    the live state. The directory must be new or hold exactly the commands before these."""
    recovered = recover(directory, config)
    state = recovered.state
    journal = recovered.journal
    marks: list[tuple[int, str]] = []
    try:
        for start in range(0, len(commands), batch):
            chunk = commands[start : start + batch]
            journal.write(chunk, marks)
            journal.sync()
            marks = []
            images = []
            for command in chunk:
                events = apply(state, command)
                if isinstance(command.command, TakeSnapshot):
                    mark = next(e for e in events if isinstance(e, SnapshotMarked))
                    marks.append((command.seq, mark.state_hash))
                    images.append((command.seq, mark.state_hash, state.snapshot()))
            for seq, state_hash, image in images:
                recovered.snapshots.save(seq, state_hash, image)
        if marks:
            journal.write([], marks)
            journal.sync()
    finally:
        journal.close()
    return state


def segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("segment-*.log"))


def directory_image(directory: Path) -> dict[str, bytes]:
    """Every file's bytes: to prove a refused startup changed nothing."""
    return {
        path.name: path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != "LOCK"
    }
