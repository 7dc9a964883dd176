"""`venue journal verify|inspect` and `venue replay`: look at a journal directory, read-only.

Invariants: none of these commands writes, truncates or locks anything, so they are safe on a
copy, on a damaged directory (that is what they are for) and beside a running venue.

Each takes a journal directory or a venue data dir (whose journal is `<data dir>/journal`).
Exit codes: 0 all good (an empty journal included); 1 the journal has a problem (corruption,
hash mismatch, gap); 2 bad input (no such directory, seq out of range).

`refusal_line` is the one line `venue serve` prints when recovery refuses to start.
"""

from __future__ import annotations

import datetime
import enum
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import msgspec
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from venue.domain.commands import SequencedCommand
from venue.domain.events import Event
from venue.journal.codec import SnapshotMark
from venue.journal.layout import JOURNAL_SUBDIR, list_segments, list_snapshots
from venue.journal.reader import CorruptJournalError, JournalError, ProgressCallback
from venue.journal.recovery import VerifyReport, inspect, replay, verify

EXIT_PROBLEM = 1
EXIT_BAD_INPUT = 2
PROGRESS_MIN_BYTES = 4 << 20  # smaller journals replay in well under a second

journal_app = typer.Typer(
    help="Check and read a journal directory (read-only).", no_args_is_help=True
)

DirArgument = Annotated[
    Path,
    typer.Argument(
        help="Journal directory (segment-*.log, snapshot-*.snap), or a venue data dir "
        "(its journal/ is used)."
    ),
]


def journal_directory(directory: Path) -> Path:
    """`directory`, or its `journal/` if it is a venue data dir: it holds no segment or
    snapshot itself but has that subdirectory (else an empty journal would be reported)."""
    inner = directory / JOURNAL_SUBDIR
    if inner.is_dir() and not list_segments(directory) and not list_snapshots(directory):
        return inner
    return directory


def refusal_line(command: str, exc: JournalError) -> str:
    """One line for the operator when `command` cannot use the journal: what is wrong and
    where (for corruption: the file and byte offset), that nothing was changed, what to do."""
    directory = exc.path.parent if isinstance(exc, CorruptJournalError) else exc.directory
    verify_hint = f"`venue journal verify {directory or '<journal dir>'}`"
    if isinstance(exc, CorruptJournalError):
        line = (
            f"{command}: refusing to start: the journal is corrupt: {exc.path}: byte offset "
            f"{exc.offset}: {exc.reason}. Nothing was changed. Restore the journal directory "
            f"from a backup; run {verify_hint} to see the damage."
        )
    else:
        line = (
            f"{command}: refusing to start: the journal cannot be used: {exc}. Nothing was "
            f"changed. Run {verify_hint} for details."
        )
    return line.replace("\n", " ")


def _summary(directory: Path, report: VerifyReport) -> str:
    """The first line of `verify`: what was read, never an inverted seq range."""
    if report.commands:
        what = f"{report.commands:,} commands (seq {report.first_seq}..{report.last_seq})"
    elif report.problems:
        what = "no command read"
    elif not report.segments and not report.snapshots_ok:
        what = "empty journal, no segment or snapshot files (no venue has run here)"
    elif report.last_seq:
        what = f"empty journal, no commands after the snapshot at seq {report.last_seq}"
    else:
        what = "empty journal, no commands yet"
    return (
        f"{directory}: {what}; {report.segments} segment(s), {report.marks} snapshot mark(s), "
        f"{report.snapshots_ok} usable snapshot(s)"
    )


@journal_app.command("verify")
def verify_command(directory: DirArgument) -> None:
    """Check every record (length, CRC, decoding, seq continuity) and every snapshot, then
    replay the journal checking each recorded state hash. Exit 1 on any problem."""
    err = Console(stderr=True, highlight=False)
    directory = journal_directory(directory)
    with _progress(err, "verifying") as progress:
        report = verify(directory, progress)
    typer.echo(_summary(directory, report))
    for note in report.notes:
        typer.echo(f"note: {note}")
    if report.state_hash:
        typer.echo(f"state hash at seq {report.last_seq}: {report.state_hash}")
    for problem in report.problems:
        typer.echo(f"PROBLEM: {problem}", err=True)
    if not report.ok:
        typer.echo(f"FAILED: {len(report.problems)} problem(s)", err=True)
        raise typer.Exit(EXIT_PROBLEM)
    typer.echo("OK")


