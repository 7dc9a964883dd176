"""`venue serve` and `venue admin ...`: run the server, and operate a running one.

The admin commands call the server's admin API with the admin key that the first start
wrote to `<data dir>/admin-key.json`, and print the JSON answer. A refusal prints the error
and exits 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from venue.config import SettingsError, load_settings

admin_app = typer.Typer(help="Operate a running venue through its admin API.", no_args_is_help=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML config file (keys: the setting names).")
]


def serve_command(
    config: ConfigOption = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Add demo markets, funded accounts and their keys.")
    ] = False,
    host: Annotated[str | None, typer.Option(help="Bind address (HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (PORT).")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Journal, snapshots, SQLite and keys (VENUE_DATA_DIR).")
    ] = None,
) -> None:
    """Run the venue: recovery, sequencer, projections, SQL projector, REST and WebSocket.

    Settings come from VENUE_* variables (VENUE_DATA_DIR, VENUE_FSYNC=batch|none (none is
    UNSAFE, benchmarks only), VENUE_TICK_INTERVAL_MS, ...), the usual DATABASE_URL, HOST,
    PORT, LOG_LEVEL, MAX_ORDERS_PER_SECOND, ORDER_BOOK_DEPTH, MATCHING_INTERVAL_MS,
    ORDER_EXPIRATION_HOURS, MAX_ORDER_BOOK_SIZE, RATE_LIMIT_PER_MINUTE, JWT_SECRET_KEY,
    REDIS_URL, or a TOML file (--config). An unknown VENUE_ variable stops startup.
    """
    try:
        settings = load_settings(config, host=host, port=port, data_dir=data_dir)
    except SettingsError as exc:
        typer.echo(f"venue serve: {exc}", err=True)
        raise typer.Exit(2) from None
    from venue.main import serve

    serve(settings, demo=demo)


def _client(url: str | None, key_file: Path | None) -> Any:
    from venue.client.http import ApiClient

    settings = load_settings()
    path = key_file or settings.data_dir / "admin-key.json"
    try:
        key = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        typer.echo(f"cannot read the admin key {path}: {exc}", err=True)
        raise typer.Exit(2) from None
    base = url or f"http://{settings.host}:{settings.port}"
    return ApiClient(base, key["key_id"], key["secret"])


UrlOption = Annotated[
    str | None, typer.Option("--url", help="Server URL (default from HOST/PORT).")
]
KeyOption = Annotated[
    Path | None,
    typer.Option("--key-file", help="Admin key JSON (default <data dir>/admin-key.json)."),
]


def _call(url: str | None, key_file: Path | None, method: str, path: str, body: Any = None) -> None:
    with _client(url, key_file) as client:
        try:
            response = client.request(method, path, body)
        except Exception as exc:  # connection refused, timeout: say so plainly
            typer.echo(f"cannot reach the venue: {exc}", err=True)
            raise typer.Exit(2) from None
    typer.echo(json.dumps(response.json(), indent=2))
    if response.status_code >= 400:
        raise typer.Exit(1)


@admin_app.command("create-account")
def create_account(
    name: str,
    fee_tier: str = "default",
    risk_profile: str = "default",
    url: UrlOption = None,
    key_file: KeyOption = None,
) -> None:
    """Open an account."""
    body = {"name": name, "fee_tier": fee_tier, "risk_profile": risk_profile}
    _call(url, key_file, "POST", "/api/v1/admin/accounts", body)


@admin_app.command("create-api-key")
def create_api_key(
    account_id: int,
    role: Annotated[str, typer.Option(help="trader | read_only | admin")] = "trader",
    label: str = "",
    url: UrlOption = None,
    key_file: KeyOption = None,
) -> None:
    """Make an API key for an account (the secret is printed this once)."""
    path = f"/api/v1/admin/accounts/{account_id}/api-keys"
    _call(url, key_file, "POST", path, {"role": role, "label": label})


@admin_app.command("deposit")
def deposit(
    account_id: int, asset: str, amount: str, url: UrlOption = None, key_file: KeyOption = None
) -> None:
    """Credit an account (amount as a decimal string in the asset's units)."""
    path = f"/api/v1/admin/accounts/{account_id}/deposits"
    _call(url, key_file, "POST", path, {"asset": asset, "amount": amount})


@admin_app.command("withdraw")
def withdraw(
    account_id: int, asset: str, amount: str, url: UrlOption = None, key_file: KeyOption = None
) -> None:
    """Debit an account's available balance."""
    path = f"/api/v1/admin/accounts/{account_id}/withdrawals"
    _call(url, key_file, "POST", path, {"asset": asset, "amount": amount})


@admin_app.command("add-instrument")
def add_instrument(
    symbol: str,
    base_asset: str,
    quote_asset: str,
    tick_size: str,
    lot_size: str,
    base_decimals: int = 8,
    quote_decimals: int = 8,
    min_quantity: str | None = None,
    max_quantity: str | None = None,
    min_notional: str | None = None,
    price_band_pct: str | None = None,
    mode: Annotated[str, typer.Option(help="continuous | call")] = "continuous",
    auction_interval_ms: int = 0,
    url: UrlOption = None,
    key_file: KeyOption = None,
) -> None:
    """List a new instrument."""
    body = {
        "symbol": symbol,
        "base_asset": base_asset,
        "quote_asset": quote_asset,
        "tick_size": tick_size,
        "lot_size": lot_size,
        "base_decimals": base_decimals,
        "quote_decimals": quote_decimals,
        "min_quantity": min_quantity,
        "max_quantity": max_quantity,
        "min_notional": min_notional,
        "price_band_pct": price_band_pct,
        "mode": mode,
        "auction_interval_ms": auction_interval_ms,
    }
    body = {k: v for k, v in body.items() if v is not None}
    _call(url, key_file, "POST", "/api/v1/admin/instruments", body)


@admin_app.command("halt")
def halt(symbol: str, url: UrlOption = None, key_file: KeyOption = None) -> None:
    """Halt a market (no matching, orders refused)."""
    _call(url, key_file, "POST", f"/api/v1/admin/markets/{symbol}/halt", {})


@admin_app.command("resume")
def resume(symbol: str, url: UrlOption = None, key_file: KeyOption = None) -> None:
    """Resume a halted market."""
    _call(url, key_file, "POST", f"/api/v1/admin/markets/{symbol}/resume", {})


@admin_app.command("kill-switch")
def kill_switch(
    state: Annotated[str, typer.Argument(help="on | off")],
    account_id: Annotated[
        int | None, typer.Option(help="The account; without it, the venue-wide switch.")
    ] = None,
    url: UrlOption = None,
    key_file: KeyOption = None,
) -> None:
    """Switch an account's (or the whole venue's) kill switch on or off."""
    if state not in ("on", "off"):
        typer.echo("state must be 'on' or 'off'", err=True)
        raise typer.Exit(2)
    body = {"account_id": account_id, "active": state == "on"}
    _call(url, key_file, "POST", "/api/v1/admin/kill-switch", body)


def main() -> None:  # pragma: no cover
    sys.exit(admin_app())
