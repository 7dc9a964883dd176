"""The market data projection against the real engine: books, deltas, BBO, trades, candles,
tickers, auctions and seeding."""

from __future__ import annotations

import random

import pytest

from marketdata.flows import (
    INSTRUMENT,
    MINUTE_NS,
    SYMBOL,
    BookClient,
    decode,
    drain,
    new_venue,
)
from venue.domain.commands import (
    AddInstrument,
    CancelOrder,
    HaltMarket,
    PlaceOrder,
    Uncross,
)
from venue.domain.instrument import Instrument
from venue.domain.values import MarketMode, MarketStatus, OrderType, Side
from venue.marketdata import Hub, MarketData, UnknownIntervalError, UnknownSymbol


def limit(side: Side, qty: int, price: int, account: int = 1, symbol: str = SYMBOL) -> PlaceOrder:
    return PlaceOrder(account, symbol, side, OrderType.LIMIT, qty, price_ticks=price)


@pytest.mark.parametrize("seed", range(8))
def test_l2_book_equals_the_engine_book_after_a_random_flow(seed: int) -> None:
    rng = random.Random(seed)
    venue = new_venue(Hub())
    for _ in range(40):
        venue.random_flow(rng, 25)
        assert venue.market_data.book_levels(SYMBOL) == venue.engine_levels()
        engine = venue.state.engine.markets[SYMBOL]
        bbo = venue.market_data.bbo(SYMBOL)
        units = venue.market_data.units(SYMBOL)
        best_bid = engine.bids.best()
        best_ask = engine.asks.best()
        assert bbo["bid"] == (
            None if best_bid is None else [units.price(best_bid.price), units.qty(best_bid.qty)]
        )
        assert bbo["ask"] == (
            None if best_ask is None else [units.price(best_ask.price), units.qty(best_ask.qty)]
        )


@pytest.mark.parametrize("seed", range(8))
def test_a_client_applying_snapshot_and_deltas_always_equals_the_book(seed: int) -> None:
    rng = random.Random(1000 + seed)
    hub = Hub(queue_capacity=100_000)
    venue = new_venue(hub)
    venue.random_flow(rng, rng.randint(0, 60))
    subscriber = hub.subscriber()
    hub.subscribe(subscriber, f"book.{SYMBOL}")
    snapshot = venue.market_data.snapshot_bytes(f"book.{SYMBOL}")
    assert snapshot is not None
    client = BookClient(decode(snapshot))
    for _ in range(30):
        venue.random_flow(rng, 20)
        for message in drain(subscriber):
            client.apply(message)
        assert not client.gap
        book = venue.market_data.book(SYMBOL, depth=10_000)
        assert client.seq == book["seq"] == venue.market_data.book_seq(SYMBOL)
        assert client.levels() == (book["bids"], book["asks"])


def test_the_first_delta_after_a_snapshot_chains_to_it_and_a_lost_delta_shows_as_a_gap() -> None:
    hub = Hub()
    venue = new_venue(hub)
    venue.run([limit(Side.BUY, 5, 200)])
    subscriber = hub.subscriber()
    hub.subscribe(subscriber, f"book.{SYMBOL}")
    snapshot = decode(venue.market_data.snapshot_bytes(f"book.{SYMBOL}") or b"")
    assert snapshot == {
        "channel": f"book.{SYMBOL}",
        "type": "snapshot",
        "seq": 2,
        "ts": snapshot["ts"],
        "bids": [["100", "0.005"]],
        "asks": [],
    }
    venue.run([limit(Side.SELL, 1, 210)])  # seq 3
    venue.run([HaltMarket(SYMBOL)])  # seq 4: no book change, no delta
    venue.run([limit(Side.SELL, 2, 211)])  # seq 5 (rejected: halted)
    venue.run([CancelOrder(1, 2)])  # seq 6: cancels are accepted while halted
    deltas = drain(subscriber)
    assert [(d["prev_seq"], d["seq"]) for d in deltas] == [(2, 3), (3, 6)]
    assert deltas[1]["bids"] == [["100", "0"]]
    client = BookClient(snapshot)
    client.apply(deltas[1])  # the first one lost on the way
    assert client.gap


