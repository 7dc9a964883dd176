"""The OpenAPI document says what is served, and what is served is in the document.

Each documented operation is called without credentials and must be routed (never the
router's own 404 "Not Found" or a 405); every route the server answers outside the FastAPI
router (the order fast path) must be documented with its method.
"""

from __future__ import annotations

import re

import httpx
from tests.e2e.server import Market, Server, ok

FAST_PATH_ROUTES = {("post", "/api/v1/orders"), ("delete", "/api/v1/orders/{order_id}")}
NOT_ROUTED = {"Not Found", "Method Not Allowed"}


def test_every_documented_operation_is_served(server: Server, market: Market) -> None:
    document = ok(httpx.get(f"{server.url}/openapi.json"))
    operations = {
        (method, path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert operations >= FAST_PATH_ROUTES
    assert len(operations) >= 30, sorted(operations)
    unrouted = []
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for method, path in sorted(operations):
            concrete = re.sub(r"\{symbol\}", market.symbol, path)
            concrete = re.sub(r"\{[a-z_]+\}", "1", concrete)
            response = http.request(method.upper(), concrete)
            message = ""
            if response.headers.get("content-type", "").startswith("application/json"):
                error = response.json().get("error") if response.text.startswith("{") else None
                message = error.get("message", "") if isinstance(error, dict) else ""
            if response.status_code == 405 or message in NOT_ROUTED:
                unrouted.append(f"{method.upper()} {path} -> {response.status_code} {message}")
    assert unrouted == []


def test_an_undocumented_path_is_not_served(server: Server) -> None:
    response = httpx.post(f"{server.url}/api/v1/orders/1/fills")
    assert response.status_code in (404, 405)
