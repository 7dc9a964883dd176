"""`venue bench ...` sub-commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from venue.bench.engine import EndStateError, EngineBenchResult, run_engine_bench
from venue.bench.progress import ProgressReporter
from venue.bench.workload import EndStateReport, WorkloadError, expected_path

bench_app = typer.Typer(help="Benchmarks on the standard workloads.", no_args_is_help=True)

EXIT_WRONG_END_STATE = 1
EXIT_BAD_INPUT = 2
PROBLEMS_SHOWN = 10


@bench_app.command("engine")
def engine_command(
    workload: Annotated[
        Path,
        typer.Option(help="Workload file, e.g. ../shared/workloads/w1.csv.gz"),
    ],
    runs: Annotated[int, typer.Option(min=1, help="Timed runs; the median is reported.")] = 5,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object and nothing else on stdout.")
    ] = False,
    gc_enabled: Annotated[
        bool,
        typer.Option(
            "--gc/--no-gc",
            help="Keep the garbage collector enabled in the timed loops (the default, as the "
            "server runs), or disable it there for comparison.",
        ),
    ] = True,
    profile: Annotated[
        bool,
        typer.Option(help="After the runs, one more pass under cProfile; print the top 25."),
    ] = False,
    with_accounts: Annotated[
        bool,
        typer.Option(
            "--with-accounts",
            help="Run on a venue with accounts: 1,000 funded accounts, reservations, fees and "
            "risk checks; also checks conservation of every asset at the end.",
        ),
    ] = False,
) -> None:
    """Replay a standard workload through core.apply: check its end state against the
    workload's expected.json (fails on any difference), then report the median ops/s over
    the runs and per-op p50/p99 latency."""
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    if not workload.is_file():
        err.print(f"[red]no workload file at {workload}[/] (see ../shared/workloads/README.md)")
        raise typer.Exit(EXIT_BAD_INPUT)
    if not expected_path(workload).is_file():
        err.print(
            f"[red]no {expected_path(workload).name} beside {workload}[/]: "
            "the end state cannot be checked, so nothing is measured"
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        if json_output:
            result = run_engine_bench(
                workload,
                runs,
                gc_enabled=gc_enabled,
                profile_top=25 if profile else 0,
                accounts=with_accounts,
            )
        else:
            with ProgressReporter(err) as reporter:
                result = run_engine_bench(
                    workload,
                    runs,
                    gc_enabled=gc_enabled,
                    reporter=reporter,
                    profile_top=25 if profile else 0,
                    accounts=with_accounts,
                )
    except EndStateError as failure:
        _report_mismatch(failure.report, workload, json_output, out, err)
        raise typer.Exit(EXIT_WRONG_END_STATE) from None
    except WorkloadError as failure:
        err.print(f"[red]bad workload:[/] {failure}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if json_output:
        typer.echo(json.dumps(result.to_json()))
        if result.profile:
            typer.echo(result.profile, err=True)
        return
    _print_result(result, out)
    if result.profile:
        typer.echo(result.profile)


def _report_mismatch(
    report: EndStateReport, workload: Path, json_output: bool, out: Console, err: Console
) -> None:
    table = Table(title=f"END STATE WRONG: {workload}", title_style="bold red")
    for column in ("figure", "expected", "actual", "", "source"):
        table.add_column(column, justify="right" if column in ("expected", "actual") else "left")
    for check in report.checks:
        mark = "[green]ok[/]" if check.ok else "[bold red]DIFF[/]"
        table.add_row(check.key, str(check.expected), str(check.actual), mark, check.source)
    err.print(table)
    for problem in report.problems[:PROBLEMS_SHOWN]:
        err.print(f"[red]invariant broken:[/] {problem}", markup=True)
    if len(report.problems) > PROBLEMS_SHOWN:
        err.print(f"... and {len(report.problems) - PROBLEMS_SHOWN} more broken invariants")
    err.print(
        f"[bold red]{len(report.mismatches)} figure(s) differ from "
        f"{expected_path(workload).name}; nothing was timed.[/]"
    )
    if json_output:
        payload = {
            "workload": str(workload),
            "end_state_ok": False,
            "mismatches": [
                {"key": c.key, "expected": c.expected, "actual": c.actual, "source": c.source}
                for c in report.mismatches
            ],
            "broken_invariants": report.problems[:PROBLEMS_SHOWN],
        }
        typer.echo(json.dumps(payload))


def _print_result(result: EngineBenchResult, out: Console) -> None:
    table = Table(title=f"venue bench engine: {result.workload}", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value")
    runs = ", ".join(f"{rate:,.0f}" for rate in result.ops_per_s_runs)
    rows = [
        ("end state", "[green]matches expected.json[/]"),
        ("ops", f"{result.ops:,} ({result.events:,} events, {result.fills:,} fills)"),
        ("ops/s (median)", f"[bold]{result.ops_per_s:,.0f}[/] over {result.runs} runs: {runs}"),
        ("ops/s (best run)", f"{result.ops_per_s_best:,.0f}"),
        ("ops/CPU-s (median)", f"{result.ops_per_cpu_s:,.0f} (process CPU time, not wall clock)"),
        (
            "latency per op",
            f"p50 {result.p50_us:.2f} us, p99 {result.p99_us:.2f} us, "
            f"p99.9 {result.p999_us:.2f} us, max {result.max_us:,.0f} us "
            f"(timer overhead {result.timer_overhead_ns} ns included)",
        ),
        ("compiled", _compiled_text(result)),
        ("garbage collector", result.gc),
        ("peak RSS", f"{result.peak_rss_mb:,.0f} MiB (incl. the pre-built commands)"),
        ("load", f"{result.load_s:.1f} s (untimed)"),
        ("python", result.python),
        ("state hash", result.state_hash),
    ]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)
    if result.compiled_stale:
        out.print(
            f"[bold yellow]warning:[/] stale compiled build, the .py is newer than the .so for "
            f"{', '.join(result.compiled_stale)}: this run used OLD code. "
            "Run `make compile` (or `make uncompile`)."
        )


def _compiled_text(result: EngineBenchResult) -> str:
    done = [name for name, compiled in result.compiled_modules.items() if compiled]
    if not done:
        return "no (pure Python; `make compile` builds the mypyc modules)"
    label = "yes" if result.compiled else "partly"
    return f"{label} (mypyc: {', '.join(done)})"


from venue.bench.journal import journal_command  # noqa: E402 (appended: one owner per command)

bench_app.command("journal")(journal_command)
