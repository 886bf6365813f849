"""The token-bucket rate limiter with a fake clock."""

from __future__ import annotations

import pytest

from likeness_common.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_burst_then_refused_with_the_wait_until_the_next_token():
    clock = FakeClock()
    limiter = RateLimiter(rate=2.0, burst=5, clock=clock)
    assert [limiter.acquire("a") for _ in range(5)] == [0.0] * 5
    assert limiter.acquire("a") == pytest.approx(0.5)  # 2 tokens/s: the next one in 0.5 s
    clock.advance(0.25)
    assert limiter.acquire("a") == pytest.approx(0.25)  # half a token there, half to go
    clock.advance(0.25)
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(0.5)


def test_refill_is_capped_at_the_burst():
    clock = FakeClock()
    limiter = RateLimiter(rate=10.0, burst=3, clock=clock)
    for _ in range(3):
        limiter.acquire("a")
    clock.advance(3600)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0] * 3
    assert limiter.acquire("a") > 0


def test_sustained_rate_is_the_configured_rate():
    clock = FakeClock()
    limiter = RateLimiter(rate=50.0, burst=10, clock=clock)
    granted = 0
    for _ in range(10_000):  # 10 s of calls every millisecond
        granted += limiter.acquire("a") == 0.0
        clock.advance(0.001)
    assert 10 + 50 * 10 - 1 <= granted <= 10 + 50 * 10 + 1


def test_keys_are_independent():
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock)
    assert limiter.acquire("a") == 0.0 and limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0
    assert limiter.acquire("b") == 0.0 and limiter.acquire("b") == 0.0


def test_memory_is_bounded_and_the_least_recently_seen_bucket_goes_first():
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=1, max_keys=3, clock=clock)
    for key in ("a", "b", "c"):
        assert limiter.acquire(key) == 0.0
    assert limiter.acquire("a") > 0  # "a" is now the most recently seen; "b" the least
    assert limiter.acquire("d") == 0.0  # evicts "b"
    assert len(limiter) == 3
    assert limiter.acquire("a") > 0 and limiter.acquire("c") > 0 and limiter.acquire("d") > 0  # kept, still empty
    assert limiter.acquire("b") == 0.0  # came back as a new, full bucket
    for i in range(1000):
        limiter.acquire(f"k{i}")
    assert len(limiter) == 3


@pytest.mark.parametrize("rate,burst,max_keys", [(0, 1, 1), (-1, 1, 1), (1, 0.5, 1), (1, 1, 0)])
def test_bad_parameters_are_refused(rate, burst, max_keys):
    with pytest.raises(ValueError):
        RateLimiter(rate=rate, burst=burst, max_keys=max_keys)