def test_one_command_gives_one_delta_with_every_level_it_changed() -> None:
    hub = Hub()
    venue = new_venue(hub)
    venue.run([limit(Side.SELL, 1, 210), limit(Side.SELL, 2, 211), limit(Side.SELL, 3, 212)])
    subscriber = hub.subscriber()
    hub.subscribe(subscriber, f"book.{SYMBOL}")
    venue.run([limit(Side.BUY, 10, 211, account=2)])  # sweeps 210, 211 and rests the rest
    (delta,) = drain(subscriber)
    assert delta["asks"] == [["105", "0"], ["105.5", "0"]]
    assert delta["bids"] == [["105.5", "0.007"]]
    assert delta["seq"] == 5
    assert delta["prev_seq"] == 4


def test_bbo_is_published_only_when_the_best_bid_or_ask_changes() -> None:
    hub = Hub()
    venue = new_venue(hub)
    subscriber = hub.subscriber()
    hub.subscribe(subscriber, f"bbo.{SYMBOL}")
    venue.run([limit(Side.BUY, 5, 200)])
    venue.run([limit(Side.BUY, 5, 190)])  # deeper: no BBO change
    venue.run([limit(Side.SELL, 1, 220)])
    venue.run([limit(Side.BUY, 1, 200, account=2)])  # qty at the best bid changes
    venue.run([limit(Side.SELL, 3, 230)])  # deeper ask: nothing
    messages = drain(subscriber)
    assert [(m["seq"], m["bid"], m["ask"]) for m in messages] == [
        (2, ["100", "0.005"], None),
        (4, ["100", "0.005"], ["110", "0.001"]),
        (5, ["100", "0.006"], ["110", "0.001"]),
    ]
    snapshot = decode(venue.market_data.snapshot_bytes(f"bbo.{SYMBOL}") or b"")
    assert snapshot["bid"] == ["100", "0.006"]
    assert snapshot["seq"] == 6


def test_trades_publish_one_message_each_and_feed_recent_trades() -> None:
    hub = Hub()
    venue = new_venue(hub)
    trades = hub.subscriber()
    classic = hub.subscriber()
    hub.subscribe(trades, f"trades.{SYMBOL}")
    hub.subscribe(classic, f"classic.trades.{SYMBOL}")
    venue.run([limit(Side.SELL, 1, 210), limit(Side.SELL, 2, 211)])
    venue.run([limit(Side.BUY, 3, 215, account=2)])
    messages = drain(trades)
    assert [(m["trade_id"], m["price"], m["quantity"], m["aggressor_side"]) for m in messages] == [
        (1, "105", "0.001", "buy"),
        (2, "105.5", "0.002", "buy"),
    ]
    assert all(m["seq"] == 4 and m["channel"] == f"trades.{SYMBOL}" for m in messages)
    old_style = drain(classic)
    assert old_style[0] == {
        "timestamp": venue.ts_ns // 1_000_000,
        "symbol": SYMBOL,
        "trade_id": 1,
        "price": "105",
        "quantity": "0.001",
        "aggressor_side": "buy",
        "maker_order_id": 2,
        "taker_order_id": 4,
    }
    recent = venue.market_data.trades(SYMBOL, limit=1)
    assert recent == [
        {
            "trade_id": 2,
            "price": "105.5",
            "quantity": "0.002",
            "aggressor_side": "buy",
            "seq": 4,
            "ts": venue.ts_ns,
        }
    ]
    assert venue.market_data.last_price(SYMBOL) == "105.5"
    assert venue.market_data.snapshot_bytes(f"trades.{SYMBOL}") is None


def test_recent_trades_are_a_bounded_ring() -> None:
    venue = new_venue(Hub(), trades_kept=3)
    for _ in range(5):
        venue.run([limit(Side.SELL, 1, 210), limit(Side.BUY, 1, 210, account=2)])
    assert [t["trade_id"] for t in venue.market_data.trades(SYMBOL, limit=10)] == [5, 4, 3]


