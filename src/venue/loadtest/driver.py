"""The open-loop driver: a fixed schedule of requests, an order flow, and the senders.

Schedule (open loop): request k is due at `start + k / rate`, whatever happened to the
requests before it. The dispatcher wakes, sends every request that is due, and sleeps until
the next one; a request's latency is its answer time minus its *intended* time, so a server
stall (or a full connection pool, or a late client timer) shows in every request it delays
instead of being hidden by a sender that waits (coordinated omission). The actual send time
is recorded too: the send lag and the achieved send rate say when the client itself could
not keep up, and the report says so.

Transports:
- HTTP: one task per request on an aiohttp session whose connector holds at most
  `connections` keep-alive connections (a request waits for a free connection: that wait is
  in its latency). Account k % accounts sends request k.
- WebSocket: `connections` authenticated sockets, connection j as account j % accounts; each
  has a writer (sends `place` and `cancel` messages in schedule order without waiting for
  answers, so many are in flight: pipelining) and a reader (matches answers to requests by
  `id`). Cancel-alls go over HTTP as the same account (there is no WebSocket op for them),
  reported under their own kind.

Invariants:
- Every order has a unique client_order_id (`<run id>-<slot>`), so no two signed requests are
  alike; a cancel-all (same path and body every time) gets a per-key timestamp that strictly
  increases, so it is never refused as a replay.
- At most `max_in_flight` requests are outstanding; when the cap is reached the dispatcher
  waits (the waiting requests keep their intended times, so the wait is measured).
- Every request ends exactly once: answered (ok or an error code), transport error, or
  timeout (no answer within `timeout_s` of being sent). A late answer after a timeout is
  counted in `late_answers` and ignored.
- The order flow is a function of the seed and of what the venue answered; prices stay within
  `spread_ticks` of the mid found at setup, quantities are `min_lots .. min_lots+max_lots-1`,
  and each account's tracked resting orders stay below `max_open_per_account` (the oldest is
  canceled first) and are cleared by a periodic cancel-all, so the book stays bounded.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import msgspec
import yarl

from venue.client.signing import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    now_ms,
    sign,
    ws_auth_message,
)
from venue.loadtest.setup import Market, SetupError, Trader
from venue.loadtest.stats import NS_PER_S, Recorder

ORDERS_PATH = "/api/v1/orders"
# Order statuses after which an order no longer rests on the book.
FINAL_STATUSES = frozenset(
    {"filled", "canceled", "cancelled", "rejected", "expired", "done", "closed"}
)
PROGRESS_EVERY_S = 0.5
SWEEP_EVERY_S = 0.1
WS_HANDSHAKE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class FlowConfig:
    """The shape of the order flow (see the module docstring)."""

    cross_ratio: float = 0.1
    cancel_ratio: float = 0.1
    cancel_all_every: int = 2_000
    max_open_per_account: int = 200
    spread_ticks: int = 20
    cross_ticks: int = 3
    max_lots: int = 5


@dataclass(frozen=True)
class DriverConfig:
    url: str
    rate: float
    duration_s: float
    warmup_s: float = 0.0
    connections: int = 8
    websocket: bool = False
    timeout_s: float = 10.0
    max_in_flight: int = 10_000
    seed: int = 1
    run_id: str = "lt"
    flow: FlowConfig = field(default_factory=FlowConfig)

    @property
    def transport(self) -> str:
        return "ws" if self.websocket else "http"

    @property
    def ws_url(self) -> str:
        return ws_url(self.url)


def ws_url(url: str) -> str:
    base = url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + "/ws"
    return "ws://" + base.removeprefix("http://") + "/ws"


class Schedule:
    """Slot k is due at `start_ns + k * 1e9 / rate` (rounded down to a nanosecond)."""

    def __init__(self, rate: float, start_ns: int, total: int) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.start_ns = start_ns
        self.total = total

    @classmethod
    def for_run(cls, rate: float, start_ns: int, seconds: float) -> Schedule:
        # A slot is in the run when its intended time is before start + seconds.
        return cls(rate, start_ns, max(math.ceil(rate * seconds - 1e-9), 0))

    def intended_ns(self, slot: int) -> int:
        return self.start_ns + int(slot * NS_PER_S / self.rate)

    def due(self, now_ns: int) -> int:
        """How many slots are due at `now_ns` (slots 0 .. due-1)."""
        if now_ns < self.start_ns:
            return 0
        count = int((now_ns - self.start_ns) * self.rate / NS_PER_S) + 1
        # The float division may be one off at a boundary; the intended times decide.
        while count > 0 and self.intended_ns(count - 1) > now_ns:
            count -= 1
        while count < self.total and self.intended_ns(count) <= now_ns:
            count += 1
        return min(count, self.total)

    def first_slot_at_or_after(self, when_ns: int) -> int:
        """The first slot whose intended time is at or after `when_ns` (measurement start)."""
        slot = self.due(when_ns - 1) if when_ns > self.start_ns else 0
        return min(slot, self.total)


@dataclass(frozen=True)
class Place:
    account: int
    client_order_id: str
    order: dict[str, str]


@dataclass(frozen=True)
class Cancel:
    account: int
    order_id: int | str  # as the venue gave it (a WebSocket cancel sends it back as is)


@dataclass(frozen=True)
class CancelAll:
    account: int


Action = Place | Cancel | CancelAll


def kind_of(action: Action) -> str:
    if isinstance(action, Place):
        return "place"
    if isinstance(action, Cancel):
        return "cancel"
    return "cancel_all"


class OrderFlow:
    """Decides what each slot sends, and tracks each account's resting orders from the
    venue's answers (an order fills or is canceled without us knowing only rarely; a cancel
    for it then comes back as an error and is counted as such)."""

    def __init__(
        self, market: Market, accounts: int, config: FlowConfig, seed: int, run_id: str
    ) -> None:
        self._market = market
        self._config = config
        self._random = random.Random(seed)
        self._run_id = run_id
        self._resting: list[deque[int | str]] = [deque() for _ in range(accounts)]
        self._cancel_all_next = 0

    def next(self, slot: int, account: int, accounts_in_use: int) -> Action:
        config = self._config
        if config.cancel_all_every > 0 and slot % config.cancel_all_every == (
            config.cancel_all_every - 1
        ):
            # Rotates over the accounts in use, independently of which account owns the slot.
            target = self._cancel_all_next % accounts_in_use
            self._cancel_all_next += 1
            self._resting[target].clear()
            return CancelAll(target)
        resting = self._resting[account]
        if resting and (
            len(resting) >= config.max_open_per_account
            or self._random.random() < config.cancel_ratio
        ):
            return Cancel(account, resting.popleft())
        return self._place(slot, account)

    def _place(self, slot: int, account: int) -> Place:
        config, market, rng = self._config, self._market, self._random
        buy = rng.random() < 0.5
        lots = rng.randint(market.min_lots, market.min_lots + config.max_lots - 1)
        if rng.random() < config.cross_ratio:
            offset = rng.randint(1, config.cross_ticks)
            ticks = market.mid_ticks + offset if buy else market.mid_ticks - offset
        else:
            offset = rng.randint(1, config.spread_ticks)
            ticks = market.mid_ticks - offset if buy else market.mid_ticks + offset
        client_order_id = f"{self._run_id}-{slot}"
        order = {
            "symbol": market.symbol,
            "side": "buy" if buy else "sell",
            "type": "limit",
            "quantity": market.quantity(lots),
            "price": market.price(max(ticks, 1)),
            "time_in_force": "gtc",
            "client_order_id": client_order_id,
        }
        return Place(account, client_order_id, order)

    def on_order(self, account: int, answer: Any) -> str | None:
        """Record a placed order's answer; returns its status (None when unreadable)."""
        if not isinstance(answer, dict):
            return None
        status = str(answer.get("status", "unknown")).lower()
        order_id = answer.get("order_id")
        if isinstance(order_id, int | str) and status not in FINAL_STATUSES:
            resting = self._resting[account]
            if len(resting) < self._config.max_open_per_account * 2:
                resting.append(order_id)
        return status


