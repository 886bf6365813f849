"""The broker (Tansu, memory storage) is SIGKILLed and restarted on the same port while 2,000
outbox events are being relayed. The fresh process has lost every topic and record.

What "every event seen at least once" means here: the relay recreates the topics and, because the
new broker lost what the old one had acknowledged, re-queues the rows it published in its replay
window (an hour) plus everything still unacknowledged. So a consumer that reads all topics of the
new broker from the beginning sees every event id, in commit order per talent. A consumer that was
reading the old broker until just before the kill saw a prefix of each talent's events, in order.
"""

from __future__ import annotations

import asyncio
import time

import prometheus_client
import pytest

from likeness_common import kafka, topics
from likeness_common.db import create_pool
from likeness_common.outbox import OutboxRelay
from likeness_common.settings import RelaySettings
from likeness_common.topics import Topic
from tests.faults.support import Seen, append, committed, order_broken, read_all_topics, talent_keys
from tests.support import relay_process, wait_drained

pytestmark = pytest.mark.faults

EVENTS = 2000
KEYS = 20
PER_TRANSACTION = 10
KILL_AFTER_PUBLISHED = 600


async def _published(pool, keys: list[str]) -> int:
    return await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NOT NULL AND message_key = ANY($1::text[])", keys)


async def test_broker_restart_loses_no_event(own_stack):
    stack = own_stack
    pool = await create_pool(stack.dsn, 1, 8)
    keys = talent_keys("brk", KEYS)
    spread = (topics.REGISTRY.name, topics.CONSENT.name)  # events on two topics: the reader reads them all
    relay = relay_process(stack, "relay-broker-restart")
    relay.start()
    before, stop_before = Seen(), asyncio.Event()
    reader = asyncio.create_task(read_all_topics(stack.bootstrap, before, set(keys), stop_before, timeout=120))
    try:

        async def write() -> None:
            for i in range(EVENTS // PER_TRANSACTION):
                await append(pool, keys[i % KEYS], PER_TRANSACTION, spread[i % KEYS % 2])
                await asyncio.sleep(0.02)  # a steady stream over a few seconds, not one burst

        writer = asyncio.create_task(write())
        while await _published(pool, keys) < KILL_AFTER_PUBLISHED:
            await asyncio.sleep(0.01)
        stop_before.set()  # (aiokafka's consumer.stop() raises when its broker died under it)
        await reader
        stack.tansu.child.kill()  # SIGKILL: its memory (topics, records) is gone
        in_flight = EVENTS - await _published(pool, keys)
        last_id, restarted_at = await pool.fetchrow("SELECT max(id), now() FROM outbox")
        stack.tansu.start()  # same port: the relay's producer reconnects to an empty broker
        restarted = time.monotonic()
        # Every row that existed at the restart is (re)published to the new broker after it:
        while await pool.fetchval(
            "SELECT count(*) FROM outbox WHERE id <= $1 AND message_key = ANY($2::text[]) AND (published_at IS NULL OR published_at < $3)",
            last_id, keys, restarted_at,
        ):  # fmt: skip
            assert time.monotonic() - restarted < 30, "rows written before the restart were not republished within 30 s"
            await asyncio.sleep(0.05)
        republish_s = time.monotonic() - restarted
        await writer
        await wait_drained(pool, keys, timeout=60)
        order = await committed(pool, keys)
    finally:
        relay.stop()
        await pool.close()

    assert sum(len(ids) for ids in order.values()) == EVENTS
    want = {e for ids in order.values() for e in ids}
    after = Seen()
    await read_all_topics(stack.bootstrap, after, set(keys), want, timeout=60)

    missing = want - after.ids()
    assert not missing, f"{len(missing)} of {EVENTS} events never reached the new broker"
    assert order_broken(after, order) == [], "per-talent order broken on the new broker"
    assert order_broken(before, order) == [], "per-talent order broken on the old broker"
    relay_log = relay.log_path.read_text()
    assert "broker lost its state" in relay_log
    print(
        f"\nbroker SIGKILLed after {EVENTS - in_flight} of {EVENTS} events were acknowledged ({in_flight} not yet: written before or during the outage);"
        f" the old broker's reader had seen {len(before.ids())};"
        f" every earlier row republished {republish_s:.2f}s after the restart; the new broker holds {after.records} records"
        f" for {EVENTS} events ({after.records - EVENTS} duplicates)"
    )


async def test_relay_on_a_production_broker_never_deletes_a_topic(own_stack):
    """A real cluster whose marker topic vanished (retention, an ACL change, an operator) still
    holds its consumers' data: a relay not told the broker is throwaway reports the anomaly and
    keeps publishing; it deletes, recreates and replays nothing. Here an operator widened the
    consent topic to 6 partitions (the configured count is 3) and wrote a record to it, then the
    marker went away."""
    stack = own_stack
    pool = await create_pool(stack.dsn, 1, 4)
    [key] = talent_keys("prod", 1)
    stop = asyncio.Event()
    relay = OutboxRelay(stack.dsn, stack.bootstrap, RelaySettings(throwaway_broker=False, poll_interval_seconds=0.1))
    running = asyncio.create_task(relay.run(stop))
    producer = kafka.producer(stack.bootstrap)
    await producer.start()
    try:
        await append(pool, key, 3)
        await wait_drained(pool, [key], timeout=30)  # first round: the relay made its marker
        assert kafka.RELAY_MARKER.name in await kafka.topic_partitions(producer)
        first_published = await pool.fetch("SELECT id, published_at FROM outbox WHERE message_key = $1 ORDER BY id", key)

        widened = Topic(topics.CONSENT.name, 6, topics.CONSENT.retention_ms)
        await kafka.delete_topics(stack.bootstrap, [topics.CONSENT.name])
        await kafka.create_topics(stack.bootstrap, (widened,), attempts=1)
        await producer.send_and_wait(topics.CONSENT.name, b"consumers' data", key=b"operator-record")
        await kafka.delete_topics(stack.bootstrap, [kafka.RELAY_MARKER.name])

        await append(pool, key, 3, topics.CONSENT.name)
        await append(pool, key, 3, topics.REGISTRY.name)
        await wait_drained(pool, [key], timeout=30)  # publishing continued
        partitions = await kafka.topic_partitions(producer)
        missing_gauge = prometheus_client.REGISTRY.get_sample_value("likeness_relay_marker_missing")
    finally:
        stop.set()
        await running
        await producer.stop()

    assert partitions[topics.CONSENT.name] == 6, "the relay deleted or recreated the operator's topic"
    assert kafka.RELAY_MARKER.name not in partitions, "the relay recreated its marker on a production broker"
    assert missing_gauge == 1.0
    assert await pool.fetch("SELECT id, published_at FROM outbox WHERE message_key = $1 AND id <= $2 ORDER BY id",
                            key, first_published[-1]["id"]) == first_published, "rows were re-queued (replayed)"  # fmt: skip
    await pool.close()

    consumer = kafka.consumer(stack.bootstrap, topics.CONSENT.name)
    await consumer.start()
    keys: list[bytes] = []
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and keys.count(key.encode()) < 3:
            for part in (await consumer.getmany(timeout_ms=200)).values():
                keys.extend(record.key for record in part)
    finally:
        await consumer.stop()
    assert b"operator-record" in keys, "the record written before the marker vanished is gone"
    assert keys.count(key.encode()) == 3, "events written after the marker vanished were not all published"
