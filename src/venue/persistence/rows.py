"""Conversions between the views' records and table rows, and dialect-aware upserts.

Invariants: enums are stored as their lowercased names (`OrderStatus` as its value), and
`record_of_row(row_of_record(r)) == r` for every OrderRecord (tested); likewise for fills.

Two write paths:
- `insert_new`: a SQLAlchemy Core statement fed dicts, for the rare one-row writes (the
  Core upsert the projector used before lives on in tests/persistence as the reference).
- `upsert_rows` / `insert_new_rows`: the projector's hot path. The SQL text of each
  INSERT ... ON CONFLICT is built once per (dialect, table, kind) and run with
  `exec_driver_sql(sql, list_of_tuples)`, straight into the driver's executemany: no statement
  compilation, cache keys or per-row parameter processing in Python. A row tuple holds the
  table's columns in `table.columns` order, already in the driver's types (the `tuple_of_*`
  builders); both paths write the same rows (tested on SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import Enum, IntEnum
from typing import Any, Final, TypeVar

from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.dialects import postgresql, sqlite

from venue.domain.values import OrderType, SelfTradePrevention, Side, TimeInForce
from venue.views import FillRecord, OrderRecord, OrderStatus

E = TypeVar("E", bound=Enum)

UPSERT_CHUNK_ROWS: Final = 5_000  # bounded statements; executemany within each


def name_of(value: Enum) -> str:
    return value.name.lower()


def enum_of(kind: type[E], name: str) -> E:
    return kind[name.upper()]


def side_name(side: Side | int | None) -> str | None:
    return None if side is None else SIDE_NAMES[side]


def _names_of(kind: type[IntEnum]) -> dict[int, str]:
    """`name_of` of every member, by value (a member finds its entry: it equals its int)."""
    return {int(member): name_of(member) for member in kind}


SIDE_NAMES: Final = _names_of(Side)
ORDER_TYPE_NAMES: Final = _names_of(OrderType)
TIF_NAMES: Final = _names_of(TimeInForce)
STP_NAMES: Final = _names_of(SelfTradePrevention)
STATUS_VALUES: Final = {status: str(status.value) for status in OrderStatus}


def row_of_record(record: OrderRecord) -> dict[str, Any]:
    return {
        "order_id": record.order_id,
        "account_id": record.account_id,
        "symbol": record.symbol,
        "side": name_of(record.side),
        "order_type": name_of(record.order_type),
        "tif": name_of(record.tif),
        "qty_lots": record.qty_lots,
        "price_ticks": record.price_ticks,
        "stop_price_ticks": record.stop_price_ticks,
        "display_qty_lots": record.display_qty_lots,
        "post_only": record.post_only,
        "stp": name_of(record.stp),
        "client_order_id": record.client_order_id,
        "expire_ts_ns": record.expire_ts_ns,
        "quote_qty": record.quote_qty,
        "status": record.status.value,
        "filled_lots": record.filled_lots,
        "filled_notional": record.filled_notional,
        "remaining_lots": record.remaining_lots,
        "reject_reason": record.reject_reason,
        "cancel_reason": record.cancel_reason,
        "fee_paid": record.fee_paid,
        "created_seq": record.created_seq,
        "created_ts_ns": record.created_ts_ns,
        "updated_seq": record.updated_seq,
        "updated_ts_ns": record.updated_ts_ns,
    }


def tuple_of_record(record: OrderRecord) -> tuple[Any, ...]:
    """`row_of_record` as a tuple in `schema.orders` column order."""
    return (
        record.order_id,
        record.account_id,
        record.symbol,
        SIDE_NAMES[record.side],
        ORDER_TYPE_NAMES[record.order_type],
        TIF_NAMES[record.tif],
        record.qty_lots,
        record.price_ticks,
        record.stop_price_ticks,
        record.display_qty_lots,
        record.post_only,
        STP_NAMES[record.stp],
        record.client_order_id,
        record.expire_ts_ns,
        record.quote_qty,
        STATUS_VALUES[record.status],
        record.filled_lots,
        record.filled_notional,
        record.remaining_lots,
        record.reject_reason,
        record.cancel_reason,
        record.fee_paid,
        record.created_seq,
        record.created_ts_ns,
        record.updated_seq,
        record.updated_ts_ns,
    )


def record_of_row(row: Mapping[Any, Any]) -> OrderRecord:
    return OrderRecord(
        order_id=row["order_id"],
        account_id=row["account_id"],
        symbol=row["symbol"],
        side=enum_of(Side, row["side"]),
        order_type=enum_of(OrderType, row["order_type"]),
        tif=enum_of(TimeInForce, row["tif"]),
        qty_lots=row["qty_lots"],
        price_ticks=row["price_ticks"],
        stop_price_ticks=row["stop_price_ticks"],
        display_qty_lots=row["display_qty_lots"],
        post_only=bool(row["post_only"]),
        stp=enum_of(SelfTradePrevention, row["stp"]),
        client_order_id=row["client_order_id"],
        expire_ts_ns=row["expire_ts_ns"],
        quote_qty=row["quote_qty"],
        status=OrderStatus(row["status"]),
        filled_lots=row["filled_lots"],
        filled_notional=row["filled_notional"],
        remaining_lots=row["remaining_lots"],
        reject_reason=row["reject_reason"],
        cancel_reason=row["cancel_reason"],
        fee_paid=row["fee_paid"],
        created_seq=row["created_seq"],
        created_ts_ns=row["created_ts_ns"],
        updated_seq=row["updated_seq"],
        updated_ts_ns=row["updated_ts_ns"],
    )


def row_of_fill(fill: FillRecord) -> dict[str, Any]:
    return {
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "account_id": fill.account_id,
        "symbol": fill.symbol,
        "side": name_of(fill.side),
        "price_ticks": fill.price_ticks,
        "qty_lots": fill.qty_lots,
        "liquidity": fill.liquidity,
        "fee": fill.fee,
        "fee_asset": fill.fee_asset,
        "seq": fill.seq,
        "ts_ns": fill.ts_ns,
    }


def tuple_of_fill(fill: FillRecord) -> tuple[Any, ...]:
    """`row_of_fill` as a tuple in `schema.fills` column order."""
    return (
        fill.trade_id,
        fill.order_id,
        fill.account_id,
        fill.symbol,
        SIDE_NAMES[fill.side],
        fill.price_ticks,
        fill.qty_lots,
        fill.liquidity,
        fill.fee,
        fill.fee_asset,
        fill.seq,
        fill.ts_ns,
    )


def tuples_of(table: Table, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Dict rows as tuples in `table`'s column order (for the rarely written tables)."""
    names = [column.name for column in table.columns]
    return [tuple(row[name] for name in names) for row in rows]


