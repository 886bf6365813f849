"""PostgreSQL is restarted (fast shutdown, then start) while registry and consent RPCs run on a
stack of their own: during the outage RPCs fail with UNAVAILABLE, never INTERNAL; afterwards they
succeed on the same pools; and no talent, mandate, grant or outbox row is half-written."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import grpc
import pytest

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.consent.v1 import consent_pb2_grpc
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.events.v1 import events_pb2
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.registry.v1 import registry_pb2_grpc
from likeness_common.crypto import load_kek
from likeness_common.db import create_pool
from tests.conftest import bearer, unique
from tests.support import rid

pytestmark = pytest.mark.faults

WORKERS = 6  # concurrent callers per RPC
OK_AFTER = 20  # successes of each RPC after the restart that end the run
UNAVAILABLE_WHILE_DOWN = 100  # failed calls seen before Postgres starts again


def grant_request(talent_id: str, platform_id: str) -> cpb.CreateGrantRequest:
    grant = cpb.Grant(talent_id=talent_id, platform_id=platform_id, modalities=[epb.MODALITY_FACE],
                      purposes=[cpb.PURPOSE_ADVERTISING], territories=["US"], terms_ref="fault")  # fmt: skip
    return cpb.CreateGrantRequest(request_id=rid(), grant=grant)


async def test_postgres_restart_gives_unavailable_then_recovers_with_nothing_half_written(own_stack):
    from consent.bootstrap import ConsentSettings
    from consent.bootstrap import build_app as build_consent
    from registry.bootstrap import RegistrySettings
    from registry.bootstrap import build_app as build_registry

    stack = own_stack
    pool = await create_pool(stack.dsn, 1, 10)
    registry = build_registry(pool, RegistrySettings(port=0, shutdown_grace_seconds=0.5))
    consent = build_consent(pool, stack.dsn, load_kek(None, stack.kek_file), ConsentSettings(port=0, shutdown_grace_seconds=0.5, expiry_sweep_seconds=3600))
    reg_port, consent_port = await registry.start(), await consent.start()
    reg_channel = grpc.aio.insecure_channel(f"127.0.0.1:{reg_port}")
    consent_channel = grpc.aio.insecure_channel(f"127.0.0.1:{consent_port}")
    try:
        reg, grants = registry_pb2_grpc.RegistryServiceStub(reg_channel), consent_pb2_grpc.ConsentServiceStub(consent_channel)
        op = bearer(stack.operator_key)
        agency = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("ag")), metadata=op)
        platform = await reg.RegisterPlatform(rpb.RegisterPlatformRequest(request_id=rid(), display_name=unique("pl")), metadata=op)
        md = bearer(agency.api_key)
        talent = (await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name="t"), metadata=md)).talent.talent_id

        outcomes: list[tuple[str, str, float]] = []  # (rpc, code, when)
        restarted_at: list[float] = []

        def ok_after(rpc: str) -> int:
            return sum(1 for r, code, t in outcomes if r == rpc and code == "OK" and restarted_at and t > restarted_at[0])

        async def call(rpc: str, make) -> None:
            while ok_after("RegisterTalent") < OK_AFTER or ok_after("CreateGrant") < OK_AFTER:
                try:
                    await make()
                    code = "OK"
                except grpc.aio.AioRpcError as error:
                    code = error.code().name
                outcomes.append((rpc, code, time.monotonic()))
                await asyncio.sleep(0.01)

        async def register() -> None:
            await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name="t"), metadata=md, timeout=10)

        async def grant() -> None:
            await grants.CreateGrant(grant_request(talent, platform.platform.platform_id), metadata=md, timeout=10)

        async def outage() -> None:
            while len(outcomes) < 100:  # under load first
                await asyncio.sleep(0.01)
            down = time.monotonic()
            await asyncio.to_thread(stack.postgres.stop)  # fast shutdown: sessions are terminated
            while sum(1 for _, code, t in outcomes if code == "UNAVAILABLE" and t > down) < UNAVAILABLE_WHILE_DOWN:
                await asyncio.sleep(0.01)
            await asyncio.to_thread(stack.postgres.start_again)
            restarted_at.append(time.monotonic())
            outcomes.append(("restart", f"{restarted_at[0] - down:.2f}s", down))

        started = time.monotonic()
        await asyncio.wait_for(
            asyncio.gather(outage(), *(call("RegisterTalent", register) for _ in range(WORKERS)),
                           *(call("CreateGrant", grant) for _ in range(WORKERS))),  # fmt: skip
            timeout=90,
        )
        took = time.monotonic() - started
    finally:
        await reg_channel.close()
        await consent_channel.close()
        await registry.stop()
        await consent.stop()

    codes = Counter((rpc, code) for rpc, code, _ in outcomes if rpc != "restart")
    assert {code for _, code in codes} <= {"OK", "UNAVAILABLE"}, f"unexpected codes: {codes}"
    assert codes[("RegisterTalent", "UNAVAILABLE")] + codes[("CreateGrant", "UNAVAILABLE")] > 0, "the outage was never seen"
    for rpc in ("RegisterTalent", "CreateGrant"):
        last = [code for r, code, _ in outcomes if r == rpc][-WORKERS:]
        assert last == ["OK"] * WORKERS, f"{rpc} still failing after the restart: {last}"

    # Nothing half-written: every talent of the agency has its mandate and both events; every grant its event.
    half = await pool.fetch(
        """SELECT t.talent_id FROM talent t JOIN mandates m USING (talent_id)
           WHERE m.agency_id = $1 AND (SELECT count(*) FROM outbox o WHERE o.message_key = t.talent_id
                                       AND o.event_type IN ('TalentRegistered', 'MandateGranted')) <> 2""",
        agency.agency.agency_id,
    )
    assert half == [], f"talent without their events: {half}"
    orphans = await pool.fetchval("SELECT count(*) FROM talent t WHERE NOT EXISTS (SELECT 1 FROM mandates m WHERE m.talent_id = t.talent_id)")
    assert orphans == 0, "talent without a mandate"
    registered = await pool.fetchval("SELECT count(*) FROM mandates WHERE agency_id = $1", agency.agency.agency_id)
    grant_ids = {r["grant_id"] for r in await pool.fetch("SELECT grant_id::text FROM grants WHERE talent_id = $1", talent)}
    events = [events_pb2.Event.FromString(r["payload"]) for r in await pool.fetch(
        "SELECT payload FROM outbox WHERE message_key = $1 AND event_type = 'ConsentGranted'", talent)]  # fmt: skip
    assert {e.aggregate_id for e in events} == grant_ids, "grants and ConsentGranted events differ"
    assert len(events) == len(grant_ids)
    await pool.close()
    print(
        f"\npostgres was down for {next(c for r, c, _ in outcomes if r == 'restart')} under load; outcomes {dict(codes)};"
        f" {registered} talent and {len(grant_ids)} grants written, none half-written; run {took:.1f}s"
    )
