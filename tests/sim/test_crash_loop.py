"""kill -9 at random moments, restart, check: every acknowledged command is in the recovered
state, nothing unacknowledged is half-applied, and the recovered state equals a twin that
replayed the whole journal from seq 1 without ever crashing (DESIGN.md §10, rung 4).

The driver sends a random flow of places and cancels on one instrument to a real child
process (crash_child.py) over a pipe, records every ACK, and SIGKILLs the child after a
random delay. Between runs (no child alive) it reads the journal and checks:
- each ACKed command is in the journal at the seq its ACK named;
- the journal's client commands are, child after child, a prefix of what that child was
  sent: nothing invented, reordered, duplicated or half-written;
and after each restart, that the child's recovered hash equals the twin's at that seq.

VENUE_SIM_KILLS sets the number of kills (default 60; CI needs at least 50) and
VENUE_SIM_SEED the seed: a failing seed is printed and becomes a regression test.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest
from sim_support import Child, read_everything

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
from venue.domain.instrument import Instrument
from venue.domain.values import OrderType, Side

KILLS = int(os.environ.get("VENUE_SIM_KILLS", "60"))
SEED = int(os.environ.get("VENUE_SIM_SEED", "20240601"))
SYMBOL = "S"


class Flow:
    """Unique commands: every place has its own client_order_id, each order is cancelled at
    most once, so the journal can be matched against what was sent without ambiguity."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.next_id = 0
        self.sent: dict[int, Command] = {}
        self.places: dict[int, int] = {}  # command id -> account id
        self.live: list[tuple[int, int]] = []  # (order id = seq, account) of acked places
        self.cancelled: set[int] = set()

    def instrument(self) -> tuple[int, Command]:
        return self._record(AddInstrument(Instrument.create(SYMBOL, "B", "Q", "1", "1", 0, 0)))

    def next(self) -> tuple[int, Command]:
        rng = self.rng
        if self.live and rng.random() < 0.3:
            order_id, account = self.live.pop(rng.randrange(len(self.live)))
            if order_id not in self.cancelled:
                self.cancelled.add(order_id)
                return self._record(CancelOrder(account, order_id))
        account = rng.randrange(1, 30)
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        price = rng.randrange(95, 106)
        command = PlaceOrder(
            account,
            SYMBOL,
            side,
            OrderType.LIMIT,
            rng.randrange(1, 20),
            price,
            client_order_id=f"c{self.next_id}",
        )
        self.places[self.next_id] = account
        return self._record(command)

    def acknowledged(self, command_id: int, seq: int) -> None:
        if command_id in self.places:
            self.live.append((seq, self.places[command_id]))

    def _record(self, command: Command) -> tuple[int, Command]:
        command_id = self.next_id
        self.next_id += 1
        self.sent[command_id] = command
        return command_id, command


class Twin:
    """A state that replays the journal from seq 1 and never crashes."""

    def __init__(self) -> None:
        self.state = VenueState()

    def advance(self, journal: list[SequencedCommand], to_seq: int) -> str:
        for record in journal[self.state.last_seq : to_seq]:
            apply(self.state, record)
        assert self.state.last_seq == to_seq
        return self.state.state_hash()


def check_journal(
    directory: Path, flow: Flow, acked: dict[int, int], sent_per_child: list[list[int]]
) -> list[SequencedCommand]:
    """Check the journal while no child runs; returns its commands."""
    journal = read_everything(directory)
    by_seq = {record.seq: record.command for record in journal}
    for command_id, seq in acked.items():
        assert by_seq.get(seq) == flow.sent[command_id], f"ACKed command {command_id} lost"
    client = [r.command for r in journal if not isinstance(r.command, Tick | TakeSnapshot)]
    position = 0
    for sent in sent_per_child:
        for command_id in sent:
            if position < len(client) and client[position] == flow.sent[command_id]:
                position += 1
            else:
                break  # the rest of this child's commands never reached the journal
    assert position == len(client), f"journal command {position} was never sent in order"
    return journal


def run_child(child: Child, flow: Flow, rng: random.Random, kill_after_s: float) -> list[int]:
    """Feed the child bursts of commands until the SIGKILL lands; returns what was sent."""
    sent: list[int] = []
    seen = 0
    killer = threading.Timer(kill_after_s, child.signal_kill)
    killer.start()
    try:
        while child.process.poll() is None:
            for _ in range(rng.randrange(1, 25)):
                command_id, command = flow.next()
                if not child.send(command_id, command):
                    break
                sent.append(command_id)
            if not child.flush():
                break
            acks = child.acks[seen:]
            seen += len(acks)
            for command_id, seq in acks:
                flow.acknowledged(command_id, seq)
            time.sleep(rng.choice([0, 0.001, 0.003]))
    finally:
        killer.join()
        child.finish()
    return sent


@pytest.mark.slow
def test_kill_minus_9_loop_loses_no_acknowledged_command(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    directory = tmp_path / "journal"
    log = tmp_path / "child.log"
    flow = Flow(rng)
    twin = Twin()
    acked: dict[int, int] = {}
    sent_per_child: list[list[int]] = []
    started = time.monotonic()
    print(f"crash loop: seed {SEED}, {KILLS} kills")  # a failing seed becomes a regression

    journal: list[SequencedCommand] = []

    def restart() -> Child:
        # `journal` was read after the kill, before this start (the child's ticks append)
        child = Child(directory, log)
        assert child.last_seq == len(journal), "recovery did not reach the journal's end"
        assert child.state_hash == twin.advance(journal, child.last_seq), "recovered != twin"
        return child

    def collect(child: Child, sent: list[int]) -> None:
        nonlocal journal
        sent_per_child.append(sent)
        for command_id, seq in child.acks:
            acked[command_id] = seq
            flow.acknowledged(command_id, seq)
        journal = check_journal(directory, flow, acked, sent_per_child)

    child = Child(directory, log)  # the instrument first, acknowledged before the rest
    command_id, command = flow.instrument()
    child.send(command_id, command)
    child.flush()
    assert child.ack_event.wait(10)
    first = [command_id]
    for kill in range(KILLS):
        if kill:
            child = restart()
        sent = run_child(child, flow, rng, rng.uniform(0.002, 0.2))
        collect(child, first + sent)
        first = []
    child = restart()  # finally a clean stop: EOF on stdin closes the sequencer
    sent = []
    for _ in range(50):
        command_id, command = flow.next()
        child.send(command_id, command)
        sent.append(command_id)
    assert child.close_input_and_wait() == 0, log.read_text()[-3000:]
    collect(child, sent)
    assert all(command_id in acked for command_id in sent)  # a clean stop answers everyone
    restart().close_input_and_wait()
    print(f"{len(acked)} acked, {len(journal)} journaled, {time.monotonic() - started:.1f} s")
    assert len(acked) > KILLS  # the loop did real work
    assert time.monotonic() - started < 120
