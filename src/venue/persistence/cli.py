"""`venue db upgrade|rebuild`: migrate the SQL read model, or rebuild it from the journal.

Invariants: `rebuild` reads the journal read-only (safe beside a running venue, whose newest
seqs it may then miss: the live projector fills those in) and touches only projection
tables; the API keys (identity tables) survive it. Exit codes: 0 done; 1 the journal or the
database refused; 2 bad input (no journal directory).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from venue.journal.reader import JournalError
from venue.persistence.database import make_engine, upgrade, url_for
from venue.persistence.projector import Projector, rebuild, row_counts

EXIT_PROBLEM = 1
EXIT_BAD_INPUT = 2
JOURNAL_SUBDIR = "journal"

db_app = typer.Typer(help="The SQL read model: migrate, rebuild.", no_args_is_help=True)

DataDirOption = Annotated[
    Path, typer.Option("--data-dir", help="The venue's data directory (journal/, venue.db).")
]
DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="VENUE_DATABASE_URL",
        help="SQLAlchemy URL (default: sqlite:///<data-dir>/venue.db).",
    ),
]
JournalDirOption = Annotated[
    Path | None,
    typer.Option("--journal-dir", help="Journal directory (default: <data-dir>/journal)."),
]


@db_app.command("upgrade")
def upgrade_command(
    data_dir: DataDirOption = Path("./var"), database_url: DatabaseUrlOption = None
) -> None:
    """Create or migrate the read model's tables to the newest revision."""
    console = Console()
    url = url_for(database_url, data_dir)
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    console.print(f"database at the newest revision: {engine.url.render_as_string()}")


@db_app.command("rebuild")
def rebuild_command(
    data_dir: DataDirOption = Path("./var"),
    database_url: DatabaseUrlOption = None,
    journal_dir: JournalDirOption = None,
) -> None:
    """Empty the projection tables and project the whole journal again."""
    console = Console(stderr=True)
    directory = journal_dir or data_dir / JOURNAL_SUBDIR
    if not directory.is_dir():
        console.print(f"[red]no journal directory at {directory}[/]")
        raise typer.Exit(EXIT_BAD_INPUT)
    engine = make_engine(url_for(database_url, data_dir), writer=True)
    try:
        upgrade(engine)
        projector = Projector(engine)
        with console.status("rebuilding the read model") as status:

            def on_chunk(seq: int) -> None:
                status.update(f"rebuilding the read model: seq {seq:,}")

            try:
                reached = rebuild(projector, directory, on_chunk=on_chunk)
            except JournalError as exc:
                console.print(f"[red]{exc}[/]")
                raise typer.Exit(EXIT_PROBLEM) from exc
        counts = row_counts(engine)
    finally:
        engine.dispose()
    out = Console()
    out.print(f"read model rebuilt to seq {reached:,}")
    for name, count in counts.items():
        out.print(f"  {name:<16} {count:>12,}")
