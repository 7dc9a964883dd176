"""The SQL read model on SQLite and PostgreSQL: migrations, projection of a real flow,
idempotence, catch-up and rebuild from a real journal, pagination, isolation, candles."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select
from tests.accounts.driver import BTC_USDT, Driver
from tests.persistence.flows import Flow, build_flow, dump, expected_orders_and_fills

from venue.core import VenueState
from venue.domain.commands import Command, PlaceOrder
from venue.domain.values import OrderType, Side
from venue.journal import JournalConfig, SegmentRetention, recover
from venue.persistence import schema
from venue.persistence.database import current_revision, make_engine, upgrade
from venue.persistence.projector import (
    ProjectionGapError,
    Projector,
    ProjectorThread,
    catch_up,
    clear_projections,
    rebuild,
)
from venue.persistence.queries import CursorError, Queries
from venue.runtime import Sequencer, SequencerConfig
from venue.views import OrderStatus


def project(engine: Engine, flow: Flow, seed: int = 0) -> Projector:
    """Feed the flow to a projector in random batch sizes."""
    rng = random.Random(seed)
    projector = Projector(engine)
    history, events = flow.history, flow.events()
    position = 0
    while position < len(history):
        size = rng.randrange(1, 40)
        projector.apply_batch(
            history[position : position + size], events[position : position + size]
        )
        position += size
    return projector


def test_migrations_reach_head_and_run_twice(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        upgrade(database_url)  # by URL, and a second time: nothing to do
        assert current_revision(engine) == "0001"
        tables = set(inspect(engine).get_table_names())
        assert {t.name for t in schema.metadata.sorted_tables} <= tables
    finally:
        engine.dispose()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'dir' / 'v.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    finally:
        engine.dispose()


def test_projected_flow_equals_the_tracker_and_the_ledger(engine: Engine) -> None:
    flow, _accounts = build_flow(1)
    project(engine, flow)
    queries = Queries(engine)
    assert queries.last_seq() == flow.driver.seq
    records, fills, postings = expected_orders_and_fills(flow.history, flow.events())
    with engine.connect() as connection:
        order_rows = connection.execute(select(schema.orders)).mappings().all()
        fill_rows = connection.execute(select(schema.fills)).mappings().all()
        posting_rows = (
            connection.execute(
                select(schema.ledger_postings).order_by(
                    schema.ledger_postings.c.seq, schema.ledger_postings.c.idx
                )
            )
            .mappings()
            .all()
        )
    from venue.persistence.rows import fill_of_row, record_of_row

    assert {r["order_id"]: record_of_row(r) for r in order_rows} == records
    statuses = {r.status for r in records.values()}
    assert {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED} <= statuses
    assert sorted((fill_of_row(r) for r in fill_rows), key=repr) == sorted(fills, key=repr)
    assert {f.liquidity for f in fills} == {"maker", "taker", "auction"}
    assert any(f.fee < 0 for f in fills)  # the market maker's rebates
    assert [
        (r["seq"], r["debit_account"], r["credit_account"], r["asset"], r["amount"], r["reason"])
        for r in posting_rows
    ] == [
        (seq, p.debit_account, p.credit_account, p.asset, p.amount, p.reason)
        for seq, _ts, p in postings
    ]
    ledger = flow.driver.state.ledger
    expected_balances = {
        (account_id, asset): (balance.available, balance.held)
        for account_id, account in ledger.accounts.items()
        for asset, balance in account.balances.items()
    }
    assert {(b.account_id, b.asset): (b.available, b.held) for b in queries.all_balances()} == (
        expected_balances
    )
    expected_positions = {
        (account_id, symbol): (p.net_lots, p.cost_basis, p.realized_pnl, p.fees_paid)
        for account_id, account in ledger.accounts.items()
        for symbol, p in account.positions.items()
    }
    assert {
        (p.account_id, p.symbol): (p.net_lots, p.cost_basis, p.realized_pnl, p.fees_paid)
        for p in queries.all_positions()
    } == expected_positions
    live = {oid: order.remaining for oid, order in flow.driver.state.engine.orders.items()}
    assert {r.order_id: r.remaining_lots for r in queries.open_orders()} == live
    instruments = {row.symbol: row for row in queries.instruments()}
    assert instruments["BTC-USDT"].instrument == BTC_USDT
    assert (instruments["BTC-USDT"].status, instruments["ETH-USDT"].mode) == ("open", "continuous")
    accounts = {row.account_id: row for row in queries.accounts()}
    assert accounts[_accounts[0]].fee_tier == "vip"
    assert accounts[_accounts[2]].risk_profile == "tight"
    with engine.connect() as connection:
        assert connection.execute(select(schema.fee_tiers.c.name)).scalars().all() == ["vip"]
        assert connection.execute(select(schema.kill_switches.c.active)).scalars().all() == [False]


def test_reapplying_batches_changes_nothing(engine: Engine) -> None:
    flow, _ = build_flow(2, steps=120)
    projector = project(engine, flow)
    before = dump(engine)
    history, events = flow.history, flow.events()
    projector.apply_batch(history, events)  # all old
    projector.apply_batch(history[-10:], events[-10:])
    fresh = Projector(engine)  # a new process: reloads its tracker from the table
    fresh.apply_batch(history[5:50], events[5:50])
    assert dump(engine) == before


def test_a_gap_is_refused_and_nothing_written(engine: Engine) -> None:
    flow, _ = build_flow(3, steps=40)
    projector = Projector(engine)
    projector.apply_batch(flow.history[:10], flow.events()[:10])
    before = dump(engine)
    with pytest.raises(ProjectionGapError):
        projector.apply_batch(flow.history[12:20], flow.events()[12:20])
    assert dump(engine) == before
    projector.apply_batch(flow.history[10:], flow.events()[10:])  # the tracker reloads
    assert Queries(engine).last_seq() == flow.driver.seq


def run_journaled_venue(
    directory: Path, commands: list[Command], thread: ProjectorThread | None = None
) -> int:
    config = JournalConfig(segment_size_max_bytes=8192, segment_retention=SegmentRetention.KEEP)
    recovered = recover(directory, config, initial_state=lambda: VenueState(accounts=True))
    sequencer = Sequencer(
        recovered.state,
        recovered.journal,
        snapshots=recovered.snapshots,
        config=SequencerConfig(batch_size_max=16, snapshot_every_commands=60),
        listeners=[thread.submit] if thread is not None else [],
    )
    with sequencer:
        futures = [sequencer.submit_many(commands[i : i + 7]) for i in range(0, len(commands), 7)]
        for future in futures:
            future.result(30)
    return sequencer.state.last_seq


def test_catch_up_and_rebuild_from_a_journal_equal_live_projection(
    engine: Engine, tmp_path: Path
) -> None:
    flow, _ = build_flow(4, steps=250)
    commands = [c.command for c in flow.history]
    journal_dir = tmp_path / "journal"
    live = ProjectorThread(Projector(engine), queue_batches_max=10_000).start()
    last = run_journaled_venue(journal_dir, commands, live)
    assert live.wait_idle()
    live.close()
    assert live.failure is None and live.dropped == 0
    assert live.last_seq == last
    projected_live = dump(engine)
    assert len(projected_live["fills"]) > 20

    assert rebuild(Projector(engine), journal_dir) == last
    assert dump(engine) == projected_live

    # Catch-up from the middle: the snapshot used must be at or below the read model's seq.
    clear_projections(engine)
    projector = Projector(engine)
    assert catch_up(projector, journal_dir, to_seq=last // 2 + 3) == last // 2 + 3
    assert catch_up(projector, journal_dir, chunk_commands=17) == last
    assert dump(engine) == projected_live


def test_projector_thread_recovers_dropped_batches_from_the_journal(
    engine: Engine, tmp_path: Path
) -> None:
    flow, _ = build_flow(5, steps=200)
    commands = [c.command for c in flow.history]
    journal_dir = tmp_path / "journal"
    # A queue of one batch, and a database made slow by a held lock? Simpler: a tiny queue
    # fed faster than one batch per transaction drops under load; force it by pausing.
    thread = ProjectorThread(Projector(engine), queue_batches_max=1, journal_dir=journal_dir)
    last = run_journaled_venue(journal_dir, commands, thread)  # not started: the queue fills
    assert thread.dropped > 0
    thread.start()
    assert thread.wait_idle(30), thread.failure
    thread.close()
    assert thread.failure is None
    assert thread.last_seq == last
    live = dump(engine)
    rebuild(Projector(engine), journal_dir)
    assert dump(engine) == live


def test_projector_thread_without_journal_fails_on_a_drop(engine: Engine) -> None:
    flow, _ = build_flow(6, steps=30)
    thread = ProjectorThread(Projector(engine), queue_batches_max=1, retry_pause_s=0.01)
    history, events = flow.history, flow.events()
    thread.submit(history[:5], events[:5])
    thread.submit(history[5:10], events[5:10])  # dropped
    thread.start()
    thread.close(10)
    assert isinstance(thread.failure, ProjectionGapError)
    assert thread.last_seq == 5


def test_cursor_pagination_walks_every_row_once(engine: Engine) -> None:
    flow, accounts = build_flow(7)
    project(engine, flow)
    queries = Queries(engine)
    account = accounts[0]
    every, _ = queries.list_orders(account, limit=1_000)
    walked, cursor = [], None
    while True:
        page, cursor = queries.list_orders(account, cursor=cursor, limit=7)
        assert len(page) <= 7
        walked.extend(page)
        if cursor is None:
            break
    assert [r.order_id for r in walked] == [r.order_id for r in every]
    assert [r.order_id for r in walked] == sorted((r.order_id for r in walked), reverse=True)
    assert len(walked) > 20

    fills_all, _ = queries.list_fills(account, limit=1_000)
    fills_walked, cursor = [], None
    while True:
        fills_page, cursor = queries.list_fills(account, cursor=cursor, limit=5)
        fills_walked.extend(fills_page)
        if cursor is None:
            break
    assert fills_walked == fills_all and len(fills_all) > 5

    postings_all, _ = queries.list_postings(account, limit=1_000)
    postings_walked, cursor = [], None
    while True:
        postings_page, cursor = queries.list_postings(account, cursor=cursor, limit=9)
        postings_walked.extend(postings_page)
        if cursor is None:
            break
    assert postings_walked == postings_all and len(postings_all) > 9
    with pytest.raises(CursorError):
        queries.list_orders(account, cursor="x")


def test_filters_and_account_isolation(engine: Engine) -> None:
    flow, accounts = build_flow(8)
    project(engine, flow)
    queries = Queries(engine)
    a, b = accounts[0], accounts[1]
    orders_b, _ = queries.list_orders(b, limit=1_000)
    for order in orders_b:
        assert queries.get_order(a, order.order_id) is None
        assert queries.get_order(b, order.order_id) == order
    for account in (a, b):
        orders, _ = queries.list_orders(account, limit=1_000)
        assert orders and {o.account_id for o in orders} == {account}
        fills, _ = queries.list_fills(account, limit=1_000)
        assert {f.account_id for f in fills} == {account}
        postings, _ = queries.list_postings(account, limit=1_000)
        assert all(account in (p.debit_account, p.credit_account) for p in postings)
        assert {x.account_id for x in queries.balances(account)} == {account}
        assert {x.account_id for x in queries.positions(account)} == {account}
    with_client_id = next(o for o in orders_b if o.client_order_id)
    assert queries.get_order_by_client_id(b, with_client_id.client_order_id or "") == with_client_id
    assert queries.get_order_by_client_id(a, with_client_id.client_order_id or "") in (
        None,
        queries.get_order_by_client_id(a, with_client_id.client_order_id or ""),
    )
    filled, _ = queries.list_orders(b, status=OrderStatus.FILLED, side=Side.BUY, symbol="BTC-USDT")
    assert filled and all(
        (o.status, o.side, o.symbol) == (OrderStatus.FILLED, Side.BUY, "BTC-USDT") for o in filled
    )
    open_orders, _ = queries.list_orders(b, status="open")
    assert all(o.status.is_open for o in open_orders)
    middle = orders_b[len(orders_b) // 2].created_ts_ns
    later, _ = queries.list_orders(b, start_ns=middle)
    assert later and all(o.created_ts_ns >= middle for o in later)
    order_id = filled[0].order_id
    by_order, _ = queries.list_fills(b, order_id=order_id)
    assert sum(f.qty_lots for f in by_order) == filled[0].filled_lots
    usdt, _ = queries.list_postings(b, asset="USDT")
    assert usdt and {p.asset for p in usdt} == {"USDT"}


def test_candles_and_ticker(engine: Engine) -> None:
    minute = 60_000_000_000
    base = 19_700 * 24 * 60 * minute  # midnight UTC: a boundary of every interval
    driver = Driver(BTC_USDT, step_ns=1)
    seller = driver.account(BTC=10**12)
    buyer = driver.account(USDT=10**13)
    trades = [  # (offset from base, price, qty)
        (10, 10_000, 2),
        (20, 10_050, 1),
        (minute + 5, 9_990, 3),
        (6 * minute, 10_020, 4),
    ]
    for offset, price, qty in trades:
        driver.run(
            PlaceOrder(seller, "BTC-USDT", Side.SELL, OrderType.LIMIT, qty, price), ts=base + offset
        )
        driver.run(
            PlaceOrder(buyer, "BTC-USDT", Side.BUY, OrderType.LIMIT, qty, price),
            ts=base + offset + 1,
        )
    flow = Flow()
    flow.driver = driver
    projector = Projector(engine)
    history = driver.history
    events = [driver.events_by_seq[c.seq] for c in history]
    for index in range(len(history)):  # one command per batch: candles merge across batches
        projector.apply_batch(history[index : index + 1], events[index : index + 1])
    queries = Queries(engine)
    ones = queries.candles("BTC-USDT", "1m")
    assert [
        (c.start_ns - base, c.open_ticks, c.high_ticks, c.low_ticks, c.close_ticks) for c in ones
    ] == [
        (0, 10_000, 10_050, 10_000, 10_050),
        (minute, 9_990, 9_990, 9_990, 9_990),
        (6 * minute, 10_020, 10_020, 10_020, 10_020),
    ]
    assert [(c.volume_lots, c.notional, c.trade_count) for c in ones] == [
        (3, 2 * 10_000 + 10_050, 2),
        (3, 3 * 9_990, 1),
        (4, 4 * 10_020, 1),
    ]
    fives = queries.candles("BTC-USDT", "5m")
    assert [
        (c.start_ns - base, c.open_ticks, c.high_ticks, c.low_ticks, c.close_ticks, c.volume_lots)
        for c in fives
    ] == [
        (0, 10_000, 10_050, 9_990, 9_990, 6),
        (5 * minute, 10_020, 10_020, 10_020, 10_020, 4),
    ]
    assert len(queries.candles("BTC-USDT", "1m", start_ns=base + minute, limit=1)) == 1
    assert queries.candles("BTC-USDT", "1m", limit=1)[0].start_ns == base + 6 * minute
    ticker = queries.ticker_24h("BTC-USDT", base + 7 * minute)
    assert (ticker.open_ticks, ticker.high_ticks, ticker.low_ticks, ticker.last_ticks) == (
        10_000,
        10_050,
        9_990,
        10_020,
    )
    assert (ticker.volume_lots, ticker.trade_count) == (10, 4)
    assert ticker.notional == 2 * 10_000 + 10_050 + 3 * 9_990 + 4 * 10_020
    later = queries.ticker_24h("BTC-USDT", base + 24 * 60 * minute + 2 * minute)
    assert (later.open_ticks, later.last_ticks, later.volume_lots) == (10_020, 10_020, 4)
    empty = queries.ticker_24h("BTC-USDT", base + 10 * 24 * 60 * minute)
    assert (empty.open_ticks, empty.last_ticks, empty.trade_count) == (None, 10_020, 0)
    (day,) = queries.candles("BTC-USDT", "1d")
    assert (day.start_ns, day.volume_lots, day.trade_count) == (base, 10, 4)
    recent = queries.recent_trades("BTC-USDT", 2)
    assert [(t.price_ticks, t.aggressor_side) for t in recent] == [(10_020, "buy"), (9_990, "buy")]


def test_api_keys_are_kept_and_survive_rebuild(engine: Engine, tmp_path: Path) -> None:
    queries = Queries(engine)
    queries.create_api_key(
        key_id="k1",
        account_id=5,
        role="trader",
        label="bot",
        secret_sha256="ab" * 32,
        created_at_ns=1,
    )
    queries.create_api_key(
        key_id="k2",
        account_id=6,
        role="admin",
        label="",
        secret_sha256="cd" * 32,
        created_at_ns=2,
    )
    assert [k.key_id for k in queries.api_keys_of(5)] == ["k1"]
    assert not queries.revoke_api_key(6, "k1", now_ns=3)  # not account 6's key
    assert queries.revoke_api_key(5, "k1", now_ns=3)
    assert not queries.revoke_api_key(5, "k1", now_ns=4)  # already revoked
    keys = {k.key_id: k for k in queries.api_keys()}
    assert (keys["k1"].revoked_at_ns, keys["k1"].active, keys["k2"].active) == (3, False, True)
    flow, _ = build_flow(9, steps=20)
    journal_dir = tmp_path / "journal"
    thread = ProjectorThread(Projector(engine), queue_batches_max=100).start()
    run_journaled_venue(journal_dir, [c.command for c in flow.history], thread)
    thread.close()
    rebuild(Projector(engine), journal_dir)
    assert {k.key_id: k for k in queries.api_keys()} == keys