def test_classic_book_publishes_the_top_ten_only_when_they_change() -> None:
    hub = Hub()
    venue = new_venue(hub)
    venue.run([limit(Side.BUY, 1, 200 - i) for i in range(12)])
    subscriber = hub.subscriber()
    hub.subscribe(subscriber, f"classic.book.{SYMBOL}")
    venue.run([limit(Side.BUY, 1, 170)])  # 13th level: no message
    assert drain(subscriber) == []
    venue.run([limit(Side.BUY, 1, 191)])  # the 10th level changes
    (message,) = drain(subscriber)
    assert message["timestamp"] == venue.ts_ns // 1_000_000
    assert message["symbol"] == SYMBOL
    assert message["asks"] == []
    assert len(message["bids"]) == 10
    assert message["bids"][0] == ["100", "0.001"]
    assert message["bids"][9] == ["95.5", "0.002"]
    snapshot = decode(venue.market_data.snapshot_bytes(f"classic.book.{SYMBOL}") or b"")
    assert snapshot["bids"] == message["bids"]


def test_candles_bucket_trades_by_interval() -> None:
    hub = Hub()
    venue = new_venue(hub)
    subscriber = hub.subscriber()
    hub.subscribe(subscriber, f"candles.{SYMBOL}.1m")
    base = (venue.ts_ns // (60 * MINUTE_NS) + 1) * 60 * MINUTE_NS  # the start of an hour
    venue.ts_ns = base
    venue.run([limit(Side.SELL, 5, 210), limit(Side.BUY, 2, 210, account=2)])  # 105 x 0.002
    venue.run([limit(Side.BUY, 1, 210, account=2)])  # 105 x 0.001
    venue.ts_ns += 2 * MINUTE_NS
    venue.run([limit(Side.SELL, 1, 205), limit(Side.BUY, 1, 205, account=2)])
    one_minute = venue.market_data.candles(SYMBOL, "1m")
    assert one_minute == [
        {
            "interval": "1m",
            "start": base // 1_000_000,
            "open": "105",
            "high": "105",
            "low": "105",
            "close": "105",
            "volume": "0.003",
            "trades": 2,
        },
        {
            "interval": "1m",
            "start": (base + 2 * MINUTE_NS) // 1_000_000,  # the buy came two minutes later
            "open": "102.5",
            "high": "102.5",
            "low": "102.5",
            "close": "102.5",
            "volume": "0.001",
            "trades": 1,
        },
    ]
    (hour,) = venue.market_data.candles(SYMBOL, "1h")
    assert (hour["open"], hour["high"], hour["low"], hour["close"]) == (
        "105",
        "105",
        "102.5",
        "102.5",
    )
    assert hour["volume"] == "0.004"
    assert hour["trades"] == 3
    messages = drain(subscriber)
    assert len(messages) == 3  # one per command with trades
    assert messages[-1] == {"channel": f"candles.{SYMBOL}.1m", **one_minute[-1]}
    with pytest.raises(UnknownIntervalError):
        venue.market_data.candles(SYMBOL, "2m")


def test_ticker_sums_the_last_24_hours_and_forgets_older_minutes() -> None:
    hub = Hub()
    venue = new_venue(hub)
    day_ns = 1440 * MINUTE_NS
    # 104 x 0.002 then, 20 hours later, 100 x 0.001 and 106 x 0.001
    venue.run([limit(Side.SELL, 2, 208), limit(Side.BUY, 2, 208, account=2)])
    venue.ts_ns += day_ns * 20 // 24
    venue.run([limit(Side.SELL, 1, 200), limit(Side.BUY, 1, 200, account=2)])
    venue.run([limit(Side.SELL, 1, 212), limit(Side.BUY, 1, 212, account=2)])
    ticker = venue.market_data.ticker(SYMBOL)
    assert {k: ticker[k] for k in ("open", "high", "low", "last", "volume", "trades")} == {
        "open": "104",
        "high": "106",
        "low": "100",
        "last": "106",
        "volume": "0.004",
        "trades": 3,
    }
    # quote volume: 104*0.002 + 100*0.001 + 106*0.001 = 0.414 USD
    assert ticker["quote_volume"] == "0.414"
    assert ticker["price_change"] == "2"
    assert ticker["price_change_percent"] == "1.92"
    # Five hours later the first trade has left the window.
    venue.ts_ns += day_ns * 5 // 24
    venue.run([limit(Side.SELL, 1, 202), limit(Side.BUY, 1, 202, account=2)])
    ticker = venue.market_data.ticker(SYMBOL)
    assert (ticker["open"], ticker["high"], ticker["low"], ticker["last"]) == (
        "100",
        "106",
        "100",
        "101",
    )
    assert ticker["volume"] == "0.003"
    assert ticker["trades"] == 3
    assert ticker["quote_volume"] == "0.307"


def test_ticker_high_and_low_follow_the_window_as_it_slides() -> None:
    venue = new_venue(Hub())
    prices = [210, 230, 205, 220, 215, 240, 200, 212]
    for price in prices:  # one trade every six hours
        venue.ts_ns += 360 * MINUTE_NS
        venue.run([limit(Side.SELL, 1, price), limit(Side.BUY, 1, price, account=2)])
    ticker = venue.market_data.ticker(SYMBOL)
    window = prices[-4:]  # the trades of the last 24 h: 6 h apart, the oldest 18 h ago
    units = venue.market_data.units(SYMBOL)
    assert ticker["high"] == units.price(max(window))
    assert ticker["low"] == units.price(min(window))
    assert ticker["open"] == units.price(window[0])


def test_auction_indicative_and_uncross_are_published() -> None:
    hub = Hub()
    venue = new_venue(hub)
    call = Instrument.create("CALL-USD", "CALL", "USD", "1", "1", 0, 4, mode=MarketMode.CALL)
    venue.run([AddInstrument(call)])
    subscriber = hub.subscriber()
    hub.subscribe(subscriber, "auction.CALL-USD")
    venue.run([limit(Side.BUY, 5, 101, symbol="CALL-USD")])
    venue.run([limit(Side.SELL, 3, 100, account=2, symbol="CALL-USD")])
    venue.run([Uncross("CALL-USD")])
    messages = drain(subscriber)
    assert [(m["type"], m["price"], m["paired_quantity"]) for m in messages] == [
        ("indicative", None, "0"),
        ("indicative", "101", "3"),
        ("uncrossed", "101", "3"),
        ("indicative", None, "0"),  # the next call, right after the uncross
    ]
    crossing = messages[1]
    assert crossing == {
        "channel": "auction.CALL-USD",
        "type": "indicative",
        "seq": 4,
        "ts": crossing["ts"],
        "price": "101",
        "paired_quantity": "3",
        "imbalance_quantity": "2",
        "imbalance_side": "buy",
        "best_bid": "101",
        "best_ask": "100",
    }
    assert messages[2]["seq"] == messages[3]["seq"] == venue.state.last_seq
    assert messages[2]["trade_count"] == 1
    auction = venue.market_data.auction("CALL-USD")
    assert auction == {
        "symbol": "CALL-USD",
        **{k: v for k, v in messages[3].items() if k != "channel"},
        "last_uncross": {k: v for k, v in messages[2].items() if k != "channel"},
    }
    assert decode(venue.market_data.snapshot_bytes("auction.CALL-USD") or b"") == messages[3]
    assert venue.market_data.auction(SYMBOL) is None


def test_status_follows_halt_and_instruments_are_listed() -> None:
    venue = new_venue()
    venue.run([HaltMarket(SYMBOL)])
    assert venue.market_data.status(SYMBOL) == (MarketStatus.HALTED, MarketMode.CONTINUOUS)
    (listed,) = venue.market_data.instruments()
    assert listed["symbol"] == SYMBOL
    assert listed["tick_size"] == "0.5"
    assert listed["status"] == "halted"
    assert listed["min_quantity"] == "0.001"


def test_unknown_symbols_raise_unknown_symbol() -> None:
    market_data = MarketData()
    assert not market_data.has("NOPE")
    for read in (
        lambda: market_data.book("NOPE"),
        lambda: market_data.bbo("NOPE"),
        lambda: market_data.trades("NOPE"),
        lambda: market_data.ticker("NOPE"),
        lambda: market_data.auction("NOPE"),
        lambda: market_data.candles("NOPE", "1m"),
    ):
        with pytest.raises(UnknownSymbol):
            read()
    assert market_data.snapshot_bytes("book.NOPE") is None
    assert not market_data.valid_channel("book.NOPE")


def test_seeding_from_a_recovered_state_matches_the_live_projection() -> None:
    rng = random.Random(7)
    venue = new_venue(Hub())
    venue.random_flow(rng, 300)
    seeded = MarketData()
    seeded.seed_from_state(venue.state)
    assert seeded.book_levels(SYMBOL) == venue.market_data.book_levels(SYMBOL)
    assert seeded.book_seq(SYMBOL) == venue.state.last_seq
    assert seeded.bbo(SYMBOL)["bid"] == venue.market_data.bbo(SYMBOL)["bid"]
    assert seeded.last_price(SYMBOL) == venue.market_data.last_price(SYMBOL)
    # and it carries on from there with the next batches
    hub = Hub()
    seeded.hub = hub
    subscriber = hub.subscriber()
    hub.subscribe(subscriber, f"book.{SYMBOL}")
    client = BookClient(decode(seeded.snapshot_bytes(f"book.{SYMBOL}") or b""))
    venue.market_data = seeded
    venue.random_flow(rng, 100)
    for message in drain(subscriber):
        client.apply(message)
    assert not client.gap
    book = seeded.book(SYMBOL, 10_000)
    assert client.levels() == (book["bids"], book["asks"])


def test_seeded_trades_and_candles_are_served_and_extended() -> None:
    market_data = MarketData()
    market_data.on_batch([], [])
    venue = new_venue()
    market_data = venue.market_data
    start = venue.ts_ns - venue.ts_ns % MINUTE_NS - 2 * MINUTE_NS
    market_data.seed_trades(SYMBOL, [(1, 210, 3, 1, start, 10), (2, 212, 1, None, start, 11)])
    market_data.seed_candles(
        SYMBOL,
        "1m",
        [
            (start - MINUTE_NS, 200, 204, 199, 201, 5, 2, 1005),
            (start, 210, 212, 210, 212, 4, 2, 842),
        ],
    )
    assert [t["trade_id"] for t in market_data.trades(SYMBOL)] == [2, 1]
    assert market_data.trades(SYMBOL)[0]["aggressor_side"] is None
    assert [c["open"] for c in market_data.candles(SYMBOL, "1m")] == ["100", "105"]
    ticker = market_data.ticker(SYMBOL)
    assert (ticker["open"], ticker["high"], ticker["low"], ticker["last"]) == (
        "100",
        "106",
        "99.5",
        "106",
    )
    assert ticker["volume"] == "0.009"
    assert ticker["trades"] == 4
    venue.run([limit(Side.SELL, 1, 220), limit(Side.BUY, 1, 220, account=2)])
    candles = market_data.candles(SYMBOL, "1m")
    assert [c["open"] for c in candles] == ["100", "105", "110"]
    assert market_data.ticker(SYMBOL)["trades"] == 5


def test_snapshot_bytes_are_reused_until_the_book_changes() -> None:
    venue = new_venue(Hub())
    venue.run([limit(Side.BUY, 1, 200)])
    first = venue.market_data.snapshot_bytes(f"book.{SYMBOL}")
    assert venue.market_data.snapshot_bytes(f"book.{SYMBOL}") is first
    venue.run([limit(Side.BUY, 1, 199)])
    assert venue.market_data.snapshot_bytes(f"book.{SYMBOL}") is not first


def test_snapshot_depth_is_bounded() -> None:
    venue = new_venue(Hub(), snapshot_depth=3)
    venue.run([limit(Side.BUY, 1, 200 - i) for i in range(5)])
    snapshot = decode(venue.market_data.snapshot_bytes(f"book.{SYMBOL}") or b"")
    assert [price for price, _ in snapshot["bids"]] == ["100", "99.5", "99"]
    assert len(venue.market_data.book(SYMBOL, depth=2)["bids"]) == 2
    assert INSTRUMENT.symbol == SYMBOL
