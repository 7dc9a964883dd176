"""The bound on open connections and the request deadline, against a real server with low
limits: idle sockets cannot lock clients out (beyond the bound a connection is refused with
a 503 at once; sockets that send no complete request are closed after the deadline; the
reserve keeps /health answerable while live clients fill the bound)."""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from tests.e2e.server import Server
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

MAX_CONNECTIONS = 24
RESERVED = 4
REQUEST_TIMEOUT_S = 2
KEEP_ALIVE_TIMEOUT_S = 2
LIMITS = {
    "VENUE_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    "VENUE_RESERVED_CONNECTIONS": str(RESERVED),
    "VENUE_REQUEST_TIMEOUT_S": str(REQUEST_TIMEOUT_S),
    "VENUE_KEEP_ALIVE_TIMEOUT_S": str(KEEP_ALIVE_TIMEOUT_S),
}
OVERLOADED = {"error": {"code": "overloaded", "message": "too many connections", "details": {}}}
GET_HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("venue-connections") / "var"
    instance = Server(data_dir, env=LIMITS).start()
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        yield opened
    finally:
        for sock in opened:
            sock.close()
        time.sleep(0.3)  # the server sees them go before the next test counts


def open_socket(server: Server, sockets: list[socket.socket]) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sockets.append(sock)
    return sock


