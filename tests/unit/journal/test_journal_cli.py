"""`venue journal verify|inspect` and `venue replay` on real directories."""

from __future__ import annotations

from pathlib import Path

from journal_flows import apply_all, random_flow, segment_files, write_journal
from typer.testing import CliRunner

from venue.cli import app
from venue.journal.codec import HEADER

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
