"""Every persistence test runs on SQLite (a temporary file) and on PostgreSQL (a database
made for this test session and dropped at its end; skipped, with the reason, when the server
at VENUE_TEST_PG_URL, default postgresql://postgres@127.0.0.1:5432/postgres, is unreachable)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine

from venue.persistence.database import make_engine, upgrade

PG_ADMIN_URL = os.environ.get("VENUE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
_PG_SKIP_REASON: list[str] = []


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str | None]:
    """The URL of this session's PostgreSQL database, or None with the reason remembered."""
    name = f"venue_test_{os.getpid()}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _PG_SKIP_REASON.append(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc}")
        yield None
        return
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
        pytest.skip(_PG_SKIP_REASON[0] if _PG_SKIP_REASON else "PostgreSQL unreachable")
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
