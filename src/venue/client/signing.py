"""The request signature of the venue's API (one definition for clients and the server).

A signed request carries `X-VENUE-KEY`, `X-VENUE-TIMESTAMP` (ms since the epoch) and
`X-VENUE-SIGNATURE`: the lowercase hex HMAC-SHA256, keyed with the API key's secret, of

    "{timestamp}\\n{METHOD}\\n{path}\\n{raw query string}\\n{raw body}"

The WebSocket `auth` message signs `"{timestamp}\\nGET\\n/ws\\n\\n"` the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import time

KEY_HEADER = "X-VENUE-KEY"
TIMESTAMP_HEADER = "X-VENUE-TIMESTAMP"
SIGNATURE_HEADER = "X-VENUE-SIGNATURE"
RECV_WINDOW_HEADER = "X-VENUE-RECV-WINDOW"


def canonical(timestamp_ms: int | str, method: str, path: str, query: str, body: bytes) -> bytes:
    head = f"{timestamp_ms}\n{method.upper()}\n{path}\n{query}\n".encode()
    return head + body


def sign(
    secret: str, timestamp_ms: int | str, method: str, path: str, query: str, body: bytes
) -> str:
    message = canonical(timestamp_ms, method, path, query, body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def signed_headers(
    key_id: str, secret: str, method: str, path: str, query: str = "", body: bytes = b""
) -> dict[str, str]:
    """The three auth headers for one request, stamped now."""
    timestamp = now_ms()
    return {
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, method, path, query, body),
    }


def ws_auth_message(key_id: str, secret: str) -> dict[str, object]:
    timestamp = now_ms()
    return {
        "op": "auth",
        "key": key_id,
        "timestamp": timestamp,
        "signature": sign(secret, timestamp, "GET", "/ws", "", b""),
    }
