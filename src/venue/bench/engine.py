"""The engine benchmark: replay a standard workload through `core.apply` and measure it.

Method (what the figures mean):

1. Load: the workload is parsed into `SequencedCommand`s before anything is timed.
2. Check pass (untimed): one replay on a fresh `VenueState` feeding every command's events to
   an `EventTally`; the end state is compared with `<name>.expected.json`
   (workload.check_end_state). On any difference the benchmark stops there: no figures for
   a wrong engine. The state hash of this replay is the reference for the timed runs.
3. Timed runs (`runs` of them, each on a fresh state): the AddInstrument is applied first,
   untimed; then one `perf_counter_ns` before and one after a bare loop
   `for cmd in ops: apply(state, cmd)`. Every event is produced (and dropped when the next
   command runs, as the sequencer would after handing it on). ops/s = ops / elapsed. After
   each run the state hash must equal the check pass's (determinism; outside the timing).
   The reported figure is the median over runs (`ops_per_s_best`, the fastest run, is the
   least disturbed by other processes). `ops_per_cpu_s` is the same with the
   process's CPU time instead of wall-clock time: on a shared, loaded machine it shows what
   the engine costs when other processes take the CPU away (wall-clock is the headline).
4. Latency pass (one more replay on a fresh state, apart from the timed runs so the timer
   calls do not distort the throughput figure): each `apply` bracketed by two
   `perf_counter_ns` calls, the difference stored in a preallocated list; nothing else in
   the loop. p50/p99/p99.9/max are nearest-rank percentiles over all ops. These include the
   cost of one timer call (`timer_overhead_ns`, measured and reported, not subtracted).

Garbage collector: left ENABLED by default, in the timed runs and the latency pass, because
the sequencer runs with it enabled and the engine's allocations (orders, levels and event
lists are tracked by the collector) are part of its cost. A full collection runs before each
timed run so each starts alike. `gc_enabled=False` (`--no-gc`) disables the collector
during the timed loops, for comparison; the output says which was used.

Peak memory is the process's peak resident set (getrusage), so it includes the pre-built
command list (about a quarter of a GB for 1M commands).

Progress is reported between phases and every `PROGRESS_STEP` commands of the untimed check
pass only; nothing calls out of a timed loop (and the CLI's display must not refresh from a
thread, which would take the GIL from the loop being timed).
"""

from __future__ import annotations

import cProfile
import gc
import io
import math
import pstats
import resource
import statistics
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from time import perf_counter_ns, process_time_ns
from typing import Protocol

from venue.bench.compiled import compiled_modules, engine_is_compiled, stale_compiled_modules
from venue.bench.workload import (
    EndStateReport,
    EventTally,
    Workload,
    accounts_flow,
    check_end_state,
    expected_path,
    load_expected,
    load_workload,
)
from venue.core import VenueState, apply
from venue.domain.commands import SequencedCommand
from venue.runtime.process import GC_GEN0_THRESHOLD, tune_gc

PROGRESS_STEP = 50_000


class Reporter(Protocol):
    """Where the benchmark says how far it is. Called only outside timed loops."""

    def phase(self, name: str, total: int) -> None: ...

    def advance(self, done: int) -> None: ...


class SilentReporter:
    def phase(self, name: str, total: int) -> None:
        pass

    def advance(self, done: int) -> None:
        pass


class EndStateError(RuntimeError):
    """The replay's end state differs from the workload's expected.json."""

    def __init__(self, report: EndStateReport) -> None:
        super().__init__("end state differs from expected.json:\n" + report.table())
        self.report = report


class NondeterminismError(RuntimeError):
    """Two replays of the same commands ended in different states."""


@dataclass
class EngineBenchResult:
    workload: str
    path: str
    ops: int
    runs: int
    ops_per_s: float
    ops_per_s_runs: list[float]
    ops_per_s_best: float
    ops_per_cpu_s: float
    p50_us: float
    p99_us: float
    p999_us: float
    max_us: float
    timer_overhead_ns: int
    end_state_ok: bool
    accounts: bool
    conservation_ok: bool | None  # checked with accounts on: every asset, end of the check pass
    compiled: bool
    compiled_modules: dict[str, bool]
    compiled_stale: list[str]
    gc: str
    events: int
    fills: int
    load_s: float
    peak_rss_mb: float
    state_hash: str
    python: str = field(default_factory=lambda: sys.version.split()[0])
    profile: str | None = None  # pstats text of a cProfile pass, if asked for; not in JSON

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        del data["profile"]
        return data


