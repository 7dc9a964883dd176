"""The SQL projector's throughput: `Projector.apply_batch` over a recorded venue flow.

    .venv/bin/python bench/projector.py [--commands 20000] [--batch 200] [--runs 3]
                                        [--pg postgresql://postgres@127.0.0.1:5432/postgres]
                                        [--no-pg] [--profile]

A real `VenueState(accounts=True)` runs a seeded random flow (orders of every kind, cancels,
replaces, deposits, a few admin commands: tests/accounts/flows.py) untimed; its
(commands, events) are cut into batches of `--batch` commands. Each run projects them into a
fresh, migrated database (SQLite in a temporary file; PostgreSQL in a database made for the
run and dropped after it) and times only the `apply_batch` calls. Reported per backend:
commands/s (median of the runs, wall clock) and commands per CPU second of this process
(the figure that matters for the GIL: the database server's own time is not in it).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.accounts.flows

from tests.accounts.driver import BTC_USDT, ETH_USDT
from tests.accounts.flows import next_command

from venue.core import VenueState, apply
from venue.domain.commands import (
    AddInstrument,
    Command,
    CreateAccount,
    Deposit,
    PlaceOrder,
    SequencedCommand,
    SetFeeTier,
)
from venue.domain.events import AccountCreated, Event
from venue.persistence.database import make_engine, upgrade
from venue.persistence.projector import Projector, row_counts

Batches = list[tuple[list[SequencedCommand], list[list[Event]]]]


def record_flow(n_commands: int, seed: int) -> tuple[list[SequencedCommand], list[list[Event]]]:
    rng = random.Random(seed)
    state = VenueState(accounts=True)
    commands: list[SequencedCommand] = []
    events: list[list[Event]] = []
    ts = 0

    def run(command: Command) -> list[Event]:
        nonlocal ts
        ts += 1_000_000_000
        sequenced = SequencedCommand(len(commands) + 1, ts, command)
        produced = apply(state, sequenced)
        commands.append(sequenced)
        events.append(produced)
        return produced

    run(AddInstrument(BTC_USDT))
    run(AddInstrument(ETH_USDT))
    run(SetFeeTier("vip", 5, 15))
    accounts: list[int] = []
    for index in range(20):
        tier = ("default", "vip", "market_maker")[index % 3]
        created = [e for e in run(CreateAccount(tier, "default")) if isinstance(e, AccountCreated)]
        account = created[0].account_id
        accounts.append(account)
        for asset in ("USDT", "BTC", "ETH"):
            run(Deposit(account, asset, 10**14))
    live: list[int] = []
    while len(commands) < n_commands:
        command = next_command(rng.randint, accounts, live, ts)
        seq = len(commands) + 1
        run(command)
        if isinstance(command, PlaceOrder):
            live.append(seq)
            if len(live) > 2_000:
                live = live[-1_000:]
    return commands, events


def batches_of(commands: list[SequencedCommand], events: list[list[Event]], size: int) -> Batches:
    return [(commands[i : i + size], events[i : i + size]) for i in range(0, len(commands), size)]


def time_run(url: str, batches: Batches, profile: cProfile.Profile | None) -> tuple[float, float]:
    engine = make_engine(url, writer=True)
    try:
        upgrade(engine)
        projector = Projector(engine)
        projector.read_last_seq()
        wall = cpu = 0.0
        for commands, events in batches:
            w0, c0 = time.perf_counter(), time.process_time()
            if profile is not None:
                profile.enable()
            projector.apply_batch(commands, events)
            if profile is not None:
                profile.disable()
            wall += time.perf_counter() - w0
            cpu += time.process_time() - c0
        counts = row_counts(engine)
        assert projector.last_seq == batches[-1][0][-1].seq
        return wall, cpu, counts  # type: ignore[return-value]
    finally:
        engine.dispose()


def pg_database(admin_url: str, name: str) -> str:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_pg(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the apply_batch calls")
    args = parser.parse_args()

    t0 = time.perf_counter()
    commands, events = record_flow(args.commands, args.seed)
    batches = batches_of(commands, events, args.batch)
    n_events = sum(len(e) for e in events)
    print(
        f"flow: {len(commands)} commands, {n_events} events, {len(batches)} batches of "
        f"{args.batch} (recorded in {time.perf_counter() - t0:.1f} s)"
    )
    profile = cProfile.Profile() if args.profile else None
    backends: list[str] = []
    if not args.no_sqlite:
        backends.append("sqlite")
    if not args.no_pg:
        backends.append("postgresql")
    for backend in backends:
        walls: list[float] = []
        cpus: list[float] = []
        counts = None
        for run in range(args.runs):
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    wall, cpu, counts = time_run(f"sqlite:///{tmp}/venue.db", batches, profile)
            else:
                name = f"venue_bench_projector_{run}"
                url = pg_database(args.pg, name)
                try:
                    wall, cpu, counts = time_run(url, batches, profile)
                finally:
                    drop_pg(args.pg, name)
            walls.append(wall)
            cpus.append(cpu)
        n = len(commands)
        print(
            f"{backend:10s} {n / statistics.median(walls):10,.0f} commands/s wall "
            f"(runs: {', '.join(f'{n / w:,.0f}' for w in walls)}); "
            f"{n / statistics.median(cpus):10,.0f} commands per CPU s"
        )
        print(f"           rows: {counts}")
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
