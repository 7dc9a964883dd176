"""The one place tests find PostgreSQL: `VENUE_TEST_PG_URL` (default
postgresql://postgres@127.0.0.1:5432/postgres), a server admin URL the tests make and drop
their own databases with.

When it is unreachable, a PostgreSQL test is skipped with the reason, so `make test` works on
a laptop without PostgreSQL; but with `VENUE_TEST_REQUIRE_POSTGRES=1` (set by `.ci/run`) it
fails instead, so CI can never go green without PostgreSQL having been tested.
"""

from __future__ import annotations

import os
from functools import cache

import pytest

PG_ADMIN_URL = os.environ.get("VENUE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRED = os.environ.get("VENUE_TEST_REQUIRE_POSTGRES", "") == "1"


@cache
def unreachable_reason() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can (asked once per session)."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL unreachable at {PG_ADMIN_URL}: {exc}"


def postgres_available() -> bool:
    return unreachable_reason() is None


def require_postgres() -> None:
    """Skip (or, where CI requires PostgreSQL, fail) the calling test without it."""
    reason = unreachable_reason()
    if reason is None:
        return
    if REQUIRED:
        pytest.fail(f"{reason} (VENUE_TEST_REQUIRE_POSTGRES=1: PostgreSQL tests must run)")
    pytest.skip(reason)
