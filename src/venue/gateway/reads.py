"""The gateway's window on the SQL read model: history pages as JSON, the key store, and
seeding the live view at startup. It reads through `persistence.queries` only, and runs no
SQL of its own (an import-linter contract keeps SQLAlchemy out of the gateway).

Every method here blocks (database I/O): the routes call them through `asyncio.to_thread`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from venue.domain.events import BalanceChanged, PositionChanged
from venue.domain.units import Units
from venue.domain.values import Side
from venue.gateway.auth import ApiKey, Role
from venue.gateway.errors import invalid
from venue.gateway.live import AccountInfo, LiveView
from venue.gateway.render import fill_json, order_json
from venue.persistence.queries import CursorError, Queries
from venue.views.orders import FillRecord, OrderRecord

NS_PER_MS = 1_000_000
CLIENT_IDS_SEEDED_MAX = 1_000_000


class SqlReads:
    """`queries` reads (history, seeding); `key_store` writes API keys (the projector's
    connection, so a key is stored even when reads are saturated)."""

    def __init__(
        self, queries: Queries, key_store: Queries, projector_seq: Callable[[], int]
    ) -> None:
        self.queries = queries
        self._key_store = key_store
        self._projector_seq = projector_seq
        self._units: Callable[[str], Units | None] = lambda _symbol: None

    def close(self) -> None:
        self.queries.close()
        self._key_store.close()

    def use_units(self, units: Callable[[str], Units | None]) -> None:
        self._units = units

    # ------------------------------------------------------------------ consistency

    def wait_for(self, seq: int, timeout_s: float) -> int:
        """Wait until the projector has applied `seq` (or the timeout); its seq then."""
        deadline = time.monotonic() + timeout_s
        current = self._projector_seq()
        while current < seq and time.monotonic() < deadline:
            time.sleep(0.002)
            current = self._projector_seq()
        return current

    def ping(self) -> bool:
        return self.queries.ping()

    # ------------------------------------------------------------------ History (service.py)

    def order(self, account_id: int, order_id: int) -> OrderRecord | None:
        return self.queries.get_order(account_id, order_id)

    def fills_of_order(self, account_id: int, order_id: int) -> list[FillRecord]:
        fills, _ = self.queries.list_fills(account_id, order_id=order_id, limit=1000)
        return sorted(fills, key=lambda f: f.trade_id)

    # ------------------------------------------------------------------ pages (app.py)

    def _unit(self, symbol: str) -> Units:
        units = self._units(symbol)
        if units is None:
            raise invalid(f"unknown symbol {symbol!r}")
        return units

    def list_orders(
        self, account_id: int, **filters: Any
    ) -> tuple[list[dict[str, Any]], str | None]:
        side = filters.pop("side")
        try:
            records, cursor = self.queries.list_orders(
                account_id,
                status=filters["status"],
                symbol=filters["symbol"],
                side=None if side is None else (Side.BUY if side == "buy" else Side.SELL),
                start_ns=_ns(filters["start_ms"]),
                end_ns=_ns(filters["end_ms"]),
                cursor=filters["cursor"],
                limit=filters["limit"],
            )
        except CursorError as exc:
            raise invalid(str(exc), field="cursor") from None
        return [order_json(r, self._unit(r.symbol)) for r in records], cursor

    def list_fills(
        self, account_id: int, **filters: Any
    ) -> tuple[list[dict[str, Any]], str | None]:
        try:
            fills, cursor = self.queries.list_fills(
                account_id,
                order_id=filters["order_id"],
                symbol=filters["symbol"],
                start_ns=_ns(filters["start_ms"]),
                end_ns=_ns(filters["end_ms"]),
                cursor=filters["cursor"],
                limit=filters["limit"],
            )
        except CursorError as exc:
            raise invalid(str(exc), field="cursor") from None
        return [fill_json(f, self._unit(f.symbol)) for f in fills], cursor

    def list_ledger(
        self, account_id: int, *, asset: str | None, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        try:
            postings, following = self.queries.list_postings(
                account_id, asset=asset, cursor=cursor, limit=limit
            )
        except CursorError as exc:
            raise invalid(str(exc), field="cursor") from None
        rows = [
            {
                "seq": p.seq,
                "index": p.idx,
                "time": p.ts_ns // NS_PER_MS,
                "debit_account": p.debit_account,
                "debit_bucket": "available" if p.debit_bucket == 1 else "held",
                "credit_account": p.credit_account,
                "credit_bucket": "available" if p.credit_bucket == 1 else "held",
                "asset": p.asset,
                "amount_minor": p.amount,
                "reason": p.reason,
                "trade_id": p.trade_id or None,
            }
            for p in postings
        ]
        return rows, following

    def candles(
        self, symbol: str, interval: str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[dict[str, Any]]:
        units = self._unit(symbol)
        rows = self.queries.candles(symbol, interval, _ns(start_ms), _ns(end_ms), limit)
        return [
            {
                "interval": interval,
                "start": row.start_ns // NS_PER_MS,
                "open": units.price(row.open_ticks),
                "high": units.price(row.high_ticks),
                "low": units.price(row.low_ticks),
                "close": units.price(row.close_ticks),
                "volume": units.qty(row.volume_lots),
                "trades": row.trade_count,
            }
            for row in rows
        ]

    def risk_profile(self, name: str) -> dict[str, int | None] | None:
        """The limits of a risk profile set by command (None: never set, the built-in one)."""
        return self.queries.risk_profile_limits(name)

    # ------------------------------------------------------------------ KeyRepository

    def load_keys(self) -> list[ApiKey]:
        return [
            ApiKey(
                k.key_id,
                k.account_id,
                Role(k.role),
                k.label,
                k.secret_sha256,
                k.created_at_ns,
                k.revoked_at_ns,
            )
            for k in self.queries.api_keys()
        ]

    def store_key(self, key: ApiKey) -> None:
        self._key_store.create_api_key(
            key_id=key.key_id,
            account_id=key.account_id,
            role=key.role.value,
            label=key.label,
            secret_sha256=key.secret_sha256,
            created_at_ns=key.created_at_ns,
        )

    def mark_revoked(self, account_id: int, key_id: str, revoked_at_ns: int) -> None:
        self._key_store.revoke_api_key(account_id, key_id, revoked_at_ns)

    # ------------------------------------------------------------------ seeding (startup)

    def seed_live_view(self, live: LiveView, last_seq: int) -> None:
        q = self.queries
        for row in q.instruments():
            live.add_instrument(row.instrument)
        live.seed(
            last_seq,
            q.open_orders(),
            (BalanceChanged(b.account_id, b.asset, b.available, b.held) for b in q.all_balances()),
            (
                PositionChanged(
                    p.account_id, p.symbol, p.net_lots, p.cost_basis, p.realized_pnl, p.fees_paid
                )
                for p in q.all_positions()
            ),
            (AccountInfo(a.account_id, a.name, a.fee_tier, a.risk_profile) for a in q.accounts()),
            q.recent_client_order_ids(CLIENT_IDS_SEEDED_MAX),
        )
        self.use_units(live.units.get)


def _ns(ms: int | None) -> int | None:
    return None if ms is None else ms * NS_PER_MS
