"""Engines and migrations of the SQL read model: SQLite by default, PostgreSQL when configured.

Invariants:
- SQLite runs in WAL mode (readers never block the projector, nor it them) with
  `synchronous=FULL`: the API key table is a system of record, and a commit it was told about
  must survive a power cut, so no connection runs at NORMAL. Foreign keys are on, and a
  writer waits `busy_timeout` for a lock instead of failing at once.
- SQLite transactions are begun explicitly (`BEGIN`), not by the driver's guesswork, so a
  read-modify-write such as the projector's (read last_seq, write rows) is one transaction,
  and a paginated read sees one snapshot.
- `postgresql://` and `postgres://` URLs use psycopg 3 (`postgresql+psycopg://`).
- `upgrade` is the only way tables are created: Alembic to head, in one transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

# What a lost or failing database raises through the queries (the gateway answers 503).
DatabaseError = DBAPIError

SQLITE_BUSY_TIMEOUT_MS: Final = 10_000
POOL_SIZE: Final = 8
POOL_OVERFLOW_MAX: Final = 8
MIGRATIONS: Final = "venue.persistence:migrations"
DATABASE_FILE: Final = "venue.db"


def url_for(database_url: str | None, data_dir: Path) -> str:
    """The configured URL, or the default SQLite file in the data directory."""
    if database_url:
        return database_url
    return f"sqlite:///{data_dir / DATABASE_FILE}"


def normalize_url(url: str | URL) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, *, writer: bool = False, **options: Any) -> Engine:
    """An engine for `url`: SQLite pragmas set on every connection (its file's directory is
    created), PostgreSQL through psycopg 3 with pre-ping so a restarted server is survived."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, **options)
        _configure_sqlite(engine, writer=writer)
        return engine
    options.setdefault("pool_size", POOL_SIZE)
    options.setdefault("max_overflow", POOL_OVERFLOW_MAX)
    options.setdefault("pool_pre_ping", True)
    # Upserts go through psycopg 3's pipelined executemany: SQLAlchemy's insertmanyvalues
    # batching is disabled for INSERT ... ON CONFLICT (sqlalchemy#13130).
    return create_engine(parsed, **options)


def _configure_sqlite(engine: Engine, *, writer: bool) -> None:
    # A writer's transactions take the write lock at BEGIN (IMMEDIATE): a deferred transaction
    # that reads and then writes cannot wait for another writer (SQLite answers "database is
    # locked" at once instead of using busy_timeout), so every engine that writes (the
    # projector, the key store) is a writer engine; readers stay deferred and never block.
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver must not open transactions on its own: we say BEGIN ourselves (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    return config


def upgrade(target: Engine | str | URL) -> None:
    """Migrate the database to the newest revision (creating every table on a new one)."""
    engine = make_engine(target) if not isinstance(target, Engine) else target
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        if engine is not target:
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None before the first upgrade)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