def read_all(sock: socket.socket, timeout_s: float = 10.0) -> bytes:
    """Everything until the server closes (b"" at EOF); a reset after the data is a close."""
    sock.settimeout(timeout_s)
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def read_response(sock: socket.socket) -> bytes:
    """One whole response (its head and its content-length body)."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, data
        body += chunk
    return head + b"\r\n\r\n" + body


def closed_within(sock: socket.socket, timeout_s: float) -> float:
    """Seconds until the server closed the socket (fails if it did not in `timeout_s`)."""
    started = time.monotonic()
    sock.settimeout(timeout_s)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"still open after {timeout_s} s") from None
    return time.monotonic() - started


def assert_refused(response: bytes) -> None:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 503 Service Unavailable", response
    assert b"connection: close" in [line.lower() for line in lines[1:]], response
    assert json.loads(body) == OVERLOADED


def health(server: Server) -> httpx.Response:
    return httpx.get(f"{server.url}/health", timeout=10)


def wait_healthy(server: Server, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if health(server).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("/health never answered 200")
        time.sleep(0.1)


def fill_with_idle_sockets(server: Server, sockets: list[socket.socket]) -> None:
    for _ in range(MAX_CONNECTIONS):
        open_socket(server, sockets)
    time.sleep(0.3)
    for sock in sockets:  # all admitted: none was answered
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            sock.recv(1)
        sock.setblocking(True)


def test_beyond_the_bound_a_connection_is_refused_at_once(
    server: Server, sockets: list[socket.socket]
) -> None:
    wait_healthy(server)
    time.sleep(0.3)
    fill_with_idle_sockets(server, sockets)
    # the next connection is answered without sending anything, then closed
    extra = open_socket(server, sockets)
    started = time.monotonic()
    assert_refused(read_all(extra))
    assert time.monotonic() - started < 1.0
    # a client that sends its request at once gets the same answer
    for _ in range(5):
        refused = health(server)
        assert refused.status_code == 503 and refused.json() == OVERLOADED
        assert refused.headers["connection"] == "close"


def test_idle_sockets_are_closed_after_the_deadline_then_health_answers(
    server: Server, sockets: list[socket.socket]
) -> None:
    wait_healthy(server)
    time.sleep(0.3)
    fill_with_idle_sockets(server, sockets)
    assert health(server).status_code == 503
    for sock in sockets:
        assert closed_within(sock, REQUEST_TIMEOUT_S + 3) < REQUEST_TIMEOUT_S + 3
    assert health(server).status_code == 200


@pytest.mark.parametrize(
    "sent",
    [b"GET /hea", b"GET /health HTTP/1.1\r\nHost: x\r\n", b"POST /health HTTP/1.1\r\n"],
    ids=["half-request-line", "headers-unfinished", "no-headers"],
)
def test_a_stalled_request_is_closed_after_the_deadline(
    server: Server, sockets: list[socket.socket], sent: bytes
) -> None:
    sock = open_socket(server, sockets)
    sock.sendall(sent)
    elapsed = closed_within(sock, REQUEST_TIMEOUT_S + 5)
    assert REQUEST_TIMEOUT_S - 0.5 < elapsed < REQUEST_TIMEOUT_S + 2


def test_a_trickled_request_is_closed_after_the_deadline(
    server: Server, sockets: list[socket.socket]
) -> None:
    """One byte at a time does not restart the deadline."""
    sock = open_socket(server, sockets)
    started = time.monotonic()
    sock.settimeout(0.2)
    for byte in b"GET /health HTTP/1.1\r\nX-Padding: " + b"a" * 100:
        try:
            sock.sendall(bytes([byte]))
            if sock.recv(1) == b"":
                break
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            break
    else:
        raise AssertionError("the trickle was never cut")
    assert time.monotonic() - started < REQUEST_TIMEOUT_S + 2


def test_a_trickled_body_is_closed_after_the_deadline(
    server: Server, sockets: list[socket.socket]
) -> None:
    sock = open_socket(server, sockets)
    sock.sendall(b"POST /api/v1/instruments HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
    elapsed = closed_within(sock, REQUEST_TIMEOUT_S + 5)
    assert elapsed < REQUEST_TIMEOUT_S + 2


def test_keep_alive_then_a_stalled_second_request_is_closed(
    server: Server, sockets: list[socket.socket]
) -> None:
    sock = open_socket(server, sockets)
    sock.sendall(GET_HEALTH)
    assert read_response(sock).startswith(b"HTTP/1.1 200")
    time.sleep(KEEP_ALIVE_TIMEOUT_S / 2)
    sock.sendall(b"GET /heal")  # within the keep-alive timeout, then stalls
    elapsed = closed_within(sock, REQUEST_TIMEOUT_S + 5)
    assert REQUEST_TIMEOUT_S - 0.5 < elapsed < REQUEST_TIMEOUT_S + 2


def test_an_idle_keep_alive_connection_is_closed(
    server: Server, sockets: list[socket.socket]
) -> None:
    sock = open_socket(server, sockets)
    for _ in range(3):  # requests on one connection: each answered, the connection kept
        sock.sendall(GET_HEALTH)
        answer = read_response(sock)
        assert answer.startswith(b"HTTP/1.1 200") and b"connection: close" not in answer
    elapsed = closed_within(sock, KEEP_ALIVE_TIMEOUT_S + 5)
    assert KEEP_ALIVE_TIMEOUT_S - 0.5 < elapsed < KEEP_ALIVE_TIMEOUT_S + 2


def test_live_websockets_count_and_the_reserve_answers_health(server: Server) -> None:
    """Live subscribers fill the bound but for the reserve: /health, /ready and /metrics are
    answered (and the connection closed); anything else, a WebSocket too, is refused."""
    wait_healthy(server)
    time.sleep(0.3)
    with ExitStack() as stack:
        subscribers: list[ClientConnection] = []
        for _ in range(MAX_CONNECTIONS - RESERVED):
            ws = stack.enter_context(connect(f"{server.ws_url}/ws"))
            ws.send(json.dumps({"op": "ping"}))
            assert json.loads(ws.recv(timeout=10)) == {"op": "pong"}
            subscribers.append(ws)
        time.sleep(REQUEST_TIMEOUT_S + 1)  # WebSocket connections have no request deadline
        for path in ("/health", "/ready", "/metrics"):
            answer = httpx.get(f"{server.url}{path}", timeout=10)
            assert answer.status_code == 200, (path, answer.text)
            assert answer.headers["connection"] == "close"
        refused = httpx.get(f"{server.url}/api/v1/instruments", timeout=10)
        assert refused.status_code == 503 and refused.json() == OVERLOADED
        with pytest.raises(InvalidStatus) as status:
            stack.enter_context(connect(f"{server.ws_url}/ws"))
        assert status.value.response.status_code == 503
        for ws in subscribers:  # all still served
            ws.send(json.dumps({"op": "ping", "id": 1}))
            assert json.loads(ws.recv(timeout=10)) == {"op": "pong", "id": 1}
    time.sleep(0.5)
    assert httpx.get(f"{server.url}/api/v1/instruments", timeout=10).status_code == 200


def test_the_open_files_limit_is_raised_to_the_hard_limit(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = 3000  # room for max_connections=24 + backlog + headroom
    if hard == resource.RLIM_INFINITY or hard <= low:
        pytest.skip("needs a finite hard open files limit above 3000")
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        instance = Server(tmp_path / "var", env=LIMITS).start()  # inherits the low limit
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        assert instance.process is not None
        limits = Path(f"/proc/{instance.process.pid}/limits").read_text()
        line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
        assert line.split()[3:5] == [str(hard), str(hard)], line
    finally:
        instance.close()


def test_a_bound_that_does_not_fit_the_open_files_limit_stops_startup(tmp_path: Path) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > 900_000:
        pytest.skip("the hard open files limit is too high to exceed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENUE_")}
    env |= {"VENUE_DATA_DIR": str(tmp_path / "var"), "VENUE_MAX_CONNECTIONS": str(hard)}
    done = subprocess.run(
        [sys.executable, "-m", "venue.cli", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr.decode()[-2000:]
    message = done.stderr.decode()
    assert f"max_connections={hard} needs" in message, message
    assert "lower VENUE_MAX_CONNECTIONS" in message
    assert not (tmp_path / "var" / "journal").exists()  # refused before recovery


def test_the_reserve_must_be_below_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from venue.config import SettingsError, load_settings

    for name in [n for n in os.environ if n.startswith("VENUE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("VENUE_MAX_CONNECTIONS", "16")
    monkeypatch.setenv("VENUE_RESERVED_CONNECTIONS", "16")
    with pytest.raises(SettingsError, match="reserved_connections must be less than"):
        load_settings()
    monkeypatch.setenv("VENUE_RESERVED_CONNECTIONS", "15")
    settings = load_settings()
    assert (settings.max_connections, settings.reserved_connections) == (16, 15)
    assert (settings.request_timeout_s, settings.keep_alive_timeout_s) == (10, 5)
