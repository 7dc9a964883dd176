"""The request signature of the venue's API (one definition for clients and the server).

A signed request carries `X-VENUE-KEY`, `X-VENUE-TIMESTAMP` (ms since the epoch) and
`X-VENUE-SIGNATURE`: the lowercase hex HMAC-SHA256, keyed with the API key's secret, of

    "{timestamp}\\n{METHOD}\\n{path}\\n{raw query string}\\n{raw body}"

A request may also carry `X-VENUE-NONCE` (1 to 64 of `A-Z a-z 0-9 _ -`); the signed string
then starts with it, `"{timestamp}\\n{nonce}\\n{METHOD}\\n..."`, so two identical requests
sent in the same millisecond have different signatures. The server accepts each signature
once (replay protection), so a client that may repeat a request within a millisecond sends a
fresh nonce each time; `signed_headers` and `ws_auth_message` always do. (The two forms
cannot be confused: in the nonce form the third line is a method, in the other a path,
which starts with "/".)

The WebSocket `auth` message signs `"{timestamp}\\nGET\\n/ws\\n\\n"` the same way (with its
optional `"nonce"` field after the timestamp).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

KEY_HEADER = "X-VENUE-KEY"
TIMESTAMP_HEADER = "X-VENUE-TIMESTAMP"
SIGNATURE_HEADER = "X-VENUE-SIGNATURE"
RECV_WINDOW_HEADER = "X-VENUE-RECV-WINDOW"
NONCE_HEADER = "X-VENUE-NONCE"
NONCE_PATTERN = re.compile(r"[A-Za-z0-9_\-]{1,64}", re.ASCII)


def canonical(
    timestamp_ms: int | str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    nonce: str | None = None,
) -> bytes:
    stamp = f"{timestamp_ms}\n" if nonce is None else f"{timestamp_ms}\n{nonce}\n"
    head = f"{stamp}{method.upper()}\n{path}\n{query}\n".encode()
    return head + body


def sign(
    secret: str,
    timestamp_ms: int | str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    nonce: str | None = None,
) -> str:
    message = canonical(timestamp_ms, method, path, query, body, nonce)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def new_nonce() -> str:
    return secrets.token_hex(8)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def signed_headers(
    key_id: str, secret: str, method: str, path: str, query: str = "", body: bytes = b""
) -> dict[str, str]:
    """The auth headers for one request, stamped now, with a fresh nonce."""
    timestamp = now_ms()
    nonce = new_nonce()
    return {
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: str(timestamp),
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: sign(secret, timestamp, method, path, query, body, nonce),
    }


def ws_auth_message(key_id: str, secret: str) -> dict[str, object]:
    timestamp = now_ms()
    nonce = new_nonce()
    return {
        "op": "auth",
        "key": key_id,
        "timestamp": timestamp,
        "nonce": nonce,
        "signature": sign(secret, timestamp, "GET", "/ws", "", b"", nonce),
    }
