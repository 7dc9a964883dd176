"""Untimed preparation of a load test through the venue's public and admin API.

Creates `accounts` trader accounts (named `loadtest-<run id>-<n>`, so runs never collide),
deposits ample quote and base asset into each, creates one trader API key per account, and
reads the instrument (tick, lot) and the book's mid price, snapped down to the tick grid.

Invariants:
- Nothing here is timed; the driver starts only after `prepare` returns.
- Prices and quantities are `Decimal`s built from the venue's strings; no float touches them.
- A refused admin call stops the run (SetupError naming the call and the venue's answer):
  a load test on half-made accounts would measure nothing meaningful.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import yarl

from venue.client.signing import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, now_ms, sign

DEFAULT_PRICE = Decimal("27000")
DEFAULT_QUOTE_DEPOSIT = Decimal("100000000")
# Setup requests in flight at once (accounts are independent).
SETUP_CONCURRENCY = 8


class SetupError(RuntimeError):
    """The venue refused or failed a setup step; the message says which and why."""


@dataclass(frozen=True)
class Credentials:
    key_id: str
    secret: str

    @classmethod
    def load(cls, path: Path) -> Credentials:
        try:
            raw = json.loads(path.read_text())
            return cls(key_id=str(raw["key_id"]), secret=str(raw["secret"]))
        except FileNotFoundError:
            raise SetupError(
                f"no admin key file at {path} (the server writes <data dir>/admin-key.json; "
                "pass --key-file)"
            ) from None
        except (ValueError, KeyError, TypeError) as problem:
            raise SetupError(f"bad admin key file {path}: {problem!r}") from None


@dataclass(frozen=True)
class Trader:
    account_id: int
    credentials: Credentials


@dataclass(frozen=True)
class Market:
    """The instrument and the price grid the order flow is placed on."""

    symbol: str
    base_asset: str
    quote_asset: str
    tick: Decimal
    lot: Decimal
    mid_ticks: int
    min_lots: int = 1

    def price(self, ticks: int) -> str:
        return _plain(self.tick * ticks)

    def quantity(self, lots: int) -> str:
        return _plain(self.lot * lots)


@dataclass(frozen=True)
class Prepared:
    market: Market
    traders: list[Trader]
    mid_source: str


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _decimal(value: object, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise SetupError(f"{what} is not a decimal: {value!r}") from None
    if not number.is_finite():
        raise SetupError(f"{what} is not finite: {value!r}")
    return number


class VenueHttp:
    """A small JSON client: signed when given credentials, raising SetupError on any non-2xx."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base = base_url.rstrip("/")

    async def call(
        self,
        method: str,
        path: str,
        *,
        credentials: Credentials | None = None,
        query: str = "",
        body: object | None = None,
    ) -> Any:
        raw_body = b"" if body is None else msgspec.json.encode(body)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if credentials is not None:
            timestamp = now_ms()
            headers[KEY_HEADER] = credentials.key_id
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = sign(
                credentials.secret, timestamp, method, path, query, raw_body
            )
        # encoded=True: the query goes out byte for byte as it was signed.
        url = yarl.URL(self._base + path + (f"?{query}" if query else ""), encoded=True)
        try:
            async with self._session.request(
                method, url, data=raw_body or None, headers=headers
            ) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as problem:
            raise SetupError(f"{method} {path}: {problem!r}") from None
        if not 200 <= status < 300:
            raise SetupError(f"{method} {path}: HTTP {status}: {text[:500]}")
        try:
            return json.loads(text) if text else None
        except ValueError:
            raise SetupError(f"{method} {path}: not JSON: {text[:200]!r}") from None


