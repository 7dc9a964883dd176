"""A small signed HTTP client of the venue's API (httpx, synchronous): the admin CLI and the
end-to-end tests use it. Each request is signed over exactly the bytes it sends."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx

from venue.client.signing import signed_headers


class ApiClient:
    def __init__(
        self, base_url: str, key_id: str | None = None, secret: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.key_id = key_id
        self.secret = secret
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        *,
        signed: bool = True,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        query = urlencode({k: v for k, v in (params or {}).items() if v is not None})
        all_headers = {"content-type": "application/json"} if body is not None else {}
        if signed:
            if self.key_id is None or self.secret is None:
                raise ValueError("a signed request needs a key id and a secret")
            all_headers |= signed_headers(self.key_id, self.secret, method, path, query, raw)
        all_headers |= headers or {}
        url = path + (f"?{query}" if query else "")
        return self._http.request(method, url, content=raw or None, headers=all_headers)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.request("POST", path, body if body is not None else {})

    def delete(self, path: str, **params: Any) -> httpx.Response:
        return self.request("DELETE", path, params=params)

    def patch(self, path: str, body: Any) -> httpx.Response:
        return self.request("PATCH", path, body)
