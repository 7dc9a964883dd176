"""The composition root (DESIGN.md §2): the one place that wires everything together.

Startup, in order (nothing is served before the last step):
1. recovery, the only startup path: newest snapshot + journal replay (`journal.recover`);
2. the SQL read model is migrated to head and caught up to the recovered seq from the
   journal (it may lag after a crash: it is a projection, rebuilt from the journal);
3. the projections are seeded: the live view from SQL (open orders, balances, positions,
   accounts), market data from the recovered state (books) and SQL (candles, trades);
4. the sequencer starts; each durable batch goes to the SQL projector's queue (its own
   thread) and to the live view, market data and metrics on the event loop, in the same
   step of the loop as the batch's replies and before them (the sequencer's one delivery
   step), so a client reads its own writes;
5. first start: an admin API key is made and written to `<data dir>/admin-key.json`;
   `--demo` adds markets, funded accounts and resting orders.

A failed fsync or a bug in the core stops the sequencer and exits the process non-zero
(`exit_process_on_fatal`); the next start recovers to exactly the durable state.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from venue.config import Settings, database_url
from venue.core import VenueState
from venue.domain.commands import Command, CreateAccount, SequencedCommand, SetRiskProfile
from venue.domain.events import Event, TradeExecuted
from venue.files import write_private_json
from venue.gateway.app import AppContext, create_app
from venue.gateway.auth import ApiKeyAuthenticator, ApiKeys, Role, load_master_key
from venue.gateway.edge import EdgeGuard
from venue.gateway.entry import OrderEntry
from venue.gateway.fastpath import OrderFastPath
from venue.gateway.live import LiveView
from venue.gateway.metrics import Metrics
from venue.gateway.privatefeed import PrivateFeed
from venue.gateway.reads import SqlReads
from venue.gateway.service import Gateway
from venue.gateway.wshooks import VenueWsHooks
from venue.journal import FsyncPolicy, JournalConfig, SegmentRetention, recover
from venue.journal.config import UNSAFE_FSYNC_WARNING
from venue.marketdata.hub import Hub
from venue.marketdata.projection import MarketData
from venue.persistence.database import make_engine, upgrade
from venue.persistence.projector import Projector, ProjectorThread, catch_up
from venue.persistence.queries import RISK_LIMITS, Queries
from venue.runtime import (
    Sequencer,
    SequencerConfig,
    exit_process_on_fatal,
    tune_gc,
)
from venue.runtime.replies import Reply
from venue.views.candles import INTERVAL_NAMES

log = structlog.get_logger("venue")

ADMIN_KEY_FILE = "admin-key.json"


def configure_logging(level: str, as_json: bool | None) -> None:
    """structlog for the venue's own lines and the standard library's (uvicorn, alembic)."""
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if as_json is None:
        as_json = not sys.stderr.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        processor=renderer, foreign_pre_chain=processors
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One line per request is the metrics' job; Alembic's per-start chatter is noise.
    for name in ("uvicorn.access", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


class TimedJournal:
    """The journal, with fsync latency observed (it satisfies `runtime.JournalPort`)."""

    def __init__(self, journal: Any, metrics: Metrics) -> None:
        self._journal = journal
        self._observe = metrics.fsync_latency.observe

    @property
    def fsync_enabled(self) -> bool:
        return bool(self._journal.fsync_enabled)

    def write(
        self, commands: Sequence[SequencedCommand], marks: Sequence[tuple[int, str]] = ()
    ) -> None:
        self._journal.write(commands, marks)

    def sync(self) -> None:
        started = time.perf_counter()
        self._journal.sync()
        self._observe(time.perf_counter() - started)

    def close(self) -> None:
        self._journal.close()


@dataclass
class Venue:
    """Everything one running venue is made of (built by `start`, stopped by `stop`)."""

    settings: Settings
    metrics: Metrics
    live: LiveView
    market_data: MarketData
    hub: Hub
    sequencer: Sequencer
    projector: ProjectorThread
    gateway: Gateway
    keys: ApiKeys
    authenticator: ApiKeyAuthenticator
    reads: SqlReads
    ready: bool = False
    demo_lines: list[str] = field(default_factory=list)

    async def execute(self, command: Command) -> Reply:
        return await self.sequencer.execute(command)


def start(settings: Settings, loop: asyncio.AbstractEventLoop) -> Venue:
    """Steps 1 to 4 of the module docstring (blocking: run before serving)."""
    tune_gc()
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    journal_dir = data_dir / "journal"
    metrics = Metrics()
    fsync = FsyncPolicy(settings.fsync)
    if fsync is FsyncPolicy.NONE:
        log.warning(UNSAFE_FSYNC_WARNING)
    journal_config = JournalConfig(
        fsync=fsync,
        snapshots_keep=settings.snapshots_keep,
        segment_retention=SegmentRetention(settings.segment_retention),
    )
    recovered = recover(
        journal_dir, journal_config, initial_state=lambda: VenueState(accounts=True)
    )
    state = recovered.state
    try:
        url = database_url(settings)
        writer = make_engine(url, writer=True)  # the projector's and the key store's
        upgrade(writer)
        engine = make_engine(url)  # reads
        projector = Projector(writer)
        if projector.read_last_seq() < state.last_seq:
            log.info(
                "catching up the SQL read model", sql_seq=projector.last_seq, to=state.last_seq
            )
            catch_up(projector, journal_dir, state.last_seq)
        queries = Queries(engine)
        reads = SqlReads(queries, Queries(writer), lambda: projector_thread.last_seq)
        hub = Hub()
        publisher = PrivateFeed(hub)
        live = LiveView(publisher=publisher.publish)
        publisher.live = live
        reads.seed_live_view(live, state.last_seq)
        market_data = MarketData(hub)
        market_data.seed_from_state(state)
        seed_market_data(market_data, queries)
        projector_thread = ProjectorThread(
            projector, settings.projector_queue_batches, journal_dir=journal_dir
        )
        projector_thread.start()
    except BaseException:
        recovered.journal.close()
        raise

    def on_loop(commands: Sequence[SequencedCommand], events: Sequence[list[Event]]) -> None:
        live.on_batch(commands, events)
        market_data.on_batch(commands, events)
        metrics.commands.inc(len(commands))
        metrics.batch_size.observe(len(commands))
        metrics.last_seq.set(commands[-1].seq)
        for command_events in events:
            for event in command_events:
                if type(event) is TradeExecuted:
                    metrics.trades.labels(event.symbol).inc()

    sequencer = Sequencer(
        state,
        TimedJournal(recovered.journal, metrics),
        snapshots=recovered.snapshots,
        config=SequencerConfig(
            inbox_capacity=settings.inbox_capacity,
            batch_size_max=settings.batch_size_max,
            tick_interval_ns=settings.tick_interval_ms * 1_000_000,
            snapshot_every_commands=settings.snapshot_every_commands,
            snapshot_every_ns=settings.snapshot_every_s * 1_000_000_000,
        ),
        listeners=[projector_thread.submit],
        loop_listeners=[(loop, on_loop)],
        on_fatal=exit_process_on_fatal(),
    )
    keys = ApiKeys(reads, load_master_key(data_dir))
    authenticator = ApiKeyAuthenticator(keys, settings.recv_window_ms)
    venue = Venue(
        settings=settings,
        metrics=metrics,
        live=live,
        market_data=market_data,
        hub=hub,
        sequencer=sequencer,
        projector=projector_thread,
        gateway=Gateway(
            sequencer.execute,
            live,
            reads,
            order_expiration_hours=settings.order_expiration_hours,
            max_book_orders=settings.max_order_book_size,
        ),
        keys=keys,
        authenticator=authenticator,
        reads=reads,
    )

    def gauges(m: Metrics) -> None:
        m.projector_lag.set(max(0, live.last_seq - projector_thread.last_seq))
        m.projection_failures.set(sequencer.stats.listener_failures)
        for symbol, count in live.open_order_counts().items():
            m.resting_orders.labels(symbol).set(count)

    metrics.gauges.append(gauges)
    sequencer.start()
    return venue


def seed_market_data(market_data: MarketData, q: Queries) -> None:
    """Recent trades and candles from the SQL read model (market data's own projection
    holds only the books and last prices of the recovered state)."""
    for symbol in market_data.symbols():
        trades = q.recent_trades(symbol, market_data.trades_kept)
        market_data.seed_trades(
            symbol,
            [
                (
                    t.trade_id,
                    t.price_ticks,
                    t.qty_lots,
                    None if t.aggressor_side is None else (1 if t.aggressor_side == "buy" else 2),
                    t.ts_ns,
                    t.seq,
                )
                for t in sorted(trades, key=lambda t: t.trade_id)
            ],
        )
        for interval in INTERVAL_NAMES:
            limit = _TICKER_MINUTES if interval == "1m" else market_data.candles_kept
            rows = q.candles(symbol, interval, limit=min(limit, 1000))
            market_data.seed_candles(
                symbol,
                interval,
                [
                    (
                        c.start_ns,
                        c.open_ticks,
                        c.high_ticks,
                        c.low_ticks,
                        c.close_ticks,
                        c.volume_lots,
                        c.trade_count,
                        c.notional,
                    )
                    for c in rows
                ],
            )


_TICKER_MINUTES = 24 * 60


async def bootstrap(venue: Venue, *, demo: bool) -> None:
    """Step 5: the first admin key; the demo set-up."""
    data_dir = venue.settings.data_dir
    if not venue.keys.has_admin():
        reply = await venue.execute(CreateAccount(name="admin"))
        key, secret = await asyncio.to_thread(venue.keys.create, reply.seq, Role.ADMIN, "bootstrap")
        path = data_dir / ADMIN_KEY_FILE
        write_private_json(path, {"key_id": key.key_id, "secret": secret})
        log.info("created the admin API key", path=str(path.resolve()), key_id=key.key_id)
    await apply_order_rate_setting(venue)
    if demo:
        from venue.demo_server import set_up_demo

        venue.demo_lines = await set_up_demo(venue)


async def apply_order_rate_setting(venue: Venue) -> None:
    """MAX_ORDERS_PER_SECOND is the default risk profile's order rate. A setting that differs
    from the journaled profile becomes a SetRiskProfile command (journaled like an operator's,
    keeping the profile's other limits), so every replay sees the same limits."""
    wanted = venue.settings.max_orders_per_second
    if wanted is None:
        return
    await asyncio.to_thread(venue.projector.wait_idle)
    current = await asyncio.to_thread(venue.reads.risk_profile, "default")
    limits: dict[str, int | None] = dict.fromkeys(RISK_LIMITS) if current is None else current
    if limits["max_orders_per_second"] == wanted:
        return
    limits["max_orders_per_second"] = wanted
    reply = await venue.execute(SetRiskProfile("default", **limits))
    log.info("default risk profile: max orders per second", value=wanted, seq=reply.seq)


def stop(venue: Venue) -> None:
    venue.ready = False
    venue.sequencer.close()
    venue.projector.close()
    venue.reads.close()


def create_venue_app(venue: Venue) -> EdgeGuard:
    from venue.gateway.ws import WsLimits, websocket_router

    settings = venue.settings
    entry = OrderEntry(venue.gateway, venue.metrics)  # every protocol's order entry
    hooks = VenueWsHooks(entry, venue.authenticator)
    limits = WsLimits(
        max_subscriptions=settings.ws_max_subscriptions,
        queue_capacity=settings.ws_queue_messages,
        max_inflight=settings.ws_max_inflight,
    )
    ws = websocket_router(
        venue.market_data, venue.hub, hooks, limits, connections=venue.metrics.ws_connections.inc
    )
    ctx = AppContext(
        gateway=venue.gateway,
        entry=entry,
        authenticator=venue.authenticator,
        market_data=venue.market_data,
        reads=venue.reads,
        metrics=venue.metrics,
        ready=lambda: venue.ready,
        rate_limit_per_minute=settings.rate_limit_per_minute,
        order_book_depth=settings.order_book_depth,
        extra_routers=(ws,),
    )
    return EdgeGuard(OrderFastPath(create_app(ctx)), venue.authenticator, venue.metrics)


async def run(settings: Settings, *, demo: bool = False) -> None:
    """Start the venue, serve it until SIGINT/SIGTERM, stop it (everything accepted is
    finished and durable before the journal closes)."""
    import uvicorn

    from venue.gateway.connections import (
        LISTEN_BACKLOG,
        ConnectionLimits,
        FdLimitError,
        ensure_fd_capacity,
        http_protocol,
    )

    try:
        ensure_fd_capacity(settings.max_connections)
    except FdLimitError as exc:
        print(f"venue serve: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    loop = asyncio.get_running_loop()
    venue = await asyncio.to_thread(start, settings, loop)
    try:
        await bootstrap(venue, demo=demo)
        config = uvicorn.Config(
            create_venue_app(venue),
            host=settings.host,
            port=settings.port,
            loop="none",
            # httptools with a bound on connections and a request deadline (its docstring)
            http=http_protocol(
                ConnectionLimits(
                    max_connections=settings.max_connections,
                    reserved_connections=settings.reserved_connections,
                    request_timeout_s=settings.request_timeout_s,
                )
            ),
            backlog=LISTEN_BACKLOG,
            timeout_keep_alive=settings.keep_alive_timeout_s,
            ws="websockets-sansio",
            log_config=None,
            lifespan="off",
            access_log=False,
            ws_max_size=1 << 20,
        )
        server = uvicorn.Server(config)
        venue.ready = True
        for line in venue.demo_lines:
            print(line, flush=True)
        log.info("venue ready", url=f"http://{settings.host}:{settings.port}")
        await server.serve()
    finally:
        await asyncio.to_thread(stop, venue)


def serve(settings: Settings, *, demo: bool = False) -> None:
    import uvloop

    configure_logging(settings.log_level.value, settings.log_json)
    uvloop.run(run(settings, demo=demo))
