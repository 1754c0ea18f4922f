"""Rate gates and expiring values on the monotonic clock, where "never" is None and not time 0.

`time.monotonic()` counts from the machine's boot on Linux: on a machine booted a minute ago it reads about 60.
A check written as `now - last > 600` with `last = 0.0` for "never" is therefore false for the first ten minutes
after a boot (a token never minted, a sample never taken), while it passes on every long-running development
machine. These two classes are the one way the tree spells such checks; tests/unit/test_monotonic_never.py runs
them with a clock that starts at 0 and rejects the `= 0.0` spelling anywhere else."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
Clock = Callable[[], float]


class Every:
    """A gate that opens at most once per `seconds`: the first call always opens it."""

    def __init__(self, seconds: float, clock: Clock = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        """True (and the interval starts again) if it never opened or `seconds` have passed since it did."""
        now = self._clock()
        if self._last is not None and now - self._last < self.seconds:
            return False
        self._last = now
        return True

    def mark(self) -> None:
        """The guarded thing just happened by another way: the interval starts now."""
        self._last = self._clock()

    def wait(self) -> float:
        """Seconds until the gate opens again (0 if it would open now)."""
        if self._last is None:
            return 0.0
        return max(0.0, self.seconds - (self._clock() - self._last))


class Expiring(Generic[T]):
    """A value made again by `make` once it is older than `max_age` seconds, or when it was never made. If
    `make` raises, the error goes to the caller and the last value made stays (`last`)."""

    def __init__(self, make: Callable[[], T], max_age: float, clock: Clock = time.monotonic) -> None:
        self._make = make
        self.max_age = max_age
        self._clock = clock
        self._made_at: float | None = None
        self.last: T | None = None

    def get(self) -> T:
        now = self._clock()
        if self._made_at is None or self.last is None or now - self._made_at > self.max_age:
            self.last = self._make()
            self._made_at = now
        return self.last