@journal_app.command("inspect")
def inspect_command(
    directory: DirArgument,
    from_seq: Annotated[int, typer.Option("--from", min=1, help="First seq to show.")] = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="Show at most N records.")] = None,
) -> None:
    """Print records readably: seq, time, command and its fields, and where it is stored."""
    if not directory.is_dir():
        typer.echo(f"{directory} is not a directory", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    directory = journal_directory(directory)
    try:
        for item in inspect(directory, from_seq, limit):
            where = f"{item.segment.name}:{item.offset}"
            typer.echo(f"{describe(item.record)}  [{where}]")
    except JournalError as exc:
        typer.echo(f"PROBLEM: {exc}", err=True)
        raise typer.Exit(EXIT_PROBLEM) from None


def replay_command(
    directory: DirArgument,
    to_seq: Annotated[
        int | None, typer.Option("--to", min=0, help="Stop after this seq (default: the end).")
    ] = None,
) -> None:
    """Rebuild the state at any seq (newest snapshot at or below it + replay) and print its
    state hash and a summary. Read-only."""
    err = Console(stderr=True, highlight=False)
    if not directory.is_dir():
        typer.echo(f"{directory} is not a directory", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    directory = journal_directory(directory)
    commands: Counter[str] = Counter()
    events: Counter[str] = Counter()

    def observe(record: SequencedCommand, produced: list[Event]) -> None:
        commands[type(record.command).__name__] += 1
        for event in produced:
            events[type(event).__name__] += 1

    try:
        with _progress(err, "replaying") as progress:
            state, report = replay(directory, to_seq, progress, observe)
    except JournalError as exc:
        typer.echo(f"PROBLEM: {exc}", err=True)
        raise typer.Exit(EXIT_PROBLEM) from None
    base = f"snapshot at seq {report.snapshot.seq}" if report.snapshot else "empty state"
    rate = report.replayed / report.elapsed_s if report.elapsed_s > 0 else 0.0
    typer.echo(f"seq          {report.last_seq}")
    typer.echo(f"ts           {_time(state.last_ts_ns)}")
    typer.echo(f"state hash   {report.state_hash}")
    typer.echo(
        f"rebuilt from {base} + {report.replayed:,} commands in {report.elapsed_s:.2f} s "
        f"({rate:,.0f} commands/s), {report.marks_checked} snapshot hash(es) checked"
    )
    for skipped in report.skipped:
        typer.echo(f"skipped snapshot {skipped.path.name}: {skipped.reason}")
    if report.torn is not None:
        typer.echo(f"note: {report.torn} (ignored here; the next start truncates it)")
    for label, counts in (("commands", commands), ("events", events)):
        if counts:
            summary = ", ".join(f"{name} {count:,}" for name, count in counts.most_common())
            typer.echo(f"{label:<12} {summary}")


def describe(record: SequencedCommand | SnapshotMark) -> str:
    """One readable line for a record: fields left at their defaults are omitted."""
    if isinstance(record, SnapshotMark):
        return f"mark  seq={record.seq} state_hash={record.state_hash}"
    command = record.command
    fields = []
    for info in msgspec.structs.fields(command):
        value = getattr(command, info.name)
        if value == info.default:
            continue
        if isinstance(value, enum.Enum):
            fields.append(f"{info.name}={value.name}")
        else:
            fields.append(f"{info.name}={value!r}")
    body = " ".join(fields)
    return f"seq={record.seq} ts={_time(record.ts_ns)} {type(command).__name__} {body}".rstrip()


def _time(ts_ns: int) -> str:
    moment = datetime.datetime.fromtimestamp(ts_ns // 1_000_000_000, datetime.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ts_ns % 1_000_000_000:09d}Z"


@contextmanager
def _progress(console: Console, label: str) -> Iterator[ProgressCallback]:
    """A progress bar on stderr for long reads (shown only past PROGRESS_MIN_BYTES)."""
    bar = Progress(
        f"[bold]{label}[/]",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task(label, total=None)
    shown = False

    def report(done: int, total: int) -> None:
        nonlocal shown
        if total < PROGRESS_MIN_BYTES:
            return
        if not shown:
            bar.start()
            shown = True
        bar.update(task, completed=done, total=total)

    try:
        yield report
    finally:
        if shown:
            bar.stop()
