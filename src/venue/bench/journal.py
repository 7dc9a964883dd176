"""The journal benchmark: a standard workload through the sequencer and the real file journal,
then recovery from that journal.

Method (what the figures mean):

1. Load (untimed): the workload is parsed (`bench.workload.load_workload`). With accounts on
   (the default) it is rewritten for a venue with money: the setup lists the instrument,
   `accounts_per_side` buyer and as many seller accounts (every buy belongs to a buyer, every
   sell to a seller, so no order can ever meet its own account: the matching, and so the
   expected end state, is the workload's), and a deposit of both assets to each, large
   enough that nothing is refused for funds. Order ids (= seqs) shift by the longer setup.
2. Check pass (untimed, once): every command applied to a fresh state with the same stamps
   the live run will get; its end state is compared with `<name>.expected.json` (fails
   loudly on any difference) and its hash is the reference for every run.
3. Each run, in a new journal directory: recovery (empty), then a `Sequencer` on the real
   `FileJournal` (fsync policy `batch` unless told otherwise). The setup is submitted and
   awaited, untimed. Then the clock starts; one driver thread submits the ops with
   `submit_many` in chunks of `chunk` commands, taking each chunk's replies as soon as they
   are in and waiting on the oldest when the inbox answers overloaded; the clock stops when
   the last reply is in.
   ops/s = ops / that time; ops/CPU-s = ops / the process's CPU time over the same span
   (all threads: on a shared, busy machine it shows the cost when other processes take
   the CPU away; wall-clock is the headline). Every command is journaled, fsynced (group
   commit), applied and replied to; replies are dropped as they come (the check pass
   already checked the events). The garbage collector is on, with the runtime's
   thresholds (`runtime.tune_gc`, what a venue process runs with) unless `--gc-default`
   asks for CPython's.
   The sequencer's wall clock is frozen at one value (a `FakeClock`): every ts is the same,
   so the live state hash is comparable with the check pass's; reading a real clock costs
   one call per batch, nothing here.
4. Recovery: `journal.recover` on the run's directory, timed from the call to the state
   being ready (genesis snapshot, the whole journal replayed: > 1M commands after the
   newest snapshot). replay_ops_per_s = commands replayed / that time. The recovered hash
   must equal the live one.

The median over runs is reported for ops/s, replay ops/s and ready time. The directory's
filesystem is reported too: fsync on tmpfs costs nothing, and the figures mean little there.
"""

from __future__ import annotations

import gc
import json
import shutil
import statistics
import sys
import tempfile
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from time import perf_counter_ns, process_time_ns
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from venue.bench.compiled import compiled_modules, engine_is_compiled
from venue.bench.engine import EndStateError, Reporter, SilentReporter, peak_rss_mb
from venue.bench.progress import ProgressReporter
from venue.bench.workload import (
    FROZEN_TS_NS,
    BenchFlow,
    EventTally,
    Workload,
    accounts_flow,
    bare_flow,
    check_end_state,
    expected_path,
    load_expected,
    load_workload,
)
from venue.core import VenueState, apply
from venue.domain.commands import (
    Command,
)
from venue.journal import FsyncPolicy, JournalConfig, recover
from venue.journal.config import UNSAFE_FSYNC_WARNING
from venue.runtime import (
    FakeClock,
    OverloadedError,
    Replies,
    Sequencer,
    SequencerConfig,
    median_of,
    tune_gc,
)

PROGRESS_STEP = 100_000


class NondeterminismError(RuntimeError):
    """The live, check-pass and recovered states differ."""


@dataclass
class JournalRun:
    ops_per_s: float
    ops_per_cpu_s: float
    elapsed_s: float
    fsyncs: int
    batches: int
    median_batch_size: float
    median_commit_size: float
    journal_bytes: int
    replayed: int
    ready_s: float
    replay_ops_per_s: float
    replay_ops_per_cpu_s: float
    live_hash_ok: bool
    recovered_hash_ok: bool


