"""Schemathesis against the running server's own `/openapi.json`: every operation, with
generated (valid and invalid) inputs, signed as a trader or the admin, never answers 5xx."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core import NotSet
from tests.e2e.server import Market, Server

from venue.client.signing import signed_headers

EXAMPLES_PER_OPERATION = 12


def test_no_operation_answers_a_server_error(server: Server, market: Market) -> None:
    trader = market.trader("fuzzer")
    admin_key = server.admin_key()
    identities = [
        (trader.key_id or "", trader.secret or ""),
        (admin_key["key_id"], admin_key["secret"]),
        None,
    ]
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    failures: list[str] = []
    tested = 0
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.method.upper() == "GET" and operation.path in ("/docs", "/metrics"):
                continue

            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
                derandomize=True,  # the same examples on every run: CI stays deterministic
            )
            @given(case=operation.as_strategy(), who=st.sampled_from(identities))
            def check(case: Any, who: tuple[str, str] | None) -> None:
                path = case.formatted_path
                query = urlencode(case.query or {}, doseq=True)
                has_body = not isinstance(case.body, NotSet) and case.body is not None
                body = json.dumps(case.body).encode() if has_body else b""
                headers = {"content-type": "application/json"} if has_body else {}
                if who is not None:
                    headers |= signed_headers(who[0], who[1], case.method, path, query, body)
                url = path + (f"?{query}" if query else "")
                response = http.request(case.method, url, content=body or None, headers=headers)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {url} {body[:200]!r} -> "
                        f"{response.status_code} {response.text[:200]}"
                    )

            check()
            tested += 1
    assert tested >= 25, tested
    assert failures == []
