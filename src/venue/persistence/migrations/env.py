"""Alembic environment for the read model, driven in code (no alembic.ini).

`venue.persistence.database.upgrade` puts an open connection in
`config.attributes["connection"]`; migrations run on it, inside its transaction. Without one
(the `alembic` command line pointed here by hand), an engine is made from the config's
`sqlalchemy.url`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from venue.persistence.database import make_engine
from venue.persistence.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters tables by copying them; batch mode makes later revisions portable.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as fresh:
            _run(fresh)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; run venue db upgrade")
run_migrations_online()
