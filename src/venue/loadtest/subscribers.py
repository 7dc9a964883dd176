"""Market-data subscribers: N WebSocket clients on `book.<symbol>` checking what they get.

Each subscriber authenticates (with a trader key), subscribes, takes the snapshot's `seq` as
its starting point and then, for every delta:
- checks the chain: a delta whose `prev_seq` is not the last seq seen is a gap (counted;
  the run fails if any subscriber has one);
- measures delivery latency = wall-clock receive time - the delta's `ts` (the engine's
  stamp in ns since the epoch; client and venue on the same machine share the clock).

Completeness: subscribers connect at slightly different moments, so their snapshots may be
at different seqs. `mark_start` takes the highest snapshot seq as the common start; every
subscriber must then count the same number of deltas after it and end on the same last seq.
A second snapshot on the channel (the venue resynced a slow subscriber) is counted as a
resync, which also fails the check: that subscriber did not receive every delta.

Known limitation: the subscribers share the event loop (and the CPU) with the load driver,
so the delivery latency includes the client's own delay in reading the socket; it is an
upper bound on what the venue adds.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import msgspec

from venue.client.signing import ws_auth_message
from venue.loadtest.setup import Credentials, SetupError
from venue.loadtest.stats import LatencySummary, SubscriberFigures, SubscriberReport

HANDSHAKE_TIMEOUT_S = 10.0
QUIET_S = 0.5
TARGET_QUIET_S = 3.0
FINISH_MAX_WAIT_S = 10.0
# Deltas kept (their seqs) until the common start seq is known; a busy market during setup
# could otherwise grow this without bound.
EARLY_SEQS_MAX = 1_000_000


class Subscriber:
    def __init__(
        self,
        index: int,
        session: aiohttp.ClientSession,
        ws_url: str,
        channel: str,
        credentials: Credentials | None,
    ) -> None:
        self.index = index
        self._session = session
        self._url = ws_url
        self.channel = channel
        self._credentials = credentials
        self.snapshot_seq: int | None = None
        self.last_seq: int | None = None
        self.deltas = 0
        self.gaps = 0
        self.resyncs = 0
        self.latencies_ns: list[int] = []
        self.disconnected: str | None = None
        self.last_message_ns = time.perf_counter_ns()
        self._start_seq: int | None = None
        self._early_seqs: list[int] = []
        self._after_start = 0
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._snapshot = asyncio.Event()
        self._closing = False

    async def start(self) -> None:
        """Connect, authenticate, subscribe; return once the snapshot has arrived."""
        socket = await self._session.ws_connect(self._url)
        self._socket = socket
        if self._credentials is not None:
            auth = ws_auth_message(self._credentials.key_id, self._credentials.secret)
            await socket.send_json(auth)
            reply = await self._receive(socket)
            if reply.get("op") != "authenticated":
                raise SetupError(f"subscriber {self.index}: auth refused: {reply}")
        # Batched frames: the fan-out figures measure the venue at its most efficient.
        await socket.send_json({"op": "subscribe", "channels": [self.channel], "batch": True})
        self._reader = asyncio.create_task(self._read(socket))
        try:
            await asyncio.wait_for(self._snapshot.wait(), HANDSHAKE_TIMEOUT_S)
        except TimeoutError:
            raise SetupError(
                f"subscriber {self.index}: no snapshot of {self.channel} within "
                f"{HANDSHAKE_TIMEOUT_S:.0f} s ({self.disconnected or 'connection open'})"
            ) from None

    async def _receive(self, socket: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
        message = await socket.receive(timeout=HANDSHAKE_TIMEOUT_S)
        payload = _decode(message.data) if message.type == aiohttp.WSMsgType.TEXT else None
        if not isinstance(payload, dict):
            raise SetupError(f"subscriber {self.index}: unexpected {message.type.name} frame")
        return payload

    async def _read(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for message in socket:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                received_wall_ns = time.time_ns()
                self.last_message_ns = time.perf_counter_ns()
                payload = _decode(message.data)
                if isinstance(payload, list):
                    for item in payload:
                        self.on_message(item, received_wall_ns)
                else:
                    self.on_message(payload, received_wall_ns)
        finally:
            if not self._closing and self.disconnected is None:
                self.disconnected = f"closed by the venue (code {socket.close_code})"
            self._snapshot.set()  # never leave start() waiting on a dead socket

    def on_message(self, payload: Any, received_wall_ns: int) -> None:
        if not isinstance(payload, dict):
            return
        if payload.get("channel") != self.channel:
            if payload.get("op") == "error" or "error" in payload:
                self.disconnected = self.disconnected or f"error from the venue: {payload}"
                self._snapshot.set()
            return
        kind = payload.get("type")
        seq = payload.get("seq")
        if not isinstance(seq, int):
            return
        if kind == "snapshot":
            if self.snapshot_seq is None:
                self.snapshot_seq = seq
            else:
                self.resyncs += 1
            self.last_seq = seq
            self._snapshot.set()
        elif kind == "delta" and self.last_seq is not None:
            if payload.get("prev_seq") != self.last_seq:
                self.gaps += 1
            self.last_seq = seq
            self.deltas += 1
            if self._start_seq is None:
                if len(self._early_seqs) < EARLY_SEQS_MAX:
                    self._early_seqs.append(seq)
            elif seq > self._start_seq:
                self._after_start += 1
            stamp = payload.get("ts")
            if isinstance(stamp, int):
                self.latencies_ns.append(received_wall_ns - stamp)

    def mark_start(self, start_seq: int) -> None:
        self._start_seq = start_seq
        self._after_start += sum(1 for seq in self._early_seqs if seq > start_seq)
        self._early_seqs = []

    async def close(self) -> None:
        self._closing = True
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    def figures(self) -> SubscriberFigures:
        return SubscriberFigures(
            index=self.index,
            snapshot_seq=self.snapshot_seq,
            deltas=self.deltas,
            deltas_after_start=self._after_start,
            last_seq=self.last_seq,
            gaps=self.gaps,
            resyncs=self.resyncs,
            disconnected=self.disconnected,
        )


def _decode(raw: Any) -> Any:
    try:
        return msgspec.json.decode(raw)
    except (msgspec.DecodeError, TypeError):
        return None


class SubscriberGroup:
    """N subscribers started together, given a common start seq, and finished together."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        ws_url: str,
        symbol: str,
        count: int,
        credentials: list[Credentials] | None = None,
    ) -> None:
        self.channel = f"book.{symbol}"
        self.subscribers = [
            Subscriber(
                index,
                session,
                ws_url,
                self.channel,
                credentials[index % len(credentials)] if credentials else None,
            )
            for index in range(count)
        ]
        self.start_seq: int | None = None

    async def start(self) -> None:
        try:
            await asyncio.gather(*(subscriber.start() for subscriber in self.subscribers))
        except BaseException:
            await self.close()
            raise
        for subscriber in self.subscribers:
            if subscriber.disconnected is not None:
                await self.close()
                raise SetupError(f"subscriber {subscriber.index}: {subscriber.disconnected}")
        self.mark_start()

    def mark_start(self) -> None:
        seqs = [s.snapshot_seq for s in self.subscribers if s.snapshot_seq is not None]
        self.start_seq = max(seqs) if seqs else None
        if self.start_seq is not None:
            for subscriber in self.subscribers:
                subscriber.mark_start(self.start_seq)

    async def finish(
        self,
        target_seq: int | None = None,
        quiet_s: float = QUIET_S,
        max_wait_s: float = FINISH_MAX_WAIT_S,
    ) -> None:
        """Give the subscribers time to receive the rest of the stream, then close them.

        Done when every subscriber has reached `target_seq` (the book's seq read after the
        load); else, when nothing has arrived for `quiet_s` (or, if a target is known but
        not reached, for TARGET_QUIET_S: the venue's book seq may be an engine seq that no
        delta carries); at most `max_wait_s`."""
        quiet_ns = int((quiet_s if target_seq is None else max(quiet_s, TARGET_QUIET_S)) * 1e9)
        deadline = time.perf_counter_ns() + int(max_wait_s * 1e9)
        while time.perf_counter_ns() < deadline:
            if target_seq is not None and all(
                s.last_seq is not None and s.last_seq >= target_seq for s in self.subscribers
            ):
                break
            newest = max((s.last_message_ns for s in self.subscribers), default=0)
            if time.perf_counter_ns() - newest >= quiet_ns:
                break
            await asyncio.sleep(0.02)
        await self.close()

    async def close(self) -> None:
        await asyncio.gather(*(s.close() for s in self.subscribers), return_exceptions=True)

    def report(self, book_seq_at_end: int | None = None) -> SubscriberReport:
        samples = [ns for s in self.subscribers for ns in s.latencies_ns]
        return SubscriberReport(
            channel=self.channel,
            start_seq=self.start_seq,
            subscribers=[s.figures() for s in self.subscribers],
            delivery=LatencySummary.of(samples),
            book_seq_at_end=book_seq_at_end,
        )
