"""Every persistence test runs on SQLite (a temporary file) and on PostgreSQL (a database
made for this test session and dropped at its end; without a reachable server, skipped with
the reason, or failed where CI requires PostgreSQL: `tests/postgres.py`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine
from tests.postgres import PG_ADMIN_URL, require_postgres, unreachable_reason

from venue.persistence.database import make_engine, upgrade


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    """The URL of this session's PostgreSQL database, or None when it is unreachable."""
    name = f"venue_test_{os.getpid()}"
    if unreachable_reason() is not None:
        yield None
        return
    admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    with admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        try:
            yield f"{base}/{name}"
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _fresh_pg(url: str) -> None:
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
        c.execute("DROP SCHEMA public CASCADE")
        c.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, pg_database: str | None) -> str:
    """An empty database (no tables yet) of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'venue.db'}"
    if pg_database is None:
        require_postgres()  # skips, or fails where CI requires PostgreSQL
    _fresh_pg(pg_database)
    return pg_database


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database of each kind."""
    made = make_engine(database_url)
    upgrade(made)
    try:
        yield made
    finally:
        made.dispose()
