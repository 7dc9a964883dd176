"""The `venue` command. Sub-commands live beside the code they drive and are mounted here."""

from __future__ import annotations

import typer

from venue.bench.cli import bench_app
from venue.demo import demo_command
from venue.journal.cli import journal_app, replay_command
from venue.loadtest.cli import loadtest_command
from venue.ops_cli import admin_app, serve_command
from venue.persistence.cli import db_app

app = typer.Typer(
    name="venue",
    help="venue: a trading venue with a deterministic single-writer core.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(serve_command)
app.add_typer(admin_app, name="admin")
app.add_typer(bench_app, name="bench")
app.command("demo")(demo_command)
app.add_typer(journal_app, name="journal")
app.add_typer(db_app, name="db")
app.command("loadtest")(loadtest_command)
app.command("replay")(replay_command)


if __name__ == "__main__":  # pragma: no cover
    app()
