"""The API's errors: one shape, one table.

Every error answers `{"error": {"code", "message", "details"}}`. `code` is stable: for a
refusal by the core it is the `RejectReason` value itself; the gateway's own codes are
listed in `GatewayCode`. `REJECT_STATUS` maps every `RejectReason` to its HTTP status (a
test checks that it is total), so a new reason cannot ship without a decision here.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from venue.domain.reject import RejectReason

R = RejectReason

# 400: the request itself is wrong; 404: it names something that is not there (or not the
# caller's); 409: the venue's state does not allow it now; 422: a valid order the venue's
# rules refuse (funds, limits); 403: a kill switch forbids it; 429: too fast; 503: capacity.
REJECT_STATUS: dict[RejectReason, int] = {
    R.UNKNOWN_SYMBOL: 400,
    R.MARKET_HALTED: 409,
    R.DUPLICATE_SYMBOL: 409,
    R.INVALID_INSTRUMENT: 400,
    R.INVALID_QUANTITY: 400,
    R.INVALID_PRICE: 400,
    R.PRICE_REQUIRED: 400,
    R.PRICE_NOT_ALLOWED: 400,
    R.STOP_PRICE_REQUIRED: 400,
    R.STOP_PRICE_NOT_ALLOWED: 400,
    R.QUANTITY_BELOW_MIN: 400,
    R.QUANTITY_ABOVE_MAX: 400,
    R.NOTIONAL_BELOW_MIN: 400,
    R.PRICE_OUT_OF_BAND: 422,
    R.INVALID_DISPLAY_QUANTITY: 400,
    R.INVALID_TIME_IN_FORCE: 400,
    R.EXPIRE_TIME_REQUIRED: 400,
    R.EXPIRE_TIME_NOT_ALLOWED: 400,
    R.EXPIRE_TIME_IN_PAST: 400,
    R.POST_ONLY_NOT_ALLOWED: 400,
    R.POST_ONLY_WOULD_TAKE: 422,
    R.STOP_WOULD_TRIGGER_IMMEDIATELY: 422,
    R.NO_REFERENCE_PRICE: 422,
    R.NOT_ALLOWED_IN_AUCTION: 409,
    R.UNKNOWN_ORDER: 404,
    R.QUANTITY_BELOW_FILLED: 422,
    R.NOTHING_TO_CHANGE: 400,
    R.NOT_IN_CALL_MODE: 409,
    R.INVALID_MODE_CHANGE: 409,
    R.BOOK_FULL: 503,
    R.INSUFFICIENT_BALANCE: 422,
    R.UNKNOWN_ACCOUNT: 404,
    R.UNKNOWN_ASSET: 400,
    R.INVALID_AMOUNT: 400,
    R.MAX_OPEN_ORDERS: 422,
    R.MAX_ORDER_NOTIONAL: 422,
    R.MAX_POSITION: 422,
    R.ORDER_RATE_LIMIT: 429,
    R.DAILY_LOSS_LIMIT: 403,
    R.ACCOUNT_KILL_SWITCH: 403,
    R.VENUE_KILL_SWITCH: 403,
    R.QUOTE_QTY_NOT_ALLOWED: 400,
    R.UNBOUNDED_MARKET_ORDER: 422,
    R.UNKNOWN_FEE_TIER: 400,
    R.UNKNOWN_RISK_PROFILE: 400,
    R.INVALID_FEE_TIER: 400,
    R.INVALID_RISK_PROFILE: 400,
    R.ASSET_DECIMALS_CONFLICT: 409,
}


class GatewayCode(StrEnum):
    """Codes the gateway answers before a command reaches the core."""

    INVALID_REQUEST = "invalid_request"
    UNAUTHENTICATED = "unauthenticated"
    INVALID_SIGNATURE = "invalid_signature"
    STALE_TIMESTAMP = "stale_timestamp"
    REPLAYED_REQUEST = "replayed_request"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    OVERLOADED = "overloaded"
    NOT_COMMITTED = "not_committed"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal_error"


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def rejected(reason: RejectReason, message: str | None = None, **details: Any) -> ApiError:
    """The error for a refusal by the core."""
    text = message or reason.value.replace("_", " ")
    return ApiError(REJECT_STATUS[reason], reason.value, text, details)


def invalid(message: str, **details: Any) -> ApiError:
    return ApiError(400, GatewayCode.INVALID_REQUEST, message, details)


def invalid_input(errors: Sequence[Any]) -> ApiError:
    """The error for a body or query that fails validation (pydantic's error list)."""
    problems = [_problem(e) for e in errors]
    first = problems[0] if problems else {"field": "", "message": "invalid request"}
    return invalid(f"{first['field']}: {first['message']}", problems=problems)


def _problem(error: Any) -> dict[str, str]:
    if error.get("type") == "json_invalid":
        # pydantic locates a JSON syntax error by byte offset; the field is the body itself.
        return {"field": "body", "message": "is not valid JSON"}
    location = list(error["loc"])
    if location and location[0] in ("body", "query", "path", "header"):
        location = location[1:]  # where the field was is the route's business; its name is
    field = ".".join(str(part) for part in location)
    return {"field": field, "message": error["msg"]}


def not_found(what: str) -> ApiError:
    return ApiError(404, GatewayCode.NOT_FOUND, f"{what} not found")
