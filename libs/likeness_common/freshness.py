"""Read models that fail closed, and the one clock time-scoped rules are judged by.

`Freshness`: a cache of Postgres state (the consent view, the verification index) records when its
last successful catch-up query *started*; once that is longer ago than its bound it refuses to
answer (`Unavailable`: a check fails, a Verify fails, neither ever answers from a frozen view).
One log line when it goes stale and one when it recovers; `likeness_read_model_age_seconds{view}`
and `likeness_stale_refusals_total{view}` for Prometheus.

`DatabaseClock`: the database's clock (`clock_timestamp()`), read without a round trip. Each sync
pairs the database's time with this process's monotonic clock; `now()` extrapolates from the
latest pair, so a replica whose wall clock is wrong still judges `not_before`, `not_after` and
revocations by the same clock every other replica (and every writer) uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from . import metrics
from .errors import Unavailable

log = structlog.get_logger("likeness.freshness")


class Freshness:
    def __init__(self, view: str, bound_seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.view = view
        self.bound = bound_seconds
        self._monotonic = monotonic
        self._caught_up_at: float | None = None  # monotonic start of the last successful catch-up
        self._stale = False
        metrics.READ_MODEL_AGE.labels(view).set_function(self.age)

    def started(self) -> float:
        """Call before the catch-up query; pass the result to `caught_up` once it succeeded."""
        return self._monotonic()

    def caught_up(self, started: float) -> None:
        if self._caught_up_at is None or started > self._caught_up_at:
            self._caught_up_at = started
        if self._stale and self.age() <= self.bound:
            self._stale = False
            log.info("read model caught up again", view=self.view)

    def age(self) -> float:
        """Seconds since the state this model reflects was read (infinite before the first read)."""
        return float("inf") if self._caught_up_at is None else max(0.0, self._monotonic() - self._caught_up_at)

    def require(self) -> None:
        """Raise Unavailable when the model is older than its bound."""
        age = self.age()
        if age <= self.bound:
            return
        metrics.STALE_REFUSALS.labels(self.view).inc()
        if not self._stale:
            self._stale = True
            log.error("read model is stale: refusing to answer from it", view=self.view, age_s=round(age, 2), bound_s=self.bound)
        raise Unavailable(
            f"the {self.view} has not caught up with the database for {age:.1f} s (bound {self.bound:g} s)",
            reason="STALE_READ_MODEL",
            metadata={"view": self.view},
        )


class DatabaseClock:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._anchor: tuple[datetime, float] | None = None

    def synced(self, database_now: datetime, sent: float, received: float) -> None:
        """A `clock_timestamp()` read between the monotonic instants `sent` and `received`."""
        self._anchor = (database_now, (sent + received) / 2)

    def now(self) -> datetime:
        if self._anchor is None:
            raise RuntimeError("DatabaseClock.now() before the first sync")
        database_now, at = self._anchor
        return database_now + timedelta(seconds=self._monotonic() - at)

    async def sync(self, conn) -> None:
        """One `SELECT clock_timestamp()` on an asyncpg connection or pool."""
        sent = self._monotonic()
        database_now = await conn.fetchval("SELECT clock_timestamp()")
        self.synced(database_now, sent, self._monotonic())
