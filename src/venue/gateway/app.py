"""The FastAPI application: routes under `/api/v1`, health, readiness, metrics, WebSocket.

Routes only translate (DESIGN.md §1, §9): they authenticate, validate, call `Gateway`
(commands) or read projections (live view, market data, SQL read model), and shape JSON.

Access rule: a private route acts on the caller's own account only; another account's
order, fill or key answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import structlog
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from venue.client.signing import (
    KEY_HEADER,
    NONCE_HEADER,
    RECV_WINDOW_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
)
from venue.gateway.auth import ApiKeyAuthenticator, Principal, Role
from venue.gateway.entry import OrderEntry
from venue.gateway.errors import ApiError, GatewayCode, invalid_input, not_found
from venue.gateway.metrics import Metrics
from venue.gateway.render import position_json
from venue.gateway.requests import (
    AccountRequest,
    AccountUpdateRequest,
    AmountRequest,
    ApiKeyRequest,
    BatchOrderRequest,
    FeeTierRequest,
    InstrumentRequest,
    KillSwitchRequest,
    ModeRequest,
    OrderRequest,
    ReplaceRequest,
    RiskProfileRequest,
)
from venue.gateway.responses import (
    Balances,
    Book,
    FillPage,
    Order,
    OrderPage,
    Positions,
    documented,
)
from venue.gateway.service import Gateway
from venue.marketdata.projection import MarketData
from venue.persistence.database import DatabaseError
from venue.views.candles import INTERVAL_NAMES

log = structlog.get_logger("venue.gateway")

INTERVAL_PATTERN = "^(" + "|".join(INTERVAL_NAMES) + ")$"  # views.candles: the one list
# Times in ms whose ns value fits a signed 64-bit column (until the year 2116).
MAX_TIME_MS = 2**62 // 1_000_000


class Reads(Protocol):
    """History from the SQL read model (blocking; run in a thread). Each list answers
    `(rows, next_cursor, seq)`: the rows as JSON, the cursor of the next page or None, and
    the last seq the read model had applied."""

    def wait_for(self, seq: int, timeout_s: float) -> int: ...

    def list_orders(
        self, account_id: int, **filters: Any
    ) -> tuple[list[dict[str, Any]], str | None]: ...

    def list_fills(
        self, account_id: int, **filters: Any
    ) -> tuple[list[dict[str, Any]], str | None]: ...

    def list_ledger(
        self, account_id: int, *, asset: str | None, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]: ...

    def candles(
        self, symbol: str, interval: str, start_ms: int | None, end_ms: int | None, limit: int
    ) -> list[dict[str, Any]]: ...

    def ping(self) -> bool: ...


@dataclass
class AppContext:
    gateway: Gateway
    entry: OrderEntry
    authenticator: ApiKeyAuthenticator
    market_data: MarketData
    reads: Reads
    metrics: Metrics
    ready: Callable[[], bool]
    rate_limit_per_minute: int = 0
    order_book_depth: int = 100
    extra_routers: tuple[APIRouter, ...] = ()


class _RateLimiter:
    """Requests per key per minute (fixed one-minute windows)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._window = 0
        self._counts: dict[str, int] = {}

    def allow(self, key_id: str) -> bool:
        if self.per_minute <= 0:
            return True
        window = int(time.monotonic() // 60)
        if window != self._window:
            self._window = window
            self._counts.clear()
        count = self._counts.get(key_id, 0) + 1
        self._counts[key_id] = count
        return count <= self.per_minute


async def principal(request: Request) -> Principal:
    """The signed caller (every private route depends on this)."""
    ctx: AppContext = request.app.state.ctx
    headers = request.headers
    body = await request.body()
    who = ctx.authenticator.authenticate(
        headers.get(KEY_HEADER),
        headers.get(TIMESTAMP_HEADER),
        headers.get(SIGNATURE_HEADER),
        request.method,
        request.url.path,
        request.url.query,
        body,
        headers.get(RECV_WINDOW_HEADER),
        headers.get(NONCE_HEADER),
    )
    if not request.app.state.limiter.allow(who.key_id):
        raise ApiError(429, GatewayCode.RATE_LIMITED, "request rate limit per minute reached")
    return who


async def trader(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if not who.can_trade:
        raise ApiError(403, GatewayCode.FORBIDDEN, "this API key is read-only")
    return who


async def admin(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if not who.is_admin:
        raise ApiError(403, GatewayCode.FORBIDDEN, "admin role required")
    return who


Reader = Annotated[Principal, Depends(principal)]
Trader = Annotated[Principal, Depends(trader)]
Admin = Annotated[Principal, Depends(admin)]


class RequestContext:
    """Pure ASGI middleware (Starlette's BaseHTTPMiddleware costs a task group per request):
    a request id for the logs and the `X-Request-ID` header, and the HTTP metrics by route
    template. Logs nothing of the headers, so no key or signature ever reaches a log."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:64]
                break
        request_id = request_id or uuid.uuid4().hex[:16]
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers.append("X-Request-ID", request_id)
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            method = scope["method"]
            self.metrics.http_requests.labels(method, path, str(status)).inc()
            self.metrics.http_latency.labels(method, path).observe(time.perf_counter() - started)
            if status >= 500:
                log.warning("request", method=method, path=path, status=status)


def create_app(ctx: AppContext) -> FastAPI:
    app = FastAPI(
        title="venue",
        version="1",
        description="A trading venue: REST and WebSocket APIs. Decimals are strings.",
        # "/api/v1/orders/" is not "/api/v1/orders": a 307 to it would make clients resend
        # a signed POST to a path its signature does not cover.
        redirect_slashes=False,
    )
    app.state.ctx = ctx
    app.state.limiter = _RateLimiter(ctx.rate_limit_per_minute)
    gateway = ctx.gateway
    entry = app.state.entry = ctx.entry
    md = ctx.market_data
    metrics = ctx.metrics

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        error = invalid_input(exc.errors())
        return JSONResponse(error.body(), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = GatewayCode.NOT_FOUND if exc.status_code == 404 else GatewayCode.INVALID_REQUEST
        body = {"error": {"code": code, "message": str(exc.detail), "details": {}}}
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(DatabaseError)
    async def _database(_: Request, exc: DatabaseError) -> JSONResponse:
        # The read model is a projection: the venue trades on without it, and says so.
        log.warning("read model unavailable", error=type(exc.orig).__name__)
        error = ApiError(503, GatewayCode.UNAVAILABLE, "history is unavailable for a moment")
        return JSONResponse(error.body(), status_code=503)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", error=type(exc).__name__)
        body = {"error": {"code": GatewayCode.INTERNAL, "message": "internal error", "details": {}}}
        return JSONResponse(body, status_code=500)

    app.add_middleware(RequestContext, metrics=metrics)

    def symbol_known(symbol: str) -> None:
        if not md.has(symbol):
            raise not_found(f"market {symbol}")

    async def caught_up() -> int:
        """Wait (briefly) until the SQL read model holds what the live view holds."""
        return await asyncio.to_thread(ctx.reads.wait_for, gateway.live.last_seq, 2.0)

    # ------------------------------------------------------------------ outside /api/v1

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/ready", tags=["ops"])
    async def ready() -> JSONResponse:
        database = await asyncio.to_thread(ctx.reads.ping)
        ok = ctx.ready() and database
        body = {"ready": ok, "recovered": ctx.ready(), "database": database}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"])
    async def prometheus() -> Response:
        metrics.refresh()
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    api = APIRouter(prefix="/api/v1")

    # ------------------------------------------------------------------ public

    @api.get("/instruments", tags=["public"])
    async def instruments() -> list[dict[str, Any]]:
        return md.instruments()

    @api.get("/markets/{symbol}/book", tags=["public"], **documented(Book, 404))
    async def book(
        symbol: str, depth: Annotated[int | None, Query(ge=1, le=5000)] = None
    ) -> dict[str, Any]:
        symbol_known(symbol)
        return md.book(symbol, min(depth or ctx.order_book_depth, 5000))

    @api.get("/markets/{symbol}/bbo", tags=["public"])
    async def bbo(symbol: str) -> dict[str, Any]:
        symbol_known(symbol)
        return md.bbo(symbol)

    @api.get("/markets/{symbol}/trades", tags=["public"])
    async def trades(
        symbol: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[dict[str, Any]]:
        symbol_known(symbol)
        return md.trades(symbol, limit)

    @api.get("/markets/{symbol}/candles", tags=["public"])
    async def candles(
        symbol: str,
        interval: Annotated[str, Query(pattern=INTERVAL_PATTERN)] = "1m",
        start: Annotated[int | None, Query(ge=0, le=MAX_TIME_MS, description="ms")] = None,
        end: Annotated[int | None, Query(ge=0, le=MAX_TIME_MS, description="ms")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    ) -> list[dict[str, Any]]:
        symbol_known(symbol)
        rows = await asyncio.to_thread(ctx.reads.candles, symbol, interval, start, end, limit)
        merged = {row["start"]: row for row in rows}
        for row in md.candles(symbol, interval):  # the live ones are newer than the SQL ones
            in_range = (start is None or row["start"] >= start) and (
                end is None or row["start"] <= end
            )
            if in_range:
                merged[row["start"]] = row
        return [merged[k] for k in sorted(merged)][-limit:]

    @api.get("/markets/{symbol}/ticker", tags=["public"])
    async def ticker(symbol: str) -> dict[str, Any]:
        symbol_known(symbol)
        return md.ticker(symbol)

    @api.get("/markets/{symbol}/auction", tags=["public"])
    async def auction(symbol: str) -> dict[str, Any]:
        symbol_known(symbol)
        state = md.auction(symbol)
        status, mode = md.status(symbol)
        return {"symbol": symbol, "mode": mode.name.lower(), "status": status.name.lower()} | (
            state or {"price": None, "paired_quantity": "0", "imbalance_quantity": "0"}
        )

    # ------------------------------------------------------------------ private: orders

    @api.post("/orders", tags=["orders"], **documented(Order))
    async def place_order(body: OrderRequest, who: Reader, response: Response) -> dict[str, Any]:
        # `venue serve` answers this route in gateway/fastpath.py, through the same service.
        order, resent = await entry.place(who, body)
        if resent:
            response.headers["X-Venue-Resent"] = "true"
        return order

    @api.post("/orders/batch", tags=["orders"])
    async def place_batch(body: BatchOrderRequest, who: Reader) -> dict[str, Any]:
        return {"results": await entry.place_batch(who, body.orders)}

    @api.get("/orders", tags=["orders"], **documented(OrderPage, 400, 401, 503))
    async def list_orders(
        who: Reader,
        status: Annotated[
            str | None,
            Query(
                pattern="^(open|new|partially_filled|filled|canceled|rejected|expired|pending_trigger)$"
            ),
        ] = None,
        symbol: str | None = None,
        side: Annotated[str | None, Query(pattern="^(buy|sell)$")] = None,
        start: Annotated[int | None, Query(ge=0, le=MAX_TIME_MS)] = None,
        end: Annotated[int | None, Query(ge=0, le=MAX_TIME_MS)] = None,
        cursor: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        seq = await caught_up()
        rows, next_cursor = await asyncio.to_thread(
            ctx.reads.list_orders,
            who.account_id,
            status=status,
            symbol=symbol,
            side=side,
            start_ms=start,
            end_ms=end,
            cursor=cursor,
            limit=limit,
        )
        return {"orders": rows, "next_cursor": next_cursor, "seq": seq}

    @api.get("/orders/{order_id}", tags=["orders"], **documented(Order, 401, 404))
    async def get_order(order_id: int, who: Reader) -> dict[str, Any]:
        return await gateway.order_with_fills(who.account_id, order_id)

    @api.patch("/orders/{order_id}", tags=["orders"], **documented(Order))
    async def replace_order(order_id: int, body: ReplaceRequest, who: Reader) -> dict[str, Any]:
        return await entry.replace(who, order_id, body)

    @api.delete("/orders/{order_id}", tags=["orders"], **documented(Order, 401, 403, 404))
    async def cancel_order(order_id: int, who: Reader) -> dict[str, Any]:
        # `venue serve` answers this route in gateway/fastpath.py, through the same service.
        return await entry.cancel(who, order_id)

    @api.delete("/orders", tags=["orders"])
    async def cancel_all(who: Reader, symbol: str | None = None) -> dict[str, Any]:
        return await entry.cancel_all(who, symbol)

    # ------------------------------------------------------------------ private: account

    @api.get("/fills", tags=["account"], **documented(FillPage, 400, 401, 503))
    async def fills(
        who: Reader,
        symbol: str | None = None,
        order_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
        start: Annotated[int | None, Query(ge=0, le=MAX_TIME_MS)] = None,
        end: Annotated[int | None, Query(ge=0, le=MAX_TIME_MS)] = None,
        cursor: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        seq = await caught_up()
        rows, next_cursor = await asyncio.to_thread(
            ctx.reads.list_fills,
            who.account_id,
            symbol=symbol,
            order_id=order_id,
            start_ms=start,
            end_ms=end,
            cursor=cursor,
            limit=limit,
        )
        return {"fills": rows, "next_cursor": next_cursor, "seq": seq}

    @api.get("/balances", tags=["account"], **documented(Balances, 401))
    async def balances(who: Reader) -> dict[str, Any]:
        return gateway.balances_json(who.account_id)

    @api.get("/positions", tags=["account"], **documented(Positions, 401))
    async def positions(who: Reader) -> dict[str, Any]:
        live = gateway.live
        rows = []
        for symbol, position in sorted(live.positions.get(who.account_id, {}).items()):
            units = live.units.get(symbol)
            if units is not None:
                rows.append(position_json(position, units, live.last_price.get(symbol)))
        return {"account_id": who.account_id, "positions": rows, "seq": live.last_seq}

    @api.get("/ledger", tags=["account"])
    async def ledger(
        who: Reader,
        asset: Annotated[str | None, Query(max_length=16)] = None,
        cursor: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        seq = await caught_up()
        rows, next_cursor = await asyncio.to_thread(
            ctx.reads.list_ledger, who.account_id, asset=asset, cursor=cursor, limit=limit
        )
        return {"postings": rows, "next_cursor": next_cursor, "seq": seq}

    @api.get("/account", tags=["account"])
    async def account(who: Reader) -> dict[str, Any]:
        return gateway.account_json(who.account_id) | {"role": who.role.value, "key_id": who.key_id}

    @api.get("/api-keys", tags=["account"])
    async def my_keys(who: Reader) -> list[dict[str, Any]]:
        return [_key_json(k) for k in ctx.authenticator.keys.of_account(who.account_id)]

    @api.delete("/api-keys/{key_id}", tags=["account"])
    async def revoke_my_key(key_id: str, who: Trader) -> dict[str, Any]:
        revoked = await asyncio.to_thread(ctx.authenticator.keys.revoke, who.account_id, key_id)
        if revoked is None:
            raise not_found(f"API key {key_id}")
        return _key_json(revoked)

    # ------------------------------------------------------------------ admin

    @api.post("/admin/instruments", tags=["admin"])
    async def add_instrument(body: InstrumentRequest, _: Admin) -> dict[str, Any]:
        return await gateway.add_instrument(body)

    @api.get("/admin/accounts", tags=["admin"])
    async def list_accounts(_: Admin) -> list[dict[str, Any]]:
        accounts = [gateway.account_json(a) for a in sorted(gateway.live.accounts)]
        return [gateway.fee_account_json(), *accounts]

    @api.post("/admin/accounts", tags=["admin"])
    async def create_account(body: AccountRequest, _: Admin) -> dict[str, Any]:
        return await gateway.create_account(body)

    @api.patch("/admin/accounts/{account_id}", tags=["admin"])
    async def update_account(
        account_id: int, body: AccountUpdateRequest, _: Admin
    ) -> dict[str, Any]:
        return await gateway.update_account(account_id, body)

    @api.get("/admin/accounts/{account_id}/balances", tags=["admin"])
    async def account_balances(account_id: int, _: Admin) -> dict[str, Any]:
        # The venue's fee account (0) too, so that fees reconcile through the API.
        if account_id != gateway.fee_account_json()["account_id"]:
            gateway.account_json(account_id)  # 404 for an unknown account
        return gateway.balances_json(account_id)

    @api.post("/admin/accounts/{account_id}/api-keys", tags=["admin"])
    async def create_key(account_id: int, body: ApiKeyRequest, _: Admin) -> dict[str, Any]:
        gateway.account_json(account_id)  # 404 for an unknown account
        key, secret = await asyncio.to_thread(
            ctx.authenticator.keys.create, account_id, Role(body.role), body.label
        )
        return _key_json(key) | {"secret": secret}

    @api.post("/admin/accounts/{account_id}/deposits", tags=["admin"])
    async def deposit(account_id: int, body: AmountRequest, _: Admin) -> dict[str, Any]:
        return await gateway.transfer(account_id, body, deposit=True)

    @api.post("/admin/accounts/{account_id}/withdrawals", tags=["admin"])
    async def withdraw(account_id: int, body: AmountRequest, _: Admin) -> dict[str, Any]:
        return await gateway.transfer(account_id, body, deposit=False)

    @api.post("/admin/markets/{symbol}/halt", tags=["admin"])
    async def halt(symbol: str, _: Admin) -> dict[str, Any]:
        return await gateway.halt(symbol, halt=True)

    @api.post("/admin/markets/{symbol}/resume", tags=["admin"])
    async def resume(symbol: str, _: Admin) -> dict[str, Any]:
        return await gateway.halt(symbol, halt=False)

    @api.post("/admin/markets/{symbol}/mode", tags=["admin"])
    async def mode(symbol: str, body: ModeRequest, _: Admin) -> dict[str, Any]:
        return await gateway.set_mode(symbol, body)

    @api.post("/admin/kill-switch", tags=["admin"])
    async def kill_switch(body: KillSwitchRequest, _: Admin) -> dict[str, Any]:
        return await gateway.kill_switch(body)

    @api.post("/admin/fee-tiers", tags=["admin"])
    async def fee_tier(body: FeeTierRequest, _: Admin) -> dict[str, Any]:
        return await gateway.fee_tier(body)

    @api.post("/admin/risk-profiles", tags=["admin"])
    async def risk_profile(body: RiskProfileRequest, _: Admin) -> dict[str, Any]:
        return await gateway.risk_profile(body)

    app.include_router(api)
    for router in ctx.extra_routers:
        app.include_router(router)
    return app


def _key_json(key: Any) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "account_id": key.account_id,
        "role": key.role.value,
        "label": key.label,
        "created_at": key.created_at_ns // 1_000_000,
        "revoked_at": None if key.revoked_at_ns is None else key.revoked_at_ns // 1_000_000,
    }
