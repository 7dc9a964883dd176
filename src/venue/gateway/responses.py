"""Response shapes for the OpenAPI document (documentation only: the routes return the
dicts of `render.py` and nothing validates them twice on the way out; e2e tests check the
shapes). Decimals are strings, ids ints, times ms since the epoch."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Shape(BaseModel):
    """Exact: a field render.py adds or drops fails the e2e test that checks real answers."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Shape):
    code: str = Field(description="Stable code: a RejectReason value or a gateway code")
    message: str
    details: dict[str, Any]


class ErrorBody(Shape):
    error: ErrorDetail


class Fill(Shape):
    trade_id: int
    order_id: int
    symbol: str
    side: str = Field(description="buy | sell")
    price: str
    quantity: str
    liquidity: str = Field(description="maker | taker | auction")
    fee: str = Field(description="in the quote asset; negative for a rebate")
    fee_asset: str | None
    seq: int
    time: int


class Order(Shape):
    order_id: int
    client_order_id: str | None
    account_id: int
    symbol: str
    side: str
    type: str
    time_in_force: str
    status: str = Field(
        description="new | partially_filled | filled | canceled | rejected | expired | "
        "pending_trigger"
    )
    quantity: str
    price: str | None
    stop_price: str | None
    display_quantity: str | None
    quote_quantity: str | None
    post_only: bool
    self_trade_prevention: str
    expire_time: int | None
    filled_quantity: str
    remaining_quantity: str
    average_price: str | None
    fee_paid: str
    reject_reason: str | None
    cancel_reason: str | None
    created_at: int
    updated_at: int
    seq: int = Field(description="the seq of the order's last change")
    fills: list[Fill] | None = Field(None, description="with POST and GET by id")


class OrderPage(Shape):
    orders: list[Order]
    next_cursor: str | None
    seq: int = Field(description="the last seq the read model had applied")


class FillPage(Shape):
    fills: list[Fill]
    next_cursor: str | None
    seq: int


class Balance(Shape):
    asset: str
    available: str
    held: str
    total: str


class Balances(Shape):
    account_id: int
    balances: list[Balance]
    seq: int


class Position(Shape):
    symbol: str
    net_quantity: str
    average_price: str | None
    cost_basis: str
    realized_pnl: str
    unrealized_pnl: str | None
    fees_paid: str


class Positions(Shape):
    account_id: int
    positions: list[Position]
    seq: int


class Book(Shape):
    symbol: str
    seq: int = Field(description="the seq of the book's last change (deltas chain from it)")
    bids: list[list[str]] = Field(description="[price, quantity], best first")
    asks: list[list[str]]


ERRORS = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "invalid request, or refused by a rule of the instrument"),
        (401, "missing, bad, stale or replayed signature"),
        (403, "role or kill switch forbids it"),
        (404, "not found, or not yours"),
        (409, "the market's state does not allow it now"),
        (422, "refused by the venue's rules (funds, limits, post-only)"),
        (429, "too fast"),
        (503, "overloaded or a part unavailable; retry"),
    )
}


def documented(model: type[BaseModel], *statuses: int) -> dict[str, Any]:
    """Route keyword arguments documenting `model` as the 200 body and the given errors."""
    responses: dict[int | str, dict[str, Any]] = {200: {"model": model}}
    for status in statuses or tuple(ERRORS):
        responses[status] = ERRORS[status]
    return {"response_model": None, "responses": responses}
