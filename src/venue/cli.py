"""The `venue` command. Sub-commands live beside the code they drive and are mounted here."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

from venue.bench.cli import bench_app
from venue.demo import demo_command
from venue.journal.cli import EXIT_PROBLEM, journal_app, refusal_line, replay_command
from venue.journal.reader import JournalError
from venue.loadtest.cli import loadtest_command
from venue.ops_cli import admin_app, serve_command
from venue.persistence.cli import db_app
from venue.runtime import tune_gc


def _with_tuned_gc(command: Callable[..., Any]) -> Callable[..., Any]:
    """Replaying a journal allocates like the venue does: run it with the venue's collector
    setting (runtime.tune_gc), about 1.5x faster than CPython's default on 1M commands."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        tune_gc()
        return command(*args, **kwargs)

    return run


def _refusing_an_unusable_journal(command: Callable[..., Any]) -> Callable[..., Any]:
    """Startup stops on a corrupt (or otherwise unusable) journal with one line on stderr
    naming the file, the byte offset and what to do, and exit code 1, instead of a
    traceback. Recovery has changed nothing by then (journal.recovery)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except JournalError as exc:
            typer.echo(refusal_line("venue serve", exc), err=True)
            raise typer.Exit(EXIT_PROBLEM) from None

    return run


def _tune_gc_first() -> None:
    tune_gc()


app = typer.Typer(
    name="venue",
    help="venue: a trading venue with a deterministic single-writer core.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(_refusing_an_unusable_journal(serve_command))
app.add_typer(admin_app, name="admin")
app.add_typer(bench_app, name="bench")
app.command("demo")(demo_command)
journal_app.callback()(_tune_gc_first)  # verify replays the whole journal
app.add_typer(journal_app, name="journal")
app.add_typer(db_app, name="db")
app.command("loadtest")(loadtest_command)
app.command("replay")(_with_tuned_gc(replay_command))


if __name__ == "__main__":  # pragma: no cover
    app()
