"""A real `venue serve` in a subprocess, for end-to-end tests over HTTP and WebSocket.

Each server gets its own data dir and port; with `backend="postgresql"` its own fresh
PostgreSQL database (created here, dropped at `stop`). Nothing is mocked.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.postgres import PG_ADMIN_URL

from venue.client.http import ApiClient


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def create_database() -> str:
    import psycopg

    name = f"venue_e2e_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    data_dir: Path
    backend: str = "sqlite"
    demo: bool = False
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    database: str | None = None
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    clients: list[ApiClient] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> Server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VENUE_")}
        env |= {
            "VENUE_DATA_DIR": str(self.data_dir),
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "LOG_LEVEL": "warning",
            "VENUE_TICK_INTERVAL_MS": "50",
        }
        if self.backend == "postgresql":
            if self.database is None:
                self.database = create_database()
            base = PG_ADMIN_URL.rsplit("/", 1)[0]
            env["DATABASE_URL"] = f"{base}/{self.database}"
        env |= self.env
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        args = [sys.executable, "-m", "venue.cli", "serve"] + (["--demo"] if self.demo else [])
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready in {timeout_s} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()[-5000:] if self.log_path else ""

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Stop the process (SIGTERM: graceful; SIGKILL: a crash) and return its exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        return code

    def restart(self, sig: int = signal.SIGTERM) -> Server:
        self.stop(sig)
        return self.start()

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.stop()
        if self.database is not None:
            drop_database(self.database)
            self.database = None

    def admin_key(self) -> dict[str, str]:
        key: dict[str, str] = json.loads((self.data_dir / "admin-key.json").read_text())
        return key

    def admin(self) -> ApiClient:
        key = self.admin_key()
        return ApiClient(self.url, key["key_id"], key["secret"])

    def public(self) -> ApiClient:
        client = ApiClient(self.url)
        self.clients.append(client)
        return client


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, f"{response.status_code}: {response.text}"
    return response.json()


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert "error" in body, body
    code: str = body["error"]["code"]
    return code


class Market:
    """Sets up one instrument and funded trader accounts on a running server."""

    def __init__(self, server: Server, symbol: str, **instrument: Any) -> None:
        self.server = server
        self.symbol = symbol
        body = {
            "symbol": symbol,
            "base_asset": instrument.pop("base_asset", "BTC"),
            "quote_asset": instrument.pop("quote_asset", "USDT"),
            "tick_size": instrument.pop("tick_size", "0.01"),
            "lot_size": instrument.pop("lot_size", "0.001"),
            "base_decimals": 8,
            "quote_decimals": 6,
            "price_band_pct": instrument.pop("price_band_pct", "50"),
        } | instrument
        with server.admin() as admin:
            response = admin.post("/api/v1/admin/instruments", body)
            assert response.status_code in (200, 409), response.text
        self.base = body["base_asset"]
        self.quote = body["quote_asset"]
        self.clients: list[ApiClient] = []

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def trader(self, name: str, role: str = "trader", funds: str = "1000000") -> ApiClient:
        with self.server.admin() as admin:
            account = ok(admin.post("/api/v1/admin/accounts", {"name": name}))
            account_id = account["account_id"]
            for asset in (self.base, self.quote):
                ok(
                    admin.post(
                        f"/api/v1/admin/accounts/{account_id}/deposits",
                        {"asset": asset, "amount": funds},
                    )
                )
            key = ok(admin.post(f"/api/v1/admin/accounts/{account_id}/api-keys", {"role": role}))
        client = ApiClient(self.server.url, key["key_id"], key["secret"])
        client.account_id = account_id  # type: ignore[attr-defined]
        self.clients.append(client)
        return client
