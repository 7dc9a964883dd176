"""Initial read model: every table of `venue.persistence.schema` as of this revision.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Frozen: later schema changes go into new revisions, never here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("fee_tier", sa.String(length=64), nullable=False),
        sa.Column("risk_profile", sa.String(length=64), nullable=False),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_ns", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index("ix_api_keys_account", ["account_id"], unique=False)

    op.create_table(
        "balances",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("available", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "asset"),
    )
    op.create_table(
        "candles",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("start_ns", sa.BigInteger(), nullable=False),
        sa.Column("open_ticks", sa.BigInteger(), nullable=False),
        sa.Column("high_ticks", sa.BigInteger(), nullable=False),
        sa.Column("low_ticks", sa.BigInteger(), nullable=False),
        sa.Column("close_ticks", sa.BigInteger(), nullable=False),
        sa.Column("volume_lots", sa.BigInteger(), nullable=False),
        sa.Column("notional", sa.BigInteger(), nullable=False),
        sa.Column("trade_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "interval", "start_ns"),
    )
    op.create_table(
        "fee_tiers",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("maker_bps", sa.Integer(), nullable=False),
        sa.Column("taker_bps", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "fills",
        sa.Column("trade_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=24), nullable=False),
        sa.Column("price_ticks", sa.BigInteger(), nullable=False),
        sa.Column("qty_lots", sa.BigInteger(), nullable=False),
        sa.Column("liquidity", sa.String(length=24), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("fee_asset", sa.String(length=16), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("trade_id", "order_id"),
    )
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.create_index("ix_fills_account_trade", ["account_id", "trade_id"], unique=False)
        batch_op.create_index("ix_fills_order", ["order_id"], unique=False)

    op.create_table(
        "instruments",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("instrument", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("mode", sa.String(length=24), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("symbol"),
    )
    op.create_table(
        "kill_switches",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("scope"),
    )
    op.create_table(
        "ledger_postings",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("debit_account", sa.BigInteger(), nullable=False),
        sa.Column("debit_bucket", sa.Integer(), nullable=False),
        sa.Column("credit_account", sa.BigInteger(), nullable=False),
        sa.Column("credit_bucket", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("trade_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", "idx"),
    )
    with op.batch_alter_table("ledger_postings", schema=None) as batch_op:
        batch_op.create_index("ix_postings_credit", ["credit_account", "seq"], unique=False)
        batch_op.create_index("ix_postings_debit", ["debit_account", "seq"], unique=False)

    op.create_table(
        "orders",
        sa.Column("order_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=24), nullable=False),
        sa.Column("order_type", sa.String(length=24), nullable=False),
        sa.Column("tif", sa.String(length=24), nullable=False),
        sa.Column("qty_lots", sa.BigInteger(), nullable=False),
        sa.Column("price_ticks", sa.BigInteger(), nullable=True),
        sa.Column("stop_price_ticks", sa.BigInteger(), nullable=True),
        sa.Column("display_qty_lots", sa.BigInteger(), nullable=True),
        sa.Column("post_only", sa.Boolean(), nullable=False),
        sa.Column("stp", sa.String(length=24), nullable=False),
        sa.Column("client_order_id", sa.String(length=64), nullable=True),
        sa.Column("expire_ts_ns", sa.BigInteger(), nullable=True),
        sa.Column("quote_qty", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("filled_lots", sa.BigInteger(), nullable=False),
        sa.Column("filled_notional", sa.BigInteger(), nullable=False),
        sa.Column("remaining_lots", sa.BigInteger(), nullable=False),
        sa.Column("reject_reason", sa.String(length=64), nullable=True),
        sa.Column("cancel_reason", sa.String(length=64), nullable=True),
        sa.Column("fee_paid", sa.BigInteger(), nullable=False),
        sa.Column("created_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_ts_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_ts_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_orders_account_client_id", ["account_id", "client_order_id"], unique=False
        )
        batch_op.create_index(
            "ix_orders_account_created", ["account_id", "created_seq"], unique=False
        )
        batch_op.create_index("ix_orders_status", ["status"], unique=False)

    op.create_table(
        "positions",
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("net_lots", sa.BigInteger(), nullable=False),
        sa.Column("cost_basis", sa.BigInteger(), nullable=False),
        sa.Column("realized_pnl", sa.BigInteger(), nullable=False),
        sa.Column("fees_paid", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "symbol"),
    )
    op.create_table(
        "projector_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "risk_profiles",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("max_open_orders", sa.BigInteger(), nullable=True),
        sa.Column("max_order_notional", sa.BigInteger(), nullable=True),
        sa.Column("max_position_lots", sa.BigInteger(), nullable=True),
        sa.Column("max_orders_per_second", sa.BigInteger(), nullable=True),
        sa.Column("daily_loss_limit", sa.BigInteger(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "trades",
        sa.Column("trade_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("price_ticks", sa.BigInteger(), nullable=False),
        sa.Column("qty_lots", sa.BigInteger(), nullable=False),
        sa.Column("aggressor_side", sa.String(length=24), nullable=True),
        sa.Column("maker_order_id", sa.BigInteger(), nullable=False),
        sa.Column("taker_order_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ts_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("trade_id"),
    )
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.create_index("ix_trades_symbol_trade", ["symbol", "trade_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.drop_index("ix_trades_symbol_trade")

    op.drop_table("trades")
    op.drop_table("risk_profiles")
    op.drop_table("projector_state")
    op.drop_table("positions")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_status")
        batch_op.drop_index("ix_orders_account_created")
        batch_op.drop_index("ix_orders_account_client_id")

    op.drop_table("orders")
    with op.batch_alter_table("ledger_postings", schema=None) as batch_op:
        batch_op.drop_index("ix_postings_debit")
        batch_op.drop_index("ix_postings_credit")

    op.drop_table("ledger_postings")
    op.drop_table("kill_switches")
    op.drop_table("instruments")
    with op.batch_alter_table("fills", schema=None) as batch_op:
        batch_op.drop_index("ix_fills_order")
        batch_op.drop_index("ix_fills_account_trade")

    op.drop_table("fills")
    op.drop_table("fee_tiers")
    op.drop_table("candles")
    op.drop_table("balances")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_account")

    op.drop_table("api_keys")
    op.drop_table("accounts")
