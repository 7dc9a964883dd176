"""Determinism (DESIGN.md §3): same journal in, same events and same `state_hash()` out, every
time, in every process.

- Replaying a journal into a fresh `VenueState` gives identical events (equal and byte-equal
  when encoded) and the same state hash; every command also leaves the invariants intact.
- A state restored from a snapshot carries on exactly as the original would have.
- The hash (and the events) computed by another Python process, with a different
  `PYTHONHASHSEED`, are the same: `state_hash` must not depend on `hash()`, set order or
  anything else that is salted per process.

Journals mix every command the core knows (several markets, a call market, accounts with
money, stops, expiries, halts, kill switches...), well-formed or not; both the bare engine
(`accounts=False`) and the venue with accounts are replayed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from property.strategies import ci_friendly_settings, journals
from venue.core import VenueState, apply
from venue.domain.commands import SequencedCommand
from venue.domain.events import Event

Journal = list[SequencedCommand]

CHILD_SCRIPT = """
import hashlib, sys
import msgspec
from venue.core import VenueState, apply
from venue.domain.commands import SequencedCommand

journal = msgspec.msgpack.decode(sys.stdin.buffer.read(), type=list[SequencedCommand])
state = VenueState(accounts=sys.argv[1] == "accounts")
events = [apply(state, command) for command in journal]
print(state.state_hash())
print(hashlib.sha256(msgspec.msgpack.encode(events)).hexdigest())
print(hash("salted per process"))
"""


def replay(journal: Journal, accounts: bool) -> tuple[VenueState, list[list[Event]]]:
    state = VenueState(accounts=accounts)
    return state, [apply(state, command) for command in journal]


def replay_checked(journal: Journal, accounts: bool) -> tuple[VenueState, list[list[Event]]]:
    """`replay`, asserting the invariants after every command."""
    state = VenueState(accounts=accounts)
    events: list[list[Event]] = []
    for command in journal:
        events.append(apply(state, command))
        problems = state.check_invariants()
        assert problems == [], f"after seq {command.seq} {command.command!r}: {problems}"
    return state, events


def events_digest(events: list[list[Event]]) -> str:
    return hashlib.sha256(msgspec.msgpack.encode(events)).hexdigest()


@ci_friendly_settings(max_examples=60)
@given(journal=journals(), accounts=st.booleans())
def test_replaying_a_journal_gives_the_same_events_and_state_hash(
    journal: Journal, accounts: bool
) -> None:
    first, first_events = replay_checked(journal, accounts)
    second, second_events = replay(journal, accounts)
    assert second_events == first_events
    assert events_digest(second_events) == events_digest(first_events)
    assert second.state_hash() == first.state_hash()
    assert second.snapshot() == first.snapshot()


@ci_friendly_settings(max_examples=60)
@given(journal=journals(), accounts=st.booleans(), cut=st.integers(0, 1 << 16))
def test_a_restored_snapshot_carries_on_exactly_like_the_original(
    journal: Journal, accounts: bool, cut: int
) -> None:
    at = cut % (len(journal) + 1)
    original, _ = replay(journal[:at], accounts)
    restored = VenueState.from_snapshot(original.snapshot())
    assert restored.state_hash() == original.state_hash()
    for command in journal[at:]:
        assert apply(restored, command) == apply(original, command), f"seq {command.seq}"
    assert restored.state_hash() == original.state_hash()


@ci_friendly_settings(max_examples=20)
@given(journal=journals())
def test_the_journal_codec_round_trips_the_generated_commands(journal: Journal) -> None:
    """The child process below reads the journal through msgpack; make sure that is lossless."""
    encoded = msgspec.msgpack.encode(journal)
    assert msgspec.msgpack.decode(encoded, type=list[SequencedCommand]) == journal


@ci_friendly_settings(max_examples=3, derandomize=True, database=None)
@given(journal=journals(), accounts=st.booleans())
def test_another_process_computes_the_same_state_hash(journal: Journal, accounts: bool) -> None:
    state, events = replay(journal, accounts)
    own_seed = os.environ.get("PYTHONHASHSEED")
    child_seed = "1" if own_seed != "1" else "2"
    child = subprocess.run(
        [sys.executable, "-c", CHILD_SCRIPT, "accounts" if accounts else "bare"],
        input=msgspec.msgpack.encode(journal),
        capture_output=True,
        env={**os.environ, "PYTHONHASHSEED": child_seed},
        timeout=60,
        check=True,
    )
    child_hash, child_events, child_salt = child.stdout.decode().split()
    assert child_salt != str(hash("salted per process")), "the child must salt hash() differently"
    assert child_events == events_digest(events)
    assert child_hash == state.state_hash()