def fill_of_row(row: Mapping[Any, Any]) -> FillRecord:
    return FillRecord(
        trade_id=row["trade_id"],
        order_id=row["order_id"],
        account_id=row["account_id"],
        symbol=row["symbol"],
        side=enum_of(Side, row["side"]),
        price_ticks=row["price_ticks"],
        qty_lots=row["qty_lots"],
        liquidity=row["liquidity"],
        fee=row["fee"],
        fee_asset=row["fee_asset"],
        seq=row["seq"],
        ts_ns=row["ts_ns"],
    )


# ---------------------------------------------------------------------- upserts


# Built statements, reused: SQLAlchemy memoizes a statement object's cache key, so building
# the same INSERT ... ON CONFLICT anew for every batch cost more CPU than executing it.
_STATEMENTS: dict[tuple[str, str, tuple[str, ...], str], Any] = {}


def insert_for(connection: Connection, table: Table) -> Any:
    """The dialect's INSERT with ON CONFLICT support (both share the same method names)."""
    name = connection.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for the {name} dialect")


def insert_new(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows`, leaving a row whose key exists as it is (append-only tables)."""
    if not rows:
        return
    cache_key = (connection.dialect.name, table.name, (), "insert_new")
    statement = _STATEMENTS.get(cache_key)
    if statement is None:
        statement = _STATEMENTS[cache_key] = insert_for(connection, table).on_conflict_do_nothing()
    _execute(connection, table, statement, rows)


def _execute(
    connection: Connection, table: Table, statement: Any, rows: Sequence[Mapping[str, Any]]
) -> None:
    """executemany per chunk: a C loop in SQLite's driver, a pipeline in psycopg 3. (One
    multi-row VALUES statement per chunk measured 10x slower on PostgreSQL: SQLAlchemy
    compiles it anew for every row count.)"""
    for start in range(0, len(rows), UPSERT_CHUNK_ROWS):
        connection.execute(statement, list(rows[start : start + UPSERT_CHUNK_ROWS]))


# ---------------------------------------------------------------------- raw upserts


Merge = Callable[[Dialect], Mapping[str, str]]
"""The SET clause of an upsert for one dialect: column name -> SQL expression text."""

# SQL text by (dialect name, table name, key columns, kind or merge function).
_SQL: dict[tuple[Any, ...], str] = {}


def placeholder(dialect: Dialect) -> str:
    """The driver's positional placeholder: sqlite3 is qmark, psycopg takes %s."""
    if dialect.paramstyle == "qmark":
        return "?"
    if dialect.paramstyle in ("format", "pyformat"):
        return "%s"
    raise NotImplementedError(f"no positional placeholder for paramstyle {dialect.paramstyle}")


def _check_upsert_dialect(dialect: Dialect) -> None:
    if dialect.name not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"no upsert for the {dialect.name} dialect")


def quoted(dialect: Dialect, name: str) -> str:
    return str(dialect.identifier_preparer.quote(name))


def column_sql(dialect: Dialect, table: Table, name: str) -> str:
    """`table.name`, quoted as the dialect needs (the existing row in an upsert's SET)."""
    return f"{dialect.identifier_preparer.format_table(table)}.{quoted(dialect, name)}"


def excluded_sql(dialect: Dialect, name: str) -> str:
    """`excluded.name`: the value the upsert tried to insert."""
    return f"excluded.{quoted(dialect, name)}"


def greatest_sql(dialect: Dialect, a: str, b: str) -> str:
    # SQLite's two-argument max() is scalar
    return f"max({a}, {b})" if dialect.name == "sqlite" else f"GREATEST({a}, {b})"


def least_sql(dialect: Dialect, a: str, b: str) -> str:
    return f"min({a}, {b})" if dialect.name == "sqlite" else f"LEAST({a}, {b})"


def _insert_sql(dialect: Dialect, table: Table) -> str:
    _check_upsert_dialect(dialect)
    columns = ", ".join(quoted(dialect, column.name) for column in table.columns)
    marks = ", ".join([placeholder(dialect)] * len(table.columns))
    name = dialect.identifier_preparer.format_table(table)
    return f"INSERT INTO {name} ({columns}) VALUES ({marks})"


def upsert_sql(
    dialect: Dialect, table: Table, keys: tuple[str, ...], merge: Merge | None = None
) -> str:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET: every non-key column from `excluded`, or
    `merge`'s expressions."""
    cache_key = (dialect.name, table.name, keys, merge)
    sql = _SQL.get(cache_key)
    if sql is None:
        if merge is None:
            sets = {
                column.name: excluded_sql(dialect, column.name)
                for column in table.columns
                if column.name not in keys
            }
        else:
            sets = dict(merge(dialect))
        conflict = ", ".join(quoted(dialect, key) for key in keys)
        assignments = ", ".join(f"{quoted(dialect, name)} = {expr}" for name, expr in sets.items())
        sql = _SQL[cache_key] = (
            f"{_insert_sql(dialect, table)} ON CONFLICT ({conflict}) DO UPDATE SET {assignments}"
        )
    return sql


def insert_new_sql(dialect: Dialect, table: Table) -> str:
    """INSERT ... ON CONFLICT DO NOTHING."""
    cache_key = (dialect.name, table.name, (), "insert_new")
    sql = _SQL.get(cache_key)
    if sql is None:
        sql = _SQL[cache_key] = f"{_insert_sql(dialect, table)} ON CONFLICT DO NOTHING"
    return sql


def upsert_rows(
    connection: Connection,
    table: Table,
    rows: list[tuple[Any, ...]],
    keys: tuple[str, ...],
    merge: Merge | None = None,
) -> None:
    """`upsert` of row tuples (in `table.columns` order) through the driver's executemany."""
    if rows:
        _execute_rows(connection, upsert_sql(connection.dialect, table, keys, merge), rows)


def insert_new_rows(connection: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """`insert_new` of row tuples (in `table.columns` order) through the driver's executemany."""
    if rows:
        _execute_rows(connection, insert_new_sql(connection.dialect, table), rows)


def _execute_rows(connection: Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    if len(rows) <= UPSERT_CHUNK_ROWS:
        connection.exec_driver_sql(sql, rows)
        return
    for start in range(0, len(rows), UPSERT_CHUNK_ROWS):
        connection.exec_driver_sql(sql, rows[start : start + UPSERT_CHUNK_ROWS])
