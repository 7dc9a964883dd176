"""The error table, request signatures, the replay cache and the key store, without a server."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from venue.client.signing import sign
from venue.domain.reject import RejectReason
from venue.gateway.auth import (
    ApiKey,
    ApiKeyAuthenticator,
    ApiKeys,
    ReplayCache,
    Role,
    load_master_key,
)
from venue.gateway.errors import REJECT_STATUS, ApiError


def test_every_reject_reason_has_an_http_status() -> None:
    assert set(REJECT_STATUS) == set(RejectReason)
    assert all(400 <= status < 600 for status in REJECT_STATUS.values())


class MemoryKeys:
    def __init__(self) -> None:
        self.keys: dict[str, ApiKey] = {}

    def load_keys(self) -> list[ApiKey]:
        return list(self.keys.values())

    def store_key(self, key: ApiKey) -> None:
        self.keys[key.key_id] = key

    def mark_revoked(self, account_id: int, key_id: str, revoked_at_ns: int) -> None:
        self.keys.pop(key_id)


def test_the_master_key_is_made_once_and_private(tmp_path: Path) -> None:
    first = load_master_key(tmp_path)
    assert load_master_key(tmp_path) == first
    mode = stat.S_IMODE(os.stat(tmp_path / "master.key").st_mode)
    assert mode == 0o600


def test_secrets_are_derived_and_only_their_hash_is_stored(tmp_path: Path) -> None:
    repository = MemoryKeys()
    keys = ApiKeys(repository, load_master_key(tmp_path))
    key, secret = keys.create(7, Role.TRADER, "bot")
    stored = repository.keys[key.key_id]
    assert secret not in repr(stored)
    assert keys.usable_secret(stored) == secret
    # another master key (a stolen database elsewhere) cannot make a matching secret
    other = ApiKeys(repository, os.urandom(32))
    assert other.usable_secret(stored) is None


def test_signatures_windows_and_replays(tmp_path: Path) -> None:
    keys = ApiKeys(MemoryKeys(), load_master_key(tmp_path))
    key, secret = keys.create(7, Role.TRADER, "")
    auth = ApiKeyAuthenticator(keys, recv_window_ms=5000)
    now = time.time_ns() // 1_000_000
    body = b'{"a":1}'

    def call(stamp: int, signature: str, window: str | None = None) -> str:
        try:
            auth.authenticate(key.key_id, stamp, signature, "POST", "/p", "x=1", body, window)
        except ApiError as exc:
            return exc.code
        return "ok"

    good = sign(secret, now, "POST", "/p", "x=1", body)
    assert call(now, good) == "ok"
    assert call(now, good) == "replayed_request"
    assert call(now + 1, sign(secret, now + 1, "POST", "/p", "x=2", body)) == "invalid_signature"
    stale = now - 10_000
    assert call(stale, sign(secret, stale, "POST", "/p", "x=1", body)) == "stale_timestamp"
    assert call(stale, sign(secret, stale, "POST", "/p", "x=1", body), "20000") == "ok"
    assert call(now, good, "60001") == "invalid_request"
    assert keys.revoke(7, key.key_id) is not None
    fresh = now + 2
    assert call(fresh, sign(secret, fresh, "POST", "/p", "x=1", body)) == "unauthenticated"


def test_the_replay_cache_forgets_only_what_can_no_longer_match() -> None:
    cache = ReplayCache(capacity=10)
    assert cache.check_and_add("a", now_ms=1000, forget_after_ms=2000)
    assert not cache.check_and_add("a", now_ms=1500, forget_after_ms=2500)
    assert cache.check_and_add("a", now_ms=2001, forget_after_ms=3000)  # expired, then new


def test_a_role_principal_says_what_it_may_do(tmp_path: Path) -> None:
    keys = ApiKeys(MemoryKeys(), load_master_key(tmp_path))
    reader, secret = keys.create(3, Role.READ_ONLY, "")
    auth = ApiKeyAuthenticator(keys)
    now = time.time_ns() // 1_000_000
    who = auth.authenticate(
        reader.key_id, now, sign(secret, now, "GET", "/", "", b""), "GET", "/", "", b""
    )
    assert (who.account_id, who.can_trade, who.is_admin) == (3, False, False)


@pytest.mark.parametrize("missing", ["key", "timestamp", "signature"])
def test_missing_headers_are_named(tmp_path: Path, missing: str) -> None:
    keys = ApiKeys(MemoryKeys(), load_master_key(tmp_path))
    auth = ApiKeyAuthenticator(keys)
    values = {"key": "vk_x", "timestamp": "1", "signature": "00"}
    values[missing] = None  # type: ignore[assignment]
    with pytest.raises(ApiError) as raised:
        auth.authenticate(
            values["key"], values["timestamp"], values["signature"], "GET", "/", "", b""
        )
    assert raised.value.code == "unauthenticated"
    assert "X-VENUE-KEY" in raised.value.message
