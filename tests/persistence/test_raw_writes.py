"""The projector's raw write path (SQL text + row tuples into the driver's executemany) writes
exactly what the SQLAlchemy Core path (compiled INSERT ... ON CONFLICT fed dicts) wrote."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Table, func
from tests.persistence.flows import build_flow, dump, expected_orders_and_fills

from venue.persistence import projector as projector_module
from venue.persistence import schema
from venue.persistence.projector import Projector, clear_projections
from venue.persistence.rows import (
    Merge,
    insert_for,
    insert_new,
    row_of_fill,
    row_of_record,
    tuple_of_fill,
    tuple_of_record,
)

UPSERT_CHUNK_ROWS = 5_000


def upsert(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    merge: Mapping[str, Any] | None = None,
) -> None:
    """The projector's former write path, kept as the reference: SQLAlchemy Core's INSERT ...
    ON CONFLICT DO UPDATE (every non-key column, or `merge`'s expressions), fed dicts."""
    if not rows:
        return
    statement = insert_for(connection, table)
    if merge is None:
        merge = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    statement = statement.on_conflict_do_update(index_elements=list(keys), set_=dict(merge))
    for start in range(0, len(rows), UPSERT_CHUNK_ROWS):
        connection.execute(statement, list(rows[start : start + UPSERT_CHUNK_ROWS]))


def _core_candle_merge(connection: Connection, table: Table) -> dict[str, Any]:
    """The Core expressions the projector used before the raw path (the reference)."""
    excluded = insert_for(connection, table).excluded
    sqlite = connection.dialect.name == "sqlite"
    greatest = func.max if sqlite else func.greatest
    least = func.min if sqlite else func.least
    return {
        "high_ticks": greatest(table.c.high_ticks, excluded.high_ticks),
        "low_ticks": least(table.c.low_ticks, excluded.low_ticks),
        "close_ticks": excluded.close_ticks,
        "volume_lots": table.c.volume_lots + excluded.volume_lots,
        "notional": table.c.notional + excluded.notional,
        "trade_count": table.c.trade_count + excluded.trade_count,
    }


def _dicts(table: Table, rows: list[tuple[Any, ...]]) -> list[Mapping[str, Any]]:
    names = [column.name for column in table.columns]
    assert all(len(row) == len(names) for row in rows), table.name
    return [dict(zip(names, row, strict=True)) for row in rows]


def _core_upsert_rows(
    connection: Connection,
    table: Table,
    rows: list[tuple[Any, ...]],
    keys: tuple[str, ...],
    merge: Merge | None = None,
) -> None:
    merged = None if merge is None else _core_candle_merge(connection, table)
    assert merge is None or table is schema.candles
    upsert(connection, table, _dicts(table, rows), list(keys), merged)


def _core_insert_new_rows(
    connection: Connection, table: Table, rows: list[tuple[Any, ...]]
) -> None:
    insert_new(connection, table, _dicts(table, rows))


def _project(engine: Engine, seed: int) -> dict[str, list[tuple[Any, ...]]]:
    flow, _ = build_flow(seed, steps=250)
    history, events = flow.history, flow.events()
    rng = random.Random(seed)
    projector = Projector(engine)
    position = 0
    while position < len(history):
        size = rng.randrange(1, 30)  # candles and balances merge across batches
        projector.apply_batch(
            history[position : position + size], events[position : position + size]
        )
        position += size
    # A replay changes nothing on either path (ON CONFLICT DO NOTHING / skipped seqs).
    Projector(engine).apply_batch(history, events)
    return dump(engine)


def test_raw_path_writes_what_the_core_path_wrote(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _project(engine, seed=11)
    clear_projections(engine)
    with monkeypatch.context() as patched:
        patched.setattr(projector_module, "upsert_rows", _core_upsert_rows)
        patched.setattr(projector_module, "insert_new_rows", _core_insert_new_rows)
        core = _project(engine, seed=11)
    assert raw == core
    assert raw["candles"] and raw["orders"] and raw["kill_switches"] and raw["fills"]
    # Booleans read back as booleans on both paths (SQLite stores them as 0/1).
    assert {type(row[10]) for row in raw["orders"]} == {bool}


def test_row_tuples_match_the_row_dicts() -> None:
    flow, _ = build_flow(5, steps=150)
    records, fills, _postings = expected_orders_and_fills(flow.history, flow.events())
    orders = [column.name for column in schema.orders.columns]
    for record in records.values():
        row = row_of_record(record)
        assert tuple_of_record(record) == tuple(row[name] for name in orders)
        # the same Python types as well (the driver adapts by type)
        assert [type(v) for v in tuple_of_record(record)] == [type(row[n]) for n in orders]
    fill_columns = [column.name for column in schema.fills.columns]
    assert fills
    for fill in fills:
        row = row_of_fill(fill)
        assert tuple_of_fill(fill) == tuple(row[name] for name in fill_columns)
        assert [type(v) for v in tuple_of_fill(fill)] == [type(row[n]) for n in fill_columns]
