"""`venue loadtest`: drive a running venue at a fixed request rate and report what it did.

Mounted by venue.cli as `app.command("loadtest")(loadtest_command)`.

Order of a run: setup (accounts, deposits, keys, the instrument and its mid; untimed), then
the subscribers (if any) connect and take their snapshots, then the driver runs the warm-up
and the measured schedule, waits for the outstanding answers, and the subscribers are given
time to receive the rest of the stream before they are checked.

Exit status: 0 when something was answered ok and the subscribers (if any) saw every delta
in order; 1 otherwise (the report says why); 2 when the run could not start (no key file,
the venue refused a setup step, unknown symbol).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from collections.abc import Coroutine
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, TypeVar

import aiohttp
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.table import Table

from venue.loadtest.driver import Driver, DriverConfig, FlowConfig, ProgressView, ws_url
from venue.loadtest.setup import Credentials, SetupError, VenueHttp, prepare
from venue.loadtest.stats import RunReport, build_report, ms
from venue.loadtest.subscribers import SubscriberGroup

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

T = TypeVar("T")


@dataclass(frozen=True)
class LoadtestOptions:
    url: str
    rate: float
    duration_s: float
    key_file: Path
    websocket: bool = False
    connections: int = 8
    accounts: int = 20
    symbol: str = "BTC-USDT"
    subscribers: int = 0
    warmup_s: float = 1.0
    timeout_s: float = 10.0
    max_in_flight: int = 10_000
    seed: int = 1
    price: Decimal | None = None
    flow: FlowConfig = field(default_factory=FlowConfig)


async def run_loadtest(
    options: LoadtestOptions,
    progress: Any = None,
    say: Any = None,
) -> RunReport:
    """Set up, run and report one load test. `progress` receives ProgressView snapshots while
    the schedule runs; `say` (a str callback) is told what setup is doing."""

    def tell(text: str) -> None:
        if say is not None:
            say(text)

    admin = Credentials.load(options.key_file)
    run_id = secrets.token_hex(4)
    # No connection limit: each subscriber holds one connection for the whole run (aiohttp's
    # default pool of 100 made the 101st subscriber wait until it timed out).
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        tell(f"setting up {options.accounts} accounts on {options.url} ...")
        prepared = await prepare(
            session,
            options.url,
            admin,
            symbol=options.symbol,
            accounts=options.accounts,
            run_id=run_id,
            price=options.price,
        )
        market = prepared.market
        mid = market.price(market.mid_ticks)
        tell(f"{options.symbol}: tick {market.tick}, lot {market.lot}, mid {mid}")
        group: SubscriberGroup | None = None
        if options.subscribers > 0:
            tell(f"connecting {options.subscribers} subscribers to book.{options.symbol} ...")
            group = SubscriberGroup(
                session,
                ws_url(options.url),
                options.symbol,
                options.subscribers,
                [trader.credentials for trader in prepared.traders],
            )
            await group.start()
        config = DriverConfig(
            url=options.url,
            rate=options.rate,
            duration_s=options.duration_s,
            warmup_s=options.warmup_s,
            connections=options.connections,
            websocket=options.websocket,
            timeout_s=options.timeout_s,
            max_in_flight=options.max_in_flight,
            seed=options.seed,
            run_id=f"lt{run_id}",
            flow=options.flow,
        )
        driver = Driver(config, market, prepared.traders, progress)
        try:
            recorder = await driver.run()
        except BaseException:
            if group is not None:
                await group.close()
            raise
        subscriber_report = None
        if group is not None:
            tell("letting the subscribers receive the rest of the stream ...")
            book_seq = await _book_seq(VenueHttp(session, options.url), options.symbol)
            await group.finish(book_seq)
            subscriber_report = group.report(book_seq)
    notes = []
    if driver.late_answers:
        notes.append(f"{driver.late_answers} answers arrived after their request timed out")
    notes += [f"WebSocket connection lost: {reason}" for reason in driver.lane_errors]
    if options.websocket and options.connections < options.accounts:
        notes.append(
            f"--ws uses one account per connection: {options.connections} of the "
            f"{options.accounts} accounts placed orders"
        )
    return build_report(
        recorder,
        url=options.url,
        transport=config.transport,
        symbol=options.symbol,
        requested_rate=options.rate,
        duration_s=options.duration_s,
        warmup_s=options.warmup_s,
        connections=options.connections,
        accounts=options.accounts,
        scheduled=driver.scheduled,
        subscribers=subscriber_report,
        mid_price=f"{mid} ({prepared.mid_source})",
        notes=tuple(notes),
    )


async def _book_seq(http: VenueHttp, symbol: str) -> int | None:
    try:
        book = await http.call("GET", f"/api/v1/markets/{symbol}/book", query="depth=1")
    except SetupError:
        return None
    seq = book.get("seq") if isinstance(book, dict) else None
    return seq if isinstance(seq, int) else None


class LiveProgress:
    """The run's progress on stderr, redrawn by the driver's own progress task (every half
    second, on the event loop): rich's auto-refresh thread would compete for the GIL with the
    senders."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            TextColumn("{task.completed:>5.1f}/{task.total:.0f} s"),
            TextColumn("{task.fields[figures]}"),
            console=console,
            auto_refresh=False,
            transient=True,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> LiveProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def __call__(self, view: ProgressView) -> None:
        figures = (
            f"sent {view.sent:,}  answered {view.done:,}  errors {view.errors:,}  "
            f"in flight {view.in_flight:,}"
        )
        if self._task is None:
            self._task = self._progress.add_task(view.phase, total=view.total_s, figures="")
        self._progress.update(
            self._task,
            description=view.phase,
            total=max(view.total_s, 0.001),
            completed=min(view.elapsed_s, view.total_s),
            figures=figures,
        )
        self._progress.refresh()


