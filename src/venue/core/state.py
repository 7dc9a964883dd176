"""VenueState and `apply(state, sequenced_command) -> list[Event]`.

Determinism contract: `apply` is a pure function of the state and the sequenced command. It
reads no clock and no randomness; order ids are the seq of the command that placed the order,
trade ids come from a counter in the state. Same journal in, same events and same
`state_hash()` out, on every machine.

An exception raised here is a bug, never a business outcome (those are RejectReasons inside
events): the caller stops and restarts through recovery.
"""

from __future__ import annotations

import hashlib

from venue.core.snapshot import decode_image, encode_image, engine_from_image, image_of
from venue.domain.commands import (
    AddInstrument,
    CancelAllOrders,
    CancelOrder,
    HaltMarket,
    PlaceOrder,
    ReplaceOrder,
    ResumeMarket,
    SequencedCommand,
    SetMarketMode,
    TakeSnapshot,
    Tick,
    Uncross,
)
from venue.domain.events import CommandRejected, Event, SnapshotMarked
from venue.domain.reject import RejectReason
from venue.domain.values import CancelReason
from venue.engine.matching import MatchingEngine


class SequenceError(RuntimeError):
    """The sequencer broke its contract: a gap or repeat in seq, or time going backwards."""


class VenueState:
    """Everything the venue knows. Only `apply` changes it."""

    def __init__(self) -> None:
        self.engine = MatchingEngine()
        self.last_seq = 0
        self.last_ts_ns = 0

    def check_invariants(self) -> list[str]:
        return self.engine.check_invariants()

    def state_hash(self) -> str:
        """SHA-256 of the canonical encoding of the whole state; equal on every machine for
        equal states (unlike Python's `hash()`, which is salted per process)."""
        return hashlib.sha256(self.snapshot()).hexdigest()

    def snapshot(self) -> bytes:
        """The whole state, canonically encoded (see core/snapshot.py)."""
        return encode_image(image_of(self.engine, self.last_seq, self.last_ts_ns))

    @classmethod
    def from_snapshot(cls, data: bytes) -> VenueState:
        """The state a `snapshot()` was taken of; its `state_hash()` is the same."""
        image = decode_image(data)
        state = cls()
        state.engine = engine_from_image(image)
        state.last_seq = image.last_seq
        state.last_ts_ns = image.last_ts_ns
        return state


def apply(state: VenueState, sequenced: SequencedCommand) -> list[Event]:
    seq = sequenced.seq
    ts = sequenced.ts_ns
    if seq != state.last_seq + 1:
        raise SequenceError(f"seq {seq} follows {state.last_seq}")
    if ts < state.last_ts_ns:
        raise SequenceError(f"ts {ts} is before {state.last_ts_ns}")
    state.last_seq = seq
    state.last_ts_ns = ts
    command = sequenced.command
    engine = state.engine
    out: list[Event] = []
    kind = type(command)
    reason: RejectReason | None = None
    if kind is PlaceOrder:
        assert isinstance(command, PlaceOrder)
        engine.place(seq, command, ts, out)
    elif kind is CancelOrder:
        assert isinstance(command, CancelOrder)
        reason = engine.cancel(command, out)
    elif kind is ReplaceOrder:
        assert isinstance(command, ReplaceOrder)
        reason = engine.replace(command, ts, out)
    elif kind is CancelAllOrders:
        assert isinstance(command, CancelAllOrders)
        engine.cancel_all(command, out, CancelReason.CANCEL_ALL)
    elif kind is Tick:
        engine.tick(ts, out)
    elif kind is AddInstrument:
        assert isinstance(command, AddInstrument)
        reason = engine.add_instrument(command.instrument, ts, out)
    elif kind is HaltMarket:
        assert isinstance(command, HaltMarket)
        reason = engine.halt(command, out)
    elif kind is ResumeMarket:
        assert isinstance(command, ResumeMarket)
        reason = engine.resume(command, out)
    elif kind is SetMarketMode:
        assert isinstance(command, SetMarketMode)
        reason = engine.set_mode(command, ts, out)
    elif kind is Uncross:
        assert isinstance(command, Uncross)
        reason = engine.uncross(command, ts, out)
    elif kind is TakeSnapshot:
        out.append(SnapshotMarked(state.state_hash()))
    else:  # pragma: no cover - the Command union is closed
        raise TypeError(f"unknown command {kind.__name__}")
    if reason is not None:
        out.append(CommandRejected(reason, command))
    return out
