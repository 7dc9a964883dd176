"""`venue journal verify|inspect` and `venue replay` on real directories."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from journal_flows import (
    apply_all,
    directory_image,
    random_flow,
    segment_files,
    write_journal,
)
from typer.testing import CliRunner

from venue.cli import app
from venue.journal import JournalConfig, recover
from venue.journal.codec import HEADER, HEADER_SIZE

runner = CliRunner()


def test_verify_passes_a_healthy_journal(tmp_path: Path) -> None:
    commands = random_flow(seed=1, count=120, snapshot_every=40)
    live = write_journal(tmp_path, commands)
    result = runner.invoke(app, ["journal", "verify", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output
    assert live.state_hash() in result.output


def test_verify_names_file_and_offset_of_a_bad_record(tmp_path: Path) -> None:
    write_journal(tmp_path, random_flow(seed=2, count=50))
    segment = segment_files(tmp_path)[0]
    data = bytearray(segment.read_bytes())
    (length, _) = HEADER.unpack_from(data, 0)
    second = 8 + length
    data[second + 12] ^= 0x40
    segment.write_bytes(bytes(data))
    result = runner.invoke(app, ["journal", "verify", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{segment}: offset {second}" in result.output


def test_inspect_prints_records_from_a_seq(tmp_path: Path) -> None:
    write_journal(tmp_path, random_flow(seed=3, count=30))
    arguments = ["journal", "inspect", str(tmp_path), "--from", "5", "--limit", "3"]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("seq=5 ts=")
    assert "segment-00000000000000000001.log:" in lines[0]


def test_replay_prints_the_hash_at_the_seq(tmp_path: Path) -> None:
    commands = random_flow(seed=4, count=80, snapshot_every=25)
    write_journal(tmp_path, commands)
    result = runner.invoke(app, ["replay", str(tmp_path), "--to", "60"])
    assert result.exit_code == 0, result.output
    assert apply_all(commands[:60]).state_hash() in result.output
    assert "snapshot at seq 50" in result.output


def test_commands_refuse_a_missing_directory(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    assert runner.invoke(app, ["replay", missing]).exit_code == 2
    assert runner.invoke(app, ["journal", "inspect", missing]).exit_code == 2
    assert runner.invoke(app, ["journal", "verify", missing]).exit_code == 1


def _no_inverted_range(output: str) -> None:
    for low, high in re.findall(r"(\d+)\.\.(\d+)", output):
        assert int(low) <= int(high), output


@pytest.mark.parametrize("case", ["never started", "genesis only", "data dir"])
def test_verify_says_an_empty_journal_is_empty_instead_of_an_inverted_range(
    tmp_path: Path, case: str
) -> None:
    directory = tmp_path / "journal"
    directory.mkdir()
    if case != "never started":
        recover(directory).journal.close()  # genesis snapshot + an empty segment
    target = tmp_path if case == "data dir" else directory
    result = runner.invoke(app, ["journal", "verify", str(target)])
    assert result.exit_code == 0, result.output
    assert "empty journal" in result.output
    assert "OK" in result.output
    _no_inverted_range(result.output)


def test_verify_of_a_journal_pruned_down_to_its_snapshot_shows_no_inverted_range(
    tmp_path: Path,
) -> None:
    commands = random_flow(seed=12, count=20, snapshot_every=20)
    live = write_journal(tmp_path, commands)
    for segment in segment_files(tmp_path):
        segment.unlink()
    (tmp_path / "segment-00000000000000000021.log").write_bytes(b"")
    result = runner.invoke(app, ["journal", "verify", str(tmp_path)])
    assert result.exit_code == 0, result.output
    _no_inverted_range(result.output)
    assert "no commands" in result.output
    assert f"state hash at seq 20: {live.state_hash()}" in result.output


def test_verify_given_a_data_dir_checks_the_journal_inside_it(tmp_path: Path) -> None:
    live = write_journal(tmp_path / "journal", random_flow(seed=13, count=30))
    result = runner.invoke(app, ["journal", "verify", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "30 commands (seq 1..30)" in result.output
    assert live.state_hash() in result.output


def test_verify_reports_a_bit_flip_in_the_final_record_as_corruption(tmp_path: Path) -> None:
    write_journal(tmp_path, random_flow(seed=14, count=30))
    last = segment_files(tmp_path)[-1]
    data = bytearray(last.read_bytes())
    final = _final_record_offset(bytes(data))
    data[-2] ^= 0x10
    last.write_bytes(bytes(data))
    result = runner.invoke(app, ["journal", "verify", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert f"{last}: offset {final}: CRC mismatch" in result.output


def _final_record_offset(data: bytes) -> int:
    pos = final = 0
    while pos < len(data):
        (length, _) = HEADER.unpack_from(data, pos)
        final, pos = pos, pos + HEADER_SIZE + length
    return final


def _corrupt(journal: Path, where: str) -> tuple[Path, int]:
    """Damage one record of the journal in `journal`; the damaged file and record offset."""
    config = JournalConfig(segment_size_max_bytes=700)
    write_journal(journal, random_flow(seed=15, count=60), config=config)
    segments = segment_files(journal)
    assert len(segments) >= 2
    victim = segments[0] if where == "non-final segment" else segments[-1]
    data = bytearray(victim.read_bytes())
    (length, _) = HEADER.unpack_from(data, 0)
    offset = _final_record_offset(bytes(data)) if where == "final record" else 8 + length
    assert 0 < offset < _final_record_offset(bytes(data)) or where == "final record"
    data[offset + HEADER_SIZE + 2] ^= 0x04
    victim.write_bytes(bytes(data))
    return victim, offset


@pytest.mark.parametrize(
    "where", ["non-final segment", "middle of the last segment", "final record"]
)
def test_serve_refuses_a_corrupt_journal_with_one_line_and_changes_nothing(
    tmp_path: Path, where: str
) -> None:
    data_dir = tmp_path / "data"
    journal = data_dir / "journal"
    victim, offset = _corrupt(journal, where)
    before = directory_image(data_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENUE_")}
    env["LOG_LEVEL"] = "warning"
    env["COLUMNS"] = "80"
    arguments = ["serve", "--data-dir", str(data_dir), "--port", "0"]
    finished = subprocess.run(
        [sys.executable, "-m", "venue.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=30,  # a venue that starts serves until killed: that is a failure too
        env=env,
        check=False,
    )
    assert finished.returncode == 1, finished.stderr
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1, finished.stderr
    line = lines[0]
    assert str(victim) in line
    assert f"offset {offset}" in line
    assert "CRC mismatch" in line
    assert f"venue journal verify {journal}" in line
    assert "backup" in line
    assert directory_image(data_dir) == before


def test_replay_refuses_a_corrupt_final_record_with_one_line(tmp_path: Path) -> None:
    victim, offset = _corrupt(tmp_path, "final record")
    result = runner.invoke(app, ["replay", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert f"{victim}: offset {offset}" in result.output
