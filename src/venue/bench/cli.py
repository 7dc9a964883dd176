"""`venue bench ...` sub-commands."""

from __future__ import annotations

import typer

bench_app = typer.Typer(help="Benchmarks on the standard workloads.", no_args_is_help=True)
