"""Request bodies of the API (pydantic): shape checks here, unit checks in `translate`.

Decimal values are strings (`"27000.50"`): a JSON number would pass through a float on many
clients, so numbers are refused for them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SideName = Literal["buy", "sell"]
TypeName = Literal[
    "limit", "market", "stop_market", "stop_limit", "take_profit", "take_profit_limit"
]
TifName = Literal["gtc", "ioc", "fok", "gtd", "day"]
StpName = Literal["cancel_newest", "cancel_oldest", "cancel_both", "decrement_and_cancel"]
DecimalText = str
CLIENT_ORDER_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"
SYMBOL_PATTERN = r"^[A-Za-z0-9_.\-]{1,32}$"
ASSET_PATTERN = r"^[A-Za-z0-9]{1,16}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class OrderRequest(Strict):
    symbol: str = Field(pattern=SYMBOL_PATTERN)
    side: SideName
    type: TypeName = "limit"
    quantity: DecimalText = Field(max_length=64)
    price: DecimalText | None = Field(None, max_length=64)
    stop_price: DecimalText | None = Field(None, max_length=64)
    time_in_force: TifName = "gtc"
    expire_time: int | None = Field(None, ge=0, le=2**62 // 1_000_000, description="ms")
    post_only: bool = False
    display_quantity: DecimalText | None = Field(None, max_length=64)
    quote_quantity: DecimalText | None = Field(None, max_length=64)
    self_trade_prevention: StpName = "cancel_newest"
    client_order_id: str | None = Field(None, pattern=CLIENT_ORDER_ID_PATTERN)


class BatchOrderRequest(Strict):
    orders: list[OrderRequest] = Field(min_length=1, max_length=100)


class ReplaceRequest(Strict):
    quantity: DecimalText | None = Field(None, max_length=64)
    price: DecimalText | None = Field(None, max_length=64)
    stop_price: DecimalText | None = Field(None, max_length=64)


class InstrumentRequest(Strict):
    symbol: str = Field(pattern=SYMBOL_PATTERN)
    base_asset: str = Field(pattern=ASSET_PATTERN)
    quote_asset: str = Field(pattern=ASSET_PATTERN)
    tick_size: DecimalText = Field(max_length=64)
    lot_size: DecimalText = Field(max_length=64)
    base_decimals: int = Field(8, ge=0, le=18)
    quote_decimals: int = Field(8, ge=0, le=18)
    min_quantity: DecimalText | None = Field(None, max_length=64)
    max_quantity: DecimalText | None = Field(None, max_length=64)
    min_notional: DecimalText | None = Field(None, max_length=64)
    price_band_pct: DecimalText | None = Field(None, max_length=16)
    reference_price: DecimalText | None = Field(None, max_length=64)
    mode: Literal["continuous", "call"] = "continuous"
    auction_interval_ms: int = Field(0, ge=0, le=86_400_000)
    max_book_orders: int | None = Field(None, ge=1, le=10_000_000)


class AccountRequest(Strict):
    name: str = Field(min_length=1, max_length=64)
    fee_tier: str = Field("default", min_length=1, max_length=32)
    risk_profile: str = Field("default", min_length=1, max_length=32)


class AccountUpdateRequest(Strict):
    fee_tier: str | None = Field(None, min_length=1, max_length=32)
    risk_profile: str | None = Field(None, min_length=1, max_length=32)


class ApiKeyRequest(Strict):
    role: Literal["admin", "trader", "read_only"] = "trader"
    label: str = Field("", max_length=64)


class AmountRequest(Strict):
    asset: str = Field(pattern=ASSET_PATTERN)
    amount: DecimalText = Field(max_length=64)


class ModeRequest(Strict):
    mode: Literal["continuous", "call"]
    auction_interval_ms: int | None = Field(None, ge=0, le=86_400_000)


class KillSwitchRequest(Strict):
    account_id: int | None = Field(None, ge=1, le=2**62)
    active: bool


class FeeTierRequest(Strict):
    name: str = Field(min_length=1, max_length=32)
    maker_bps: int = Field(ge=-10_000, le=10_000)
    taker_bps: int = Field(ge=0, le=10_000)


class RiskProfileRequest(Strict):
    """Limits in the core's integers: notional and loss in minor units of each instrument's
    quote asset, position in lots (a profile applies to every instrument)."""

    name: str = Field(min_length=1, max_length=32)
    max_open_orders: int | None = Field(None, ge=1, le=10_000_000)
    max_order_notional: int | None = Field(None, ge=1, le=2**62)
    max_position_lots: int | None = Field(None, ge=1, le=10**15)
    max_orders_per_second: int | None = Field(None, ge=1, le=1_000_000)
    daily_loss_limit: int | None = Field(None, ge=1, le=2**62)
