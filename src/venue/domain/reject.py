"""Every reason the venue can refuse a command.

Expected business outcomes are values carried by events, never exceptions (DESIGN.md §5).
The gateway maps each member to an HTTP status and a stable error code; the string value
*is* that stable code, so never rename a value once it has shipped.
"""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    # instrument and market state
    UNKNOWN_SYMBOL = "unknown_symbol"
    MARKET_HALTED = "market_halted"
    DUPLICATE_SYMBOL = "duplicate_symbol"
    INVALID_INSTRUMENT = "invalid_instrument"
    # order shape
    INVALID_QUANTITY = "invalid_quantity"
    INVALID_PRICE = "invalid_price"
    PRICE_REQUIRED = "price_required"
    PRICE_NOT_ALLOWED = "price_not_allowed"
    STOP_PRICE_REQUIRED = "stop_price_required"
    STOP_PRICE_NOT_ALLOWED = "stop_price_not_allowed"
    QUANTITY_BELOW_MIN = "quantity_below_min"
    QUANTITY_ABOVE_MAX = "quantity_above_max"
    NOTIONAL_BELOW_MIN = "notional_below_min"
    PRICE_OUT_OF_BAND = "price_out_of_band"
    INVALID_DISPLAY_QUANTITY = "invalid_display_quantity"
    INVALID_TIME_IN_FORCE = "invalid_time_in_force"
    EXPIRE_TIME_REQUIRED = "expire_time_required"
    EXPIRE_TIME_NOT_ALLOWED = "expire_time_not_allowed"
    EXPIRE_TIME_IN_PAST = "expire_time_in_past"
    POST_ONLY_NOT_ALLOWED = "post_only_not_allowed"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    STOP_WOULD_TRIGGER_IMMEDIATELY = "stop_would_trigger_immediately"
    NO_REFERENCE_PRICE = "no_reference_price"
    NOT_ALLOWED_IN_AUCTION = "not_allowed_in_auction"
    # order lifecycle
    UNKNOWN_ORDER = "unknown_order"
    QUANTITY_BELOW_FILLED = "quantity_below_filled"
    NOTHING_TO_CHANGE = "nothing_to_change"
    # auctions and modes
    NOT_IN_CALL_MODE = "not_in_call_mode"
    INVALID_MODE_CHANGE = "invalid_mode_change"
    # capacity limits
    BOOK_FULL = "book_full"
    # accounts, risk (used by the ledger and risk packages)
    INSUFFICIENT_BALANCE = "insufficient_balance"
    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_ASSET = "unknown_asset"
    INVALID_AMOUNT = "invalid_amount"
    MAX_OPEN_ORDERS = "max_open_orders"
    MAX_ORDER_NOTIONAL = "max_order_notional"
    MAX_POSITION = "max_position"
    ORDER_RATE_LIMIT = "order_rate_limit"
    DAILY_LOSS_LIMIT = "daily_loss_limit"
    ACCOUNT_KILL_SWITCH = "account_kill_switch"
    VENUE_KILL_SWITCH = "venue_kill_switch"
    QUOTE_QTY_NOT_ALLOWED = "quote_qty_not_allowed"
    UNBOUNDED_MARKET_ORDER = "unbounded_market_order"
    UNKNOWN_FEE_TIER = "unknown_fee_tier"
    UNKNOWN_RISK_PROFILE = "unknown_risk_profile"
    INVALID_FEE_TIER = "invalid_fee_tier"
    INVALID_RISK_PROFILE = "invalid_risk_profile"
    ASSET_DECIMALS_CONFLICT = "asset_decimals_conflict"
