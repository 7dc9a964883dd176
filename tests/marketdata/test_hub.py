"""The hub: shared bytes, bounded queues, slow subscribers dropped alone, wake-ups."""

from __future__ import annotations

import asyncio

import pytest

from venue.marketdata import Hub, TooManyChannelsError


def test_every_subscriber_gets_the_same_bytes_object() -> None:
    hub = Hub()
    subscribers = [hub.subscriber() for _ in range(5)]
    for subscriber in subscribers:
        hub.subscribe(subscriber, "book.X")
    payload = b'{"a":1}'
    hub.publish("book.X", payload)
    assert all(subscriber.queue[0] is payload for subscriber in subscribers)


def test_market_data_serializes_once_for_all_subscribers() -> None:
    from marketdata.flows import SYMBOL, new_venue
    from venue.domain.commands import PlaceOrder
    from venue.domain.values import OrderType, Side

    hub = Hub()
    venue = new_venue(hub)
    subscribers = [hub.subscriber() for _ in range(3)]
    for subscriber in subscribers:
        hub.subscribe(subscriber, f"book.{SYMBOL}")
    venue.run([PlaceOrder(1, SYMBOL, Side.BUY, OrderType.LIMIT, 1, price_ticks=200)])
    first = subscribers[0].queue[0]
    assert all(subscriber.queue[0] is first for subscriber in subscribers)


def test_a_slow_subscriber_is_dropped_and_the_others_keep_receiving() -> None:
    hub = Hub(queue_capacity=3)
    slow = hub.subscriber()
    fast = hub.subscriber()
    hub.subscribe(slow, "trades.X")
    hub.subscribe(slow, "book.X")
    hub.subscribe(fast, "trades.X")
    for number in range(10):
        if number % 2 == 0:
            fast.queue.clear()  # the fast one keeps draining
        hub.publish("trades.X", str(number).encode())
    assert slow.slow
    assert slow.closed
    assert not slow.queue
    assert slow.channels == set()
    assert hub.subscriber_count("trades.X") == 1
    assert not hub.has_subscribers("book.X")
    assert not fast.slow
    assert list(fast.queue) == [b"8", b"9"]
    assert hub.slow_dropped == 1
    assert not slow.push(b"late")  # closed: dropped


def test_publishing_to_a_channel_nobody_follows_is_a_no_op() -> None:
    hub = Hub()
    hub.publish("nobody", b"x")
    assert hub.published == 0


def test_a_subscriber_has_at_most_max_channels() -> None:
    hub = Hub(max_channels=2)
    subscriber = hub.subscriber()
    hub.subscribe(subscriber, "a")
    hub.subscribe(subscriber, "b")
    hub.subscribe(subscriber, "a")  # already there: fine
    with pytest.raises(TooManyChannelsError):
        hub.subscribe(subscriber, "c")
    hub.unsubscribe(subscriber, "a")
    hub.subscribe(subscriber, "c")
    assert subscriber.channels == {"b", "c"}
    hub.remove(subscriber)
    assert hub.channel_count() == 0


def test_wait_wakes_on_push_and_on_close() -> None:
    async def scenario() -> list[bytes]:
        hub = Hub()
        subscriber = hub.subscriber()
        hub.subscribe(subscriber, "x")
        got: list[bytes] = []

        async def consume() -> None:
            while True:
                await subscriber.wait()
                got.extend(subscriber.drain())
                if subscriber.closed:
                    return

        task = asyncio.create_task(consume())
        await asyncio.sleep(0)
        hub.publish("x", b"1")
        hub.publish("x", b"2")
        await asyncio.sleep(0)
        hub.publish("x", b"3")
        await asyncio.sleep(0)
        hub.remove(subscriber)
        await asyncio.wait_for(task, 1)
        return got

    assert asyncio.run(scenario()) == [b"1", b"2", b"3"]
