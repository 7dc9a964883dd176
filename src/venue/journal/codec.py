"""Journal records: framing, checksums and the versioned payloads (DESIGN.md §8).

A record is `[length u32 LE][crc32c u32 LE][payload]`:

- `length` is the payload's size in bytes, 1 <= length <= `RECORD_SIZE_MAX`;
- `crc32c` is the CRC-32C (Castagnoli) of the payload, computed by `google-crc32c`;
- the payload's first byte is its kind *and* version; the rest is msgpack:
  - `KIND_COMMAND_V1`: a `SequencedCommand` (array-like: `[seq, ts_ns, command]`), one per
    sequenced command, in seq order;
  - `KIND_MARK_V1`: a `SnapshotMark` `[seq, state_hash]`, the hash `core.apply` answered to the
    `TakeSnapshot` at `seq`. It is written after that command's record (in the same or a later
    write) and takes no seq of its own. Replay recomputes the hash and must find the same.

Invariants:
- Equal inputs encode to equal bytes (msgspec's msgpack encoding is canonical for structs).
- A payload whose kind byte is unknown is never guessed at: decoding raises `RecordError`,
  which readers report as corruption (or as a journal from a newer version).
- A zero-filled region never decodes as a record: a zero length is invalid.

Known limitation: a record is at most `RECORD_SIZE_MAX` bytes (commands are small; snapshots,
which reuse this framing for their one record, have their own, larger limit).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

import google_crc32c
import msgspec

from venue.domain.commands import SequencedCommand

HEADER: Final = struct.Struct("<II")
HEADER_SIZE: Final = HEADER.size
RECORD_SIZE_MAX: Final = 1 << 24  # 16 MiB: far above any command, bounds what a reader trusts

KIND_COMMAND_V1: Final = 1
KIND_MARK_V1: Final = 2
_COMMAND_PREFIX: Final = bytes([KIND_COMMAND_V1])
_MARK_PREFIX: Final = bytes([KIND_MARK_V1])


class SnapshotMark(msgspec.Struct, frozen=True, array_like=True):
    """The state hash `core.apply` answered to the `TakeSnapshot` at `seq`."""

    seq: int
    state_hash: str


Record = SequencedCommand | SnapshotMark


class RecordError(ValueError):
    """A payload that passed its CRC but cannot be decoded (unknown kind, bad msgpack)."""


_encoder = msgspec.msgpack.Encoder()
_command_decoder = msgspec.msgpack.Decoder(SequencedCommand)
_mark_decoder = msgspec.msgpack.Decoder(SnapshotMark)


def crc32c(data: bytes) -> int:
    """CRC-32C of `data` (hardware-accelerated where the CPU has it)."""
    return int(google_crc32c.value(data))


def crc_is_accelerated() -> bool:
    """False when google-crc32c fell back to pure Python (replay would be far slower)."""
    return str(google_crc32c.implementation) == "c"


def frame(payload: bytes) -> bytes:
    """One record: header then payload."""
    return HEADER.pack(len(payload), crc32c(payload)) + payload


def encode_records(
    commands: Sequence[SequencedCommand], marks: Sequence[tuple[int, str]] = ()
) -> bytes:
    """The records of `commands` then `marks` ((seq, state_hash) pairs), back to back, ready
    for one write.

    Hot path: one msgpack encode, one CRC and one header pack per record."""
    encode = _encoder.encode
    pack = HEADER.pack
    value = google_crc32c.value
    parts: list[bytes] = []
    append = parts.append
    for command in commands:
        payload = _COMMAND_PREFIX + encode(command)
        append(pack(len(payload), value(payload)))
        append(payload)
    for seq, state_hash in marks:
        payload = _MARK_PREFIX + encode(SnapshotMark(seq, state_hash))
        append(pack(len(payload), value(payload)))
        append(payload)
    return b"".join(parts)


def decode_payload(payload: bytes) -> Record:
    """The record a payload holds; raises RecordError if it is not one this version knows."""
    if not payload:
        raise RecordError("empty payload")
    kind = payload[0]
    try:
        if kind == KIND_COMMAND_V1:
            return _command_decoder.decode(memoryview(payload)[1:])
        if kind == KIND_MARK_V1:
            return _mark_decoder.decode(memoryview(payload)[1:])
    except msgspec.DecodeError as exc:
        raise RecordError(f"kind {kind} payload does not decode: {exc}") from exc
    raise RecordError(f"unknown record kind/version {kind} (written by a newer venue?)")


def command_decoder() -> msgspec.msgpack.Decoder[SequencedCommand]:
    """The decoder of command payloads (after the kind byte), for the replay hot loop."""
    return _command_decoder
