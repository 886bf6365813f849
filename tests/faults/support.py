"""Helpers of the fault tests: outbox writers and a consumer of every topic."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import asyncpg

from likeness.events.v1 import events_pb2
from likeness_common import kafka, topics
from likeness_common.events import new_event
from likeness_common.outbox import append_events

ALL_TOPIC_NAMES = tuple(t.name for t in topics.ALL_TOPICS)


def talent_keys(label: str, n: int) -> list[str]:
    return [f"tal_{label}_{i}_{uuid.uuid4().hex[:8]}" for i in range(n)]


async def append(pool: asyncpg.Pool, key: str, n: int, topic: str = topics.REGISTRY.name) -> None:
    """`n` events of talent `key` in one transaction, through the real outbox writer."""
    events = [new_event(events_pb2.TalentRegistered(talent_id=key, display_name=f"e{i}"), talent_id=key, aggregate_id=key) for i in range(n)]
    async with pool.acquire() as conn, conn.transaction():
        await append_events(conn, topic, events)


async def committed(pool: asyncpg.Pool, keys: list[str]) -> dict[str, list[str]]:
    """Event ids per key, in commit (outbox id) order."""
    rows = await pool.fetch(
        "SELECT event_id::text AS event_id, message_key FROM outbox WHERE message_key = ANY($1::text[]) ORDER BY id", keys
    )
    order: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        order[row["message_key"]].append(row["event_id"])
    return order


@dataclass
class Seen:
    """What a consumer read: every record's event id per key, in the order read."""

    by_key: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    records: int = 0

    def add(self, record) -> None:
        self.by_key[record.key.decode()].append(dict(record.headers)["event_id"].decode())
        self.records += 1

    def ids(self) -> set[str]:
        return {e for ids in self.by_key.values() for e in ids}

    def first_seen(self, key: str) -> list[str]:
        return list(dict.fromkeys(self.by_key.get(key, [])))


async def read_all_topics(bootstrap: str, seen: Seen, keys: set[str], until: asyncio.Event | set[str], timeout: float = 60.0) -> None:
    """Read every topic from the beginning into `seen` (records of `keys` only) until `until` is
    set (an Event) or every id in it was read (a set), or the timeout."""
    consumer = kafka.consumer(bootstrap, *ALL_TOPIC_NAMES)
    await consumer.start()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if until.is_set() if isinstance(until, asyncio.Event) else until <= seen.ids():
                return
            batch = await consumer.getmany(timeout_ms=200, max_records=2000)
            for part in batch.values():
                for record in part:
                    if record.key is not None and record.key.decode() in keys:
                        seen.add(record)
    finally:
        await consumer.stop()


def order_broken(seen: Seen, order: dict[str, list[str]]) -> list[str]:
    """Keys whose first-seen order is not their commit order (restricted to the ids seen)."""
    broken = []
    for key, ids in order.items():
        first = seen.first_seen(key)
        got = set(first)
        if first != [e for e in ids if e in got]:
            broken.append(key)
    return broken
