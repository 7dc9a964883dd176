"""Reads of the SQL read model for the gateway: plain dataclasses of ints and strings.

Invariants:
- Every per-account read filters by the account in SQL: a caller asking with account A never
  receives a row of account B, whatever ids or cursors it passes (`get_order` of another
  account's order is None, not an error, so ids cannot be probed).
- Pagination is by cursor, newest first: a page holds at most `limit` rows (capped at
  `LIMIT_MAX`) and the cursor of the next page, or None on the last page. Cursors are
  opaque strings made here; a malformed one raises `CursorError` (a ValueError).
- Figures are integers (ticks, lots, minor units) exactly as the core has them; the gateway
  formats decimals. `notional` figures are sums of price_ticks * qty_lots.
- Each call uses its own pooled connection and one transaction (one snapshot), separate from
  the projector's. The API key table is the system of record for keys: writes to it commit
  before the call returns.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import msgspec
from sqlalchemy import Engine, and_, insert, or_, select, text, update
from sqlalchemy.sql import Select

from venue.domain.instrument import Instrument
from venue.domain.values import Side
from venue.persistence import schema
from venue.persistence.projector import CANDLE_INTERVALS_NS, OPEN_STATUS_VALUES, STATE_ROW_ID
from venue.persistence.rows import fill_of_row, name_of, record_of_row
from venue.views import FillRecord, OrderRecord, OrderStatus

LIMIT_MAX: Final = 1_000
NS_PER_DAY: Final = 86_400_000_000_000
T = TypeVar("T")
Page = tuple[list[T], str | None]


class CursorError(ValueError):
    """A pagination cursor this module did not make."""


@dataclass(frozen=True, slots=True)
class BalanceRow:
    account_id: int
    asset: str
    available: int
    held: int
    seq: int


@dataclass(frozen=True, slots=True)
class PositionRow:
    account_id: int
    symbol: str
    net_lots: int
    cost_basis: int
    realized_pnl: int
    fees_paid: int
    seq: int


@dataclass(frozen=True, slots=True)
class PostingRow:
    seq: int
    idx: int
    ts_ns: int
    debit_account: int
    debit_bucket: int
    credit_account: int
    credit_bucket: int
    asset: str
    amount: int
    reason: str
    trade_id: int


@dataclass(frozen=True, slots=True)
class AccountRow:
    account_id: int
    name: str
    fee_tier: str
    risk_profile: str
    created_seq: int
    updated_seq: int


@dataclass(frozen=True, slots=True)
class InstrumentRow:
    instrument: Instrument
    status: str  # "open" | "halted"
    mode: str  # "continuous" | "call"
    seq: int

    @property
    def symbol(self) -> str:
        return self.instrument.symbol


@dataclass(frozen=True, slots=True)
class TradeRow:
    trade_id: int
    symbol: str
    price_ticks: int
    qty_lots: int
    aggressor_side: str | None  # "buy" | "sell" | None (call auction)
    maker_order_id: int
    taker_order_id: int
    seq: int
    ts_ns: int


@dataclass(frozen=True, slots=True)
class CandleRow:
    symbol: str
    interval: str
    start_ns: int
    open_ticks: int
    high_ticks: int
    low_ticks: int
    close_ticks: int
    volume_lots: int
    notional: int
    trade_count: int


@dataclass(frozen=True, slots=True)
class Ticker24h:
    """Figures over the minute candles overlapping (now - 24 h, now]. With no trade in the
    window, the price figures are None except `last_ticks` (the last trade ever, if any)."""

    symbol: str
    open_ticks: int | None
    high_ticks: int | None
    low_ticks: int | None
    last_ticks: int | None
    volume_lots: int
    notional: int  # quote volume as sum of price_ticks * qty_lots
    trade_count: int
    window_start_ns: int
    window_end_ns: int


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    account_id: int
    role: str
    label: str
    secret_sha256: str
    created_at_ns: int
    revoked_at_ns: int | None

    @property
    def active(self) -> bool:
        return self.revoked_at_ns is None


def _limit(limit: int) -> int:
    return max(1, min(limit, LIMIT_MAX))


_CURSOR_PART_MAX = (1 << 63) - 1  # every cursor part is a signed 64-bit column's value


def _cursor_ints(cursor: str, parts: int) -> list[int]:
    """The one cursor parser of every list: `parts` non-negative integers joined by ":",
    each ASCII digits that fit a signed 64-bit column (anything else is `CursorError`)."""
    pieces = cursor.split(":")
    if len(pieces) != parts or not all(
        piece.isascii() and piece.isdigit() and len(piece) <= 19 for piece in pieces
    ):
        raise CursorError(f"bad cursor {cursor[:64]!r}: use the next_cursor of a page")
    values = [int(piece) for piece in pieces]
    if any(value > _CURSOR_PART_MAX for value in values):
        raise CursorError(f"bad cursor {cursor[:64]!r}: use the next_cursor of a page")
    return values


def _build(kind: type[T], row: Mapping[Any, Any]) -> T:
    return kind(**dict(row))


RISK_LIMITS = (
    "max_open_orders",
    "max_order_notional",
    "max_position_lots",
    "max_orders_per_second",
    "daily_loss_limit",
)


class Queries:
    """The read functions of the gateway over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _rows(self, query: Select[Any]) -> list[Mapping[Any, Any]]:
        with self.engine.connect() as connection:
            return list(connection.execute(query).mappings())

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def risk_profile_limits(self, name: str) -> dict[str, int | None] | None:
        """The limits of a risk profile set by command (None: never set, the built-in one)."""
        table = schema.risk_profiles
        rows = self._rows(select(table).where(table.c.name == name))
        return None if not rows else {key: rows[0][key] for key in RISK_LIMITS}

    def recent_client_order_ids(self, limit: int) -> list[tuple[int, str, int]]:
        """(account_id, client_order_id, order_id) of the newest `limit` orders that have a
        client order id, oldest first."""
        table = schema.orders
        query = (
            select(table.c.account_id, table.c.client_order_id, table.c.order_id)
            .where(table.c.client_order_id.is_not(None))
            .order_by(table.c.order_id.desc())
            .limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [(int(a), str(c), int(o)) for a, c, o in reversed(rows)]

    # ------------------------------------------------------------------ state

    def last_seq(self) -> int:
        """The seq the read model is at (0 before anything was projected)."""
        table = schema.projector_state
        with self.engine.connect() as connection:
            value = connection.scalar(select(table.c.last_seq).where(table.c.id == STATE_ROW_ID))
        return int(value or 0)

    # ------------------------------------------------------------------ orders

    def get_order(self, account_id: int, order_id: int) -> OrderRecord | None:
        table = schema.orders
        rows = self._rows(
            select(table).where(table.c.order_id == order_id, table.c.account_id == account_id)
        )
        return record_of_row(rows[0]) if rows else None

    def get_order_by_client_id(self, account_id: int, client_order_id: str) -> OrderRecord | None:
        """The newest order of the account with this client order id."""
        table = schema.orders
        rows = self._rows(
            select(table)
            .where(table.c.account_id == account_id, table.c.client_order_id == client_order_id)
            .order_by(table.c.order_id.desc())
            .limit(1)
        )
        return record_of_row(rows[0]) if rows else None

    def list_orders(
        self,
        account_id: int,
        *,
        status: OrderStatus | str | None = None,
        symbol: str | None = None,
        side: Side | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page[OrderRecord]:
        """The account's orders, newest first. `status` may also be "open" (every working
        status); `start_ns` (inclusive) and `end_ns` (exclusive) bound the creation time."""
        table = schema.orders
        query = select(table).where(table.c.account_id == account_id)
        if status == "open":
            query = query.where(table.c.status.in_(OPEN_STATUS_VALUES))
        elif status is not None:
            query = query.where(table.c.status == OrderStatus(status).value)
        if symbol is not None:
            query = query.where(table.c.symbol == symbol)
        if side is not None:
            query = query.where(table.c.side == name_of(Side(side)))
        if start_ns is not None:
            query = query.where(table.c.created_ts_ns >= start_ns)
        if end_ns is not None:
            query = query.where(table.c.created_ts_ns < end_ns)
        if cursor is not None:
            (before,) = _cursor_ints(cursor, 1)
            query = query.where(table.c.order_id < before)
        size = _limit(limit)
        rows = self._rows(query.order_by(table.c.order_id.desc()).limit(size + 1))
        records = [record_of_row(row) for row in rows[:size]]
        following = str(records[-1].order_id) if len(rows) > size else None
        return records, following

    def open_orders(self) -> list[OrderRecord]:
        """Every working order of every account (to seed a live view), oldest first."""
        table = schema.orders
        rows = self._rows(
            select(table).where(table.c.status.in_(OPEN_STATUS_VALUES)).order_by(table.c.order_id)
        )
        return [record_of_row(row) for row in rows]

    # ------------------------------------------------------------------ fills and ledger

    def list_fills(
        self,
        account_id: int,
        *,
        order_id: int | None = None,
        symbol: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page[FillRecord]:
        """The account's fills, newest first (by trade id)."""
        table = schema.fills
        query = select(table).where(table.c.account_id == account_id)
        if order_id is not None:
            query = query.where(table.c.order_id == order_id)
        if symbol is not None:
            query = query.where(table.c.symbol == symbol)
        if start_ns is not None:
            query = query.where(table.c.ts_ns >= start_ns)
        if end_ns is not None:
            query = query.where(table.c.ts_ns < end_ns)
        if cursor is not None:
            trade_id, before_order = _cursor_ints(cursor, 2)
            query = query.where(
                or_(
                    table.c.trade_id < trade_id,
                    and_(table.c.trade_id == trade_id, table.c.order_id < before_order),
                )
            )
        size = _limit(limit)
        rows = self._rows(
            query.order_by(table.c.trade_id.desc(), table.c.order_id.desc()).limit(size + 1)
        )
        fills = [fill_of_row(row) for row in rows[:size]]
        following = None
        if len(rows) > size:
            following = f"{fills[-1].trade_id}:{fills[-1].order_id}"
        return fills, following

    def list_postings(
        self,
        account_id: int,
        *,
        asset: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page[PostingRow]:
        """Ledger postings that debit or credit the account, newest first."""
        table = schema.ledger_postings
        query = select(table).where(
            or_(table.c.debit_account == account_id, table.c.credit_account == account_id)
        )
        if asset is not None:
            query = query.where(table.c.asset == asset)
        if cursor is not None:
            seq, idx = _cursor_ints(cursor, 2)
            query = query.where(or_(table.c.seq < seq, and_(table.c.seq == seq, table.c.idx < idx)))
        size = _limit(limit)
        rows = self._rows(query.order_by(table.c.seq.desc(), table.c.idx.desc()).limit(size + 1))
        postings = [_build(PostingRow, row) for row in rows[:size]]
        following = None
        if len(rows) > size:
            following = f"{postings[-1].seq}:{postings[-1].idx}"
        return postings, following

    def balances(self, account_id: int) -> list[BalanceRow]:
        table = schema.balances
        rows = self._rows(
            select(table).where(table.c.account_id == account_id).order_by(table.c.asset)
        )
        return [_build(BalanceRow, row) for row in rows]

    def positions(self, account_id: int) -> list[PositionRow]:
        table = schema.positions
        rows = self._rows(
            select(table).where(table.c.account_id == account_id).order_by(table.c.symbol)
        )
        return [_build(PositionRow, row) for row in rows]

    def all_balances(self) -> list[BalanceRow]:
        table = schema.balances
        rows = self._rows(select(table).order_by(table.c.account_id, table.c.asset))
        return [_build(BalanceRow, row) for row in rows]

    def all_positions(self) -> list[PositionRow]:
        table = schema.positions
        rows = self._rows(select(table).order_by(table.c.account_id, table.c.symbol))
        return [_build(PositionRow, row) for row in rows]

    # ------------------------------------------------------------------ venue

    def accounts(self) -> list[AccountRow]:
        table = schema.accounts
        return [
            _build(AccountRow, row)
            for row in self._rows(select(table).order_by(table.c.account_id))
        ]

    def instruments(self) -> list[InstrumentRow]:
        table = schema.instruments
        decoder = msgspec.json.Decoder(Instrument)
        return [
            InstrumentRow(
                instrument=decoder.decode(row["instrument"]),
                status=row["status"],
                mode=row["mode"],
                seq=row["seq"],
            )
            for row in self._rows(select(table).order_by(table.c.symbol))
        ]

    def recent_trades(self, symbol: str, limit: int = 100) -> list[TradeRow]:
        """The market's latest public trades, newest first."""
        table = schema.trades
        rows = self._rows(
            select(table)
            .where(table.c.symbol == symbol)
            .order_by(table.c.trade_id.desc())
            .limit(_limit(limit))
        )
        return [_build(TradeRow, row) for row in rows]

    def candles(
        self,
        symbol: str,
        interval: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
        limit: int = 500,
    ) -> list[CandleRow]:
        """Candles oldest first: from `start_ns` on if given, else the latest `limit` ones;
        `end_ns` (exclusive) bounds their start."""
        if interval not in CANDLE_INTERVALS_NS:
            raise ValueError(f"unknown interval {interval!r}: one of {sorted(CANDLE_INTERVALS_NS)}")
        table = schema.candles
        query = select(table).where(table.c.symbol == symbol, table.c.interval == interval)
        if start_ns is not None:
            query = query.where(table.c.start_ns >= start_ns)
        if end_ns is not None:
            query = query.where(table.c.start_ns < end_ns)
        size = _limit(limit)
        if start_ns is not None:
            rows = self._rows(query.order_by(table.c.start_ns).limit(size))
        else:
            rows = self._rows(query.order_by(table.c.start_ns.desc()).limit(size))[::-1]
        return [_build(CandleRow, row) for row in rows]

    def ticker_24h(self, symbol: str, now_ns: int) -> Ticker24h:
        window_start = now_ns - NS_PER_DAY
        minute = CANDLE_INTERVALS_NS["1m"]
        table = schema.candles
        rows = self._rows(
            select(table)
            .where(
                table.c.symbol == symbol,
                table.c.interval == "1m",
                table.c.start_ns > window_start - minute,
                table.c.start_ns <= now_ns,
            )
            .order_by(table.c.start_ns)
        )
        if not rows:
            trades = self.recent_trades(symbol, 1)
            last = trades[0].price_ticks if trades else None
            return Ticker24h(symbol, None, None, None, last, 0, 0, 0, window_start, now_ns)
        return Ticker24h(
            symbol=symbol,
            open_ticks=rows[0]["open_ticks"],
            high_ticks=max(row["high_ticks"] for row in rows),
            low_ticks=min(row["low_ticks"] for row in rows),
            last_ticks=rows[-1]["close_ticks"],
            volume_lots=sum(row["volume_lots"] for row in rows),
            notional=sum(row["notional"] for row in rows),
            trade_count=sum(row["trade_count"] for row in rows),
            window_start_ns=window_start,
            window_end_ns=now_ns,
        )

    # ------------------------------------------------------------------ API keys

    def create_api_key(
        self,
        *,
        key_id: str,
        account_id: int,
        role: str,
        label: str,
        secret_sha256: str,
        created_at_ns: int,
    ) -> ApiKey:
        key = ApiKey(key_id, account_id, role, label, secret_sha256, created_at_ns, None)
        with self.engine.begin() as connection:
            connection.execute(
                insert(schema.api_keys).values(
                    key_id=key_id,
                    account_id=account_id,
                    role=role,
                    label=label,
                    secret_sha256=secret_sha256,
                    created_at_ns=created_at_ns,
                    revoked_at_ns=None,
                )
            )
        return key

    def api_keys(self) -> list[ApiKey]:
        """Every key, revoked ones included (for the gateway's in-memory cache)."""
        table = schema.api_keys
        return [_build(ApiKey, row) for row in self._rows(select(table).order_by(table.c.key_id))]

    def api_keys_of(self, account_id: int) -> list[ApiKey]:
        table = schema.api_keys
        rows = self._rows(
            select(table)
            .where(table.c.account_id == account_id)
            .order_by(table.c.created_at_ns, table.c.key_id)
        )
        return [_build(ApiKey, row) for row in rows]

    def revoke_api_key(self, account_id: int, key_id: str, now_ns: int | None = None) -> bool:
        """Revoke one of the account's keys. False if it is not the account's key or was
        already revoked."""
        table = schema.api_keys
        revoked_at = time.time_ns() if now_ns is None else now_ns
        with self.engine.begin() as connection:
            result = connection.execute(
                update(table)
                .where(
                    table.c.key_id == key_id,
                    table.c.account_id == account_id,
                    table.c.revoked_at_ns.is_(None),
                )
                .values(revoked_at_ns=revoked_at)
            )
        return result.rowcount == 1
