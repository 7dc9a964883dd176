"""API keys and signed requests (the `Authenticator` the gateway is given; pluggable, so the
sessions of people can come later beside it).

A key belongs to one account and has one role: `admin`, `trader` or `read_only`.

How secrets are kept: the server signs with HMAC, so it must be able to compute each key's
secret, yet it stores only a hash of it. The secret is *derived*: HMAC-SHA256 of the key id
under the venue's master key (`<data dir>/master.key`, 32 random bytes, mode 0600, made on
first start). The database holds the key id, its account and role, and SHA-256 of the
secret; the secret itself is shown once, when the key is made. A stolen database yields no
usable secret; a stolen master key yields them all, so it is kept out of the database.

Invariants:
- A request is authentic when the key exists and is not revoked, the timestamp lies within
  the receive window of the server's clock, and the signature matches (constant-time).
- A signature is accepted once: a second request with the same signature inside its
  window is a replay (`replayed_request`). Clients make identical requests unique with a
  nonce inside the signed string (`X-VENUE-NONCE`, `venue.client.signing`). The replay
  cache is bounded by the window: an entry older than the longest window can never match a
  fresh timestamp, so it is dropped.
- Errors name the problem (unknown key, bad signature, stale timestamp, replay), never the
  secret, and nothing here logs a secret or a signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from venue.client.signing import NONCE_PATTERN, canonical
from venue.gateway.errors import ApiError, GatewayCode

RECV_WINDOW_MAX_MS = 60_000


class Role(StrEnum):
    ADMIN = "admin"
    TRADER = "trader"
    READ_ONLY = "read_only"


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    account_id: int
    role: Role
    label: str
    secret_sha256: str
    created_at_ns: int
    revoked_at_ns: int | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the account every private read and write is confined to."""

    account_id: int
    role: Role
    key_id: str

    @property
    def can_trade(self) -> bool:
        return self.role is not Role.READ_ONLY

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


class KeyRepository(Protocol):
    """Where keys are stored (the SQL identity tables)."""

    def load_keys(self) -> list[ApiKey]: ...

    def store_key(self, key: ApiKey) -> None: ...

    def mark_revoked(self, account_id: int, key_id: str, revoked_at_ns: int) -> None: ...


def load_master_key(data_dir: Path) -> bytes:
    """The master key of this data dir, made (0600) on first use."""
    path = data_dir / "master.key"
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key.hex().encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{path} is not a hex master key") from None
    if len(key) < 32:
        raise ValueError(f"{path} holds fewer than 32 bytes")
    return key


class ApiKeys:
    """The key cache: every key in memory (checked on every request, so no database round
    trip), written through to the repository."""

    def __init__(self, repository: KeyRepository, master_key: bytes) -> None:
        self._repository = repository
        self._master_key = master_key
        self._keys: dict[str, ApiKey] = {k.key_id: k for k in repository.load_keys()}
        self._secrets: dict[str, str] = {}

    def secret_of(self, key_id: str) -> str:
        secret = self._secrets.get(key_id)
        if secret is None:
            digest = hmac.new(self._master_key, b"venue-api-key:" + key_id.encode(), "sha256")
            secret = base64.urlsafe_b64encode(digest.digest()).decode().rstrip("=")
            self._secrets[key_id] = secret
        return secret

    def create(self, account_id: int, role: Role, label: str) -> tuple[ApiKey, str]:
        """A new key and its secret (returned this once)."""
        key_id = "vk_" + secrets.token_hex(12)
        secret = self.secret_of(key_id)
        key = ApiKey(
            key_id=key_id,
            account_id=account_id,
            role=role,
            label=label,
            secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
            created_at_ns=time.time_ns(),
        )
        self._repository.store_key(key)
        self._keys[key_id] = key
        return key, secret

    def revoke(self, account_id: int, key_id: str) -> ApiKey | None:
        key = self._keys.get(key_id)
        if key is None or key.account_id != account_id or key.revoked_at_ns is not None:
            return None
        now = time.time_ns()
        self._repository.mark_revoked(account_id, key_id, now)
        revoked = ApiKey(
            key.key_id,
            key.account_id,
            key.role,
            key.label,
            key.secret_sha256,
            key.created_at_ns,
            now,
        )
        self._keys[key_id] = revoked
        return revoked

    def get(self, key_id: str) -> ApiKey | None:
        return self._keys.get(key_id)

    def of_account(self, account_id: int) -> list[ApiKey]:
        return [k for k in self._keys.values() if k.account_id == account_id]

    def has_admin(self) -> bool:
        return any(k.role is Role.ADMIN and k.revoked_at_ns is None for k in self._keys.values())

    def usable_secret(self, key: ApiKey) -> str | None:
        """The key's secret, if the stored hash still agrees (a changed master key: no)."""
        secret = self.secret_of(key.key_id)
        stored = key.secret_sha256
        actual = hashlib.sha256(secret.encode()).hexdigest()
        return secret if hmac.compare_digest(stored, actual) else None


