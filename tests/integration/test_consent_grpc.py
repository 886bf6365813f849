"""Consent over real gRPC, Postgres and the broker: mandates, signing, revocation with consistency
tokens across two replicas, expiry, key rotation, events, audit chain."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import prometheus_client
import pytest

from consent.adapters.postgres import CachedConsentView, PostgresConsentUnitOfWork
from consent.service_layer import handlers as consent_handlers
from likeness.consent.v1 import consent_pb2 as cpb
from likeness.consent.v1 import consent_pb2_grpc
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.events.v1 import events_pb2
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.registry.v1 import registry_pb2_grpc
from likeness_common import topics
from likeness_common.db import create_pool
from likeness_common.errors import Unavailable
from likeness_common.proto import ts
from likeness_common.signing import Signature, SignatureError, envelope, verify_envelope
from likeness_devstack import Child, free_port
from tests.conftest import bearer, unique
from tests.support import consume, relay_process, rid, wait_drained


@pytest.fixture(scope="module")
async def world(stack, channel):
    """An agency with one talent, a second agency without a mandate, two platforms."""
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    op = bearer(stack.operator_key)
    agency = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("ag")), metadata=op)
    other = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("ag")), metadata=op)
    plat = await reg.RegisterPlatform(rpb.RegisterPlatformRequest(request_id=rid(), display_name=unique("pl")), metadata=op)
    plat2 = await reg.RegisterPlatform(rpb.RegisterPlatformRequest(request_id=rid(), display_name=unique("pl")), metadata=op)

    async def new_talent() -> str:
        resp = await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name=unique("t")), metadata=bearer(agency.api_key))
        return resp.talent.talent_id

    return {
        "op": op, "agency": bearer(agency.api_key), "other": bearer(other.api_key),
        "platform_id": plat.platform.platform_id, "platform": bearer(plat.api_key),
        "platform2_id": plat2.platform.platform_id, "platform2": bearer(plat2.api_key),
        "new_talent": new_talent,
    }  # fmt: skip


@pytest.fixture
async def stubs(consent_app, consent_app_b):
    async with grpc.aio.insecure_channel(consent_app.target) as a, grpc.aio.insecure_channel(consent_app_b.target) as b:
        yield consent_pb2_grpc.ConsentServiceStub(a), consent_pb2_grpc.ConsentServiceStub(b)


def grant_request(talent_id: str, platform_id: str, **fields) -> cpb.CreateGrantRequest:
    grant = cpb.Grant(
        talent_id=talent_id, platform_id=platform_id, modalities=[epb.MODALITY_FACE], purposes=[cpb.PURPOSE_ADVERTISING],
        territories=["US", "GB"], conditions=[cpb.Condition(kind="disclosure_label", value="AI-generated")], terms_ref="C-7",
    )  # fmt: skip
    for name, value in fields.items():
        if isinstance(value, list):
            del getattr(grant, name)[:]
            getattr(grant, name).extend(value)
        elif hasattr(value, "CopyFrom"):
            getattr(grant, name).CopyFrom(value)
        else:
            setattr(grant, name, value)
    return cpb.CreateGrantRequest(request_id=rid(), grant=grant)


def check_request(talent_id: str, token: str = "", **fields) -> cpb.CheckConsentRequest:
    base = dict(talent_id=talent_id, modality=epb.MODALITY_FACE, purpose=cpb.PURPOSE_ADVERTISING, territory="US", at_least_as_fresh=token)
    base.update(fields)
    return cpb.CheckConsentRequest(**base)


async def expect(code, call):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    return caught.value


async def test_only_an_agency_with_a_mandate_or_an_operator_may_grant(stubs, world):
    a, _ = stubs
    talent = await world["new_talent"]()
    req = grant_request(talent, world["platform_id"])
    err = await expect(grpc.StatusCode.PERMISSION_DENIED, a.CreateGrant(req, metadata=world["other"]))
    assert "mandate" in err.details()
    await expect(grpc.StatusCode.PERMISSION_DENIED, a.CreateGrant(req, metadata=world["platform"]))
    await expect(grpc.StatusCode.UNAUTHENTICATED, a.CreateGrant(req))
    by_operator = await a.CreateGrant(grant_request(talent, world["platform_id"]), metadata=world["op"])
    assert by_operator.grant.issuer.kind == "operator"
    granted = await a.CreateGrant(req, metadata=world["agency"])
    assert granted.grant.issuer.kind == "agency" and granted.grant.state == cpb.GRANT_STATE_ACTIVE
    again = await a.CreateGrant(req, metadata=world["agency"])  # same request_id
    assert again.grant.grant_id == granted.grant.grant_id
    bad = grant_request(talent, world["platform_id"], territories=["ZZ"])
    await expect(grpc.StatusCode.INVALID_ARGUMENT, a.CreateGrant(bad, metadata=world["agency"]))


async def test_check_allows_in_scope_and_explains_denials(stubs, world):
    a, _ = stubs
    talent = await world["new_talent"]()
    created = await a.CreateGrant(grant_request(talent, world["platform_id"]), metadata=world["agency"])
    token = created.consistency_token
    ok = await a.CheckConsent(check_request(talent, token), metadata=world["platform"])
    assert ok.allowed and list(ok.grant_ids) == [created.grant.grant_id]
    assert [(c.kind, c.value) for c in ok.conditions] == [("disclosure_label", "AI-generated")]
    for fields, reason in [
        ({"purpose": cpb.PURPOSE_DUBBING}, cpb.DENIAL_REASON_WRONG_PURPOSE),
        ({"modality": epb.MODALITY_VOICE}, cpb.DENIAL_REASON_WRONG_MODALITY),
        ({"territory": "FR"}, cpb.DENIAL_REASON_OUT_OF_TERRITORY),
    ]:
        denied = await a.CheckConsent(check_request(talent, token, **fields), metadata=world["platform"])
        assert not denied.allowed and denied.reason == reason and not denied.grant_ids
    other_platform = await a.CheckConsent(check_request(talent, token), metadata=world["platform2"])
    assert not other_platform.allowed and other_platform.reason == cpb.DENIAL_REASON_WRONG_PLATFORM
    await expect(grpc.StatusCode.PERMISSION_DENIED,
                 a.CheckConsent(check_request(talent, token, platform_id=world["platform2_id"]), metadata=world["platform"]))  # fmt: skip
    await expect(grpc.StatusCode.PERMISSION_DENIED,
                 a.CheckConsent(check_request(talent, token, platform_id=world["platform_id"]), metadata=world["other"]))  # fmt: skip
    by_agency = await a.CheckConsent(check_request(talent, token, platform_id=world["platform_id"]), metadata=world["agency"])
    assert by_agency.allowed
    await expect(grpc.StatusCode.INVALID_ARGUMENT, a.CheckConsent(check_request(talent, "ct1.x"), metadata=world["platform"]))
    await expect(grpc.StatusCode.INVALID_ARGUMENT, a.CheckConsent(check_request(talent, territory="XX"), metadata=world["platform"]))


async def test_revoke_then_check_with_token_never_allows_500_concurrent(stubs, world):
    """Grant and revoke on replica A, check on replica B with the revoke's token: B must catch up
    before answering. The same checks without the token are counted, not asserted (staleness)."""
    a, b = stubs
    talents = [await world["new_talent"]() for _ in range(20)]
    gate = asyncio.Semaphore(40)
    stale_without_token = 0

    async def race(i: int) -> bool:
        nonlocal stale_without_token
        async with gate:
            talent = talents[i % len(talents)]
            created = await a.CreateGrant(grant_request(talent, world["platform_id"]), metadata=world["agency"])
            revoked = await a.RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=created.grant.grant_id, reason="race"),
                                          metadata=world["agency"])  # fmt: skip
            assert revoked.grant.state == cpb.GRANT_STATE_REVOKED
            untokened = await b.CheckConsent(check_request(talent), metadata=world["platform"])
            checked = await b.CheckConsent(check_request(talent, revoked.consistency_token), metadata=world["platform"])
            if created.grant.grant_id in untokened.grant_ids:
                stale_without_token += 1
            return created.grant.grant_id in checked.grant_ids

    stale = await asyncio.gather(*(race(i) for i in range(500)))
    assert sum(stale) == 0, f"{sum(stale)} stale ALLOWs with a consistency token"
    print(f"\nwithout a token: {stale_without_token}/500 checks on replica B still saw the revoked grant")


async def test_revoked_and_expired_grants_never_allow_and_stay_readable(stubs, world, pool):
    a, _ = stubs
    talent = await world["new_talent"]()
    soon = datetime.now(UTC) + timedelta(seconds=1.5)
    created = await a.CreateGrant(grant_request(talent, world["platform_id"], not_after=ts(soon)), metadata=world["agency"])
    assert (await a.CheckConsent(check_request(talent, created.consistency_token), metadata=world["platform"])).allowed
    await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.05)
    expired = await a.CheckConsent(check_request(talent), metadata=world["platform"])
    assert not expired.allowed and expired.reason == cpb.DENIAL_REASON_EXPIRED  # no sweeper has run
    got = await a.GetGrant(cpb.GetGrantRequest(grant_id=created.grant.grant_id), metadata=world["agency"])
    assert got.grant.state == cpb.GRANT_STATE_EXPIRED
    swept = await consent_handlers.expire_due(PostgresConsentUnitOfWork(pool))
    assert created.grant.grant_id in {g.grant_id for g in swept}
    swept_again = await consent_handlers.expire_due(PostgresConsentUnitOfWork(pool))
    assert created.grant.grant_id not in {g.grant_id for g in swept_again}  # announced once
    events = await pool.fetch("SELECT event_type FROM outbox WHERE message_key = $1 ORDER BY id", talent)
    assert [r["event_type"] for r in events][-1] == "ConsentExpired"
    assert sum(r["event_type"] == "ConsentExpired" for r in events) == 1

    second = await a.CreateGrant(grant_request(talent, world["platform_id"]), metadata=world["agency"])
    await a.RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=second.grant.grant_id, reason="withdrawn"), metadata=world["agency"])
    listed = await a.ListGrants(cpb.ListGrantsRequest(talent_id=talent), metadata=world["agency"])
    states = {g.grant_id: g.state for g in listed.grants}
    assert states == {created.grant.grant_id: cpb.GRANT_STATE_EXPIRED, second.grant.grant_id: cpb.GRANT_STATE_REVOKED}
    await expect(grpc.StatusCode.FAILED_PRECONDITION,
                 a.RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=second.grant.grant_id), metadata=world["agency"]))  # fmt: skip
    await expect(grpc.StatusCode.PERMISSION_DENIED, a.ListGrants(cpb.ListGrantsRequest(talent_id=talent), metadata=world["other"]))


def exported(grant: cpb.Grant) -> bytes:
    sig = grant.signature
    return envelope("likeness.grant.v1", sig.canonical_payload, Signature(sig.key_id, sig.algorithm, sig.signature))


async def keys_of(stub) -> dict[str, bytes]:
    resp = await stub.GetSigningKeys(cpb.GetSigningKeysRequest())  # public: no API key
    return {k.key_id: k.public_key for k in resp.keys}


async def test_signatures_verify_offline_survive_rotation_and_catch_tampering(stubs, world):
    a, b = stubs
    talent = await world["new_talent"]()
    old = (await a.CreateGrant(grant_request(talent, world["platform_id"]), metadata=world["agency"])).grant
    doc = exported(old)
    payload = verify_envelope(doc, await keys_of(a), "likeness.grant.v1")
    assert payload["grant_id"] == old.grant_id and payload["territories"] == ["GB", "US"]
    tampered = doc.replace(b'"territories":["GB","US"]', b'"territories":["GB","FR"]')
    assert tampered != doc
    with pytest.raises(SignatureError):
        verify_envelope(tampered, await keys_of(a))
    await expect(grpc.StatusCode.PERMISSION_DENIED, a.RotateSigningKey(cpb.RotateSigningKeyRequest(), metadata=world["agency"]))
    rotated = await a.RotateSigningKey(cpb.RotateSigningKeyRequest(request_id=rid()), metadata=world["op"])
    assert rotated.key.key_id != old.signature.key_id
    deadline = time.monotonic() + 15
    while True:  # replicas pick the new key up within the keyring TTL
        new = (await b.CreateGrant(grant_request(talent, world["platform_id"]), metadata=world["agency"])).grant
        if new.signature.key_id == rotated.key.key_id or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert new.signature.key_id == rotated.key.key_id
    keys = await keys_of(b)
    verify_envelope(doc, keys)  # the old grant still verifies
    verify_envelope(exported(new), keys)
    retired = {k.key_id: k for k in (await b.GetSigningKeys(cpb.GetSigningKeysRequest())).keys}[old.signature.key_id]
    assert retired.HasField("retire_time")


async def test_consent_events_reach_kafka_with_the_signed_grant(stubs, world, stack, pool):
    a, _ = stubs
    talent = await world["new_talent"]()
    created = await a.CreateGrant(grant_request(talent, world["platform_id"]), metadata=world["agency"])
    revoked = await a.RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=created.grant.grant_id, reason="ended"), metadata=world["agency"])
    rows = await pool.fetch("SELECT event_id::text AS event_id FROM outbox WHERE message_key = $1 AND topic = $2", talent, topics.CONSENT.name)
    relay = relay_process(stack, "relay-consent")
    relay.start()
    try:
        await wait_drained(pool, [talent])
    finally:
        relay.stop()
    records = await consume(stack.bootstrap, topics.CONSENT.name, {talent}, {r["event_id"] for r in rows})
    by_type = {}
    for record in records:
        event = events_pb2.Event.FromString(record.value)
        by_type[event.WhichOneof("payload")] = event
    granted = by_type["consent_granted"].consent_granted
    assert granted.grant.grant_id == created.grant.grant_id and granted.consistency_token == created.consistency_token
    verify_envelope(exported(granted.grant), await keys_of(a), "likeness.grant.v1")
    assert by_type["consent_revoked"].consent_revoked.consistency_token == revoked.consistency_token
    assert by_type["consent_revoked"].consent_revoked.reason == "ended"


async def test_audit_chain_detects_an_edited_row(stubs, world, pool):
    a, _ = stubs
    talent = await world["new_talent"]()
    await a.CreateGrant(grant_request(talent, world["platform_id"]), metadata=world["agency"])
    intact = await a.VerifyAuditLog(cpb.VerifyAuditLogRequest(), metadata=world["op"])
    assert intact.intact and intact.entries_checked >= 1
    assert (await a.VerifyAuditLog(cpb.VerifyAuditLogRequest(), metadata=world["agency"])).intact
    await expect(grpc.StatusCode.PERMISSION_DENIED, a.VerifyAuditLog(cpb.VerifyAuditLogRequest(), metadata=world["platform"]))
    row = await pool.fetchrow("SELECT seq, details FROM audit_log WHERE talent_id = $1 ORDER BY seq LIMIT 1", talent)
    await pool.execute("UPDATE audit_log SET details = '{\"revision\": 0}'::jsonb WHERE seq = $1", row["seq"])
    try:
        broken = await a.VerifyAuditLog(cpb.VerifyAuditLogRequest(), metadata=world["op"])
        assert not broken.intact and broken.first_broken_seq == row["seq"]
    finally:
        await pool.execute("UPDATE audit_log SET details = $2::jsonb WHERE seq = $1", row["seq"], row["details"])
    assert (await a.VerifyAuditLog(cpb.VerifyAuditLogRequest(), metadata=world["op"])).intact


FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


@pytest.fixture(scope="module")
async def lagging_replica(stack):
    """Consent replica C in its own process, its wall clock 10 minutes behind everyone else's
    (libfaketime; the monotonic clock is left alone)."""
    assert FAKETIME.exists(), f"{FAKETIME} missing: `make setup` installs it (Debian package faketime)"
    port = free_port()
    env = {**stack.env(), "LD_PRELOAD": str(FAKETIME), "FAKETIME": "-10m", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           "LIKENESS_CONSENT_PORT": str(port), "LIKENESS_CONSENT_EXPIRY_SWEEP_SECONDS": "3600"}  # fmt: skip
    child = Child("consent-lagging-clock", [sys.executable, "-m", "consent"], stack.state_dir / "logs" / "consent-lagging.log", env=env)
    child.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            await asyncio.wait_for(ch.channel_ready(), 60)
            probe = await asyncio.create_subprocess_exec(
                sys.executable, "-c", "import datetime; print(datetime.datetime.now(datetime.UTC).timestamp())",
                env=env, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            lag = time.time() - float((await probe.communicate())[0])
            assert 590 < lag < 610, f"the injected clock offset did not take: {lag:.0f} s"
            yield consent_pb2_grpc.ConsentServiceStub(ch)
    finally:
        child.stop()


async def test_revoked_means_revoked_on_a_replica_whose_clock_runs_behind(stubs, world, lagging_replica):
    """Replica C's wall clock is 10 minutes behind A's. Grants, revocations and checks are judged
    by the database's clock, and a revoked grant is revoked for a check about the present."""
    a, _ = stubs
    c = lagging_replica
    talent = await world["new_talent"]()
    created = await a.CreateGrant(grant_request(talent, world["platform_id"]), metadata=world["agency"])
    seen = await c.CheckConsent(check_request(talent, created.consistency_token), metadata=world["platform"])
    assert seen.allowed, f"a grant made on A is not yet valid on C: {seen.detail}"
    revoked = await a.RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=created.grant.grant_id), metadata=world["agency"])
    after = await c.CheckConsent(check_request(talent, revoked.consistency_token), metadata=world["platform"])
    assert not after.allowed and after.reason == cpb.DENIAL_REASON_REVOKED

    # Writes through C carry the database's time, not C's.
    made_on_c = await c.CreateGrant(grant_request(talent, world["platform_id"]), metadata=world["agency"])
    revoked_on_c = await c.RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=made_on_c.grant.grant_id), metadata=world["agency"])
    for moment in (made_on_c.grant.create_time, made_on_c.grant.not_before, revoked_on_c.grant.revoke_time):
        assert abs(moment.ToDatetime(tzinfo=UTC) - datetime.now(UTC)) < timedelta(seconds=60)
    on_a = await a.CheckConsent(check_request(talent, revoked_on_c.consistency_token), metadata=world["platform"])
    assert not on_a.allowed and on_a.reason == cpb.DENIAL_REASON_REVOKED
    # A question about an instant before the revocation still gets that instant's answer.
    before = await a.CheckConsent(check_request(talent, revoked_on_c.consistency_token, at=made_on_c.grant.create_time),
                                  metadata=world["platform"])  # fmt: skip
    assert before.allowed


