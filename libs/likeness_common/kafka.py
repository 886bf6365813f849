"""aiokafka clients with the settings this product relies on."""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

__all__ = [
    "MAX_EVENT_BYTES", "RELAY_MARKER", "AIOKafkaConsumer", "AIOKafkaProducer", "KafkaError", "consumer", "create_topics", "delete_topics",
    "producer", "topic_partitions",
]
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from .topics import ALL_TOPICS, Topic

log = structlog.get_logger("likeness.kafka")

# An empty topic the outbox relay creates and watches: gone means the broker lost its state.
RELAY_MARKER = Topic("likeness.relay.marker", 1, 7 * 24 * 3600 * 1000)


# The largest event the outbox takes: under the producer's max_request_size and the broker's
# message.max.bytes (both 1 MiB by default) with room for the key and headers. A larger one would
# be refused by the broker on every retry and hold every event behind it in the outbox.
MAX_EVENT_BYTES = 900 * 1024


def producer(bootstrap: str) -> AIOKafkaProducer:
    # acks="all": a record counts as published only once every in-sync replica has it.
    # No idempotent producer: the outbox relay gives at-least-once delivery with event_id dedupe
    # (and Tansu does not implement idempotent producers).
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        request_timeout_ms=10_000,
        client_id="likeness-relay",
    )


def consumer(bootstrap: str, *topics: str, group_id: str | None = None) -> AIOKafkaConsumer:
    # auto_offset_reset="earliest": Tansu's end offsets are unreliable, and a new consumer group
    # must see history anyway. Short waits keep tests and tails responsive.
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=group_id is not None,
        fetch_max_wait_ms=20,
        session_timeout_ms=6_000,
        heartbeat_interval_ms=500,
    )


async def topic_partitions(client: AIOKafkaProducer) -> dict[str, int]:
    """Partitions per topic the broker holds now: one metadata request on the producer's connection."""
    cluster = await client.client.fetch_all_metadata()
    return {name: len(cluster.partitions_for_topic(name) or ()) for name in cluster.topics()}


async def delete_topics(bootstrap: str, names: list[str]) -> None:
    if not names:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000)
    try:
        await admin.start()
        await admin.delete_topics(names)
        log.info("topics deleted", topics=names)
    finally:
        await admin.close()


async def create_topics(bootstrap: str, topics: tuple[Topic, ...] = ALL_TOPICS, attempts: int = 20) -> list[str]:
    """Create the topics that are missing (idempotent), retrying while the broker starts; return
    the names it created."""
    for attempt in range(attempts):
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [
                NewTopic(t.name, t.partitions, 1, topic_configs={"retention.ms": str(t.retention_ms)})
                for t in topics
                if t.name not in existing
            ]
            if missing:
                try:
                    await admin.create_topics(missing)
                except TopicAlreadyExistsError:
                    pass
                log.info("topics created", topics=[t.name for t in missing])
            return [t.name for t in missing]
        except Exception as error:  # broker still starting
            if attempt == attempts - 1:
                raise
            log.debug("broker not ready", error=repr(error))
            await asyncio.sleep(0.25)
        finally:
            await admin.close()
    return []  # attempts=0
