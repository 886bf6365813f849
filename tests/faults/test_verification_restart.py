"""A verification replica is stopped and a new one started: its 1:N index is rebuilt from Postgres
(talent enrolled before and while it was down) and then follows Kafka (talent enrolled after it
came back). No enrolled talent is missing from the new index."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import duration_pb2

from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.registry.v1 import registry_pb2_grpc
from likeness_common.proto import ts
from tests.conftest import bearer, shared_data, start_verification, unique
from tests.integration.test_verification import wait_indexed
from tests.support import relay_process, rid
from verification.domain.model import Modality

pytestmark = pytest.mark.faults

NOTICE = epb.BiometricNotice(purpose_text="Protect my likeness", retention=duration_pb2.Duration(seconds=86400),
                             accept_time=ts(datetime.now(UTC)), notice_version="2026-11")  # fmt: skip
FACES = {"before": ("obama", "obama.jpg"), "while_down": ("biden", "biden.jpg"), "after": ("lin_manuel_miranda", "lin1.png")}


@pytest.fixture
async def relay(stack):
    process = relay_process(stack, f"relay-verification-restart-{uuid.uuid4().hex[:6]}")
    process.start()
    yield process
    process.stop()


async def test_restarted_verification_index_misses_no_enrolled_talent(stack, pool, channel, enrollment_app, consent_app, relay):
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    agency = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("ag")), metadata=bearer(stack.operator_key))
    md = bearer(agency.api_key)
    ids = {when: (await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name=when), metadata=md)).talent.talent_id
           for when in FACES}  # fmt: skip
    async with grpc.aio.insecure_channel(enrollment_app.target, options=[("grpc.max_send_message_length", 64 << 20)]) as channel_e:
        enroll = enrollment_pb2_grpc.EnrollmentServiceStub(channel_e)

        async def enroll_face(when: str) -> None:
            image = epb.MediaSample(filename=FACES[when][1], content=shared_data("faces", *FACES[when]).read_bytes())
            await enroll.EnrollFace(epb.EnrollFaceRequest(request_id=rid(), talent_id=ids[when], notice=NOTICE, images=[image]), metadata=md)

        first = await start_verification(stack, pool, consent_app.target)
        try:
            await enroll_face("before")
            await wait_indexed(first.app, ids["before"], Modality.FACE)
        finally:
            await first.app.stop()
        await enroll_face("while_down")

        started = time.monotonic()
        second = await start_verification(stack, pool, consent_app.target)
        try:
            rebuilt_s = time.monotonic() - started
            index = second.app.index
            # Rebuilt from Postgres before it serves: no waiting here.
            assert index.contains(ids["before"], Modality.FACE), "talent enrolled before the restart is missing"
            assert index.contains(ids["while_down"], Modality.FACE), "talent enrolled while it was down is missing"
            await enroll_face("after")
            followed_s = await wait_indexed(second.app, ids["after"], Modality.FACE)
            enrolled = {r["talent_id"] for r in await pool.fetch("SELECT DISTINCT talent_id FROM templates WHERE kind = 'sample' AND modality = $1", Modality.FACE.value)}
            missing = enrolled - index.by_modality[Modality.FACE].talents()
            assert not missing, f"{len(missing)} enrolled talent missing from the restarted index"
        finally:
            await second.app.stop()
    print(f"\nrestarted replica served {rebuilt_s:.2f}s after start with {len(enrolled)} face talent; an enrollment after it reached the index in {followed_s:.2f}s")
