"""Record framing: `[length u32][crc32c u32][payload]`, versioned payloads."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from journal_flows import random_flow

from venue.journal.codec import (
    HEADER_SIZE,
    KIND_COMMAND_V1,
    KIND_MARK_V1,
    SnapshotMark,
    crc32c,
    crc_is_accelerated,
    encode_records,
    frame,
)
from venue.journal.reader import CorruptJournalError, SegmentScanner


def test_crc32c_is_castagnoli() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value of CRC-32C
    assert crc_is_accelerated()


def test_commands_and_marks_round_trip_in_order() -> None:
    commands = random_flow(seed=1, count=200)
    data = encode_records(commands, [(150, "ab" * 32)])
    records = list(SegmentScanner(Path("x"), data, is_last=True).records())
    assert records[:-1] == commands
    assert records[-1] == SnapshotMark(150, "ab" * 32)


def test_each_record_is_length_crc_then_a_kind_byte() -> None:
    commands = random_flow(seed=2, count=3)
    data = encode_records(commands[:1], [(1, "h")])
    length, crc = struct.unpack_from("<II", data, 0)
    payload = data[HEADER_SIZE : HEADER_SIZE + length]
    assert crc == crc32c(payload)
    assert payload[0] == KIND_COMMAND_V1
    assert data[HEADER_SIZE + length + HEADER_SIZE] == KIND_MARK_V1


def test_encoding_is_deterministic() -> None:
    commands = random_flow(seed=3, count=100)
    assert encode_records(commands) == encode_records(list(commands))


def test_an_unknown_record_kind_is_corruption_with_its_offset() -> None:
    good = encode_records(random_flow(seed=4, count=2))
    data = good + frame(bytes([99]) + b"\x90") + good[:0]
    scanner = SegmentScanner(Path("seg"), data + encode_records([]), is_last=False)
    with pytest.raises(CorruptJournalError) as raised:
        list(scanner.records())
    assert raised.value.offset == len(good)
    assert "unknown record kind" in str(raised.value)
    assert str(raised.value).startswith("seg: offset")
