"""`venue serve --demo`: demo markets, funded accounts with keys, and resting orders.

Everything goes through the same commands an operator would send (journaled like any other),
so a demo venue restarts and replays like a real one. The set-up runs once per data dir: a
restart finds the markets and only prints the URLs again. The demo keys are printed once
and kept in `<data dir>/demo-keys.json` (mode 0600).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from venue.domain.commands import (
    AddInstrument,
    CreateAccount,
    Deposit,
    PlaceOrder,
)
from venue.domain.instrument import Instrument
from venue.domain.values import MarketMode, OrderType, Side
from venue.files import write_private_json
from venue.gateway.auth import Role

if TYPE_CHECKING:
    from venue.main import Venue

DEMO_KEYS_FILE = "demo-keys.json"

# symbol, base, quote, tick, lot, base decimals, quote decimals, mid price, mode, interval ms,
# size of the demo ladder's first level
Market = tuple[str, str, str, str, str, int, int, str, MarketMode, int, str]
MARKETS: list[Market] = [
    ("BTC-USDT", "BTC", "USDT", "0.01", "0.0001", 8, 6, "27000", MarketMode.CONTINUOUS, 0, "0.05"),
    ("ETH-USDT", "ETH", "USDT", "0.01", "0.001", 8, 6, "1600", MarketMode.CONTINUOUS, 0, "0.5"),
    ("SOL-USDT", "SOL", "USDT", "0.001", "0.01", 8, 6, "22", MarketMode.CONTINUOUS, 0, "10"),
    ("KWH-USD", "KWH", "USD", "0.01", "1", 0, 2, "0.12", MarketMode.CALL, 1000, "100"),
]
ACCOUNTS = [("alice", "default"), ("bob", "default"), ("market-maker", "market_maker")]
FUNDS = {
    "BTC": 10**8 * 100,
    "ETH": 10**8 * 1000,
    "SOL": 10**8 * 100_000,
    "KWH": 10_000_000,
    "USDT": 10**6 * 10_000_000,
    "USD": 100 * 1_000_000,
}


def _instrument(row: Market, max_book_orders: int) -> Instrument:
    symbol, base, quote, tick, lot, base_dec, quote_dec, _, mode, interval_ms, _ = row
    return Instrument.create(
        symbol,
        base,
        quote,
        tick,
        lot,
        base_dec,
        quote_dec,
        price_band_bps=2000,
        mode=mode,
        auction_interval_ns=interval_ms * 1_000_000,
        max_book_orders=max_book_orders,
    )


async def set_up_demo(venue: Venue) -> list[str]:
    settings = venue.settings
    base_url = f"http://{settings.host}:{settings.port}"
    lines = [
        "",
        "venue demo is running:",
        f"  API docs     {base_url}/docs",
        f"  instruments  {base_url}/api/v1/instruments",
        f"  order book   {base_url}/api/v1/markets/BTC-USDT/book",
        f"  WebSocket    ws://{settings.host}:{settings.port}/ws",
        f"  metrics      {base_url}/metrics",
        f"  admin key    {(settings.data_dir / 'admin-key.json').resolve()}",
    ]
    if "BTC-USDT" in venue.live.instruments:
        lines.append(f"  demo keys    {(settings.data_dir / DEMO_KEYS_FILE).resolve()}")
        return lines
    for row in MARKETS:
        await venue.execute(AddInstrument(_instrument(row, settings.max_order_book_size)))
    keys: dict[str, dict[str, Any]] = {}
    for name, tier in ACCOUNTS:
        reply = await venue.execute(CreateAccount(fee_tier=tier, name=name))
        account_id = reply.seq
        for asset, amount in FUNDS.items():
            await venue.execute(Deposit(account_id, asset, amount))
        key, secret = await asyncio.to_thread(venue.keys.create, account_id, Role.TRADER, "demo")
        keys[name] = {"account_id": account_id, "key_id": key.key_id, "secret": secret}
    await _ladders(venue, keys["market-maker"]["account_id"])
    write_private_json(settings.data_dir / DEMO_KEYS_FILE, keys)
    lines.append("  demo accounts (keys shown once; also in demo-keys.json):")
    for name, shown in keys.items():
        lines.append(
            f"    {name:<13} account {shown['account_id']:<4} key {shown['key_id']}  "
            f"secret {shown['secret']}"
        )
    return lines


async def _ladders(venue: Venue, account_id: int) -> None:
    """Ten resting levels each side around every market's mid, from the market maker."""
    for row in MARKETS:
        instrument = venue.live.instruments[row[0]]
        units = venue.live.units[row[0]]
        mid = units.price_ticks("mid", row[7])
        size = units.qty_lots("size", row[10])
        step = max(1, mid // 1000)
        for level in range(1, 11):
            for side, price in ((Side.BUY, mid - level * step), (Side.SELL, mid + level * step)):
                await venue.execute(
                    PlaceOrder(
                        account_id=account_id,
                        symbol=instrument.symbol,
                        side=side,
                        order_type=OrderType.LIMIT,
                        qty_lots=level * size,
                        price_ticks=price,
                    )
                )
