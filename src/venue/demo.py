"""`venue demo`: what `make run` shows until the server exists."""

from __future__ import annotations

import typer


def demo_command() -> None:
    """Replay a short standard workload through the core and print a summary."""
    typer.echo("venue demo: not yet wired")
