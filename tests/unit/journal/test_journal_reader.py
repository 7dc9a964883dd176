"""Torn tails are truncated to the last whole record; anything else bad is corruption."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from journal_flows import apply_all, directory_image, random_flow, segment_files, write_journal

from venue.journal import CorruptJournalError, JournalConfig, JournalError, recover, verify
from venue.journal.codec import HEADER, HEADER_SIZE


def record_ends(data: bytes) -> list[int]:
    ends, pos = [0], 0
    while pos < len(data):
        (length, _) = HEADER.unpack_from(data, pos)
        pos += HEADER_SIZE + length
        ends.append(pos)
    return ends


def test_every_truncation_of_the_last_segment_recovers_to_the_last_whole_record(
    tmp_path: Path,
) -> None:
    commands = random_flow(seed=5, count=60)
    write_journal(tmp_path / "orig", commands, config=JournalConfig(segment_size_max_bytes=900))
    last = segment_files(tmp_path / "orig")[-1]
    data = last.read_bytes()
    ends = record_ends(data)
    first_seq_of_last = int(last.name[8:28])
    rng = random.Random(5)
    cuts = sorted({0, len(data) - 1, *rng.sample(range(len(data)), min(25, len(data)))})
    for cut in cuts:
        case = tmp_path / f"cut{cut}"
        case.mkdir()
        for path in (tmp_path / "orig").iterdir():
            (case / path.name).write_bytes(path.read_bytes())
        (case / last.name).write_bytes(data[:cut])
        whole = max(end for end in ends if end <= cut)
        kept = ends.index(whole)  # records wholly before the cut
        recovered = recover(case)
        recovered.journal.close()
        assert (case / last.name).stat().st_size == whole
        expected_last_seq = first_seq_of_last - 1 + kept
        assert recovered.state.last_seq == expected_last_seq
        expected = apply_all(commands[:expected_last_seq])
        assert recovered.state.state_hash() == expected.state_hash()
        assert (recovered.report.torn is not None) == (cut != whole)


def test_a_recovered_torn_journal_takes_new_records(tmp_path: Path) -> None:
    commands = random_flow(seed=6, count=40)
    write_journal(tmp_path, commands[:30])
    last = segment_files(tmp_path)[-1]
    last.write_bytes(last.read_bytes()[:-5])
    live = write_journal(tmp_path, commands[29:])  # seq 30 was torn off: it comes again
    assert live.state_hash() == apply_all(commands).state_hash()
    recovered = recover(tmp_path)
    recovered.journal.close()
    assert recovered.state.state_hash() == live.state_hash()


def test_a_zero_filled_tail_is_torn(tmp_path: Path) -> None:
    commands = random_flow(seed=7, count=20)
    write_journal(tmp_path, commands)
    last = segment_files(tmp_path)[-1]
    size = last.stat().st_size
    with last.open("ab") as stream:
        stream.write(bytes(4096))
    recovered = recover(tmp_path)
    recovered.journal.close()
    assert last.stat().st_size == size
    assert recovered.state.last_seq == 20


@pytest.mark.parametrize("seed", range(24))
def test_a_flipped_byte_before_the_tail_refuses_startup_naming_file_and_offset(
    tmp_path: Path, seed: int
) -> None:
    write_journal(tmp_path, random_flow(seed=seed, count=80), config=_small_segments())
    segments = segment_files(tmp_path)
    rng = random.Random(seed)
    victim = rng.choice(segments)
    data = bytearray(victim.read_bytes())
    ends = record_ends(bytes(data))
    # not inside the final record of the last segment: that one would be a torn tail
    data_limit = ends[-2] if victim == segments[-1] else len(data)
    position = rng.randrange(0, data_limit)
    data[position] ^= 1 << rng.randrange(8)
    victim.write_bytes(bytes(data))
    record_start = max(end for end in ends if end <= position)
    before = directory_image(tmp_path)
    with pytest.raises(CorruptJournalError) as raised:
        recover(tmp_path)
    assert raised.value.path == victim
    assert raised.value.offset == record_start
    assert f"{victim}: offset {record_start}" in str(raised.value)
    assert directory_image(tmp_path) == before


def test_a_damaged_length_in_the_last_segment_is_corruption_not_a_torn_tail(
    tmp_path: Path,
) -> None:
    write_journal(tmp_path, random_flow(seed=11, count=50))
    last = segment_files(tmp_path)[-1]
    data = bytearray(last.read_bytes())
    ends = record_ends(bytes(data))
    middle = ends[len(ends) // 2]
    data[middle + 3] = 0x7F  # the length now runs far past the end of the file
    last.write_bytes(bytes(data))
    before = directory_image(tmp_path)
    with pytest.raises(CorruptJournalError, match="a valid record follows") as raised:
        recover(tmp_path)
    assert raised.value.offset == middle
    assert directory_image(tmp_path) == before


def test_a_missing_middle_segment_is_a_gap(tmp_path: Path) -> None:
    write_journal(tmp_path, random_flow(seed=9, count=80), config=_small_segments())
    segments = segment_files(tmp_path)
    assert len(segments) >= 3
    segments[1].unlink()
    before = directory_image(tmp_path)
    with pytest.raises(CorruptJournalError, match="should start at seq"):
        recover(tmp_path)
    assert directory_image(tmp_path) == before


def test_a_journal_without_its_first_segment_and_no_snapshot_refuses(tmp_path: Path) -> None:
    write_journal(tmp_path, random_flow(seed=10, count=80), config=_small_segments())
    segment_files(tmp_path)[0].unlink()
    with pytest.raises(JournalError, match="seq 1 is needed"):
        recover(tmp_path)


def _small_segments() -> JournalConfig:
    return JournalConfig(segment_size_max_bytes=700)


@pytest.mark.parametrize("seed", range(12))
def test_a_bit_flip_in_the_final_record_refuses_startup_naming_file_and_offset(
    tmp_path: Path, seed: int
) -> None:
    # The final record is whole (header and every payload byte present) but its CRC does
    # not match: a crash cannot leave that (a crash leaves a prefix), a bit flip can.
    write_journal(tmp_path, random_flow(seed=seed, count=40))
    last = segment_files(tmp_path)[-1]
    data = bytearray(last.read_bytes())
    final = record_ends(bytes(data))[-2]
    rng = random.Random(seed)
    position = rng.randrange(final + 4, len(data))  # the CRC field or the payload
    data[position] ^= 1 << rng.randrange(8)
    last.write_bytes(bytes(data))
    before = directory_image(tmp_path)
    with pytest.raises(CorruptJournalError) as raised:
        recover(tmp_path)
    assert raised.value.path == last
    assert raised.value.offset == final
    assert "CRC mismatch" in raised.value.reason
    assert directory_image(tmp_path) == before
    report = verify(tmp_path)
    assert not report.ok
    assert any(f"{last}: offset {final}" in problem for problem in report.problems)


def test_a_final_record_whose_payload_was_never_written_is_a_torn_tail(tmp_path: Path) -> None:
    # The file was extended, the header written, the data blocks never: zeros, which can
    # never be a valid payload. That is a torn write, truncated like any other.
    commands = random_flow(seed=8, count=30)
    write_journal(tmp_path, commands)
    last = segment_files(tmp_path)[-1]
    data = bytearray(last.read_bytes())
    final = record_ends(bytes(data))[-2]
    data[final + HEADER_SIZE :] = bytes(len(data) - final - HEADER_SIZE)
    last.write_bytes(bytes(data))
    report = verify(tmp_path)
    assert report.ok, report.problems
    assert any("torn tail" in note for note in report.notes)
    recovered = recover(tmp_path)
    recovered.journal.close()
    assert last.stat().st_size == final
    assert recovered.report.torn is not None
    assert recovered.state.last_seq == 29
    assert recovered.state.state_hash() == apply_all(commands[:29]).state_hash()


def test_verify_notes_a_final_record_cut_short_as_a_torn_tail(tmp_path: Path) -> None:
    write_journal(tmp_path, random_flow(seed=9, count=30))
    last = segment_files(tmp_path)[-1]
    last.write_bytes(last.read_bytes()[:-3])
    report = verify(tmp_path)
    assert report.ok, report.problems
    assert any("torn tail" in note for note in report.notes)
    assert report.last_seq == 29
