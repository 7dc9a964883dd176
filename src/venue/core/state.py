"""VenueState and `apply(state, sequenced_command) -> list[Event]`.

Determinism contract: `apply` is a pure function of the state and the sequenced command. It
reads no clock and no randomness; order ids and account ids are the seq of the command that
created them, trade ids come from a counter in the state. Same journal in, same events and
same `state_hash()` out, on every machine.

Money: with `accounts=True` (what the server runs; the composition root always says which),
every order is backed by a reservation and every trade settles inside the same `apply`
(core/trading.py). With `accounts=False` the core is the bare matching engine: orders need no
account, nothing is reserved or settled (engine benchmarks and matching-only tests).

An exception raised here is a bug, never a business outcome (those are RejectReasons inside
events): the caller stops and restarts through recovery.
"""

from __future__ import annotations

import hashlib
from typing import Final

from msgspec.structs import astuple

from venue.core import admin
from venue.core.errors import SequenceError
from venue.core.snapshot import decode_image, encode_image, image_of, restore_into
from venue.core.trading import Trading
from venue.domain.commands import (
    AddInstrument,
    CancelAllOrders,
    CancelOrder,
    CreateAccount,
    Deposit,
    HaltMarket,
    PlaceOrder,
    ReplaceOrder,
    ResumeMarket,
    SequencedCommand,
    SetFeeTier,
    SetKillSwitch,
    SetMarketMode,
    SetRiskProfile,
    TakeSnapshot,
    Tick,
    Uncross,
    UpdateAccount,
    Withdraw,
)
from venue.domain.events import CommandRejected, Event, OrderRejected, SnapshotMarked
from venue.domain.reject import RejectReason
from venue.domain.values import CancelReason
from venue.engine.matching import MatchingEngine
from venue.ledger.ledger import Ledger

# Module statics under mypyc (a plain global is a dict lookup by name on every use).
_ASTUPLE: Final = astuple
_PLACE_ORDER: Final = PlaceOrder


class VenueState:
    """Everything the venue knows. Only `apply` changes it."""

    def __init__(self, *, accounts: bool = False) -> None:
        self.accounts = accounts
        self.engine = MatchingEngine()
        self.ledger = Ledger()
        self.trading = Trading(self.engine, self.ledger)
        self.last_seq = 0
        self.last_ts_ns = 0

    def next_due_ns(self) -> int | None:
        """When a Tick would next change anything (None: never, until another command). The
        sequencer feeds Ticks only then, so an idle venue journals nothing."""
        return self.engine.next_due_ns()

    def set_reporting(self, on: bool) -> None:
        """Off: `apply` reaches exactly the same states but leaves out the events that only
        report (the ledger's postings and balance events, OrderAccepted, continuous
        trading's LevelUpdated). For replaying a journal nobody observes; on by default."""
        self.engine.reporting = on
        self.ledger.recording = on

    def check_invariants(self) -> list[str]:
        problems = self.engine.check_invariants()
        if self.accounts:
            problems.extend(self.ledger.problems())
            problems.extend(self._holds_match_orders())
        return problems

    def _holds_match_orders(self) -> list[str]:
        live = set(self.engine.orders)
        held = set(self.ledger.holds)
        return [
            f"order {order_id}: live without a reservation" for order_id in sorted(live - held)
        ] + [f"order {order_id}: reservation of a dead order" for order_id in sorted(held - live)]

    def state_hash(self) -> str:
        """SHA-256 of the canonical encoding of the whole state; equal on every machine for
        equal states (unlike Python's `hash()`, which is salted per process)."""
        return hashlib.sha256(self.snapshot()).hexdigest()

    def snapshot(self) -> bytes:
        """The whole state, canonically encoded (see core/snapshot.py)."""
        return encode_image(image_of(self))

    @classmethod
    def from_snapshot(cls, data: bytes) -> VenueState:
        """The state a `snapshot()` was taken of; its `state_hash()` is the same."""
        image = decode_image(data)
        state = cls(accounts=image.accounts)
        restore_into(state, image)
        return state


def apply(state: VenueState, sequenced: SequencedCommand) -> list[Event]:
    # One C call instead of three Python-level attribute reads (see engine/book.py).
    fields = _ASTUPLE(sequenced)
    seq: int = fields[0]
    ts: int = fields[1]
    command = fields[2]
    if seq != state.last_seq + 1:
        raise SequenceError(f"seq {seq} follows {state.last_seq}")
    if ts < state.last_ts_ns:
        raise SequenceError(f"ts {ts} is before {state.last_ts_ns}")
    state.last_seq = seq
    state.last_ts_ns = ts
    out: list[Event] = []
    if type(command) is _PLACE_ORDER:
        _place(state, seq, command, ts, out)
    else:
        reason = _other(state, seq, command, ts, out)
        if reason is not None:
            out.append(CommandRejected(reason, command))
    if state.accounts:
        state.ledger.flush(out)
    return out


def _place(state: VenueState, seq: int, command: PlaceOrder, ts: int, out: list[Event]) -> None:
    if not state.accounts:
        state.engine.place(seq, command, ts, out)
        return
    reason = state.trading.place(seq, command, ts, out)
    if reason is not None:
        out.append(OrderRejected(seq, reason, command))


def _other(
    state: VenueState, seq: int, command: object, ts: int, out: list[Event]
) -> RejectReason | None:
    """Every command but PlaceOrder; returns why it was refused, or None."""
    engine = state.engine
    trading = state.trading
    start = len(out)
    reason: RejectReason | None = None
    if isinstance(command, CancelOrder):
        reason = engine.cancel(command, out)
    elif isinstance(command, ReplaceOrder):
        if state.accounts:
            return trading.replace(command, ts, out)
        reason = engine.replace(command, ts, out)
    elif isinstance(command, CancelAllOrders):
        engine.cancel_all(command, out, CancelReason.CANCEL_ALL)
    elif isinstance(command, Tick):
        engine.tick(ts, out)
    elif isinstance(command, HaltMarket):
        reason = engine.halt(command, out)
    elif isinstance(command, ResumeMarket):
        reason = engine.resume(command, out)
    elif isinstance(command, SetMarketMode):
        reason = engine.set_mode(command, ts, out)
    elif isinstance(command, Uncross):
        reason = engine.uncross(command, ts, out)
    elif isinstance(command, TakeSnapshot):
        out.append(SnapshotMarked(state.state_hash()))
    else:
        return _admin(state, seq, command, ts, out)
    if state.accounts and reason is None:
        trading.settle(out, start, ts)
    return reason


def _admin(
    state: VenueState, seq: int, command: object, ts: int, out: list[Event]
) -> RejectReason | None:
    trading = state.trading
    if isinstance(command, AddInstrument):
        return admin.add_instrument(trading, command, ts, out)
    if isinstance(command, CreateAccount):
        return admin.create_account(trading, seq, command, out)
    if isinstance(command, UpdateAccount):
        return admin.update_account(trading, command, out)
    if isinstance(command, Deposit):
        return admin.deposit(trading, command)
    if isinstance(command, Withdraw):
        return admin.withdraw(trading, command)
    if isinstance(command, SetFeeTier):
        return admin.set_fee_tier(trading, command, out)
    if isinstance(command, SetRiskProfile):
        return admin.set_risk_profile(trading, command, out)
    if isinstance(command, SetKillSwitch):
        return admin.set_kill_switch(trading, command, ts, out)
    raise TypeError(f"unknown command {type(command).__name__}")  # the Command union is closed