def run_engine_bench(
    path: Path,
    runs: int,
    *,
    gc_enabled: bool = True,
    reporter: Reporter | None = None,
    limit: int | None = None,
    profile_top: int = 0,
    accounts: bool = False,
) -> EngineBenchResult:
    """Load, check, time and measure latency (module docstring). Raises EndStateError
    before any timing if the end state is wrong, NondeterminismError if a timed run ends in
    another state than the check pass."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    say = reporter or SilentReporter()
    say.phase("load", 1)
    started = perf_counter_ns()
    workload = load_workload(path, limit=limit)
    if accounts:
        workload = with_accounts(workload)
    load_s = (perf_counter_ns() - started) / 1e9
    say.advance(1)

    state, tally = check_pass(workload, say)
    expected = load_expected(expected_path(path)) if limit is None else {}
    report = check_end_state(workload, expected, state, tally)
    if not report.ok:
        raise EndStateError(report)
    conservation = state.ledger.problems() if accounts else []
    if conservation:
        raise NondeterminismError("conservation broken: " + "; ".join(conservation[:5]))
    reference_hash = state.state_hash()
    del state

    rates: list[float] = []
    cpu_rates: list[float] = []
    for run in range(runs):
        say.phase(f"timed run {run + 1}/{runs}", 1)
        elapsed_ns, cpu_ns, state = timed_run(workload, gc_enabled)
        rates.append(workload.n_ops * 1e9 / elapsed_ns)
        cpu_rates.append(workload.n_ops * 1e9 / max(cpu_ns, 1))
        if state.state_hash() != reference_hash:
            raise NondeterminismError(f"run {run + 1} ended in another state than the check")
        del state
        say.advance(1)

    say.phase("latency pass", 1)
    latencies = latency_pass(workload, gc_enabled)
    say.advance(1)
    ordered = sorted(latencies)
    del latencies
    profile = None
    if profile_top:
        say.phase("cProfile pass", 1)
        profile = profile_pass(workload, profile_top)
        say.advance(1)
    return EngineBenchResult(
        workload=workload.name,
        path=str(path),
        ops=workload.n_ops,
        runs=runs,
        ops_per_s=round(statistics.median(rates), 1),
        ops_per_s_runs=[round(rate, 1) for rate in rates],
        ops_per_s_best=round(max(rates), 1),
        ops_per_cpu_s=round(statistics.median(cpu_rates), 1),
        p50_us=_us(percentile(ordered, 50.0)),
        p99_us=_us(percentile(ordered, 99.0)),
        p999_us=_us(percentile(ordered, 99.9)),
        max_us=_us(ordered[-1] if ordered else 0),
        timer_overhead_ns=timer_overhead_ns(),
        end_state_ok=True,
        accounts=accounts,
        conservation_ok=True if accounts else None,
        compiled=engine_is_compiled(),
        compiled_modules=compiled_modules(),
        compiled_stale=stale_compiled_modules(),
        gc=f"enabled, gen0 threshold {GC_GEN0_THRESHOLD} as the server runs"
        if gc_enabled
        else "disabled during timed loops",
        events=tally.n_events,
        fills=tally.n_fills,
        load_s=round(load_s, 3),
        peak_rss_mb=peak_rss_mb(),
        state_hash=reference_hash,
        profile=profile,
    )


ACCOUNTS_PER_SIDE = 500  # 1,000 funded accounts: buys use 500 of them, sells the other 500
ACCOUNT_DEPOSIT_BASE = 10**12
ACCOUNT_DEPOSIT_QUOTE = 10**15  # x 1,000 accounts stays under the venue's 2**62 asset total


def with_accounts(workload: Workload) -> Workload:
    """The same workload on a venue with accounts, fees (default tier) and risk checks: every
    order belongs to one of 1,000 funded accounts, chosen from the order id, buys and sells
    from disjoint halves so no order can meet its own account (the book must still end as
    expected.json says)."""
    flow = accounts_flow(workload, ACCOUNTS_PER_SIDE, ACCOUNT_DEPOSIT_BASE, ACCOUNT_DEPOSIT_QUOTE)
    commands = [
        SequencedCommand(seq, seq * 1_000, command)
        for seq, command in enumerate(flow.setup + flow.ops, start=1)
    ]
    return Workload(
        workload.name,
        workload.path,
        workload.symbol,
        commands[: len(flow.setup)],
        commands[len(flow.setup) :],
        workload.n_limit,
        workload.n_cancel,
        workload.n_market,
        accounts=True,
    )


def fresh_state(workload: Workload) -> VenueState:
    """A new state with the setup applied: bare matching (no accounts, DESIGN.md §7 off)
    unless the workload was made `with_accounts`."""
    state = VenueState(accounts=workload.accounts)
    for command in workload.setup:
        apply(state, command)
    return state


def check_pass(workload: Workload, say: Reporter) -> tuple[VenueState, EventTally]:
    """Untimed replay that keeps every event's figures (see workload.EventTally)."""
    state = fresh_state(workload)
    tally = EventTally()
    ops = workload.ops
    say.phase("check pass", len(ops))
    for start in range(0, len(ops), PROGRESS_STEP):
        for command in ops[start : start + PROGRESS_STEP]:
            tally.observe(apply(state, command))
        say.advance(min(start + PROGRESS_STEP, len(ops)))
    return state, tally