@dataclass
class JournalBenchResult:
    workload: str
    path: str
    ops: int
    runs: int
    accounts: bool
    fsync_policy: str
    filesystem: str
    ops_per_s: float
    ops_per_s_runs: list[float]
    ops_per_cpu_s: float
    end_state_ok: bool
    fsyncs: int
    batches: int
    median_batch_size: float
    median_commit_size: float
    journal_bytes: int
    replay_ops_per_s: float
    replay_ops_per_s_runs: list[float]
    replay_ops_per_cpu_s: float
    replayed: int
    ready_s: float
    recovered_hash_ok: bool
    batch_size_max: int
    chunk: int
    compiled: bool
    compiled_modules: dict[str, bool]
    peak_rss_mb: float
    state_hash: str
    gc: str
    python: str = field(default_factory=lambda: sys.version.split()[0])

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def run_journal_bench(
    path: Path,
    runs: int,
    *,
    accounts: bool = True,
    fsync: FsyncPolicy = FsyncPolicy.BATCH,
    directory: Path | None = None,
    batch_size_max: int = 4096,
    chunk: int = 512,
    limit: int | None = None,
    reporter: Reporter | None = None,
    gc_tuned: bool = True,
) -> JournalBenchResult:
    """Load, check, then `runs` timed runs with recovery (module docstring). Raises
    EndStateError before any timing if the check pass is wrong, NondeterminismError if a
    live or recovered state differs from it."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    say = reporter or SilentReporter()
    previous_gc = tune_gc() if gc_tuned else gc.get_threshold()
    try:
        return _run_journal_bench(
            path, runs, accounts, fsync, directory, batch_size_max, chunk, limit, say
        )
    finally:
        gc.set_threshold(*previous_gc)


def _run_journal_bench(
    path: Path,
    runs: int,
    accounts: bool,
    fsync: FsyncPolicy,
    directory: Path | None,
    batch_size_max: int,
    chunk: int,
    limit: int | None,
    say: Reporter,
) -> JournalBenchResult:
    say.phase("load", 1)
    workload = load_workload(path, limit=limit)
    flow = accounts_flow(workload) if accounts else bare_flow(workload)
    say.advance(1)
    reference_hash = _check_pass(workload, flow, path, limit, say)
    parent = directory or Path(tempfile.gettempdir())
    results: list[JournalRun] = []
    for run in range(runs):
        say.phase(f"run {run + 1}/{runs}: sequencer + journal", 1)
        run_dir = Path(tempfile.mkdtemp(prefix="venue-bench-journal-", dir=parent))
        try:
            result = _one_run(flow, run_dir, fsync, batch_size_max, chunk, reference_hash, say)
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
        if not (result.live_hash_ok and result.recovered_hash_ok):
            raise NondeterminismError(
                f"run {run + 1}: live hash ok {result.live_hash_ok}, "
                f"recovered hash ok {result.recovered_hash_ok}"
            )
        results.append(result)
        say.advance(1)
    middle = results[len(results) // 2]
    return JournalBenchResult(
        workload=workload.name,
        path=str(path),
        ops=len(flow.ops),
        runs=runs,
        accounts=flow.accounts,
        fsync_policy=fsync.value,
        filesystem=filesystem_of(parent),
        ops_per_s=round(statistics.median(r.ops_per_s for r in results), 1),
        ops_per_s_runs=[round(r.ops_per_s, 1) for r in results],
        ops_per_cpu_s=round(statistics.median(r.ops_per_cpu_s for r in results), 1),
        end_state_ok=True,
        fsyncs=middle.fsyncs,
        batches=middle.batches,
        median_batch_size=middle.median_batch_size,
        median_commit_size=middle.median_commit_size,
        journal_bytes=middle.journal_bytes,
        replay_ops_per_s=round(statistics.median(r.replay_ops_per_s for r in results), 1),
        replay_ops_per_s_runs=[round(r.replay_ops_per_s, 1) for r in results],
        replay_ops_per_cpu_s=round(statistics.median(r.replay_ops_per_cpu_s for r in results), 1),
        replayed=middle.replayed,
        ready_s=round(statistics.median(r.ready_s for r in results), 3),
        recovered_hash_ok=True,
        batch_size_max=batch_size_max,
        chunk=chunk,
        compiled=engine_is_compiled(),
        compiled_modules=compiled_modules(),
        peak_rss_mb=peak_rss_mb(),
        state_hash=reference_hash,
        gc=f"thresholds {gc.get_threshold()}",
    )


def _check_pass(
    workload: Workload, flow: BenchFlow, path: Path, limit: int | None, say: Reporter
) -> str:
    commands = flow.sequenced()
    state = VenueState(accounts=flow.accounts)
    tally = EventTally()
    say.phase("check pass", len(commands))
    for start in range(0, len(commands), PROGRESS_STEP):
        for command in commands[start : start + PROGRESS_STEP]:
            events = apply(state, command)
            if command.seq > len(flow.setup):
                tally.observe(events)
        say.advance(min(start + PROGRESS_STEP, len(commands)))
    expected = load_expected(expected_path(path)) if limit is None else {}
    report = check_end_state(workload, expected, state, tally)
    if not report.ok:
        raise EndStateError(report)
    return state.state_hash()


def _one_run(
    flow: BenchFlow,
    directory: Path,
    fsync: FsyncPolicy,
    batch_size_max: int,
    chunk: int,
    reference_hash: str,
    say: Reporter,
) -> JournalRun:
    journal_config = JournalConfig(fsync=fsync)
    recovered = recover(
        directory, journal_config, initial_state=lambda: VenueState(accounts=flow.accounts)
    )
    config = SequencerConfig(
        inbox_capacity=max(64 * chunk, 4 * batch_size_max),
        batch_size_max=batch_size_max,
        inflight_batches_max=64,
    )
    sequencer = Sequencer(
        recovered.state, recovered.journal, config=config, clock=FakeClock(FROZEN_TS_NS)
    ).start()
    try:
        _drive(sequencer, flow.setup, min(chunk, batch_size_max))
        stats_before = (sequencer.stats.fsyncs, sequencer.stats.batches)
        cpu_started = process_time_ns()
        started = perf_counter_ns()
        _drive(sequencer, flow.ops, min(chunk, batch_size_max))
        elapsed_ns = perf_counter_ns() - started
        cpu_ns = process_time_ns() - cpu_started
    finally:
        sequencer.close()
    if sequencer.failure is not None:
        raise RuntimeError(f"the sequencer failed: {sequencer.failure}")
    live_hash = sequencer.state.state_hash()
    stats = sequencer.stats
    journal_bytes = sum(p.stat().st_size for p in directory.glob("segment-*.log"))
    del sequencer, recovered
    say.phase("recovery (replay of the whole journal)", 1)
    cpu_started = process_time_ns()
    started = perf_counter_ns()
    again = recover(directory, journal_config)
    ready_ns = perf_counter_ns() - started
    ready_cpu_ns = process_time_ns() - cpu_started
    again.journal.close()
    replayed = again.report.replayed
    return JournalRun(
        ops_per_s=len(flow.ops) * 1e9 / elapsed_ns,
        ops_per_cpu_s=len(flow.ops) * 1e9 / max(cpu_ns, 1),
        elapsed_s=elapsed_ns / 1e9,
        fsyncs=stats.fsyncs - stats_before[0],
        batches=stats.batches - stats_before[1],
        median_batch_size=median_of(stats.batch_sizes),
        median_commit_size=median_of(stats.commit_sizes),
        journal_bytes=journal_bytes,
        replayed=replayed,
        ready_s=ready_ns / 1e9,
        replay_ops_per_s=replayed * 1e9 / ready_ns,
        replay_ops_per_cpu_s=replayed * 1e9 / max(ready_cpu_ns, 1),
        live_hash_ok=live_hash == reference_hash,
        recovered_hash_ok=again.state.state_hash() == live_hash,
    )


def _drive(sequencer: Sequencer, commands: Sequence[Command], chunk: int) -> None:
    """Submit everything in chunks, as a client that reads its replies would: a finished
    chunk's replies are taken (and so freed) before the next submission, and on overload the
    driver waits for the oldest outstanding chunk. (Keeping every reply until the end would
    hold a million commands' events in memory and measure that, not the venue.)"""
    outstanding: deque[Future[Replies]] = deque()
    for start in range(0, len(commands), chunk):
        part = commands[start : start + chunk]
        while outstanding and outstanding[0].done():
            outstanding.popleft().result()
        while True:
            try:
                outstanding.append(sequencer.submit_many(part))
                break
            except OverloadedError:
                outstanding.popleft().result()
    while outstanding:
        outstanding.popleft().result()


def filesystem_of(path: Path) -> str:
    """`fstype (device)` of the mount holding `path`, from /proc/mounts (Linux)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "unknown"
    resolved = str(path.resolve())
    best = ("", "unknown", "")
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        device, mount_point, kind = fields[0], fields[1], fields[2]
        inside = resolved == mount_point or resolved.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best[0]):
            best = (mount_point, kind, device)
    return f"{best[1]} ({best[2]} on {best[0]})" if best[0] else "unknown"


# ---------------------------------------------------------------------- the command


def journal_command(
    workload: Annotated[
        Path, typer.Option(help="Workload file, e.g. ../shared/workloads/w1.csv.gz")
    ],
    runs: Annotated[int, typer.Option(min=1, help="Timed runs; the median is reported.")] = 3,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object and nothing else on stdout.")
    ] = False,
    accounts: Annotated[
        bool,
        typer.Option(
            "--accounts/--no-accounts",
            help="Run the venue with accounts, reservations and settlement (the default), or "
            "as a bare matching engine.",
        ),
    ] = True,
    fsync: Annotated[
        FsyncPolicy,
        typer.Option(
            help="Journal fsync policy. 'batch' (default) is durable; 'none' is UNSAFE: "
            "acknowledged commands are lost on a machine crash. For comparison only."
        ),
    ] = FsyncPolicy.BATCH,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Where the runs' journal directories go (default: the system temp dir). "
            "Its filesystem is reported: on tmpfs fsync costs nothing.",
        ),
    ] = None,
    batch_size_max: Annotated[int, typer.Option(min=1, help="Sequencer batch limit.")] = 4096,
    chunk: Annotated[int, typer.Option(min=1, help="Commands per submission.")] = 512,
    gc_tuned: Annotated[
        bool,
        typer.Option(
            "--gc-tuned/--gc-default",
            help="Run with the runtime's garbage-collector setting (runtime.tune_gc, the "
            "default) or CPython's default thresholds.",
        ),
    ] = True,
) -> None:
    """Run the sequencer on the real file journal with a standard workload, then recover
    from that journal: ops/s, fsyncs, batch sizes, replay ops/s, time to ready, and checks
    of the end state and of the recovered state hash."""
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    if not workload.is_file() or not expected_path(workload).is_file():
        err.print(f"[red]need {workload} and {expected_path(workload).name} beside it[/]")
        raise typer.Exit(2)
    if fsync == FsyncPolicy.NONE:
        err.print(f"[bold red]{UNSAFE_FSYNC_WARNING}[/]")

    def run(reporter: Reporter | None) -> JournalBenchResult:
        return run_journal_bench(
            workload,
            runs,
            accounts=accounts,
            fsync=fsync,
            directory=directory,
            batch_size_max=batch_size_max,
            chunk=chunk,
            reporter=reporter,
            gc_tuned=gc_tuned,
        )

    try:
        if json_output:
            result = run(None)
        else:
            with ProgressReporter(err, label_width=40) as reporter:
                result = run(reporter)
    except EndStateError as failure:
        err.print(f"[bold red]END STATE WRONG[/]\n{failure.report.table(only_mismatches=True)}")
        if json_output:
            typer.echo(json.dumps({"workload": str(workload), "end_state_ok": False}))
        raise typer.Exit(1) from None
    except NondeterminismError as failure:
        err.print(f"[bold red]HASH MISMATCH[/] {failure}")
        if json_output:
            typer.echo(json.dumps({"workload": str(workload), "recovered_hash_ok": False}))
        raise typer.Exit(1) from None
    if json_output:
        typer.echo(json.dumps(result.to_json()))
        return
    _print_result(result, out)


def _print_result(result: JournalBenchResult, out: Console) -> None:
    table = Table(title=f"venue bench journal: {result.workload}", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value")
    unsafe = " [bold red](UNSAFE: not durable)[/]" if result.fsync_policy != "batch" else ""
    runs = ", ".join(f"{rate:,.0f}" for rate in result.ops_per_s_runs)
    replay_runs = ", ".join(f"{rate:,.0f}" for rate in result.replay_ops_per_s_runs)
    rows = [
        ("end state", "[green]matches expected.json[/] (live state = check pass)"),
        ("ops", f"{result.ops:,} (accounts {'on' if result.accounts else 'off'})"),
        ("ops/s (median)", f"[bold]{result.ops_per_s:,.0f}[/] over {result.runs} runs: {runs}"),
        ("ops/CPU-s (median)", f"{result.ops_per_cpu_s:,.0f} (process CPU time, all threads)"),
        ("fsync policy", f"{result.fsync_policy}{unsafe}; {result.fsyncs:,} fsyncs"),
        (
            "batches",
            f"{result.batches:,}; median {result.median_batch_size:,.0f} commands per batch, "
            f"{result.median_commit_size:,.0f} per fsync",
        ),
        ("journal", f"{result.journal_bytes / 2**20:,.1f} MiB on {result.filesystem}"),
        (
            "replay ops/s (median)",
            f"[bold]{result.replay_ops_per_s:,.0f}[/] ({result.replayed:,} commands): "
            f"{replay_runs}",
        ),
        ("replay ops/CPU-s", f"{result.replay_ops_per_cpu_s:,.0f}"),
        ("ready after", f"{result.ready_s:.2f} s (recovery, median)"),
        ("recovered hash", "[green]equal to the live state's[/]"),
        ("compiled", "yes" if result.compiled else "no (pure Python)"),
        ("garbage collector", result.gc),
        ("peak RSS", f"{result.peak_rss_mb:,.0f} MiB"),
        ("python", result.python),
        ("state hash", result.state_hash),
    ]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
