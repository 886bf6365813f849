"""The transactional outbox and its relay, on the real Postgres and broker."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict

import pytest

from likeness.events.v1 import events_pb2
from likeness.registry.v1 import registry_pb2 as pb
from likeness.registry.v1 import registry_pb2_grpc
from likeness_common import topics
from likeness_common.events import new_event
from likeness_common.outbox import append_events
from tests.conftest import bearer, unique
from tests.support import consume, relay_process, wait_drained

REGISTRATIONS = 1000
KILLS = 3


async def test_state_change_and_event_commit_together_or_not_at_all(pool):
    talent_id = f"tal_{uuid.uuid4().hex}"
    event = new_event(events_pb2.TalentRegistered(talent_id=talent_id, display_name="x"), talent_id=talent_id, aggregate_id=talent_id)
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await append_events(conn, topics.REGISTRY.name, [event])
        with pytest.raises(ZeroDivisionError):
            async with conn.transaction():
                await conn.execute("INSERT INTO talent (talent_id, display_name, created_at) VALUES ($1, 'x', now())", talent_id)
                await append_events(conn, topics.REGISTRY.name, [event])
                1 / 0
    assert await pool.fetchval("SELECT count(*) FROM talent WHERE talent_id = $1", talent_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE message_key = $1", talent_id) == 0


async def test_an_event_the_broker_would_refuse_is_refused_with_its_change(pool):
    """Past the broker's message size an event would be refused on every retry and hold every event
    behind it in the outbox: it is refused at write time instead, and its change rolls back."""
    from likeness_common.errors import ResourceExhausted
    from likeness_common.kafka import MAX_EVENT_BYTES

    talent_id = f"tal_{uuid.uuid4().hex}"
    huge = new_event(events_pb2.TalentRegistered(talent_id=talent_id, display_name="x" * (MAX_EVENT_BYTES + 1)),
                     talent_id=talent_id, aggregate_id=talent_id)  # fmt: skip
    async with pool.acquire() as conn:
        with pytest.raises(ResourceExhausted) as caught:
            async with conn.transaction():
                await conn.execute("INSERT INTO talent (talent_id, display_name, created_at) VALUES ($1, 'x', now())", talent_id)
                await append_events(conn, topics.REGISTRY.name, [huge])
    assert caught.value.reason == "EVENT_TOO_LARGE"
    assert await pool.fetchval("SELECT count(*) FROM talent WHERE talent_id = $1", talent_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE message_key = $1", talent_id) == 0


async def test_thousand_registrations_survive_relay_kills(stack, channel, pool):
    stub = registry_pb2_grpc.RegistryServiceStub(channel)
    created = await stub.RegisterAgency(
        pb.RegisterAgencyRequest(request_id=str(uuid.uuid4()), display_name=unique("outbox")), metadata=bearer(stack.operator_key)
    )
    md = bearer(created.api_key)
    relay = relay_process(stack, "relay-kill-test")
    relay.start()
    rng = random.Random()
    kill_at = sorted(rng.sample(range(100, REGISTRATIONS - 100), KILLS))
    progress = asyncio.Queue()
    kills_done = 0

    async def register(i: int, gate: asyncio.Semaphore) -> str:
        async with gate:
            resp = await stub.RegisterTalent(pb.RegisterTalentRequest(request_id=str(uuid.uuid4()), display_name=f"T{i}"), metadata=md)
            # A third event per talent makes the per-talent order check meaningful.
            await stub.EndMandate(pb.EndMandateRequest(request_id=str(uuid.uuid4()), mandate_id=resp.mandate.mandate_id), metadata=md)
            progress.put_nowait(1)
            return resp.talent.talent_id

    async def chaos() -> None:
        nonlocal kills_done
        done = 0
        for threshold in kill_at:
            while done < threshold:
                done += await progress.get()
            relay.kill()  # SIGKILL: no goodbye, possibly mid-round
            kills_done += 1
            await asyncio.sleep(rng.uniform(0.05, 0.5))
            relay.start()

    gate = asyncio.Semaphore(16)
    try:
        talent_ids, _ = await asyncio.gather(asyncio.gather(*(register(i, gate) for i in range(REGISTRATIONS))), chaos())
        assert kills_done == KILLS
        await wait_drained(pool, list(talent_ids))
    finally:
        relay.stop()

    expected = await pool.fetch(
        "SELECT id, event_id::text AS event_id, message_key FROM outbox WHERE message_key = ANY($1::text[]) ORDER BY id",
        list(talent_ids),
    )
    assert len(expected) == 3 * REGISTRATIONS
    records = await consume(stack.bootstrap, topics.REGISTRY.name, set(talent_ids), {r["event_id"] for r in expected})

    payload_by_id: dict[str, bytes] = {}
    first_seen: dict[str, list[str]] = defaultdict(list)
    for record in records:
        header_id = dict(record.headers)["event_id"].decode()
        event = events_pb2.Event.FromString(record.value)
        assert event.event_id == header_id, "header and payload event_id differ"
        assert record.key.decode() == event.talent_id
        if header_id in payload_by_id:
            assert payload_by_id[header_id] == record.value, "a duplicate differs from its first copy"
        else:
            payload_by_id[header_id] = record.value
            first_seen[event.talent_id].append(header_id)

    missing = {r["event_id"] for r in expected} - payload_by_id.keys()
    assert not missing, f"{len(missing)} events never reached Kafka"
    committed_order: dict[str, list[str]] = defaultdict(list)
    for row in expected:
        committed_order[row["message_key"]].append(row["event_id"])
    out_of_order = [t for t in talent_ids if first_seen[t] != committed_order[t]]
    assert out_of_order == [], f"per-talent order broken for {len(out_of_order)} talent"
    print(f"\n{len(records)} records for {len(expected)} events ({len(records) - len(expected)} duplicates) after {KILLS} relay kills")