class ReplayCache:
    """Signatures accepted recently, each kept until no timestamp could make it valid again."""

    def __init__(self, capacity: int = 1_000_000) -> None:
        self._seen: OrderedDict[str, int] = OrderedDict()  # signature -> forget after (ms)
        self._capacity = capacity

    def check_and_add(self, signature: str, now_ms: int, forget_after_ms: int) -> bool:
        """False if `signature` was accepted before and is still remembered."""
        seen = self._seen
        while seen:
            oldest, expiry = next(iter(seen.items()))
            if expiry > now_ms and len(seen) < self._capacity:
                break
            del seen[oldest]
        if signature in seen:
            return False
        seen[signature] = forget_after_ms
        return True


def _unauthenticated(code: str, message: str) -> ApiError:
    return ApiError(401, code, message)


_TIMESTAMP_DIGITS_MAX = 16  # ms since the epoch: 13 digits until the year 2286
_SIGNATURE_LENGTH = 64  # hex SHA-256


def _parse_timestamp(timestamp: str | int) -> int:
    """ASCII digits only: `int()` would also take " 17", "1_7", "+17" and fullwidth digits."""
    if isinstance(timestamp, bool):
        stamp = -1
    elif isinstance(timestamp, int):
        stamp = timestamp
    elif timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _TIMESTAMP_DIGITS_MAX:
        stamp = int(timestamp)
    else:
        stamp = -1
    if not 0 <= stamp < 10**_TIMESTAMP_DIGITS_MAX:
        raise _unauthenticated(
            GatewayCode.STALE_TIMESTAMP, "X-VENUE-TIMESTAMP must be ms since the epoch"
        )
    return stamp


def _parse_window(recv_window: str | None, default: int) -> int:
    if recv_window is None:
        return default
    if not (recv_window.isascii() and recv_window.isdigit() and len(recv_window) <= 6):
        raise ApiError(400, GatewayCode.INVALID_REQUEST, "X-VENUE-RECV-WINDOW must be an integer")
    window = int(recv_window)
    if not 0 < window <= RECV_WINDOW_MAX_MS:
        raise ApiError(
            400,
            GatewayCode.INVALID_REQUEST,
            f"X-VENUE-RECV-WINDOW must lie in 1..{RECV_WINDOW_MAX_MS}",
        )
    return window


class ApiKeyAuthenticator:
    """Checks the signature headers of a request (or a WebSocket auth message).

    Every header is parsed strictly (ASCII, bounded length) before it is used: a hostile
    value answers 401 or 400 naming the header, never an exception."""

    def __init__(self, keys: ApiKeys, recv_window_ms: int = 5000) -> None:
        self.keys = keys
        self.recv_window_ms = recv_window_ms
        self._replays = ReplayCache()

    def preauthenticate(
        self, key_id: str | None, timestamp: str | int | None, recv_window: str | None = None
    ) -> None:
        """The checks that need no body (the key is live, the timestamp fresh), so a request
        that cannot be authentic is refused before its body is read."""
        self._fresh_key(key_id, timestamp, recv_window)

    def _fresh_key(
        self, key_id: str | None, timestamp: str | int | None, recv_window: str | None
    ) -> tuple[ApiKey, int, int]:
        if not key_id or timestamp is None:
            raise _unauthenticated(
                GatewayCode.UNAUTHENTICATED,
                "missing X-VENUE-KEY, X-VENUE-TIMESTAMP or X-VENUE-SIGNATURE",
            )
        key = self.keys.get(key_id)
        if key is None or key.revoked_at_ns is not None:
            raise _unauthenticated(GatewayCode.UNAUTHENTICATED, "unknown or revoked API key")
        window = _parse_window(recv_window, self.recv_window_ms)
        stamp = _parse_timestamp(timestamp)
        now = time.time_ns() // 1_000_000
        if abs(now - stamp) > window:
            raise _unauthenticated(
                GatewayCode.STALE_TIMESTAMP,
                f"timestamp is {now - stamp} ms from the server's clock; the window is {window} ms",
            )
        return key, stamp, now

    def authenticate(
        self,
        key_id: str | None,
        timestamp: str | int | None,
        signature: str | None,
        method: str,
        path: str,
        query: str,
        body: bytes,
        recv_window: str | None = None,
        nonce: str | None = None,
    ) -> Principal:
        if not signature:
            raise _unauthenticated(
                GatewayCode.UNAUTHENTICATED,
                "missing X-VENUE-KEY, X-VENUE-TIMESTAMP or X-VENUE-SIGNATURE",
            )
        key, stamp, now = self._fresh_key(key_id, timestamp, recv_window)
        if nonce is not None and NONCE_PATTERN.fullmatch(nonce) is None:
            raise ApiError(
                400,
                GatewayCode.INVALID_REQUEST,
                "X-VENUE-NONCE must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -",
            )
        if len(signature) != _SIGNATURE_LENGTH or not signature.isascii():
            raise _unauthenticated(GatewayCode.INVALID_SIGNATURE, "signature does not match")
        secret = self.keys.usable_secret(key)
        if secret is None:
            raise _unauthenticated(GatewayCode.UNAUTHENTICATED, "API key no longer valid")
        expected = hmac.new(
            secret.encode(), canonical(stamp, method, path, query, body, nonce), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise _unauthenticated(GatewayCode.INVALID_SIGNATURE, "signature does not match")
        if not self._replays.check_and_add(expected, now, stamp + RECV_WINDOW_MAX_MS):
            raise _unauthenticated(GatewayCode.REPLAYED_REQUEST, "this signature was already used")
        return Principal(key.account_id, key.role, key.key_id)
