"""Transactional outbox (writer side) and the relay that publishes it to Kafka.

Writer: `append_events(conn, topic, events)` inside the transaction that changes state. It takes a
transaction-scoped advisory lock first, so outbox ids are allocated in commit order (the technique
pyeventsourcing uses for notification ids): the relay, reading `ORDER BY id`, can never publish row
N+1 and later find a row N that committed after it. Call it last in the transaction: the lock is
held until commit.

Relay: one leader per database (session advisory lock); a standby takes over when the leader's
connection dies. Each round reads unpublished rows in id order, sends them all (acks=all, key =
talent or aggregate id, `event_id`, `event_type` and CloudEvents headers: events.record_headers), waits for every ack and only then
marks them published. A crash anywhere republishes the round: at-least-once, duplicates share the
event_id. A NOTIFY from committing writers wakes the relay at once; a slow poll is the fallback.
Before and after each round the relay checks that the broker still holds its marker topic: a broker
that lost its state (Tansu's memory storage, restarted) lost every record it had acknowledged too,
so on a broker declared throwaway (`RelaySettings.throwaway_broker`: the dev stack, tests) the relay
rebuilds the topics and re-queues what it published recently (`_check_broker`). On any other broker
a missing marker is only reported (log, `likeness_relay_marker_missing`): a real cluster whose
marker went away (retention, an ACL change, an operator) still holds its consumers' data, and the
relay never deletes or recreates a topic there.
After each round the leader counts the backlog and the age of its oldest row for Prometheus
(`metrics.OUTBOX_*`, `metrics.RELAY_LEADER`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import asyncpg
import structlog

from likeness.events.v1 import events_pb2

from . import kafka, metrics
from .errors import ResourceExhausted
from .events import event_type, message_key, record_headers
from .settings import RelaySettings
from .topics import ALL_TOPICS

log = structlog.get_logger("likeness.outbox")

_OBSERVE_SECONDS = 1.0  # how often the leader counts its backlog for the metrics

_OUTBOX_WRITE_LOCK = 0x4C4B_4F42  # "LKOB"
_RELAY_LEADER_LOCK = 0x4C4B_524C  # "LKRL"
CHANNEL = "likeness_outbox"


async def append_events(conn: asyncpg.Connection, topic: str, events: Iterable[events_pb2.Event]) -> None:
    rows = [
        (e.event_id, topic, message_key(e), event_type(e), e.SerializeToString(deterministic=True)) for e in events
    ]
    if not rows:
        return
    for _, _, _, kind, payload in rows:
        if len(payload) > kafka.MAX_EVENT_BYTES:  # refused here, with the change, not by the broker forever after
            raise ResourceExhausted(f"a {kind} event of {len(payload)} bytes is over the {kafka.MAX_EVENT_BYTES}-byte limit of an event",
                                    reason="EVENT_TOO_LARGE")  # fmt: skip
    await take_write_lock(conn)
    await conn.executemany(
        "INSERT INTO outbox (event_id, topic, message_key, event_type, payload) VALUES ($1::uuid, $2, $3, $4, $5)",
        rows,
    )
    await conn.execute(f"NOTIFY {CHANNEL}")


async def take_write_lock(conn: asyncpg.Connection) -> None:
    """The transaction-scoped lock that orders outbox (and audit) writes by commit. Re-entrant
    within one transaction; released at commit or rollback."""
    if not conn.is_in_transaction():
        raise RuntimeError("append_events must run inside the transaction that changes state")
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _OUTBOX_WRITE_LOCK)


async def backlog(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")


class BrokerReset(Exception):
    """The broker lost its state since the last check: the round is not marked published."""


class OutboxRelay:
    def __init__(self, database_url: str, kafka_bootstrap: str, settings: RelaySettings | None = None) -> None:
        self._dsn = database_url
        self._bootstrap = kafka_bootstrap
        self._settings = settings or RelaySettings()
        self._wake = asyncio.Event()
        self.published = 0
        self._marker_seen_at: datetime | None = None  # when this relay last found its marker topic
        self._guard = True  # off once the marker topic cannot be created: no detection, no replays
        self._marker_missing = False  # reported missing (not a throwaway broker) and not seen since
        self._observed_at = 0.0  # monotonic time of the last backlog count

    async def run(self, stop: asyncio.Event) -> None:
        """Wait for leadership, then publish until `stop` is set or leadership is lost."""
        while not stop.is_set():
            leader = await self._become_leader(stop)
            if leader is None:
                return
            try:
                await self._lead(leader, stop)
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, kafka.KafkaError) as error:
                log.warning("relay lost the database or broker; retrying", error=repr(error))
                await _sleep_or_stop(stop, self._settings.leader_retry_seconds)
            finally:
                metrics.RELAY_LEADER.set(0)
                with contextlib.suppress(Exception):
                    await leader.close()

    async def _become_leader(self, stop: asyncio.Event) -> asyncpg.Connection | None:
        announced = False
        while not stop.is_set():
            try:
                conn = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("relay cannot reach the database", error=repr(error))
                await _sleep_or_stop(stop, self._settings.leader_retry_seconds)
                continue
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RELAY_LEADER_LOCK):
                log.info("relay is leader")
                return conn
            await conn.close()
            if not announced:
                log.info("relay on standby: another relay leads")
                announced = True
            await _sleep_or_stop(stop, self._settings.leader_retry_seconds)
        return None

    async def _lead(self, leader: asyncpg.Connection, stop: asyncio.Event) -> None:
        await leader.add_listener(CHANNEL, lambda *_: self._wake.set())
        await self._observe_backlog(leader, force=True)
        metrics.RELAY_LEADER.set(1)  # after the first count: a leader's backlog gauge is never a default
        producer = await _started_producer(self._bootstrap)
        try:
            while not stop.is_set():
                await leader.execute("SELECT 1")  # still leader: the lock lives on this connection
                self._wake.clear()
                try:
                    sent = await self._publish_round(leader, producer)
                except BrokerReset:  # a fresh producer: its metadata must not describe the old topics
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    await _sleep_or_stop(stop, 0.05)  # never a tight loop, whatever the broker does
                    producer = await _started_producer(self._bootstrap)
                    continue
                except kafka.KafkaError as error:
                    log.warning("broker unavailable; outbox keeps the events", error=repr(error))
                    await self._observe_backlog(leader)
                    await _sleep_or_stop(stop, self._settings.poll_interval_seconds)
                    continue
                await self._observe_backlog(leader)
                if sent < self._settings.batch_size:
                    await _wait_any(stop, self._wake, self._settings.poll_interval_seconds)
        finally:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _publish_round(self, conn: asyncpg.Connection, producer: kafka.AIOKafkaProducer) -> int:
        rows = await conn.fetch(
            "SELECT id, event_id, topic, message_key, event_type, payload FROM outbox "
            "WHERE published_at IS NULL ORDER BY id LIMIT $1",
            self._settings.batch_size,
        )
        if not rows:
            return 0
        if await self._check_broker(conn, producer):
            raise BrokerReset
        acks = []
        for row in rows:
            headers = record_headers(row["topic"], str(row["event_id"]), row["event_type"], row["payload"])
            acks.append(
                await producer.send(
                    row["topic"], value=row["payload"], key=row["message_key"].encode(), headers=headers
                )
            )
        await asyncio.gather(*acks)
        if await self._check_broker(conn, producer):  # acks from a broker that restarted mid-round
            raise BrokerReset
        marked = await conn.fetch(
            "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[]) "
            "RETURNING topic, extract(epoch FROM published_at - created_at)::float8 AS lag",
            [r["id"] for r in rows],
        )
        self.published += len(rows)
        for row in marked:
            metrics.OUTBOX_PUBLISHED.labels(row["topic"]).inc()
            metrics.OUTBOX_PUBLISH_LAG.observe(row["lag"])
        log.debug("outbox round published", rows=len(rows), last_id=rows[-1]["id"])
        return len(rows)

    async def _observe_backlog(self, conn: asyncpg.Connection, force: bool = False) -> None:
        """Backlog and oldest-row age for Prometheus, at most once per `_OBSERVE_SECONDS`: the count
        scans every unpublished row, which after an outage is the whole backlog, round after round."""
        now = time.monotonic()
        if not force and now - self._observed_at < _OBSERVE_SECONDS:
            return
        self._observed_at = now
        row = await conn.fetchrow(
            "SELECT count(*) AS rows, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest "
            "FROM outbox WHERE published_at IS NULL"
        )
        metrics.OUTBOX_BACKLOG.set(row["rows"])
        metrics.OUTBOX_OLDEST_SECONDS.set(max(row["oldest"], 0.0))

    async def _check_broker(self, conn: asyncpg.Connection, producer: kafka.AIOKafkaProducer) -> bool:
        """Has the broker lost its state since we last looked? The relay keeps an empty marker topic
        on the broker. Present: same broker. Missing although this relay saw it before: the broker
        restarted empty (Tansu's memory storage). Everything it had acknowledged is gone, and a stale
        producer writing to it made it auto-create topics (its own partition count; it dropped the
        record that created each). So: delete the topics whose partition count is not the configured
        one (made up by the broker; a topic an operator made right stays), create every missing
        topic, and mark unpublished again the rows published from `settings.replay_window_seconds`
        before the broker was last seen whole: the next rounds send them once more, in id order,
        before newer rows. Returns True then. All of that only on a throwaway broker; on any other
        a vanished marker is reported and nothing is deleted, created or replayed. Missing and never
        seen (first run): create what is missing, nothing to replay. When the marker cannot be
        created (no permission to create topics), the relay publishes without this detection and
        says so once."""
        if not self._guard:
            return False
        partitions = await kafka.topic_partitions(producer)
        if kafka.RELAY_MARKER.name in partitions:
            self._marker_seen_at = datetime.now(UTC)
            self._report_marker(missing=False)
            return False
        lost = self._marker_seen_at is not None
        if lost and not self._settings.throwaway_broker:
            self._report_marker(missing=True, partitions=partitions)
            return False
        try:
            if lost:  # only topics the broker made up itself: a topic with its configured partitions stays
                made_up = [t.name for t in ALL_TOPICS if t.name in partitions and partitions[t.name] != t.partitions]
                await kafka.delete_topics(self._bootstrap, made_up)
            await kafka.create_topics(self._bootstrap, (*ALL_TOPICS, kafka.RELAY_MARKER), attempts=1)
            created = kafka.RELAY_MARKER.name in await kafka.topic_partitions(producer)
        except kafka.KafkaError:
            raise
        except Exception as error:  # e.g. the admin API refused
            log.warning("cannot create the relay's marker topic", error=repr(error))
            created = False
        if not created:  # e.g. no permission to create topics (the admin API reports it per topic)
            log.warning("relay marker topic unavailable: publishing without broker-reset detection")
            self._guard = False
            return False
        marker_seen_at, self._marker_seen_at = self._marker_seen_at, datetime.now(UTC)
        if lost:  # the window ends where the broker was last seen whole (the reset came after it)
            status = await conn.execute(
                "UPDATE outbox SET published_at = NULL WHERE published_at > $1::timestamptz - make_interval(secs => $2)",
                marker_seen_at, self._settings.replay_window_seconds,
            )
            log.warning("broker lost its state: topics rebuilt, recent rows re-queued", rows=int(status.split()[-1]))
        return lost

    def _report_marker(self, *, missing: bool, partitions: dict[str, int] | None = None) -> None:
        """Once per episode: the marker vanished from a broker that is not throwaway (or came back)."""
        if missing and not self._marker_missing:
            differ = {t.name: partitions.get(t.name) for t in ALL_TOPICS if partitions.get(t.name) != t.partitions}
            log.error(
                "relay marker topic vanished from the broker; not a throwaway broker, so nothing is deleted, "
                "recreated or replayed: check the cluster (lost state, retention, ACLs); publishing continues",
                marker=kafka.RELAY_MARKER.name, topics_not_as_configured=differ,
            )  # fmt: skip
        elif not missing and self._marker_missing:
            log.info("relay marker topic is back")
        self._marker_missing = missing
        metrics.RELAY_MARKER_MISSING.set(int(missing))


async def _started_producer(bootstrap: str) -> kafka.AIOKafkaProducer:
    producer = kafka.producer(bootstrap)
    await producer.start()
    return producer


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
