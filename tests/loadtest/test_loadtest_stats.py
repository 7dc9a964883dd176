"""Percentiles and the report's arithmetic: exact, integer, and honest about rates."""

from __future__ import annotations

import pytest

from venue.loadtest.stats import (
    LatencySummary,
    Recorder,
    RunReport,
    SubscriberFigures,
    SubscriberReport,
    build_report,
    percentile,
)

MS = 1_000_000
S = 1_000_000_000


def test_percentiles_are_nearest_rank_over_every_sample() -> None:
    ordered = list(range(1, 1001))
    assert percentile(ordered, 50_000) == 500
    assert percentile(ordered, 90_000) == 900
    assert percentile(ordered, 99_000) == 990
    assert percentile(ordered, 100_000) == 1000


def test_p99_9_of_a_thousand_samples_is_the_999th_not_a_float_rounding_of_it() -> None:
    # 99.9 * 1000 / 100 in floats is 999.0000000000001, whose ceiling would be 1000.
    assert percentile(list(range(1, 1001)), 99_900) == 999


def test_one_sample_is_every_percentile() -> None:
    for milli in (1, 50_000, 99_900, 100_000):
        assert percentile([7], milli) == 7


def test_no_samples_or_an_impossible_percentile_is_an_error() -> None:
    with pytest.raises(ValueError):
        percentile([], 50_000)
    with pytest.raises(ValueError):
        percentile([1], 0)
    with pytest.raises(ValueError):
        percentile([1], 100_001)


def test_a_summary_sorts_its_samples_and_reports_milliseconds() -> None:
    summary = LatencySummary.of([3 * MS, 1 * MS, 2 * MS, 100 * MS])
    assert summary is not None
    assert summary.count == 4
    assert summary.points_ns["p50"] == 2 * MS
    assert summary.points_ns["p99"] == 100 * MS
    figures = summary.to_json()
    assert figures["p50_ms"] == 2.0
    assert figures["max_ms"] == 100.0
    assert figures["min_ms"] == 1.0
    assert LatencySummary.of([]) is None


def test_the_recorder_ignores_the_warm_up_and_gives_failures_no_latency() -> None:
    recorder = Recorder(measure_from_ns=1000)
    recorder.on_sent(500, 600)  # warm-up
    recorder.on_done("place", "ok", 500, 900)
    recorder.on_sent(1000, 1010)
    recorder.on_done("place", "ok", 1000, 1500)
    recorder.on_sent(1100, 1100)
    recorder.on_done("place", "insufficient_balance", 1100, 1300)
    recorder.on_sent(1200, 1250)
    recorder.on_done("cancel", "timeout", 1200, 99_999)
    assert recorder.warmup_requests == 1
    assert recorder.sent == 3
    assert recorder.send_lag_ns == [10, 0, 50]
    assert recorder.answered == 2
    assert recorder.failed == 1
    assert recorder.errors() == 2
    assert recorder.latencies_ns == {"place": [500, 200]}
    assert recorder.outcomes["cancel"]["timeout"] == 1
    assert recorder.last_done_ns == 1500  # a timeout is not an answer


def _recorder_with(sent: int, answered_at_ns: int, start_ns: int = 0) -> Recorder:
    recorder = Recorder(measure_from_ns=start_ns)
    for index in range(sent):
        intended = start_ns + index * (S // sent)
        recorder.on_sent(intended, intended)
        recorder.on_done("place", "ok", intended, start_ns + answered_at_ns)
    return recorder


def _report(recorder: Recorder, scheduled: int, rate: float = 100.0) -> RunReport:
    return build_report(
        recorder,
        url="http://x",
        transport="http",
        symbol="BTC-USDT",
        requested_rate=rate,
        duration_s=1.0,
        warmup_s=0.0,
        connections=1,
        accounts=1,
        scheduled=scheduled,
    )


def test_rates_on_schedule_equal_the_requested_rate() -> None:
    report = _report(_recorder_with(100, answered_at_ns=S // 2), scheduled=100)
    assert report.achieved_send_rate == pytest.approx(100.0)
    assert report.throughput == pytest.approx(100.0)
    assert report.kept_up
    assert report.ok


def test_answers_that_come_late_lower_the_throughput() -> None:
    report = _report(_recorder_with(100, answered_at_ns=4 * S), scheduled=100)
    assert report.throughput == pytest.approx(25.0)


def test_a_sender_that_falls_behind_is_reported() -> None:
    recorder = Recorder(measure_from_ns=0)
    for index in range(100):  # scheduled over 1 s, really sent over 2 s
        intended = index * (S // 100)
        recorder.on_sent(intended, 2 * intended)
        recorder.on_done("place", "ok", intended, 2 * intended + MS)
    report = _report(recorder, scheduled=100)
    assert report.achieved_send_rate == pytest.approx(100 / 1.99, rel=0.01)
    assert not report.kept_up
    assert report.send_lag is not None
    unsent = _report(_recorder_with(90, answered_at_ns=S), scheduled=100)
    assert not unsent.kept_up


def test_the_report_json_has_every_figure() -> None:
    recorder = _recorder_with(10, answered_at_ns=S // 2)
    recorder.on_done("cancel", "unknown_order", 0, 5 * MS)
    figures = _report(recorder, scheduled=10, rate=10.0).to_json()
    assert figures["outcomes"] == {"ok": 10, "unknown_order": 1}
    assert figures["outcomes_by_kind"]["cancel"] == {"unknown_order": 1}
    assert set(figures["latency"]) >= {"p50_ms", "p90_ms", "p99_ms", "p99.9_ms", "max_ms"}
    assert set(figures["latency_by_kind"]) == {"place", "cancel"}
    assert figures["kept_up"] is True


def _figures(index: int, after: int, last: int | None, gaps: int = 0) -> SubscriberFigures:
    return SubscriberFigures(index, 1, after, after, last, gaps, 0, None)


def test_subscribers_pass_only_with_no_gap_and_the_same_stream() -> None:
    def report(*figures: SubscriberFigures) -> SubscriberReport:
        return SubscriberReport("book.X", 1, list(figures), None, None)

    assert report(_figures(0, 10, 50), _figures(1, 10, 50)).ok
    assert not report(_figures(0, 10, 50), _figures(1, 9, 50)).ok
    assert not report(_figures(0, 10, 50), _figures(1, 10, 49)).ok
    assert not report(_figures(0, 10, 50, gaps=1), _figures(1, 10, 50)).ok
    resynced = SubscriberFigures(0, 1, 10, 10, 50, 0, 1, None)
    assert not report(resynced).ok
    gone = SubscriberFigures(0, 1, 10, 10, 50, 0, 0, "closed")
    assert not report(gone).ok
