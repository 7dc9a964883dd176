"""`venue loadtest` against a fake venue (tests/loadtest/fake_venue.py) on a local port.

No assertion here depends on how fast the machine is: a stall's effect is checked through
lower bounds that hold however late the client or the server runs (a request stuck behind a
stall cannot be answered before the stall ends), and the counts compared are those the
venue and the client must agree on exactly.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
import typer
from fake_venue import ADMIN_KEY, FakeVenue, running_venue
from typer.testing import CliRunner

from venue.loadtest.cli import LoadtestOptions, loadtest_command, run_loadtest
from venue.loadtest.driver import Driver, DriverConfig, FlowConfig
from venue.loadtest.setup import Credentials, SetupError, prepare
from venue.loadtest.stats import LatencySummary, Recorder, RunReport

S = 1_000_000_000


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "admin-key.json"
    path.write_text(json.dumps(ADMIN_KEY))
    return path


def run(url: str, key_file: Path, **overrides: object) -> RunReport:
    settings: dict[str, object] = {
        "url": url,
        "rate": 200.0,
        "duration_s": 0.5,
        "key_file": key_file,
        "accounts": 3,
        "connections": 2,
        "warmup_s": 0.0,
    }
    settings.update(overrides)
    return asyncio.run(run_loadtest(LoadtestOptions(**settings)))  # type: ignore[arg-type]


@pytest.fixture
def venue() -> Iterator[tuple[FakeVenue, str]]:
    fake = FakeVenue()
    with running_venue(fake) as url:
        yield fake, url


def _all_outcomes(report: RunReport) -> int:
    return sum(report.outcome_totals.values())


def test_setup_makes_funded_accounts_with_trader_keys(
    venue: tuple[FakeVenue, str], key_file: Path
) -> None:
    fake, url = venue
    report = run(url, key_file, rate=50.0, duration_s=0.2)
    assert len(fake.accounts) == 3
    assert {asset for _, asset, _ in fake.deposits} == {"BTC", "USDT"}
    assert len(fake.deposits) == 6
    assert report.mid_price == "27000 (default, the book is empty)"  # the fake book starts empty


def test_an_http_run_sends_every_slot_signed_unique_and_on_the_grid(
    venue: tuple[FakeVenue, str], key_file: Path
) -> None:
    fake, url = venue
    flow = FlowConfig(cancel_all_every=25, cancel_ratio=0.2)
    report = run(url, key_file, flow=flow)
    assert report.scheduled == 100
    assert report.sent == 100
    assert _all_outcomes(report) == 100  # every request ended exactly once
    assert report.failed == 0
    assert fake.auth_failures == []  # signatures valid, no replay (cancel-alls included)
    assert fake.bad_orders == []
    assert len(set(fake.client_order_ids)) == len(fake.client_order_ids)
    assert report.outcomes["place"]["ok"] == fake.placed
    assert report.outcomes["cancel_all"]["ok"] == fake.cancel_alls == 4
    assert report.outcomes.get("cancel", {}).get("ok", 0) + report.outcomes["cancel_all"]["ok"] > 0
    assert report.latency is not None and report.latency.count == 100
    assert report.ok


def test_the_warm_up_is_sent_but_not_measured(venue: tuple[FakeVenue, str], key_file: Path) -> None:
    fake, url = venue
    flow = FlowConfig(cancel_all_every=0, cancel_ratio=0.0)
    report = run(url, key_file, rate=100.0, duration_s=0.3, warmup_s=0.2, flow=flow)
    assert fake.placed == 50
    assert report.scheduled == report.sent == 30


def test_a_websocket_run_pipelines_orders_and_cancel_alls_go_over_http(
    venue: tuple[FakeVenue, str], key_file: Path
) -> None:
    fake, url = venue
    flow = FlowConfig(cancel_all_every=20, cancel_ratio=0.2)
    report = run(url, key_file, websocket=True, flow=flow)
    assert report.transport == "ws"
    assert report.sent == report.scheduled == 100
    assert _all_outcomes(report) == 100
    assert fake.auth_failures == []
    assert report.outcomes["place"]["ok"] == fake.placed
    assert report.outcomes["cancel_all"]["ok"] == 5
    cancels = report.outcomes.get("cancel", {})
    assert sum(cancels.values()) == fake.ws_cancel_requests  # each answered over the socket
    assert cancels.get("ok", 0) == fake.ws_cancels
    assert report.ok


async def _drive(url: str, key_file: Path, config: DriverConfig) -> Recorder:
    async with aiohttp.ClientSession() as session:
        prepared = await prepare(
            session, url, Credentials.load(key_file), symbol="BTC-USDT", accounts=2, run_id="s"
        )
    return await Driver(config, prepared.market, prepared.traders).run()


@pytest.mark.parametrize("websocket", [False, True], ids=["http", "ws"])
def test_a_stall_shows_in_the_latency_of_every_request_it_held_up(
    key_file: Path, websocket: bool
) -> None:
    # One connection; the 5th order is held 0.6 s. A request intended in the first 0.3 s of
    # the stall can only be answered after the stall ends, so at least ~30 of the latencies
    # are >= 0.3 s, however slow the machine. A closed-loop client (next request after the
    # previous answer, latency from the actual send) would have recorded one slow request.
    fake = FakeVenue(stall_on_order=5, stall_s=0.6)
    flow = FlowConfig(cancel_all_every=0, cancel_ratio=0.0)
    with running_venue(fake) as url:
        config = DriverConfig(
            url=url, rate=100.0, duration_s=1.0, connections=1, websocket=websocket, flow=flow
        )
        recorder = asyncio.run(_drive(url, key_file, config))
    samples = recorder.latencies_ns["place"]
    assert len(samples) == 100
    assert max(samples) >= 6 * S // 10
    held = sum(1 for sample in samples if sample >= 3 * S // 10)
    assert held >= 28, sorted(samples)
    # The stalled order's own latency is in the report's figures too.
    summary = LatencySummary.of(samples)
    assert summary is not None and summary.to_json()["max_ms"] >= 600


def test_subscribers_see_every_delta_in_order(key_file: Path) -> None:
    fake = FakeVenue()
    flow = FlowConfig(cancel_all_every=30, cancel_ratio=0.2)
    with running_venue(fake) as url:
        report = run(url, key_file, subscribers=3, flow=flow)
    subs = report.subscribers
    assert subs is not None
    assert subs.ok, subs.to_json()
    assert subs.gaps == 0
    emitted_after_start = sum(1 for seq in fake.delta_seqs if seq > (subs.start_seq or 0))
    assert emitted_after_start > 0
    for figures in subs.subscribers:
        assert figures.deltas_after_start == emitted_after_start
        assert figures.last_seq == fake.last_delta_seq
    assert subs.book_seq_at_end == fake.last_delta_seq
    assert subs.delivery is not None and subs.delivery.count == 3 * emitted_after_start


def test_a_missing_delta_is_a_gap_and_fails_the_run(key_file: Path, tmp_path: Path) -> None:
    fake = FakeVenue(drop_delta_for=(1, 10))
    flow = FlowConfig(cancel_all_every=0, cancel_ratio=0.0)
    with running_venue(fake) as url:
        report = run(url, key_file, subscribers=2, flow=flow)
    subs = report.subscribers
    assert subs is not None
    assert [figures.gaps for figures in subs.subscribers] == [0, 1]
    assert not subs.consistent
    assert not report.ok


def test_a_missing_key_file_or_symbol_stops_before_anything_is_sent(
    venue: tuple[FakeVenue, str], key_file: Path, tmp_path: Path
) -> None:
    fake, url = venue
    with pytest.raises(SetupError, match="no admin key file"):
        run(url, tmp_path / "nope.json")
    with pytest.raises(SetupError, match="no instrument ETH-USDT"):
        run(url, key_file, symbol="ETH-USDT")
    assert fake.placed == 0


def test_the_mid_comes_from_the_book_when_it_has_both_sides(key_file: Path) -> None:
    fake = FakeVenue(initial_bid=Decimal("100"), initial_ask=Decimal("101.5"))
    with running_venue(fake) as url:
        report = run(url, key_file, rate=20.0, duration_s=0.1)
    assert report.mid_price == "100.5 (book mid)"


def test_the_command_prints_one_json_object(key_file: Path) -> None:
    app = typer.Typer()
    app.command()(loadtest_command)
    fake = FakeVenue()
    with running_venue(fake) as url:
        result = CliRunner().invoke(
            app,
            [
                "--url",
                url,
                "--rate",
                "100",
                "--duration",
                "0.3",
                "--warmup",
                "0",
                "--accounts",
                "2",
                "--connections",
                "2",
                "--key-file",
                str(key_file),
                "--subscribers",
                "1",
                "--json",
            ],
        )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["requested_rate"] == 100.0
    assert figures["scheduled"] == figures["sent"] == 30
    assert figures["ok"] is True
    assert figures["subscribers"]["gaps"] == 0
    assert {"p50_ms", "p90_ms", "p99_ms", "p99.9_ms", "max_ms"} <= set(figures["latency"])


def test_the_command_prints_a_table_and_exits_2_without_a_key(
    key_file: Path, tmp_path: Path
) -> None:
    app = typer.Typer()
    app.command()(loadtest_command)
    fake = FakeVenue()
    with running_venue(fake) as url:
        ok = CliRunner().invoke(
            app,
            [
                "--url",
                url,
                "--rate",
                "50",
                "--duration",
                "0.2",
                "--warmup",
                "0",
                "--accounts",
                "1",
                "--connections",
                "1",
                "--key-file",
                str(key_file),
                "--no-uvloop",
            ],
        )
        missing = CliRunner().invoke(app, ["--url", url, "--key-file", str(tmp_path / "none.json")])
    assert ok.exit_code == 0, ok.output
    assert "latency (all)" in ok.stdout
    assert "p99.9" in ok.stdout
    assert missing.exit_code == 2
