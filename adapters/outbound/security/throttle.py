"""The Throttle port: per-key token buckets in memory, in a bounded LRU.

Each key (a banking id, a source address) has a bucket of `capacity` tokens refilled at `refill_per_second`;
a check takes one token or raises Overloaded with the wait until the next one. At most `max_keys` buckets are
kept: the least recently used is dropped first, so 10,000 or 10 million distinct unknown ids cost the same
bounded memory. The price of the bound: a dropped bucket starts full again, so an attacker who cycles more
than `max_keys` keys between two of a victim's checks resets the victim's bucket. That is acceptable
because this is the soft, in-memory layer; the lockout counters in the database are the hard limit.

Not thread-safe: used from the event loop thread only (check never awaits)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from domain.shared.errors import Overloaded


class TokenBucketThrottle:
    def __init__(
        self,
        capacity: float,
        refill_per_second: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or refill_per_second <= 0 or max_keys < 1:
            raise ValueError("capacity must be >= 1, refill_per_second > 0, max_keys >= 1")
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, as of)

    def __len__(self) -> int:
        return len(self._buckets)

    def check(self, key: str) -> None:
        now = self._clock()
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            tokens = self.capacity
        else:
            held, as_of = bucket
            # max(0, ...): a clock that steps back must not drain the bucket.
            tokens = min(self.capacity, held + max(0.0, now - as_of) * self.refill_per_second)
        if tokens < 1:
            self._store(key, tokens, now)
            retry_after = max(1, math.ceil((1 - tokens) / self.refill_per_second))
            raise Overloaded(f"too many attempts; try again in {retry_after} seconds", retry_after_seconds=retry_after)
        self._store(key, tokens - 1, now)

    def _store(self, key: str, tokens: float, now: float) -> None:
        self._buckets[key] = (tokens, now)  # re-inserted last: most recently used
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
