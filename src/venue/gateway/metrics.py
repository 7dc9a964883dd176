"""Prometheus metrics of one venue process (its own registry, so tests can make several).

Updated where the facts happen: orders and rejects by the order routes, trades and batch
sizes by the batch listener, fsync latency by the timed journal, gauges read at scrape
time through `gauges` callbacks. Labels are closed vocabularies (order types, reject
codes, route templates), so the series count is bounded.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5
)  # fmt: skip


class Metrics:
    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry()
        self.orders = Counter(
            "venue_orders", "Orders placed, by type and result", ["type", "result"],
            registry=registry,
        )  # fmt: skip
        self.rejects = Counter(
            "venue_rejects", "Refusals, by reason code", ["reason"], registry=registry
        )
        self.trades = Counter("venue_trades", "Trades executed", ["symbol"], registry=registry)
        self.commands = Counter("venue_commands", "Commands sequenced", registry=registry)
        self.batch_size = Histogram(
            "venue_sequencer_batch_size", "Commands per sequencer batch",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096), registry=registry,
        )  # fmt: skip
        self.fsync_latency = Histogram(
            "venue_journal_fsync_seconds", "Journal fsync latency",
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.command_latency = Histogram(
            "venue_command_latency_seconds", "Order command latency, received to replied",
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.http_requests = Counter(
            "venue_http_requests", "HTTP requests", ["method", "route", "status"],
            registry=registry,
        )  # fmt: skip
        self.http_latency = Histogram(
            "venue_http_request_seconds", "HTTP request latency", ["method", "route"],
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.projector_lag = Gauge(
            "venue_projector_lag_seqs", "Seqs the SQL read model is behind", registry=registry
        )
        self.last_seq = Gauge("venue_last_seq", "Last durable seq delivered", registry=registry)
        self.projection_failures = Gauge(
            "venue_projection_failures",
            "Batches a projection (live view, market data, SQL projector queue) failed on "
            "since start; nonzero means a projection needs a look (it is rebuildable)",
            registry=registry,
        )
        self.ws_connections = Gauge(
            "venue_ws_connections", "Open WebSocket connections", registry=registry
        )
        self.resting_orders = Gauge(
            "venue_resting_orders", "Open orders per market", ["symbol"], registry=registry
        )
        self.gauges: list[Callable[[Metrics], None]] = []

    def order_result(self, order_type: str, result: str) -> None:
        self.orders.labels(order_type, result).inc()
        if result != "accepted":
            self.rejects.labels(result).inc()

    def refresh(self) -> None:
        """Update the gauges read at scrape time."""
        for update in self.gauges:
            update(self)
