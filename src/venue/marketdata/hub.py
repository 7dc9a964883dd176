"""Fan-out of serialized messages to subscribers through bounded queues (DESIGN.md §9).

A `Hub` maps channel names to the `Subscriber`s of each. `publish(channel, payload)` appends
the same `bytes` object to the queue of every subscriber of the channel: a message is
serialized once per update, never once per subscriber.

Invariants:
- `publish` never blocks and never awaits: it is a loop of deque appends, called from the
  event loop thread (the market data projection's `on_batch`).
- Every subscriber queue holds at most `capacity` messages. A push onto a full queue marks the
  subscriber slow: its queue is cleared, it is closed (later pushes are dropped) and the hub
  forgets it; its owner (the WebSocket session) sees `slow` and closes the connection with
  code 4008. One slow subscriber never slows the others or the venue.
- A subscriber is on at most `max_channels` channels.
- Channel names are opaque to the hub: private per-account channels such as
  `private.42.orders` are ordinary names that the gateway publishes to.

Not thread-safe: everything here runs on the event loop thread.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from typing import Final

DEFAULT_QUEUE_CAPACITY: Final = 1000
DEFAULT_MAX_CHANNELS: Final = 50


class TooManyChannelsError(Exception):
    """The subscriber is already on its maximum number of channels."""


class Subscriber:
    """One consumer of the hub: a bounded queue of serialized messages and a wake-up for the
    task that drains it. `push` is also how the owner queues its own replies, so replies and
    channel updates leave in one order."""

    __slots__ = ("_waiter", "capacity", "channels", "closed", "max_channels", "queue", "slow")

    def __init__(
        self,
        capacity: int = DEFAULT_QUEUE_CAPACITY,
        max_channels: int = DEFAULT_MAX_CHANNELS,
    ) -> None:
        if capacity < 1 or max_channels < 1:
            raise ValueError("capacity and max_channels must be at least 1")
        self.capacity = capacity
        self.max_channels = max_channels
        self.queue: deque[bytes] = deque()
        self.channels: set[str] = set()
        self.slow = False
        self.closed = False
        # A future only while the drain task waits on an empty queue: cheaper than an
        # asyncio.Event, whose set() walks its waiters on every push.
        self._waiter: asyncio.Future[None] | None = None

    def push(self, payload: bytes) -> bool:
        """Queue one message. False if the subscriber is closed, or became slow just now."""
        if self.closed:
            return False
        queue = self.queue
        if len(queue) >= self.capacity:
            self.slow = True
            queue.clear()
            self.close()
            return False
        queue.append(payload)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
        return True

    def close(self) -> None:
        """No more messages; wakes the drain task so it can see `closed` (and `slow`)."""
        self.closed = True
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self) -> None:
        """Return once the queue holds something or the subscriber is closed."""
        if self.queue or self.closed:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            if self._waiter is waiter:
                self._waiter = None

    def drain(self) -> Iterator[bytes]:
        """Pop queued messages oldest first (stops early if the subscriber is closed)."""
        queue = self.queue
        while queue and not self.closed:
            yield queue.popleft()


class Hub:
    """Named channels and their subscribers; see the module docstring."""

    __slots__ = ("_channels", "max_channels", "published", "queue_capacity", "slow_dropped")

    def __init__(
        self,
        *,
        queue_capacity: int = DEFAULT_QUEUE_CAPACITY,
        max_channels: int = DEFAULT_MAX_CHANNELS,
    ) -> None:
        self.queue_capacity = queue_capacity
        self.max_channels = max_channels
        # channel -> subscribers, a dict used as an insertion-ordered set
        self._channels: dict[str, dict[Subscriber, None]] = {}
        self.published = 0  # messages handed to publish() that had at least one subscriber
        self.slow_dropped = 0  # subscribers dropped because their queue was full

    def subscriber(
        self, *, capacity: int | None = None, max_channels: int | None = None
    ) -> Subscriber:
        """A new subscriber with the hub's limits unless told otherwise."""
        return Subscriber(
            capacity or self.queue_capacity,
            max_channels or self.max_channels,
        )

    def subscribe(self, subscriber: Subscriber, channel: str) -> None:
        if subscriber.closed or channel in subscriber.channels:
            return
        if len(subscriber.channels) >= subscriber.max_channels:
            raise TooManyChannelsError(f"at most {subscriber.max_channels} channels per subscriber")
        subscriber.channels.add(channel)
        self._channels.setdefault(channel, {})[subscriber] = None

    def unsubscribe(self, subscriber: Subscriber, channel: str) -> None:
        subscriber.channels.discard(channel)
        members = self._channels.get(channel)
        if members is not None:
            members.pop(subscriber, None)
            if not members:
                del self._channels[channel]

    def remove(self, subscriber: Subscriber) -> None:
        """Take the subscriber off every channel and close it (idempotent)."""
        for channel in tuple(subscriber.channels):
            self.unsubscribe(subscriber, channel)
        subscriber.close()

    def has_subscribers(self, channel: str) -> bool:
        """Lets a publisher skip serializing a message nobody would receive."""
        return channel in self._channels

    def subscriber_count(self, channel: str) -> int:
        members = self._channels.get(channel)
        return 0 if members is None else len(members)

    def channel_count(self) -> int:
        return len(self._channels)

    def publish(self, channel: str, payload: bytes) -> None:
        """Queue `payload` (the same object) for every subscriber of `channel`. Never blocks."""
        members = self._channels.get(channel)
        if members is None:
            return
        self.published += 1
        slow: list[Subscriber] | None = None
        for subscriber in members:
            if not subscriber.push(payload):
                if slow is None:
                    slow = []
                slow.append(subscriber)
        if slow is not None:
            for subscriber in slow:
                if subscriber.slow:
                    self.slow_dropped += 1
                self.remove(subscriber)
