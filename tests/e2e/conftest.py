"""Fixtures: one real server per test module and backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.server import Market, Server
from tests.postgres import require_postgres

_symbols = itertools.count(1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    backend = request.param
    if backend == "postgresql":
        require_postgres()
    data_dir: Path = tmp_path_factory.mktemp(f"venue-{backend}") / "var"
    instance = Server(data_dir, backend=backend).start()
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def market(server: Server) -> Iterator[Market]:
    """A fresh instrument per test, so tests never see each other's orders."""
    instance = Market(server, f"T{next(_symbols)}-USDT")
    yield instance
    instance.close()
