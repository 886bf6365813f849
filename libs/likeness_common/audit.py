"""Hash-chained audit log: each entry carries the hash of the previous one, so editing, deleting
or reordering any committed entry breaks the chain from that entry on."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from .documents import canonical_json
from .outbox import take_write_lock

GENESIS = b"\x00" * 32


def entry_hash(prev_hash: bytes, seq: int, recorded_at: datetime, actor_id: str, action: str,
               subject_id: str, talent_id: str, details: Any) -> bytes:  # fmt: skip
    body = canonical_json(
        {
            "seq": seq,
            "recorded_at": recorded_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor_id": actor_id,
            "action": action,
            "subject_id": subject_id,
            "talent_id": talent_id,
            "details": details,
        }
    )
    return hashlib.sha256(prev_hash + body).digest()


async def append_audit(conn: asyncpg.Connection, *, actor_id: str, action: str, subject_id: str,
                       talent_id: str = "", details: dict[str, Any]) -> None:  # fmt: skip
    """Append inside the caller's transaction (after its outbox events, under the same lock)."""
    await take_write_lock(conn)
    prev = await conn.fetchval("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1") or GENESIS
    seq = await conn.fetchval("SELECT nextval(pg_get_serial_sequence('audit_log', 'seq'))")
    now = datetime.now(UTC)
    digest = entry_hash(prev, seq, now, actor_id, action, subject_id, talent_id, details)
    await conn.execute(
        "INSERT INTO audit_log (seq, recorded_at, actor_id, action, subject_id, talent_id, details, prev_hash, hash) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)",
        seq, now, actor_id, action, subject_id, talent_id, json.dumps(details), prev, digest,
    )  # fmt: skip


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    entries_checked: int
    first_broken_seq: int
    detail: str


async def verify_chain(pool: asyncpg.Pool, batch: int = 5000) -> ChainReport:
    """Recompute the chain from the first entry; the hashing of each batch runs in a thread, so a
    long log never stalls the event loop."""
    prev, checked, after = GENESIS, 0, 0
    async with pool.acquire() as conn:
        while True:
            rows = await conn.fetch("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2", after, batch)
            if not rows:
                return ChainReport(True, checked, 0, "")
            broken, prev, after, checked = await asyncio.to_thread(_check_batch, rows, prev, checked)
            if broken is not None:
                return broken


def _check_batch(rows: list, prev: bytes, checked: int) -> tuple[ChainReport | None, bytes, int, int]:
    after = 0
    for row in rows:
        if row["prev_hash"] != prev:
            return ChainReport(False, checked, row["seq"], "prev_hash does not match the previous entry"), prev, after, checked
        expected = entry_hash(prev, row["seq"], row["recorded_at"], row["actor_id"], row["action"],
                              row["subject_id"], row["talent_id"], json.loads(row["details"]))  # fmt: skip
        if expected != row["hash"]:
            return ChainReport(False, checked, row["seq"], "entry content does not match its hash"), prev, after, checked
        prev, after = row["hash"], row["seq"]
        checked += 1
    return None, prev, after, checked


REPORT_MAX_AGE_SECONDS = 10.0


class SharedChainReports:
    """`verify_chain` for a service that non-operators may ask: one scan at a time, and a report up
    to REPORT_MAX_AGE_SECONDS old is shared unless `fresh` (operators), so a caller looping on it
    costs one scan per interval, not one per call."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool, self._lock = pool, asyncio.Lock()
        self._last: tuple[float, ChainReport] | None = None

    async def __call__(self, fresh: bool) -> ChainReport:
        async with self._lock:
            if not fresh and self._last and time.monotonic() - self._last[0] < REPORT_MAX_AGE_SECONDS:
                return self._last[1]
            report = await verify_chain(self._pool)
            self._last = (time.monotonic(), report)
            return report