def timed_run(workload: Workload, gc_enabled: bool) -> tuple[int, int, VenueState]:
    """Wall-clock ns and process CPU ns of one bare replay of the ops on a fresh state, and
    that state. CPU time is the fairer figure on a shared, busy machine."""
    state = fresh_state(workload)
    ops = workload.ops
    run = apply  # a local name: one fewer global lookup per op in the loop being timed
    gc.collect()
    # The collector as the server runs it (runtime.tune_gc), or off for comparison.
    previous = tune_gc()
    if not gc_enabled:
        gc.disable()
    try:
        cpu_started = process_time_ns()
        started = perf_counter_ns()
        for command in ops:
            run(state, command)
        elapsed = perf_counter_ns() - started
        cpu = process_time_ns() - cpu_started
    finally:
        gc.enable()
        gc.set_threshold(*previous)
    return elapsed, cpu, state


def latency_pass(workload: Workload, gc_enabled: bool) -> list[int]:
    """Per-op latency in ns, each apply timed alone (module docstring, step 4)."""
    state = fresh_state(workload)
    ops = workload.ops
    latencies = [0] * len(ops)
    clock = perf_counter_ns
    run = apply
    gc.collect()
    previous = tune_gc()
    if not gc_enabled:
        gc.disable()
    try:
        for i, command in enumerate(ops):
            started = clock()
            run(state, command)
            latencies[i] = clock() - started
    finally:
        gc.enable()
        gc.set_threshold(*previous)
    return latencies


def profile_pass(workload: Workload, top: int = 25) -> str:
    """One replay under cProfile; the `top` functions by own time, as pstats prints them.
    Compiled (mypyc) functions do not show up: they call each other in C, unseen by
    cProfile; profile a compiled build with `perf` instead (bench/README.md)."""
    state = fresh_state(workload)
    profiler = cProfile.Profile()
    profiler.runcall(_replay_bare, state, workload.ops)
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer)
    stats.strip_dirs().sort_stats(pstats.SortKey.TIME).print_stats(top)
    return buffer.getvalue()


def _replay_bare(state: VenueState, ops: list[SequencedCommand]) -> None:
    for command in ops:
        apply(state, command)


def percentile(ordered: list[int], pct: float) -> int:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not ordered:
        return 0
    index = min(len(ordered) - 1, max(0, math.ceil(len(ordered) * pct / 100) - 1))
    return ordered[index]


def timer_overhead_ns(samples: int = 10_000) -> int:
    """Median cost of one perf_counter_ns call as the latency pass sees it."""
    clock = perf_counter_ns
    deltas = []
    for _ in range(samples):
        started = clock()
        deltas.append(clock() - started)
    return int(statistics.median(deltas))


def peak_rss_mb() -> float:
    """Peak resident set of this process so far, in MiB (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # bytes there
        peak //= 1024
    return round(peak / 1024, 1)


def _us(ns: int) -> float:
    return round(ns / 1000, 3)
