"""The SQL read model's tables (SQLAlchemy Core, no ORM), DESIGN.md §9.

Invariants:
- Projection tables hold only what the event stream says; `venue db rebuild` empties them and
  replays the journal, and must end with the same rows. `projector_state.last_seq` is the seq
  of the last command whose rows are all written (written in the same transaction).
- Identity tables (`api_keys`) are the system of record for what they hold; rebuild never
  touches them.
- Prices are integer ticks, quantities integer lots, money integer minor units; all fit in a
  signed 64-bit integer (the core keeps everything below 2**62). Nothing is stored as a
  decimal string: the gateway formats. Enums are stored as their names, lowercased (sides,
  types, statuses), so the tables read well in a SQL shell.
- The Alembic migrations under `migrations/versions` create exactly these tables; a change
  here needs a new revision.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

SYMBOL_LENGTH: Final = 32
NAME_LENGTH: Final = 64
ASSET_LENGTH: Final = 16
ENUM_LENGTH: Final = 24

projector_state = Table(
    "projector_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", BigInteger, nullable=False),
)

instruments = Table(
    "instruments",
    metadata,
    Column("symbol", String(SYMBOL_LENGTH), primary_key=True),
    Column("instrument", Text, nullable=False),  # msgspec JSON of venue.domain Instrument
    Column("status", String(ENUM_LENGTH), nullable=False),  # "open" | "halted"
    Column("mode", String(ENUM_LENGTH), nullable=False),  # "continuous" | "call"
    Column("seq", BigInteger, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(NAME_LENGTH * 2), nullable=False),
    Column("fee_tier", String(NAME_LENGTH), nullable=False),
    Column("risk_profile", String(NAME_LENGTH), nullable=False),
    Column("created_seq", BigInteger, nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", BigInteger, primary_key=True, autoincrement=False),
    Column("account_id", BigInteger, nullable=False),
    Column("symbol", String(SYMBOL_LENGTH), nullable=False),
    Column("side", String(ENUM_LENGTH), nullable=False),
    Column("order_type", String(ENUM_LENGTH), nullable=False),
    Column("tif", String(ENUM_LENGTH), nullable=False),
    Column("qty_lots", BigInteger, nullable=False),
    Column("price_ticks", BigInteger),
    Column("stop_price_ticks", BigInteger),
    Column("display_qty_lots", BigInteger),
    Column("post_only", Boolean, nullable=False),
    Column("stp", String(ENUM_LENGTH), nullable=False),
    Column("client_order_id", String(NAME_LENGTH)),
    Column("expire_ts_ns", BigInteger),
    Column("quote_qty", BigInteger),
    Column("status", String(ENUM_LENGTH), nullable=False),
    Column("filled_lots", BigInteger, nullable=False),
    Column("filled_notional", BigInteger, nullable=False),
    Column("remaining_lots", BigInteger, nullable=False),
    Column("reject_reason", String(NAME_LENGTH)),
    Column("cancel_reason", String(NAME_LENGTH)),
    Column("fee_paid", BigInteger, nullable=False),
    Column("created_seq", BigInteger, nullable=False),
    Column("created_ts_ns", BigInteger, nullable=False),
    Column("updated_seq", BigInteger, nullable=False),
    Column("updated_ts_ns", BigInteger, nullable=False),
    Index("ix_orders_account_created", "account_id", "created_seq"),
    Index("ix_orders_account_client_id", "account_id", "client_order_id"),
    Index("ix_orders_status", "status"),
)

fills = Table(
    "fills",
    metadata,
    Column("trade_id", BigInteger, nullable=False),
    Column("order_id", BigInteger, nullable=False),
    Column("account_id", BigInteger, nullable=False),
    Column("symbol", String(SYMBOL_LENGTH), nullable=False),
    Column("side", String(ENUM_LENGTH), nullable=False),
    Column("price_ticks", BigInteger, nullable=False),
    Column("qty_lots", BigInteger, nullable=False),
    Column("liquidity", String(ENUM_LENGTH), nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("fee_asset", String(ASSET_LENGTH)),
    Column("seq", BigInteger, nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    PrimaryKeyConstraint("trade_id", "order_id"),
    Index("ix_fills_account_trade", "account_id", "trade_id"),
    Index("ix_fills_order", "order_id"),
)

trades = Table(
    "trades",
    metadata,
    Column("trade_id", BigInteger, primary_key=True, autoincrement=False),
    Column("symbol", String(SYMBOL_LENGTH), nullable=False),
    Column("price_ticks", BigInteger, nullable=False),
    Column("qty_lots", BigInteger, nullable=False),
    Column("aggressor_side", String(ENUM_LENGTH)),  # None for a call auction's trades
    Column("maker_order_id", BigInteger, nullable=False),
    Column("taker_order_id", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Index("ix_trades_symbol_trade", "symbol", "trade_id"),
)

ledger_postings = Table(
    "ledger_postings",
    metadata,
    Column("seq", BigInteger, nullable=False),
    Column("idx", Integer, nullable=False),
    Column("ts_ns", BigInteger, nullable=False),
    Column("debit_account", BigInteger, nullable=False),
    Column("debit_bucket", Integer, nullable=False),
    Column("credit_account", BigInteger, nullable=False),
    Column("credit_bucket", Integer, nullable=False),
    Column("asset", String(ASSET_LENGTH), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("reason", String(ENUM_LENGTH), nullable=False),
    Column("trade_id", BigInteger, nullable=False),
    PrimaryKeyConstraint("seq", "idx"),
    Index("ix_postings_debit", "debit_account", "seq"),
    Index("ix_postings_credit", "credit_account", "seq"),
)

balances = Table(
    "balances",
    metadata,
    Column("account_id", BigInteger, nullable=False),
    Column("asset", String(ASSET_LENGTH), nullable=False),
    Column("available", BigInteger, nullable=False),
    Column("held", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("account_id", "asset"),
)

positions = Table(
    "positions",
    metadata,
    Column("account_id", BigInteger, nullable=False),
    Column("symbol", String(SYMBOL_LENGTH), nullable=False),
    Column("net_lots", BigInteger, nullable=False),
    Column("cost_basis", BigInteger, nullable=False),
    Column("realized_pnl", BigInteger, nullable=False),
    Column("fees_paid", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),
    PrimaryKeyConstraint("account_id", "symbol"),
)

candles = Table(
    "candles",
    metadata,
    Column("symbol", String(SYMBOL_LENGTH), nullable=False),
    Column("interval", String(8), nullable=False),  # "1m" | "5m" | "15m" | "1h" | "1d"
    Column("start_ns", BigInteger, nullable=False),
    Column("open_ticks", BigInteger, nullable=False),
    Column("high_ticks", BigInteger, nullable=False),
    Column("low_ticks", BigInteger, nullable=False),
    Column("close_ticks", BigInteger, nullable=False),
    Column("volume_lots", BigInteger, nullable=False),
    Column("notional", BigInteger, nullable=False),  # sum of price_ticks * qty_lots
    Column("trade_count", BigInteger, nullable=False),
    PrimaryKeyConstraint("symbol", "interval", "start_ns"),
)

fee_tiers = Table(
    "fee_tiers",
    metadata,
    Column("name", String(NAME_LENGTH), primary_key=True),
    Column("maker_bps", Integer, nullable=False),
    Column("taker_bps", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False),
)

risk_profiles = Table(
    "risk_profiles",
    metadata,
    Column("name", String(NAME_LENGTH), primary_key=True),
    Column("max_open_orders", BigInteger),
    Column("max_order_notional", BigInteger),
    Column("max_position_lots", BigInteger),
    Column("max_orders_per_second", BigInteger),
    Column("daily_loss_limit", BigInteger),
    Column("seq", BigInteger, nullable=False),
)

kill_switches = Table(
    "kill_switches",
    metadata,
    # "venue" for the venue-wide switch, else the account id as text (a NULL cannot be a key)
    Column("scope", String(32), primary_key=True),
    Column("account_id", BigInteger),
    Column("active", Boolean, nullable=False),
    Column("reason", String(NAME_LENGTH), nullable=False),
    Column("seq", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(NAME_LENGTH), primary_key=True),
    Column("account_id", BigInteger, nullable=False),
    Column("role", String(ENUM_LENGTH), nullable=False),
    Column("label", String(NAME_LENGTH * 2), nullable=False),
    Column("secret_sha256", String(64), nullable=False),  # hex digest; the secret is not kept
    Column("created_at_ns", BigInteger, nullable=False),
    Column("revoked_at_ns", BigInteger),
    Index("ix_api_keys_account", "account_id"),
)

PROJECTION_TABLES: Final = (
    projector_state,
    instruments,
    accounts,
    orders,
    fills,
    trades,
    ledger_postings,
    balances,
    positions,
    candles,
    fee_tiers,
    risk_profiles,
    kill_switches,
)
"""Everything `venue db rebuild` clears (derived from the journal)."""

IDENTITY_TABLES: Final = (api_keys,)
"""The system of record for what it holds: never cleared, never rebuilt."""
