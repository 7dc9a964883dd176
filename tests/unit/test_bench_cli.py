"""`venue bench engine` and `venue demo` end to end, on the tiny workload of
test_bench_workload.py (fast: ten operations)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from test_bench_workload import TINY, TINY_EXPECTED, write_workload
from typer.testing import CliRunner

from venue.bench.engine import percentile
from venue.cli import app

runner = CliRunner()


def bench(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["bench", "engine", *args])
    return result.exit_code, result.stdout


def test_json_mode_prints_one_object_with_the_figures(tmp_path: Path) -> None:
    path = write_workload(tmp_path, TINY, TINY_EXPECTED)
    code, out = bench("--workload", str(path), "--runs", "2", "--json")
    assert code == 0, out
    figures = json.loads(out)
    assert figures["end_state_ok"] is True
    assert figures["ops"] == 10
    assert figures["runs"] == 2
    assert len(figures["ops_per_s_runs"]) == 2
    assert figures["ops_per_s"] > 0
    assert 0 < figures["p50_us"] <= figures["p99_us"] <= figures["max_us"]
    assert isinstance(figures["compiled"], bool)
    assert figures["fills"] == 5
    assert figures["gc"].startswith("enabled, gen0 threshold")


def test_a_wrong_end_state_fails_loudly_before_any_timing(tmp_path: Path) -> None:
    path = write_workload(tmp_path, TINY, {**TINY_EXPECTED, "n_fills": 6})
    code, out = bench("--workload", str(path), "--runs", "1", "--json")
    assert code == 1
    figures = json.loads(out)
    assert figures["end_state_ok"] is False
    assert figures["mismatches"] == [
        {"key": "n_fills", "expected": 6, "actual": 5, "source": "TradeExecuted events"}
    ]
    assert "ops_per_s" not in figures


def test_the_human_report_names_the_median_and_the_build(tmp_path: Path) -> None:
    path = write_workload(tmp_path, TINY, TINY_EXPECTED)
    code, out = bench("--workload", str(path), "--runs", "1", "--no-gc", "--profile")
    assert code == 0, out
    assert "matches expected.json" in out
    assert "ops/s (median)" in out
    assert "disabled during timed loops" in out
    assert "function calls" in out  # the cProfile listing


def test_a_missing_workload_or_expected_file_is_refused(tmp_path: Path) -> None:
    code, _ = bench("--workload", str(tmp_path / "nope.csv.gz"))
    assert code == 2
    path = write_workload(tmp_path, TINY)  # no expected.json beside it
    code, _ = bench("--workload", str(path))
    assert code == 2


def test_the_demo_replays_w1_from_the_workloads_directory(tmp_path: Path) -> None:
    shutil.move(write_workload(tmp_path, TINY), tmp_path / "w1.csv.gz")
    result = runner.invoke(app, ["demo", "--workloads", str(tmp_path)])
    assert result.exit_code == 0, result.stdout
    assert "replayed the first 10 operations" in result.stdout
    assert "state hash" in result.stdout


def test_the_demo_says_where_it_looked_when_workloads_are_missing(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--workloads", str(tmp_path)])
    assert result.exit_code == 2
    assert "no standard workload" in result.stdout


def test_percentiles_are_nearest_rank() -> None:
    ordered = list(range(1, 101))
    assert percentile(ordered, 50.0) == 50
    assert percentile(ordered, 99.0) == 99
    assert percentile(ordered, 99.9) == 100
    assert percentile([7], 99.0) == 7
    assert percentile([], 50.0) == 0
