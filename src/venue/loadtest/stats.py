"""Latency figures and the load test's report.

Invariants:
- Samples are integer nanoseconds. Percentiles are exact nearest-rank values over all the
  recorded samples (the sorted list is kept; nothing is bucketed or interpolated): p99 of
  1,000 samples is the 990th smallest. The percentile arithmetic is integer-only, so p99.9
  of 1,000 samples is the 999th smallest, not the 1,000th through a float rounding.
- Milliseconds appear only in the report, never in the samples.
- A request's latency is measured from its *intended* send time on the open-loop schedule,
  so a client-side delay (waiting for a connection, a late timer) is in the figure; the send
  lag (actual send - intended) is reported beside it so the two can be told apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000

# Percentiles in thousandths of a percent, so the rank is computed with integers only.
PERCENTILES_MILLI: tuple[tuple[str, int], ...] = (
    ("p50", 50_000),
    ("p90", 90_000),
    ("p99", 99_000),
    ("p99.9", 99_900),
)

# The sender "kept up" when it sent at least this share of the requested rate.
KEPT_UP_SHARE = 0.95


def percentile(ordered: Sequence[int], pct_milli: int) -> int:
    """Nearest-rank percentile of an ascending sequence; `pct_milli` is the percentile in
    thousandths of a percent (99.9% = 99_900). Raises ValueError on an empty sequence."""
    if not ordered:
        raise ValueError("percentile of no samples")
    if not 0 < pct_milli <= 100_000:
        raise ValueError(f"percentile {pct_milli / 1000}% is outside (0, 100]")
    count = len(ordered)
    rank = -(-pct_milli * count // 100_000)  # ceil without floats
    return ordered[max(rank, 1) - 1]


def ms(value_ns: int) -> float:
    return value_ns / NS_PER_MS


@dataclass(frozen=True)
class LatencySummary:
    """Exact percentiles of a set of nanosecond samples, reported in milliseconds."""

    count: int
    min_ns: int
    mean_ns: int
    points_ns: dict[str, int]
    max_ns: int

    @classmethod
    def of(cls, samples: Iterable[int]) -> LatencySummary | None:
        ordered = sorted(samples)
        if not ordered:
            return None
        return cls(
            count=len(ordered),
            min_ns=ordered[0],
            mean_ns=sum(ordered) // len(ordered),
            points_ns={name: percentile(ordered, milli) for name, milli in PERCENTILES_MILLI},
            max_ns=ordered[-1],
        )

    def to_json(self) -> dict[str, Any]:
        figures: dict[str, Any] = {"count": self.count, "min_ms": ms(self.min_ns)}
        figures["mean_ms"] = ms(self.mean_ns)
        for name, value in self.points_ns.items():
            figures[f"{name}_ms"] = ms(value)
        figures["max_ms"] = ms(self.max_ns)
        return figures

    def text(self) -> str:
        points = ", ".join(f"{name} {ms(value):.2f}" for name, value in self.points_ns.items())
        return f"{points}, max {ms(self.max_ns):.2f} ms (n={self.count:,})"


@dataclass
class Recorder:
    """Everything the driver measures, filled in as requests are sent and answered.

    A request whose intended time is before `measure_from_ns` is warm-up: counted in
    `warmup_requests` and otherwise ignored."""

    measure_from_ns: int
    latencies_ns: dict[str, list[int]] = field(default_factory=dict)
    send_lag_ns: list[int] = field(default_factory=list)
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    order_statuses: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    answered: int = 0
    failed: int = 0
    warmup_requests: int = 0
    first_sent_ns: int | None = None
    last_sent_ns: int = 0
    last_done_ns: int = 0

    def on_sent(self, intended_ns: int, sent_ns: int) -> None:
        if intended_ns < self.measure_from_ns:
            return
        self.sent += 1
        self.send_lag_ns.append(max(sent_ns - intended_ns, 0))
        if self.first_sent_ns is None:
            self.first_sent_ns = sent_ns
        self.last_sent_ns = max(self.last_sent_ns, sent_ns)

    def on_done(self, kind: str, outcome: str, intended_ns: int, done_ns: int) -> None:
        """`outcome` is "ok", an error code from the venue, "http_<status>", "transport" or
        "timeout"; only answers from the venue (ok or an error code) have a latency."""
        if intended_ns < self.measure_from_ns:
            self.warmup_requests += 1
            return
        self.outcomes.setdefault(kind, Counter())[outcome] += 1
        if outcome in ("transport", "timeout"):
            self.failed += 1
            return
        self.answered += 1
        self.latencies_ns.setdefault(kind, []).append(done_ns - intended_ns)
        self.last_done_ns = max(self.last_done_ns, done_ns)

    def on_order_status(self, intended_ns: int, status: str) -> None:
        if intended_ns >= self.measure_from_ns:
            self.order_statuses[status] += 1

    def errors(self) -> int:
        return sum(
            count
            for counter in self.outcomes.values()
            for outcome, count in counter.items()
            if outcome != "ok"
        )


@dataclass(frozen=True)
class SubscriberFigures:
    """What one market-data subscriber saw."""

    index: int
    snapshot_seq: int | None
    deltas: int
    deltas_after_start: int
    last_seq: int | None
    gaps: int
    resyncs: int
    disconnected: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "snapshot_seq": self.snapshot_seq,
            "deltas": self.deltas,
            "deltas_after_start": self.deltas_after_start,
            "last_seq": self.last_seq,
            "gaps": self.gaps,
            "resyncs": self.resyncs,
            "disconnected": self.disconnected,
        }


@dataclass(frozen=True)
class SubscriberReport:
    """The subscribers together. `ok` means: no gap, no resync, nobody disconnected, and
    every subscriber counted the same deltas after the common start seq and ended on the
    same seq."""

    channel: str
    start_seq: int | None
    subscribers: list[SubscriberFigures]
    delivery: LatencySummary | None
    book_seq_at_end: int | None

    @property
    def gaps(self) -> int:
        return sum(figures.gaps for figures in self.subscribers)

    @property
    def consistent(self) -> bool:
        counts = {figures.deltas_after_start for figures in self.subscribers}
        last = {figures.last_seq for figures in self.subscribers}
        return len(counts) <= 1 and len(last) <= 1

    @property
    def ok(self) -> bool:
        return (
            self.gaps == 0
            and self.consistent
            and not any(figures.resyncs for figures in self.subscribers)
            and not any(figures.disconnected for figures in self.subscribers)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "count": len(self.subscribers),
            "ok": self.ok,
            "gaps": self.gaps,
            "consistent": self.consistent,
            "start_seq": self.start_seq,
            "book_seq_at_end": self.book_seq_at_end,
            "delivery_latency": self.delivery.to_json() if self.delivery else None,
            "per_subscriber": [figures.to_json() for figures in self.subscribers],
        }


@dataclass(frozen=True)
class RunReport:
    """The figures of one load test run (the measured part, warm-up excluded)."""

    url: str
    transport: str
    symbol: str
    requested_rate: float
    duration_s: float
    warmup_s: float
    connections: int
    accounts: int
    scheduled: int
    sent: int
    answered: int
    failed: int
    achieved_send_rate: float
    throughput: float
    send_lag: LatencySummary | None
    latency: LatencySummary | None
    latency_by_kind: dict[str, LatencySummary]
    outcomes: dict[str, dict[str, int]]
    order_statuses: dict[str, int]
    subscribers: SubscriberReport | None
    mid_price: str = ""
    notes: tuple[str, ...] = ()

    @property
    def kept_up(self) -> bool:
        return self.sent == self.scheduled and (
            self.achieved_send_rate >= KEPT_UP_SHARE * self.requested_rate
        )

    @property
    def outcome_totals(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for counter in self.outcomes.values():
            totals.update(counter)
        return dict(totals.most_common())

    @property
    def ok(self) -> bool:
        """Something was answered successfully and the subscribers (if any) saw everything."""
        answered_ok = self.outcome_totals.get("ok", 0) > 0
        return answered_ok and (self.subscribers is None or self.subscribers.ok)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "transport": self.transport,
            "symbol": self.symbol,
            "requested_rate": self.requested_rate,
            "duration_s": self.duration_s,
            "warmup_s": self.warmup_s,
            "connections": self.connections,
            "accounts": self.accounts,
            "scheduled": self.scheduled,
            "sent": self.sent,
            "answered": self.answered,
            "failed": self.failed,
            "achieved_send_rate": self.achieved_send_rate,
            "kept_up": self.kept_up,
            "throughput": self.throughput,
            "outcomes": self.outcome_totals,
            "outcomes_by_kind": self.outcomes,
            "order_statuses": self.order_statuses,
            "latency": self.latency.to_json() if self.latency else None,
            "latency_by_kind": {k: v.to_json() for k, v in self.latency_by_kind.items()},
            "send_lag": self.send_lag.to_json() if self.send_lag else None,
            "subscribers": self.subscribers.to_json() if self.subscribers else None,
            "mid_price": self.mid_price,
            "notes": list(self.notes),
            "ok": self.ok,
        }


def build_report(
    recorder: Recorder,
    *,
    url: str,
    transport: str,
    symbol: str,
    requested_rate: float,
    duration_s: float,
    warmup_s: float,
    connections: int,
    accounts: int,
    scheduled: int,
    subscribers: SubscriberReport | None = None,
    mid_price: str = "",
    notes: tuple[str, ...] = (),
) -> RunReport:
    """Rates are over the measured window: sends over max(duration, span of the sends) and
    answers over max(duration, time from the window's start to the last answer), so a server
    that answers late, or a sender that falls behind, shows a lower rate, never a higher one."""
    start = recorder.measure_from_ns
    duration_ns = max(int(duration_s * NS_PER_S), 1)
    interval_ns = int(NS_PER_S / requested_rate) if requested_rate > 0 else 0
    send_span_ns = max(duration_ns, recorder.last_sent_ns - start + interval_ns)
    answer_span_ns = max(duration_ns, recorder.last_done_ns - start)
    everything = [sample for samples in recorder.latencies_ns.values() for sample in samples]
    by_kind = {
        kind: summary
        for kind, samples in sorted(recorder.latencies_ns.items())
        if (summary := LatencySummary.of(samples)) is not None
    }
    return RunReport(
        url=url,
        transport=transport,
        symbol=symbol,
        requested_rate=requested_rate,
        duration_s=duration_s,
        warmup_s=warmup_s,
        connections=connections,
        accounts=accounts,
        scheduled=scheduled,
        sent=recorder.sent,
        answered=recorder.answered,
        failed=recorder.failed,
        achieved_send_rate=recorder.sent * NS_PER_S / send_span_ns,
        throughput=recorder.answered * NS_PER_S / answer_span_ns,
        send_lag=LatencySummary.of(recorder.send_lag_ns),
        latency=LatencySummary.of(everything),
        latency_by_kind=by_kind,
        outcomes={kind: dict(counter.most_common()) for kind, counter in recorder.outcomes.items()},
        order_statuses=dict(recorder.order_statuses.most_common()),
        subscribers=subscribers,
        mid_price=mid_price,
        notes=notes,
    )