@dataclass(frozen=True)
class ProgressView:
    phase: str
    elapsed_s: float
    total_s: float
    sent: int
    done: int
    errors: int
    in_flight: int


ProgressCallback = Callable[[ProgressView], None]


def error_code(payload: Any, status: int | None) -> str:
    """The venue's error code from `{"error": {"code": ...}}`, else `http_<status>`."""
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("code"):
            return str(error["code"])
        if isinstance(error, str) and error:
            return error
        if payload.get("code"):  # {"op": "error", "code": ...} on the WebSocket
            return str(payload["code"])
    return f"http_{status}" if status is not None else "error"


def _decode(raw: bytes | str) -> Any:
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None


@dataclass
class _Pending:
    intended_ns: int
    sent_ns: int
    action: Place | Cancel


class _WsLane:
    """One WebSocket connection: a writer that pipelines `place` messages and a reader that
    matches the answers to them by id."""

    def __init__(self, driver: Driver, socket: aiohttp.ClientWebSocketResponse, account: int):
        self.driver = driver
        self.socket = socket
        self.account = account
        self.queue: asyncio.Queue[tuple[str, int, Place | Cancel]] = asyncio.Queue()
        self.pending: dict[str, _Pending] = {}
        self.closed: str | None = None

    async def write(self) -> None:
        driver = self.driver
        while True:
            request_id, intended_ns, action = await self.queue.get()
            if self.closed is not None:
                driver.finish(kind_of(action), "transport", intended_ns, None)
                continue
            message: dict[str, object] = (
                {"op": "place", "id": request_id, "order": action.order}
                if isinstance(action, Place)
                else {"op": "cancel", "id": request_id, "order_id": action.order_id}
            )
            text = msgspec.json.encode(message).decode()
            sent_ns = time.perf_counter_ns()
            # Registered before sending: the answer may arrive before send_str returns.
            self.pending[request_id] = _Pending(intended_ns, sent_ns, action)
            driver.on_sent(intended_ns, sent_ns)
            try:
                await self.socket.send_str(text)
            except (aiohttp.ClientError, OSError, ConnectionError) as problem:
                self.close(f"send failed: {problem!r}")

    async def read(self) -> None:
        try:
            async for message in self.socket:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                done_ns = time.perf_counter_ns()
                frame = _decode(message.data)
                # A busy connection gets several messages in one frame, as a JSON array.
                for payload in frame if isinstance(frame, list) else [frame]:
                    if isinstance(payload, dict):
                        self._answer(payload, done_ns)
        finally:
            self.close(f"closed by the venue (code {self.socket.close_code})")

    def _answer(self, payload: dict[str, Any], done_ns: int) -> None:
        driver = self.driver
        entry = self.pending.pop(str(payload.get("id")), None)
        if entry is None:
            if payload.get("op") in ("place", "cancel"):
                driver.late_answers += 1
            return
        kind = kind_of(entry.action)
        if "result" in payload:
            driver.finish(kind, "ok", entry.intended_ns, done_ns)
            if isinstance(entry.action, Place):
                driver.on_order(entry.action, entry.intended_ns, payload["result"])
        else:
            code = error_code(payload, None)
            driver.finish(kind, code, entry.intended_ns, done_ns)

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
            if not self.driver.stopping:
                self.driver.lane_errors.append(reason)
        pending, self.pending = self.pending, {}
        for entry in pending.values():
            self.driver.finish(kind_of(entry.action), "transport", entry.intended_ns, None)

    def sweep(self, now_ns: int, timeout_ns: int) -> None:
        # Insertion order is send order, so the expired entries are at the front.
        expired = []
        for request_id, entry in self.pending.items():
            if now_ns - entry.sent_ns < timeout_ns:
                break
            expired.append(request_id)
        for request_id in expired:
            entry = self.pending.pop(request_id)
            self.driver.finish(kind_of(entry.action), "timeout", entry.intended_ns, None)


