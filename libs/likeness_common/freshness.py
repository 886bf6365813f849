"""Read models that follow Postgres and fail closed, and the one clock time-scoped rules are judged by.

`ChangeFollower`: runs a read model's catch-up every `poll_seconds`, and at once when a NOTIFY on
its channel arrives. Polling and listening are independent loops: a listener that cannot connect
only slows the model down to the poll; a failing catch-up makes it age (see `Freshness`). Each
outage is logged once, and its end once.

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

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg
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
    """The error of `now()` is at most half the round trip of the sample it extrapolates from, so
    it keeps the sample with the shortest round trip (a busy event loop lengthens some by
    milliseconds) and takes a new one when it is at least as short or the kept one is older than
    `max_sample_age` seconds (monotonic and database clocks drift apart by parts per million)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic, max_sample_age: float = 60.0) -> None:
        self._monotonic = monotonic
        self._max_age = max_sample_age
        self._anchor: tuple[datetime, float, float] | None = None  # (database time, monotonic midpoint, round trip)

    def synced(self, database_now: datetime, sent: float, received: float) -> None:
        """A `clock_timestamp()` read between the monotonic instants `sent` and `received`."""
        round_trip = received - sent
        if self._anchor is not None:
            _, at, best = self._anchor
            if round_trip > best and received - at < self._max_age:
                return
        self._anchor = (database_now, (sent + received) / 2, round_trip)

    def now(self) -> datetime:
        if self._anchor is None:
            raise RuntimeError("DatabaseClock.now() before the first sync")
        database_now, at, _ = self._anchor
        return database_now + timedelta(seconds=self._monotonic() - at)

    async def sync(self, conn) -> None:
        """One `SELECT clock_timestamp()` on an asyncpg connection or pool."""
        sent = self._monotonic()
        database_now = await conn.fetchval("SELECT clock_timestamp()")
        self.synced(database_now, sent, self._monotonic())


class ChangeFollower:
    def __init__(self, dsn: str, channel: str, poll_seconds: float, catch_up: Callable[[], Awaitable[None]],
                 freshness: Freshness) -> None:  # fmt: skip
        """`freshness`: the read model's own (its name in logs, its age in the outage line)."""
        self._dsn, self._channel, self._poll = dsn, channel, poll_seconds
        self._catch_up, self._freshness = catch_up, freshness
        self._name = freshness.view
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._listener: asyncpg.Connection | None = None
        self._failing = {"catch-up": False, "listen": False}

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._poll_loop(), name=f"{self._name}-poll"),
                       asyncio.create_task(self._listen_loop(), name=f"{self._name}-listen")]  # fmt: skip

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()

    def _report(self, what: str, error: Exception | None) -> None:
        if error is not None and not self._failing[what]:
            hint = "it ages, and refuses to answer past its bound" if what == "catch-up" else "polling only meanwhile"
            log.warning(f"{self._name} {what} failing: {hint}", error=repr(error), age_s=round(self._freshness.age(), 2))
        elif error is None and self._failing[what]:
            log.info(f"{self._name} {what} works again")
        self._failing[what] = error is not None

    async def _poll_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            self._wake.clear()
            try:
                await self._catch_up()
                self._report("catch-up", None)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # database away
                self._report("catch-up", error)

    async def _listen_loop(self) -> None:
        while True:
            try:
                if self._listener is None or self._listener.is_closed():
                    self._listener = await asyncpg.connect(self._dsn, timeout=self._poll * 5)
                    await self._listener.add_listener(self._channel, lambda *_: self._wake.set())
                    self._wake.set()  # notifications may have been missed while disconnected
                    self._report("listen", None)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self._listener is not None:  # connected, but LISTEN failed: do not leak the connection
                    with contextlib.suppress(Exception):
                        await self._listener.close()
                self._listener = None
                self._report("listen", error)
            await asyncio.sleep(self._poll)
