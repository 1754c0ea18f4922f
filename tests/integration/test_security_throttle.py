"""TokenBucketThrottle with an injected clock: refusal when empty, refill, independent keys, bounded memory."""

from __future__ import annotations

import pytest

from adapters.outbound.security.throttle import TokenBucketThrottle
from domain.shared.errors import Overloaded


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_empty_bucket_refuses_with_a_retry_delay_then_refills() -> None:
    clock = Clock()
    throttle = TokenBucketThrottle(capacity=3, refill_per_second=0.5, clock=clock)
    for _ in range(3):
        throttle.check("alice")
    with pytest.raises(Overloaded) as refused:
        throttle.check("alice")
    assert refused.value.retry_after_seconds == 2  # one token at 0.5/s
    assert refused.value.message == "too many attempts; try again in 2 seconds"
    throttle.check("bob")  # other keys are not affected
    clock.now += 1.9
    with pytest.raises(Overloaded) as refused:
        throttle.check("alice")
    assert refused.value.retry_after_seconds == 1  # never 0
    clock.now += 0.1
    throttle.check("alice")
    clock.now += 3600  # refill stops at capacity
    for _ in range(3):
        throttle.check("alice")
    with pytest.raises(Overloaded):
        throttle.check("alice")


def test_refused_checks_do_not_dig_a_deeper_hole() -> None:
    clock = Clock()
    throttle = TokenBucketThrottle(capacity=1, refill_per_second=1, clock=clock)
    throttle.check("k")
    for _ in range(100):
        with pytest.raises(Overloaded):
            throttle.check("k")
    clock.now += 1
    throttle.check("k")


def test_a_clock_stepping_back_does_not_drain_or_fill() -> None:
    clock = Clock()
    throttle = TokenBucketThrottle(capacity=1, refill_per_second=1, clock=clock)
    throttle.check("k")
    clock.now -= 50
    with pytest.raises(Overloaded):
        throttle.check("k")


def test_memory_is_bounded_by_max_keys_least_recently_used_first() -> None:
    clock = Clock()
    throttle = TokenBucketThrottle(capacity=2, refill_per_second=0.001, max_keys=1000, clock=clock)
    throttle.check("victim")
    for n in range(10_000):
        throttle.check(f"unknown-{n}")
        assert len(throttle) <= 1000
    assert len(throttle) == 1000
    # The victim's bucket was least recently used and got evicted: it starts full again (the documented price).
    throttle.check("victim")
    throttle.check("victim")
    with pytest.raises(Overloaded):
        throttle.check("victim")


def test_recently_used_keys_survive_eviction() -> None:
    throttle = TokenBucketThrottle(capacity=1, refill_per_second=0.001, max_keys=3, clock=Clock())
    throttle.check("a")
    throttle.check("b")
    with pytest.raises(Overloaded):
        throttle.check("a")  # touches "a": now most recent
    throttle.check("c")
    throttle.check("d")  # evicts "b", the least recently used
    with pytest.raises(Overloaded):
        throttle.check("a")
    throttle.check("b")  # forgotten, so full again


def test_invalid_configuration() -> None:
    with pytest.raises(ValueError):
        TokenBucketThrottle(capacity=0, refill_per_second=1)
    with pytest.raises(ValueError):
        TokenBucketThrottle(capacity=1, refill_per_second=0)
