"""The verification index fails closed and decides only on live templates.

A "lagging" replica's index never follows on its own (its NOTIFY listener cannot connect, its poll
runs hourly): what it knows comes from its start-up load and from catch-ups a Verify forces. On it:
- a Verify carrying a consent token newer than the index makes it catch up first (a talent enrolled
  after the index loaded is then matched, not NO_MATCH);
- a template removed by the retention sweep (the talent's data key stays: another enrollment is
  live) never decides a Verify, although the index still held it;
- past its staleness bound, Verify is refused with UNAVAILABLE.
The session's replica follows Postgres (not Kafka) and sees an enrollment within a second.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf import duration_pb2

from enrollment.adapters.postgres import PostgresEnrollmentUnitOfWork
from enrollment.service_layer import handlers as enrollment_handlers
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.registry.v1 import registry_pb2_grpc
from likeness.verification.v1 import verification_pb2 as vpb
from likeness.verification.v1 import verification_pb2_grpc
from likeness_common.crypto import load_kek
from likeness_common.db import create_pool
from likeness_common.errors import Unavailable
from tests.integration.verification_world import (
    BIG,
    NOTICE,
    enroll_faces,
    expect,
    face_file,
    grant,
    rid,
    utterances,
    verify_request,
    wait_indexed,
)
from verification.adapters.index import IndexFollower, LikenessIndex, TemplateLoader
from verification.bootstrap import VerificationSettings, build_app
from verification.domain.model import Modality

UNREACHABLE = "postgresql://nobody@127.0.0.1:9/none"  # the lagging replica's listener never connects


@pytest.fixture(scope="module")
async def lagging(stack, pool, consent_app, world):
    settings = VerificationSettings(port=0, shutdown_grace_seconds=0.5, consent_target=consent_app.target, workers=1,
                                    index_poll_seconds=3600, index_max_staleness_seconds=3600)  # fmt: skip
    app = build_app(pool, UNREACHABLE, load_kek(None, stack.kek_file), settings)
    port = await app.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=BIG) as ch:
        yield app, verification_pb2_grpc.VerificationServiceStub(ch)
    await app.stop()


async def new_talent(stack, channel, world, name: str) -> str:
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    return (await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name=name), metadata=world["agency"])).talent.talent_id


async def enroll_face(world, talent_id: str, *files: tuple[str, str], retention_s: int | None = None) -> None:
    notice = epb.BiometricNotice()
    notice.CopyFrom(NOTICE)
    if retention_s is not None:
        notice.retention.CopyFrom(duration_pb2.Duration(seconds=retention_s))
    async with grpc.aio.insecure_channel(world["enroll_target"], options=BIG) as ch:
        await enroll_faces(enrollment_pb2_grpc.EnrollmentServiceStub(ch), world["agency"], talent_id, *files, notice=notice)


async def test_a_token_newer_than_the_index_makes_it_catch_up_first(stack, channel, world, lagging, verification_app):
    app, verify = lagging
    talent = await new_talent(stack, channel, world, "Alex Lacamoire")
    await enroll_face(world, talent, ("alex_lacamoire", "alex1.png"))
    followed_s = await wait_indexed(verification_app.app, talent, Modality.FACE, timeout=5)  # the session replica follows Postgres
    token = (await grant(world, talent)).consistency_token
    probe = face_file("alex_lacamoire", "alex2.jpg")

    stale = await verify.Verify(verify_request(probe), metadata=world["platform"])
    assert stale.verification.decision == vpb.DECISION_NO_MATCH  # the lagging index has not seen the enrollment
    fresh = await verify.Verify(verify_request(probe, token=token), metadata=world["platform"])
    assert fresh.verification.decision == vpb.DECISION_ALLOW, fresh.verification
    assert {m.talent_id for m in fresh.verification.matches} == {talent}
    assert app.index.contains(talent, Modality.FACE)
    print(f"\nthe following replica indexed the new enrollment {followed_s * 1000:.0f} ms after EnrollFace returned")


async def test_a_template_removed_by_the_retention_sweep_never_decides_a_verify(stack, channel, pool, world, lagging):
    """The sweep deletes expired enrollments but keeps the data key while another enrollment is
    live; the lagging index still holds the swept face templates."""
    app, verify = lagging
    talent = await new_talent(stack, channel, world, "Kit Harington")
    await enroll_face(world, talent, ("kit_harington", "john1.jpeg"), retention_s=2)
    async with grpc.aio.insecure_channel(world["enroll_target"], options=BIG) as ch:
        clips = [epb.MediaSample(filename=f"1688-{i}.flac", content=c) for i, c in enumerate(utterances("1688")[4:8])]
        await enrollment_pb2_grpc.EnrollmentServiceStub(ch).EnrollVoice(
            epb.EnrollVoiceRequest(request_id=rid(), talent_id=talent, notice=NOTICE, clips=clips), metadata=world["agency"]
        )
    await app.follower.catch_up()  # the lagging index now holds the face
    assert app.index.contains(talent, Modality.FACE)
    probe = face_file("kit_harington", "john2.jpeg")
    before = await verify.Verify(verify_request(probe), metadata=world["platform"])
    assert talent in {m.talent_id for m in before.verification.matches}  # the face matches while it is enrolled

    await asyncio.sleep(2.5)
    models = {m: ("dlib_face_recognition_resnet_model_v1", "1") for m in Modality}  # (only a replaced centroid's label)
    swept = await enrollment_handlers.sweep_retention(PostgresEnrollmentUnitOfWork(pool, load_kek(None, stack.kek_file)), models)
    assert swept >= 1
    assert await pool.fetchval("SELECT count(*) FROM talent_data_keys WHERE talent_id = $1", talent) == 1  # the voice keeps the key
    assert app.index.contains(talent, Modality.FACE)  # the lagging index has not followed the sweep

    after = await verify.Verify(verify_request(probe), metadata=world["platform"])
    assert talent not in {m.talent_id for m in after.verification.matches}, after.verification
    assert after.verification.decision == vpb.DECISION_NO_MATCH
    assert not app.index.contains(talent, Modality.FACE)  # reloaded before deciding


async def test_past_its_staleness_bound_the_index_refuses_verify(world, lagging):
    app, verify = lagging
    bound = app.follower.freshness.bound
    await asyncio.sleep(0.3)
    app.follower.freshness.bound = 0.2  # the lagging index has not caught up for longer than this
    try:
        error = await expect(grpc.StatusCode.UNAVAILABLE, verify.Verify(verify_request(face_file("biden", "biden2.jpg")),
                                                                        metadata=world["platform"]))  # fmt: skip
        assert "1:N index" in error.details()
    finally:
        app.follower.freshness.bound = bound


async def test_a_follower_whose_database_is_gone_goes_stale(stack, world):
    """Its pool closed (its listener would still work): within the bound it answers, past it not."""
    own = await create_pool(stack.dsn, 1, 2)
    loader = TemplateLoader(own, load_kek(None, stack.kek_file), LikenessIndex({}))
    follower = IndexFollower(own, stack.dsn, loader, poll_seconds=0.1, max_staleness_seconds=0.5)
    await follower.start()
    try:
        await follower.at_least("")
        await own.close()
        await asyncio.sleep(1.0)
        with pytest.raises(Unavailable) as stale:
            await follower.at_least("")
        assert stale.value.reason == "STALE_READ_MODEL"
    finally:
        await follower.stop()
