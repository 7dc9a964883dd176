"""The inner loop of recovery, for the common case: a run of whole, valid command records
replayed into the state with nobody observing the events. Compiled with mypyc in the
compiled build (it sits in the same group as `core.apply`, so each apply is a direct C call).

It only ever takes the easy records. At the first record that is anything else (incomplete,
impossible length, CRC mismatch, another kind such as a snapshot mark, undecodable, a seq
other than the expected one, a seq past `to_seq`) it stops *before* that record and returns:
the general loop in `recovery._Replay.segment` then handles it with every check and message
of its own. So this module decides nothing about corruption or torn tails; it is only faster
at what the general loop would do anyway.

Invariant: `cursor` always describes the last record consumed (its end in `pos`, the next
seq due in `expected`) and, while `apply` runs, the seq being applied (`seq`), so the caller
can report where a failure happened even when `apply` raises.
"""

from __future__ import annotations

from typing import Final

import google_crc32c

from venue.core.state import VenueState, apply
from venue.domain.commands import TakeSnapshot
from venue.domain.events import Event
from venue.journal import codec
from venue.journal.codec import command_decoder

# The codec's figures as literals, so mypyc compiles them in (checked equal at import).
_HEADER_SIZE: Final = 8
_KIND_COMMAND_V1: Final = 1
_RECORD_SIZE_MAX: Final = 16_777_216
if (_HEADER_SIZE, _KIND_COMMAND_V1, _RECORD_SIZE_MAX) != (
    codec.HEADER_SIZE,
    codec.KIND_COMMAND_V1,
    codec.RECORD_SIZE_MAX,
):
    raise ImportError("fastreplay's record figures differ from journal.codec's")
_CRC: Final = google_crc32c.value
_DECODE: Final = command_decoder().decode
_TAKE_SNAPSHOT: Final = TakeSnapshot


class Cursor:
    """Where the fast loop is in one segment's bytes (see the module's invariant)."""

    pos: int
    expected: int
    seq: int
    replayed: int

    def __init__(self, pos: int, expected: int) -> None:
        self.pos = pos
        self.expected = expected
        self.seq = 0
        self.replayed = 0


def replay_run(
    data: bytes, cursor: Cursor, state: VenueState, after_seq: int, to_seq: int, limit: int
) -> list[Event] | None:
    """Consume up to `limit` easy records from `cursor.pos`, applying those after
    `after_seq`. Returns the events of a TakeSnapshot it applied (and stops right after it,
    so the caller can keep the hash), else None."""
    size = len(data)
    view = memoryview(data)
    pos = cursor.pos
    expected = cursor.expected
    taken = 0
    while taken < limit and size - pos >= _HEADER_SIZE:
        length = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16 | data[pos + 3] << 24
        crc = data[pos + 4] | data[pos + 5] << 8 | data[pos + 6] << 16 | data[pos + 7] << 24
        start = pos + _HEADER_SIZE
        end = start + length
        if length == 0 or length > _RECORD_SIZE_MAX or end > size:
            break
        if data[start] != _KIND_COMMAND_V1:
            break
        if _CRC(data[start:end]) != crc:
            break
        try:
            record = _DECODE(view[start + 1 : end])
        except ValueError:
            break
        seq = record.seq
        if seq != expected or seq > to_seq:
            break
        taken += 1
        expected = seq + 1
        if seq <= after_seq:
            pos = end
            cursor.pos = pos
            cursor.expected = expected
            continue
        cursor.seq = seq
        events = apply(state, record)
        pos = end
        cursor.pos = pos
        cursor.expected = expected
        cursor.replayed += 1
        if type(record.command) is _TAKE_SNAPSHOT:
            return events
    return None