class Driver:
    """Runs one schedule against the venue and fills a Recorder."""

    def __init__(
        self,
        config: DriverConfig,
        market: Market,
        traders: list[Trader],
        progress: ProgressCallback | None = None,
    ) -> None:
        if not traders:
            raise ValueError("the driver needs at least one trader")
        self.config = config
        self.market = market
        self.traders = traders
        self.progress = progress
        self.flow = OrderFlow(market, len(traders), config.flow, config.seed, config.run_id)
        self.recorder = Recorder(measure_from_ns=0)
        self.late_answers = 0
        self.lane_errors: list[str] = []
        self.stopping = False
        self.scheduled = 0
        self._sent_total = 0
        self._done_total = 0
        self._errors_total = 0
        self._in_flight = 0
        self._room: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_ts: dict[int, int] = {}
        self._session: aiohttp.ClientSession | None = None
        self._lanes: list[_WsLane] = []
        self._crash: BaseException | None = None
        self._phase = "starting"
        self._start_ns: int | None = None
        self._total_s = 0.0

    # -- bookkeeping shared by both transports -------------------------------------------

    def on_sent(self, intended_ns: int, sent_ns: int) -> None:
        self._sent_total += 1
        self.recorder.on_sent(intended_ns, sent_ns)

    def finish(self, kind: str, outcome: str, intended_ns: int, done_ns: int | None) -> None:
        self._done_total += 1
        self._in_flight -= 1
        if outcome != "ok":
            self._errors_total += 1
        self.recorder.on_done(kind, outcome, intended_ns, done_ns or time.perf_counter_ns())
        if self._room is not None:
            self._room.release()

    def on_order(self, action: Place, intended_ns: int, answer: Any) -> None:
        status = self.flow.on_order(action.account, answer)
        if status is not None:
            self.recorder.on_order_status(intended_ns, status)

    # -- the run ---------------------------------------------------------------------------

    async def run(self) -> Recorder:
        config = self.config
        self._room = asyncio.Semaphore(config.max_in_flight)
        connector = aiohttp.TCPConnector(
            limit=config.connections, limit_per_host=config.connections
        )
        timeout = aiohttp.ClientTimeout(total=config.timeout_s)
        # WebSockets get their own session: in the HTTP session's pool they would take the
        # connections the cancels need.
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as ws_session,
        ):
            self._session = session
            if config.websocket:
                await self._open_lanes(ws_session)
            workers = [asyncio.create_task(self._report_progress())]
            for lane in self._lanes:
                workers += [asyncio.create_task(lane.write()), asyncio.create_task(lane.read())]
            if self._lanes:
                workers.append(asyncio.create_task(self._sweep()))
            try:
                await self._dispatch()
                self._phase = "draining"
                await self._drain()
            finally:
                self.stopping = True
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                for lane in self._lanes:
                    await lane.socket.close()
                for task in list(self._tasks):
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._crash is not None:
            raise self._crash
        return self.recorder

    async def _open_lanes(self, session: aiohttp.ClientSession) -> None:
        for index in range(self.config.connections):
            account = index % len(self.traders)
            socket = await session.ws_connect(
                self.config.ws_url, timeout=aiohttp.ClientWSTimeout(ws_close=5.0)
            )
            credentials = self.traders[account].credentials
            await socket.send_json(ws_auth_message(credentials.key_id, credentials.secret))
            reply = await _receive_json(socket)
            if reply.get("op") != "authenticated":
                await socket.close()
                raise SetupError(f"WebSocket auth refused: {reply}")
            self._lanes.append(_WsLane(self, socket, account))

    async def _dispatch(self) -> None:
        config = self.config
        start_ns = time.perf_counter_ns() + 20_000_000  # a moment to settle the tasks
        schedule = Schedule.for_run(config.rate, start_ns, config.warmup_s + config.duration_s)
        measure_from = start_ns + int(config.warmup_s * NS_PER_S)
        self.recorder.measure_from_ns = measure_from
        self.scheduled = schedule.total - schedule.first_slot_at_or_after(measure_from)
        self._start_ns = start_ns
        self._total_s = config.warmup_s + config.duration_s
        assert self._room is not None
        room = self._room
        in_use = len(self._lanes) if self._lanes else len(self.traders)
        accounts_in_use = min(in_use, len(self.traders))
        slot = 0
        while slot < schedule.total:
            now = time.perf_counter_ns()
            self._phase = "warm-up" if now < measure_from else "measuring"
            due = schedule.due(now)
            while slot < due:
                # Returns at once unless max_in_flight requests are outstanding.
                await room.acquire()
                self._fire(slot, schedule.intended_ns(slot), accounts_in_use)
                slot += 1
            if slot < schedule.total:
                wait_ns = schedule.intended_ns(slot) - time.perf_counter_ns()
                await asyncio.sleep(max(wait_ns, 0) / NS_PER_S)

    def _fire(self, slot: int, intended_ns: int, accounts_in_use: int) -> None:
        self._in_flight += 1
        if self._lanes:
            lane = self._lanes[slot % len(self._lanes)]
            action = self.flow.next(slot, lane.account, accounts_in_use)
            if isinstance(action, Place | Cancel):
                lane.queue.put_nowait((f"r{slot}", intended_ns, action))
                return
        else:
            action = self.flow.next(slot, slot % accounts_in_use, accounts_in_use)
        task = asyncio.create_task(self._send_http(intended_ns, action))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._crash is None:
            self._crash = task.exception()

    def _timestamp(self, account: int, action: Action) -> int:
        timestamp = now_ms()
        if isinstance(action, CancelAll):
            # The same path and body every time: only the timestamp makes it unique.
            timestamp = max(timestamp, self._last_ts.get(account, 0) + 1)
            self._last_ts[account] = timestamp
        return timestamp

    async def _send_http(self, intended_ns: int, action: Action) -> None:
        assert self._session is not None
        credentials = self.traders[action.account].credentials
        kind = kind_of(action)
        query = ""
        body = b""
        if isinstance(action, Place):
            method, path = "POST", ORDERS_PATH
            body = msgspec.json.encode(action.order)
        elif isinstance(action, Cancel):
            method, path = "DELETE", f"{ORDERS_PATH}/{action.order_id}"
        else:
            method, path, query = "DELETE", ORDERS_PATH, f"symbol={self.market.symbol}"
        timestamp = self._timestamp(action.account, action)
        headers = {
            KEY_HEADER: credentials.key_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(credentials.secret, timestamp, method, path, query, body),
        }
        if body:
            headers["Content-Type"] = "application/json"
        url = yarl.URL(
            self.config.url.rstrip("/") + path + (f"?{query}" if query else ""), encoded=True
        )
        sent_ns = time.perf_counter_ns()
        self.on_sent(intended_ns, sent_ns)
        try:
            async with self._session.request(
                method, url, data=body or None, headers=headers
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError:
            self.finish(kind, "timeout", intended_ns, None)
            return
        except (aiohttp.ClientError, OSError):
            self.finish(kind, "transport", intended_ns, None)
            return
        done_ns = time.perf_counter_ns()
        payload = _decode(raw) if raw else None
        if 200 <= status < 300:
            self.finish(kind, "ok", intended_ns, done_ns)
            if isinstance(action, Place):
                self.on_order(action, intended_ns, payload)
        else:
            self.finish(kind, error_code(payload, status), intended_ns, done_ns)

    async def _drain(self) -> None:
        """Wait for the outstanding requests; each ends by its answer or its timeout."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        deadline = time.perf_counter_ns() + int((self.config.timeout_s + 1.0) * NS_PER_S)
        while self._in_flight > 0 and time.perf_counter_ns() < deadline:
            await asyncio.sleep(0.01)
        for lane in self._lanes:
            # Whatever is still unanswered (or never got out) has had its time.
            lane.sweep(time.perf_counter_ns(), 0)
            while not lane.queue.empty():
                _, intended_ns, action = lane.queue.get_nowait()
                self.finish(kind_of(action), "timeout", intended_ns, None)

    async def _sweep(self) -> None:
        timeout_ns = int(self.config.timeout_s * NS_PER_S)
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            now = time.perf_counter_ns()
            for lane in self._lanes:
                lane.sweep(now, timeout_ns)

    async def _report_progress(self) -> None:
        if self.progress is None:
            return
        while True:
            start = self._start_ns
            elapsed = 0.0 if start is None else max(time.perf_counter_ns() - start, 0) / NS_PER_S
            self.progress(
                ProgressView(
                    phase=self._phase,
                    elapsed_s=elapsed,
                    total_s=self._total_s,
                    sent=self._sent_total,
                    done=self._done_total,
                    errors=self._errors_total,
                    in_flight=self._in_flight,
                )
            )
            await asyncio.sleep(PROGRESS_EVERY_S)


async def _receive_json(socket: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await socket.receive(timeout=WS_HANDSHAKE_TIMEOUT_S)
    if message.type != aiohttp.WSMsgType.TEXT:
        raise SetupError(f"WebSocket closed during the handshake ({message.type.name})")
    payload = _decode(message.data)
    if not isinstance(payload, dict):
        raise SetupError(f"WebSocket sent something that is not a JSON object: {message.data!r}")
    return payload