async def test_consent_view_keeps_polling_when_it_cannot_listen(stubs, world, pool):
    """The view's NOTIFY listener cannot connect (wrong address) while its pool works: it still
    follows changes, by polling."""
    a, _ = stubs
    view = CachedConsentView(pool, "postgresql://nobody@127.0.0.1:9/none", poll_seconds=0.2, max_staleness_seconds=5)
    await view.start()
    try:
        talent = await world["new_talent"]()
        created = await a.CreateGrant(grant_request(talent, world["platform_id"]), metadata=world["agency"])
        deadline = time.monotonic() + 5
        while not (await view.grants_for(talent, 0))[0]:
            assert time.monotonic() < deadline, "the view never saw a committed grant without its listener"
            await asyncio.sleep(0.05)
        assert [g.grant_id for g in (await view.grants_for(talent, 0))[0]] == [created.grant.grant_id]
    finally:
        await view.stop()


async def test_consent_view_refuses_to_answer_once_it_cannot_catch_up(stack, stubs, world):
    """The view's pool dies (its listener still works): within the bound it answers, past it every
    untokened check is refused with UNAVAILABLE, counted, until it catches up again."""
    a, _ = stubs
    talent = await world["new_talent"]()
    await a.CreateGrant(grant_request(talent, world["platform_id"]), metadata=world["agency"])
    own = await create_pool(stack.dsn, 1, 2)
    view = CachedConsentView(own, stack.dsn, poll_seconds=0.1, max_staleness_seconds=0.5)
    await view.start()
    refused = prometheus_client.REGISTRY.get_sample_value("likeness_stale_refusals_total", {"view": view.VIEW}) or 0.0
    try:
        assert len((await view.grants_for(talent, 0))[0]) == 1
        await own.close()
        await asyncio.sleep(1.0)
        with pytest.raises(Unavailable) as stale:
            await view.grants_for(talent, 0)
        assert stale.value.reason == "STALE_READ_MODEL"
        assert prometheus_client.REGISTRY.get_sample_value("likeness_stale_refusals_total", {"view": view.VIEW}) == refused + 1
    finally:
        await view.stop()
