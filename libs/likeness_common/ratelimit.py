"""Token buckets per caller, with a bounded number of buckets. No gRPC here: the RPC interceptor
asks `RateLimiter.acquire(key)` and turns a refusal into RESOURCE_EXHAUSTED with RetryInfo.

A bucket holds up to `burst` tokens and refills at `rate` tokens per second; each call takes one.
Buckets live in an LRU of at most `max_keys` entries: when a new caller arrives at the bound, the
least recently seen bucket is dropped. A dropped bucket comes back full, so the bound should be well
above the number of callers active within `burst / rate` seconds (a bucket idle that long is full
anyway, and dropping it changes nothing).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class TokenBucket:
    rate: float  # tokens per second, > 0
    burst: float  # capacity, >= 1
    tokens: float
    updated: float  # clock reading of the last refill

    def take(self, now: float) -> float:
        """Take one token: 0.0 when granted, else the seconds until one will be there."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """One token bucket per key (a principal id, or a peer address for unauthenticated calls)."""

    def __init__(
        self, rate: float, burst: float, *, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate must be > 0, burst >= 1 and max_keys >= 1")
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def acquire(self, key: str) -> float:
        """0.0 when the call may go ahead, else the seconds the caller should wait before retrying."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.rate, self.burst, self.burst, now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket.take(now)

    def __len__(self) -> int:
        return len(self._buckets)
