"""`venue demo`: what `make run` shows until the server exists.

It replays the start of the standard workload W1 (../shared/workloads/w1.csv.gz) through the
same `core.apply` the server will use, then says in plain words what happened: how many
commands, trades and lots, how fast, the top of the final book and the state hash (the same
input always gives the same hash, DESIGN.md §3). It takes a few seconds.
"""

from __future__ import annotations

from pathlib import Path
from time import perf_counter_ns
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from venue.bench.compiled import engine_is_compiled
from venue.bench.workload import EventTally, Workload, load_workload
from venue.core import VenueState, apply
from venue.domain.values import Side

DEFAULT_WORKLOADS = Path("../shared/workloads")
WORKLOAD_FILE = "w1.csv.gz"
DEFAULT_LINES = 200_000
CHUNK = 10_000
DEPTH = 5


def demo_command(
    workloads: Annotated[
        Path,
        typer.Option(
            envvar="VENUE_WORKLOADS",
            help="Directory of the standard workloads (holds w1.csv.gz).",
        ),
    ] = DEFAULT_WORKLOADS,
    lines: Annotated[
        int, typer.Option(min=1, help="How many operations of W1 to replay.")
    ] = DEFAULT_LINES,
) -> None:
    """Replay the start of a standard workload through the core and explain the result."""
    console = Console(highlight=False)
    path = _workload_path(workloads)
    if not path.is_file():
        console.print(
            f"[red]venue demo: no standard workload at {path}[/]\n"
            "The demo replays ../shared/workloads/w1.csv.gz (relative to where you run it). "
            "Run it from the project directory, or point to the workloads with "
            "--workloads DIR or VENUE_WORKLOADS=DIR."
        )
        raise typer.Exit(2)
    with console.status(f"reading the first {lines:,} operations of {path} ..."):
        workload = load_workload(path, limit=lines)
    state, tally, elapsed_ns = _replay(workload, console)
    _explain(workload, state, tally, elapsed_ns, console)


def _workload_path(workloads: Path) -> Path:
    """W1 in `workloads`; for the default, also beside the project when run from elsewhere."""
    path = workloads / WORKLOAD_FILE
    if not path.is_file() and workloads == DEFAULT_WORKLOADS:
        project = Path(__file__).resolve().parents[2]  # src/venue/demo.py -> the project
        beside = project / DEFAULT_WORKLOADS / WORKLOAD_FILE
        if beside.is_file():
            return beside
    return path


def _replay(workload: Workload, console: Console) -> tuple[VenueState, EventTally, int]:
    """Apply setup and ops, timing only the apply calls (not the progress display)."""
    state = VenueState()
    tally = EventTally()
    for command in workload.setup:
        tally.observe(apply(state, command))
    ops = workload.ops
    elapsed_ns = 0
    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("replay", total=len(ops))
        for start in range(0, len(ops), CHUNK):
            chunk = ops[start : start + CHUNK]
            started = perf_counter_ns()
            results = [apply(state, command) for command in chunk]
            elapsed_ns += perf_counter_ns() - started
            for events in results:
                tally.observe(events)
            progress.update(task, completed=start + len(chunk))
    return state, tally, elapsed_ns


def _explain(
    workload: Workload, state: VenueState, tally: EventTally, elapsed_ns: int, console: Console
) -> None:
    ops = workload.n_ops
    rate = ops * 1e9 / max(elapsed_ns, 1)
    build = "compiled with mypyc" if engine_is_compiled() else "pure Python"
    console.print(
        f"\n[bold]venue demo[/]: replayed the first {ops:,} operations of "
        f"{workload.path.name} through the matching core (core.apply), one sequenced "
        f"command each, on one instrument '{workload.symbol}'.\n"
    )
    summary = Table(show_header=False, box=None, padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    summary.add_column(style="dim")
    summary.add_row("commands", f"{ops + len(workload.setup):,}", "AddInstrument, then 1 per line")
    summary.add_row("  limit orders", f"{workload.n_limit:,}", "GTC, may trade, rest the rest")
    summary.add_row("  market orders", f"{workload.n_market:,}", "trade now, never rest")
    summary.add_row("  cancels", f"{workload.n_cancel:,}", "of resting orders")
    summary.add_row("events", f"{tally.n_events:,}", "facts the core answered")
    summary.add_row("trades", f"{tally.n_fills:,}", "each at the resting price")
    summary.add_row("traded quantity", f"{tally.traded_qty:,}", "lots")
    summary.add_row("resting orders", f"{tally.resting:,}", "in the book at the end")
    summary.add_row("speed", f"{rate:,.0f}", f"ops/s, {build}")
    problems = state.check_invariants()
    summary.add_row(
        "book invariants", "ok" if not problems else f"{len(problems)} BROKEN", "checked"
    )
    console.print(summary)
    console.print(_book_table(tally))
    console.print(
        f"state hash [bold]{state.state_hash()}[/]\n"
        "[dim]SHA-256 of the whole state: replay the same commands anywhere and you get the "
        "same hash (that is how recovery and replicas are checked). Full benchmark: "
        "`make bench`.[/]"
    )


def _book_table(tally: EventTally) -> Table:
    """Top of the final book, bids and asks side by side, rebuilt from LevelUpdated events."""
    bids = tally.depth(Side.BUY, DEPTH)
    asks = tally.depth(Side.SELL, DEPTH)
    table = Table(title=f"top {DEPTH} price levels of the final book (price in ticks, qty in lots)")
    for name, style in (
        ("bid orders", "green"),
        ("bid qty", "green"),
        ("bid price", "bold green"),
        ("ask price", "bold red"),
        ("ask qty", "red"),
        ("ask orders", "red"),
    ):
        table.add_column(name, justify="right", style=style)
    for i in range(max(len(bids), len(asks))):
        bid = _level_cells(bids, i)
        ask = _level_cells(asks, i)
        table.add_row(bid[2], bid[1], bid[0], *ask)
    return table


def _level_cells(levels: list[tuple[int, int, int]], i: int) -> tuple[str, str, str]:
    """Price, qty, orders of the i-th level as text (blank past the end)."""
    if i >= len(levels):
        return ("", "", "")
    price, qty, orders = levels[i]
    return (str(price), f"{qty:,}", f"{orders:,}")
