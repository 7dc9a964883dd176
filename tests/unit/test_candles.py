"""The candle aggregator shared by the market data projection and the SQL projector."""

from __future__ import annotations

from venue.views.candles import (
    INTERVAL_INDEX,
    INTERVAL_NAMES,
    INTERVALS_NS,
    NS_PER_MINUTE,
    Candle,
    Candles,
    candle_start,
)

MINUTE = NS_PER_MINUTE
BASE = 1_700_000_000 * 1_000_000_000 // (1440 * MINUTE) * (1440 * MINUTE)  # a UTC midnight


def test_intervals_are_one_minute_to_one_day_in_order() -> None:
    assert INTERVALS_NS == {
        "1m": MINUTE,
        "5m": 5 * MINUTE,
        "15m": 15 * MINUTE,
        "1h": 60 * MINUTE,
        "1d": 1440 * MINUTE,
    }
    assert tuple(INTERVALS_NS) == INTERVAL_NAMES
    assert [INTERVAL_INDEX[name] for name in INTERVAL_NAMES] == [0, 1, 2, 3, 4]


def test_a_candle_starts_at_the_epoch_aligned_bucket_of_its_trade() -> None:
    assert candle_start(BASE + 7 * MINUTE + 5, 5 * MINUTE) == BASE + 5 * MINUTE
    assert candle_start(BASE + 5 * MINUTE, 5 * MINUTE) == BASE + 5 * MINUTE
    assert candle_start(BASE + 5 * MINUTE - 1, 5 * MINUTE) == BASE


def test_the_first_trade_opens_and_later_ones_extend_the_candle() -> None:
    candles = Candles()
    candles.add(BASE + 1, 100, 2)
    candles.add(BASE + 2, 105, 1)
    candles.add(BASE + 3, 95, 3)
    candles.add(BASE + 4, 99, 1)
    for index in range(len(INTERVALS_NS)):
        (candle,) = candles.all(index)
        assert candle.row() == (BASE, 100, 105, 95, 99, 7, 4, 200 + 105 + 285 + 99)


def test_a_trade_in_the_next_bucket_closes_the_live_candle_of_that_interval_only() -> None:
    candles = Candles()
    candles.add(BASE + 10, 100, 1)
    candles.add(BASE + MINUTE, 101, 2)  # next minute, same 5m / 15m / 1h / 1d
    one_minute = [c.row() for c in candles.all(INTERVAL_INDEX["1m"])]
    assert one_minute == [
        (BASE, 100, 100, 100, 100, 1, 1, 100),
        (BASE + MINUTE, 101, 101, 101, 101, 2, 1, 202),
    ]
    (five,) = candles.all(INTERVAL_INDEX["5m"])
    assert five.row() == (BASE, 100, 101, 100, 101, 3, 2, 302)


def test_closed_candles_are_bounded_and_the_live_one_is_kept() -> None:
    candles = Candles(closed_max=2)
    for minute in range(5):
        candles.add(BASE + minute * MINUTE, 100 + minute, 1)
    starts = [c.start_ns for c in candles.all(INTERVAL_INDEX["1m"])]
    assert starts == [BASE + 2 * MINUTE, BASE + 3 * MINUTE, BASE + 4 * MINUTE]


def test_a_seeded_candle_is_extended_by_trades_of_its_bucket() -> None:
    candles = Candles()
    index = INTERVAL_INDEX["1h"]
    candles.seed(index, Candle(BASE - 60 * MINUTE, 90, 91, 89, 90, 4, 2, 360))
    candles.seed(index, Candle(BASE, 100, 110, 95, 105, 5, 3, 500))
    candles.add(BASE + 30 * MINUTE, 112, 1)
    assert [c.row() for c in candles.all(index)] == [
        (BASE - 60 * MINUTE, 90, 91, 89, 90, 4, 2, 360),
        (BASE, 100, 112, 95, 112, 6, 4, 612),
    ]
