"""Clocks: where the runtime reads time. The core never does (DESIGN.md §3).

- `wall_ns()` is the source of the `ts_ns` the sequencer stamps. It may step back (NTP, a
  person with `date`); the sequencer clamps, so stamped times never decrease.
- `monotonic_ns()` schedules timers (Tick, periodic snapshots); it never steps back.

`FakeClock` lets tests set both by hand, including a wall clock that steps back.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def wall_ns(self) -> int: ...

    def monotonic_ns(self) -> int: ...


class SystemClock:
    def wall_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()


class FakeClock:
    """A clock that moves only when told to. Thread-safe (read by the sequencer thread)."""

    def __init__(self, wall_ns: int = 1_700_000_000_000_000_000, monotonic_ns: int = 0) -> None:
        self._lock = threading.Lock()
        self._wall_ns = wall_ns
        self._monotonic_ns = monotonic_ns

    def wall_ns(self) -> int:
        with self._lock:
            return self._wall_ns

    def monotonic_ns(self) -> int:
        with self._lock:
            return self._monotonic_ns

    def advance(self, ns: int) -> None:
        """Both clocks move forward by `ns`."""
        if ns < 0:
            raise ValueError("advance() moves forward; use set_wall_ns to step back")
        with self._lock:
            self._wall_ns += ns
            self._monotonic_ns += ns

    def set_wall_ns(self, wall_ns: int) -> None:
        """Step the wall clock to any value, backwards included; monotonic time is unchanged."""
        with self._lock:
            self._wall_ns = wall_ns
