"""The Postgres unit-of-work skeleton every service's adapter extends: one pooled connection, one
transaction, events collected by `emit` and written by the subclass's `commit`."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any, Self

import asyncpg


class PostgresUnitOfWorkBase:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._tx: asyncpg.transaction.Transaction | None = None
        self._events: list[Any] = []

    def bind(self, conn: asyncpg.Connection) -> None:
        """Create the repositories on `conn`."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        self._conn = await self._pool.acquire()
        self._tx = self._conn.transaction()
        await self._tx.start()
        self._events = []
        self.bind(self._conn)
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if self._tx is not None:
                # After a lost connection the rollback fails too; the original error matters.
                with contextlib.suppress(Exception):
                    await self._tx.rollback()
        finally:
            self._tx = None
            await self._pool.release(self._conn)

    async def now(self) -> datetime:
        """The database's clock (`clock_timestamp()`): the one clock time-scoped rules use."""
        return await self._conn.fetchval("SELECT clock_timestamp()")

    def emit(self, event: Any) -> None:
        self._events.append(event)

    async def _finish(self) -> None:
        assert self._tx is not None
        await self._tx.commit()
        self._tx = None
        self._events = []


def active_mandate(at: str, table: str = "") -> str:
    """SQL: the mandate row (`table`, an alias or "") is active at the instant `at` (a placeholder
    such as "$2"). The one SQL form of registry.domain.model.Mandate.state; the registry's own
    `mandates` table (the services share one database; README, Design).
    tests/integration/test_mandate_rule.py holds the two to the same answers at every edge."""
    t = f"{table}." if table else ""
    return (f"{t}valid_from <= {at} AND ({t}valid_until IS NULL OR {t}valid_until > {at}) "
            f"AND ({t}ended_at IS NULL OR {t}ended_at > {at})")  # fmt: skip


# An agency's active mandates at an instant ($1 agency, $2 instant).
_ACTIVE_MANDATES = f"FROM mandates WHERE agency_id = $1 AND {active_mandate('$2')}"


async def represents(conn: asyncpg.Connection | asyncpg.Pool, agency_id: str, talent_id: str, now: datetime) -> bool:
    """Does the agency hold an active mandate over the talent?"""
    return await conn.fetchval(
        f"SELECT EXISTS (SELECT 1 {_ACTIVE_MANDATES} AND talent_id = $3)", agency_id, now, talent_id
    )


async def represents_any(
    conn: asyncpg.Connection | asyncpg.Pool, agency_id: str, talent_ids: list[str], now: datetime
) -> bool:
    """Does the agency hold an active mandate over at least one of the talent? (one indexed lookup,
    however large the agency's roster)"""
    return await conn.fetchval(
        f"SELECT EXISTS (SELECT 1 {_ACTIVE_MANDATES} AND talent_id = ANY($3::text[]))", agency_id, now, talent_ids
    )


async def represented_talent(conn: asyncpg.Connection | asyncpg.Pool, agency_id: str, now: datetime) -> list[str]:
    """Every talent the agency holds an active mandate over."""
    rows = await conn.fetch(f"SELECT DISTINCT talent_id {_ACTIVE_MANDATES}", agency_id, now)
    return [r["talent_id"] for r in rows]


async def talent_exists(conn: asyncpg.Connection, talent_id: str) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM talent WHERE talent_id = $1)", talent_id)