def _run(coroutine: Coroutine[Any, Any, T], use_uvloop: bool) -> T:
    if use_uvloop:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coroutine)
    return asyncio.run(coroutine)


def _parse_price(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise typer.BadParameter(f"not a decimal: {text!r}", param_hint="--price") from None
    if not price.is_finite() or price <= 0:
        raise typer.BadParameter("must be a positive decimal", param_hint="--price")
    return price


def loadtest_command(
    url: Annotated[str, typer.Option(help="The venue's base URL.")] = "http://127.0.0.1:8000",
    rate: Annotated[float, typer.Option(min=0.001, help="Requests per second (open loop).")] = (
        1000.0
    ),
    duration: Annotated[
        float, typer.Option(min=0.001, help="Measured seconds (after the warm-up).")
    ] = 10.0,
    websocket: Annotated[
        bool,
        typer.Option(
            "--ws",
            help="Trade over WebSocket (pipelined `place` and `cancel` messages); cancel-alls "
            "go over HTTP as the same account.",
        ),
    ] = False,
    connections: Annotated[
        int, typer.Option(min=1, help="HTTP keep-alive connections, or WebSocket connections.")
    ] = 8,
    accounts: Annotated[int, typer.Option(min=1, help="Trader accounts created for the run.")] = (
        20
    ),
    symbol: Annotated[str, typer.Option(help="The instrument to trade.")] = "BTC-USDT",
    key_file: Annotated[
        Path, typer.Option(help="The admin key the server wrote (<data dir>/admin-key.json).")
    ] = Path("./var/admin-key.json"),
    subscribers: Annotated[
        int,
        typer.Option(
            min=0,
            help="WebSocket subscribers to book.<symbol> that check the seq chain and measure "
            "delivery latency.",
        ),
    ] = 0,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object and nothing else on stdout.")
    ] = False,
    warmup: Annotated[
        float, typer.Option(min=0.0, help="Seconds at the same rate before measuring.")
    ] = 1.0,
    timeout: Annotated[
        float, typer.Option(min=0.001, help="Seconds after which a request counts as timed out.")
    ] = 10.0,
    max_in_flight: Annotated[
        int,
        typer.Option(
            min=1,
            help="Outstanding requests at most; beyond it the sender waits (and the wait is in "
            "the latency).",
        ),
    ] = 10_000,
    price: Annotated[
        str | None,
        typer.Option(
            help="Mid price to place orders around (default: the book's mid, else 27000)."
        ),
    ] = None,
    cross_ratio: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of orders priced to cross the mid.")
    ] = 0.1,
    cancel_ratio: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Chance a slot cancels a resting order.")
    ] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the order flow.")] = 1,
    use_uvloop: Annotated[
        bool, typer.Option("--uvloop/--no-uvloop", help="Run the client on uvloop.")
    ] = True,
) -> None:
    """Open-loop load test of a running venue: requests at fixed intervals, each request's
    latency measured from its intended send time; reports throughput, outcomes, latency
    percentiles and (with --subscribers) market-data gaps and delivery latency."""
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    options = LoadtestOptions(
        url=url,
        rate=rate,
        duration_s=duration,
        key_file=key_file,
        websocket=websocket,
        connections=connections,
        accounts=accounts,
        symbol=symbol,
        subscribers=subscribers,
        warmup_s=warmup,
        timeout_s=timeout,
        max_in_flight=max_in_flight,
        seed=seed,
        price=_parse_price(price),
        flow=FlowConfig(cross_ratio=cross_ratio, cancel_ratio=cancel_ratio),
    )
    try:
        if json_output or not err.is_terminal:
            report = _run(run_loadtest(options, say=_stderr_line), use_uvloop)
        else:
            with LiveProgress(err) as live:
                report = _run(run_loadtest(options, live, err.print), use_uvloop)
    except SetupError as problem:
        err.print(f"[red]venue loadtest: could not start:[/] {problem}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if json_output:
        typer.echo(json.dumps(report.to_json()))
    else:
        print_report(report, out)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


def _stderr_line(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in counts.items()) or "none"


def print_report(report: RunReport, out: Console) -> None:
    table = Table(title=f"venue loadtest: {report.url} ({report.transport})", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value")
    kept = (
        "[green]kept up[/]"
        if report.kept_up
        else "[bold red]FELL BEHIND[/]: the client could not send at the requested rate; "
        "the figures are for the achieved rate"
    )
    rows = [
        ("market", f"{report.symbol}, mid {report.mid_price}"),
        (
            "schedule",
            f"{report.requested_rate:,.0f} req/s for {report.duration_s:g} s "
            f"(+{report.warmup_s:g} s warm-up), {report.connections} connections, "
            f"{report.accounts} accounts",
        ),
        (
            "sent",
            f"{report.sent:,} of {report.scheduled:,} scheduled, "
            f"{report.achieved_send_rate:,.0f} req/s: {kept}",
        ),
        ("send lag", report.send_lag.text() if report.send_lag else "-"),
        (
            "throughput",
            f"[bold]{report.throughput:,.0f}[/] answers/s ({report.answered:,} answered, "
            f"{report.failed:,} failed)",
        ),
        ("outcomes", _counts(report.outcome_totals)),
    ]
    rows += [(f"  {kind}", _counts(counts)) for kind, counts in sorted(report.outcomes.items())]
    rows.append(("order statuses", _counts(report.order_statuses)))
    rows.append(("latency (all)", f"[bold]{report.latency.text()}[/]" if report.latency else "-"))
    rows += [(f"  {kind}", summary.text()) for kind, summary in report.latency_by_kind.items()]
    if report.subscribers is not None:
        subs = report.subscribers
        counts = [figures.deltas_after_start for figures in subs.subscribers]
        last = {figures.last_seq for figures in subs.subscribers}
        verdict = "[green]ok[/]" if subs.ok else "[bold red]FAILED[/]"
        rows += [
            (
                "subscribers",
                f"{len(subs.subscribers)} on {subs.channel}: {verdict}, gaps {subs.gaps}, "
                f"resyncs {sum(f.resyncs for f in subs.subscribers)}, "
                f"disconnected {sum(1 for f in subs.subscribers if f.disconnected)}",
            ),
            (
                "  deltas",
                f"{min(counts, default=0):,} .. {max(counts, default=0):,} per subscriber after "
                f"seq {subs.start_seq}; last seq {', '.join(str(s) for s in sorted(last, key=str))}"
                f" (book seq at the end {subs.book_seq_at_end})",
            ),
            (
                "  delivery",
                _delivery_text(subs.delivery.points_ns, subs.delivery.max_ns)
                if subs.delivery
                else "-",
            ),
        ]
    rows += [("note", note) for note in report.notes]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)


def _delivery_text(points_ns: dict[str, int], max_ns: int) -> str:
    return (
        f"p50 {ms(points_ns['p50']):.2f}, p99 {ms(points_ns['p99']):.2f}, "
        f"max {ms(max_ns):.2f} ms (receive time - engine ts)"
    )
