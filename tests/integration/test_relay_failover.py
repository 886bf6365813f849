"""Two relays on one outbox: only the leader publishes; when it dies (SIGKILL), the standby takes
over within seconds and nothing is lost."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from likeness.events.v1 import events_pb2
from likeness_common import topics
from likeness_common.events import new_event
from likeness_common.outbox import append_events
from tests.support import relay_process


async def _append(pool, key: str, n: int) -> None:
    events = [new_event(events_pb2.TalentRegistered(talent_id=key, display_name=f"e{i}"), talent_id=key, aggregate_id=key) for i in range(n)]
    async with pool.acquire() as conn, conn.transaction():
        await append_events(conn, topics.REGISTRY.name, events)


async def _seconds_until_published(pool, key: str, timeout: float = 30.0) -> float:
    started = time.monotonic()
    while await pool.fetchval("SELECT count(*) FROM outbox WHERE message_key = $1 AND published_at IS NULL", key):
        if time.monotonic() - started > timeout:
            pytest.fail(f"events of {key} not published within {timeout}s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def _wait_for_log(path, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and text in path.read_text()):
        if time.monotonic() > deadline:
            pytest.fail(f"{path.name} never said {text!r}")
        await asyncio.sleep(0.05)


async def test_standby_relay_takes_over_when_the_leader_is_killed(stack, pool):
    first, second = relay_process(stack, f"relay-a-{uuid.uuid4().hex[:6]}"), relay_process(stack, f"relay-b-{uuid.uuid4().hex[:6]}")
    first.start()
    try:
        await _wait_for_log(first.log_path, "relay is leader")
        second.start()
        await _wait_for_log(second.log_path, "relay on standby")
        before = f"tal_failover_{uuid.uuid4().hex}"
        await _append(pool, before, 50)
        await _seconds_until_published(pool, before)
        first.kill()  # SIGKILL: its session (and advisory lock) dies with the TCP connection
        after = f"tal_failover_{uuid.uuid4().hex}"
        await _append(pool, after, 50)
        took = await _seconds_until_published(pool, after)
        assert "relay is leader" in second.log_path.read_text()
        assert took < 5.0, f"standby took {took:.2f}s to take over"
        print(f"\nstandby relay published {took:.2f}s after the leader was SIGKILLed")
    finally:
        first.kill()
        second.stop()