async def read_market(http: VenueHttp, symbol: str, price: Decimal | None) -> tuple[Market, str]:
    """The instrument and its mid in ticks: `price` if given, else the book's mid (or its one
    side), else DEFAULT_PRICE. Returns the market and where the mid came from."""
    instruments = await http.call("GET", "/api/v1/instruments")
    if isinstance(instruments, dict):  # tolerate {"instruments": [...]}
        instruments = instruments.get("instruments", [])
    found = [item for item in instruments if item.get("symbol") == symbol]
    if not found:
        known = ", ".join(sorted(str(item.get("symbol")) for item in instruments))
        raise SetupError(f"no instrument {symbol} on the venue (it has: {known or 'none'})")
    item = found[0]
    tick = _decimal(item["tick_size"], "tick_size")
    lot = _decimal(item["lot_size"], "lot_size")
    min_lots = 1
    if item.get("min_quantity") is not None:
        min_qty = _decimal(item["min_quantity"], "min_quantity")
        min_lots = max(1, int((min_qty / lot).to_integral_value(rounding=ROUND_CEILING)))
    source = "--price"
    if price is None:
        price, source = await _book_mid(http, symbol)
    mid_ticks = int((price / tick).to_integral_value(rounding=ROUND_FLOOR))
    if mid_ticks < 2:
        raise SetupError(f"mid price {price} is less than two ticks of {tick}")
    market = Market(
        symbol=symbol,
        base_asset=str(item["base_asset"]),
        quote_asset=str(item["quote_asset"]),
        tick=tick,
        lot=lot,
        mid_ticks=mid_ticks,
        min_lots=min_lots,
    )
    return market, source


async def _book_mid(http: VenueHttp, symbol: str) -> tuple[Decimal, str]:
    book = await http.call("GET", f"/api/v1/markets/{symbol}/book", query="depth=1")
    bids, asks = book.get("bids") or [], book.get("asks") or []
    bid = _decimal(bids[0][0], "best bid") if bids else None
    ask = _decimal(asks[0][0], "best ask") if asks else None
    if bid is not None and ask is not None:
        return (bid + ask) / 2, "book mid"
    if bid is not None:
        return bid, "best bid (no asks)"
    if ask is not None:
        return ask, "best ask (no bids)"
    return DEFAULT_PRICE, "default, the book is empty"


async def create_trader(
    http: VenueHttp,
    admin: Credentials,
    name: str,
    deposits: dict[str, Decimal],
) -> Trader:
    account = await http.call(
        "POST", "/api/v1/admin/accounts", credentials=admin, body={"name": name}
    )
    account_id = int(account["account_id"])
    for asset, amount in deposits.items():
        await http.call(
            "POST",
            f"/api/v1/admin/accounts/{account_id}/deposits",
            credentials=admin,
            body={"asset": asset, "amount": _plain(amount)},
        )
    key = await http.call(
        "POST",
        f"/api/v1/admin/accounts/{account_id}/api-keys",
        credentials=admin,
        body={"role": "trader", "label": f"{name} loadtest"},
    )
    return Trader(account_id, Credentials(str(key["key_id"]), str(key["secret"])))


def default_deposits(
    market: Market, quote: Decimal | None = None, base: Decimal | None = None
) -> dict[str, Decimal]:
    """Ample funds: `quote` of the quote asset (default 100M) and, unless given, the same
    value in the base asset at the mid price, rounded down to a whole unit (at least 1)."""
    quote_amount = DEFAULT_QUOTE_DEPOSIT if quote is None else quote
    if base is None:
        mid = market.tick * market.mid_ticks
        base = max(Decimal(1), (quote_amount / mid).to_integral_value(rounding=ROUND_FLOOR))
    return {market.quote_asset: quote_amount, market.base_asset: base}


async def prepare(
    session: aiohttp.ClientSession,
    base_url: str,
    admin: Credentials,
    *,
    symbol: str,
    accounts: int,
    run_id: str,
    price: Decimal | None = None,
    quote_deposit: Decimal | None = None,
    base_deposit: Decimal | None = None,
) -> Prepared:
    http = VenueHttp(session, base_url)
    market, source = await read_market(http, symbol, price)
    deposits = default_deposits(market, quote_deposit, base_deposit)
    limit = asyncio.Semaphore(SETUP_CONCURRENCY)

    async def one(index: int) -> Trader:
        async with limit:
            return await create_trader(http, admin, f"loadtest-{run_id}-{index}", deposits)

    traders = await asyncio.gather(*(one(index) for index in range(accounts)))
    return Prepared(market=market, traders=list(traders), mid_source=source)
