"""Enrollment over gRPC with real photos and speech from ../shared/data, the real worker pool,
Postgres and the broker."""

from __future__ import annotations

import io
import os
import subprocess
import wave
from datetime import UTC, datetime

import grpc
import numpy as np
import pytest
from google.protobuf import duration_pb2

from enrollment.adapters.postgres import PostgresTemplates
from enrollment.domain.model import Modality
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.registry.v1 import registry_pb2_grpc
from likeness_common import topics
from likeness_common.crypto import load_kek
from likeness_common.proto import ts
from likeness_common.templates import TemplateVault
from likeness_devstack import _postgres_bin
from tests.conftest import bearer, error_reason, shared_data, unique
from tests.support import consume, relay_process, rid, wait_drained

NOTICE = epb.BiometricNotice(purpose_text="Protect my likeness from unconsented generated media",
                             retention=duration_pb2.Duration(seconds=365 * 86400), accept_time=ts(datetime.now(UTC)),
                             notice_version="2026-11")  # fmt: skip


def image(*parts: str) -> epb.MediaSample:
    path = shared_data("faces", *parts)
    return epb.MediaSample(filename=path.name, content=path.read_bytes())


def speech(speaker: str, n: int) -> epb.MediaSample:
    folder = shared_data("voices", "librispeech", "test-other", speaker)
    path = sorted(folder.glob("*.flac"))[n]
    return epb.MediaSample(filename=path.name, content=path.read_bytes())


@pytest.fixture(scope="module")
async def ctx(stack, channel, enrollment_app):
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    op = bearer(stack.operator_key)
    agency = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("ag")), metadata=op)
    other = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("ag")), metadata=op)
    md = bearer(agency.api_key)

    async def talent(name: str) -> str:
        return (await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name=name), metadata=md)).talent.talent_id

    async with grpc.aio.insecure_channel(enrollment_app.target, options=[("grpc.max_send_message_length", 64 << 20)]) as ch:
        yield {"stub": enrollment_pb2_grpc.EnrollmentServiceStub(ch), "md": md, "other": bearer(other.api_key), "talent": talent}


async def expect(code, call):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    return caught.value


def face(talent_id: str, *images: epb.MediaSample, notice=NOTICE) -> epb.EnrollFaceRequest:
    return epb.EnrollFaceRequest(request_id=rid(), talent_id=talent_id, notice=notice, images=list(images))


async def test_enroll_obama_from_two_photos_and_biden_from_one_then_refuse_obama_as_biden(ctx, pool, stack):
    stub, md = ctx["stub"], ctx["md"]
    obama, biden = await ctx["talent"]("Barack Obama"), await ctx["talent"]("Joe Biden")
    resp = await stub.EnrollFace(face(obama, image("obama", "obama.jpg"), image("obama", "obama2.jpg")), metadata=md)
    assert resp.enrollment.accepted_samples == 2 and all(r.accepted for r in resp.results)
    assert resp.enrollment.model_name == "dlib_face_recognition_resnet_model_v1"
    assert all(0 < r.quality <= 1 for r in resp.results)
    resp = await stub.EnrollFace(face(biden, image("biden", "biden.jpg")), metadata=md)
    assert resp.enrollment.accepted_samples == 1
    err = await expect(grpc.StatusCode.INVALID_ARGUMENT, stub.EnrollFace(face(biden, image("obama", "obama3.jpg")), metadata=md))
    assert error_reason(err) == "INCONSISTENT_SAMPLES"
    assert "obama3.jpg" in err.details()
    status = await stub.GetEnrollmentStatus(epb.GetEnrollmentStatusRequest(talent_id=biden), metadata=md)
    assert [e.accepted_samples for e in status.enrollments] == [1]
    async with pool.acquire() as conn:  # one template per sample plus a centroid, encrypted
        rows = await conn.fetch("SELECT kind, sealed FROM templates WHERE talent_id = $1 ORDER BY kind", obama)
        assert [r["kind"] for r in rows] == ["centroid", "sample", "sample"]
        vectors = await PostgresTemplates(conn, load_kek(None, stack.kek_file)).vectors(obama, Modality.FACE)
    assert len(vectors) == 2 and vectors[0].shape == (128,) and np.linalg.norm(vectors[0] - vectors[1]) < 0.6


async def test_group_photo_is_multiple_faces_and_bad_files_are_reported_per_sample(ctx):
    stub, md = ctx["stub"], ctx["md"]
    talent = await ctx["talent"]("Group")
    err = await expect(grpc.StatusCode.INVALID_ARGUMENT, stub.EnrollFace(face(talent, image("group", "two_people.jpg")), metadata=md))
    assert error_reason(err) == "MULTIPLE_FACES" and "two_people.jpg" in err.details()
    junk = epb.MediaSample(filename="junk.jpg", content=os.urandom(5000))
    resp = await stub.EnrollFace(face(talent, image("rose_leslie", "rose1.jpg"), junk), metadata=md)
    by_name = {r.filename: r for r in resp.results}
    assert by_name["rose1.jpg"].accepted and not by_name["junk.jpg"].accepted
    assert by_name["junk.jpg"].rejection == epb.SAMPLE_REJECTION_UNDECODABLE_MEDIA
    err = await expect(grpc.StatusCode.INVALID_ARGUMENT, stub.EnrollFace(face(talent, junk), metadata=md))
    assert error_reason(err) == "UNDECODABLE_MEDIA"


async def test_notice_required_and_no_mandate_is_permission_denied(ctx):
    stub, md = ctx["stub"], ctx["md"]
    talent = await ctx["talent"]("Needs Notice")
    no_notice = epb.EnrollFaceRequest(request_id=rid(), talent_id=talent, images=[image("rose_leslie", "rose1.jpg")])
    err = await expect(grpc.StatusCode.FAILED_PRECONDITION, stub.EnrollFace(no_notice, metadata=md))
    assert "notice" in err.details()
    await expect(grpc.StatusCode.PERMISSION_DENIED, stub.EnrollFace(face(talent, image("rose_leslie", "rose1.jpg")), metadata=ctx["other"]))


def silence_wav(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x00" * int(16000 * seconds))
    return out.getvalue()


async def test_librispeech_speaker_enrolls_from_three_clips_silence_and_noise_are_refused(ctx):
    stub, md = ctx["stub"], ctx["md"]
    talent = await ctx["talent"]("Reader 1688")
    clips = [speech("1688", i) for i in range(3)]
    resp = await stub.EnrollVoice(epb.EnrollVoiceRequest(request_id=rid(), talent_id=talent, notice=NOTICE, clips=clips), metadata=md)
    assert resp.enrollment.accepted_samples == 3 and resp.enrollment.model_name == "resemblyzer-ge2e"
    assert sum(r.speech_seconds for r in resp.results) >= 3
    silent = epb.MediaSample(filename="silence.wav", content=silence_wav(5))
    err = await expect(grpc.StatusCode.INVALID_ARGUMENT,
                       stub.EnrollVoice(epb.EnrollVoiceRequest(request_id=rid(), talent_id=talent, notice=NOTICE, clips=[silent]), metadata=md))  # fmt: skip
    assert error_reason(err) == "TOO_LITTLE_SPEECH"
    noise = epb.MediaSample(filename="noise.bin", content=os.urandom(20000))
    err = await expect(grpc.StatusCode.INVALID_ARGUMENT,
                       stub.EnrollVoice(epb.EnrollVoiceRequest(request_id=rid(), talent_id=talent, notice=NOTICE, clips=[noise]), metadata=md))  # fmt: skip
    assert error_reason(err) in ("UNDECODABLE_MEDIA", "UNSUPPORTED_MEDIA_TYPE") and "noise.bin" in err.details()


async def test_pg_dump_shows_no_usable_embedding(ctx, pool, stack):
    stub, md = ctx["stub"], ctx["md"]
    talent = await ctx["talent"]("Dumped")
    await stub.EnrollFace(face(talent, image("kit_harington", "john1.jpeg")), metadata=md)
    async with pool.acquire() as conn:
        vector = (await TemplateVault(conn, load_kek(None, stack.kek_file)).for_talent(talent))[0].vector
    dump = subprocess.run([str(_postgres_bin() / "pg_dump"), "--data-only", stack.dsn], capture_output=True, check=True).stdout
    assert b"talent_data_keys" in dump and len(dump) > 10_000
    raw = np.asarray(vector, "<f4").tobytes()
    for needle in (raw[:32], raw[:32].hex().encode(), repr(float(vector[0]))[:8].encode()):
        assert needle not in dump
    assert load_kek(None, stack.kek_file).key.hex().encode() not in dump


async def test_erasure_shreds_the_key_and_reaches_kafka(ctx, pool, stack):
    stub, md = ctx["stub"], ctx["md"]
    talent = await ctx["talent"]("To Erase")
    await stub.EnrollFace(face(talent, image("alex_lacamoire", "alex1.png")), metadata=md)
    sealed = await pool.fetch("SELECT template_id, sealed FROM templates WHERE talent_id = $1", talent)
    assert sealed
    await expect(grpc.StatusCode.PERMISSION_DENIED,
                 stub.EraseTalentBiometrics(epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=talent), metadata=ctx["other"]))  # fmt: skip
    resp = await stub.EraseTalentBiometrics(epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=talent, reason="talent request"), metadata=md)
    assert resp.erased_templates == 1
    assert await pool.fetchval("SELECT count(*) FROM templates WHERE talent_id = $1", talent) == 0
    assert await pool.fetchval("SELECT count(*) FROM talent_data_keys WHERE talent_id = $1", talent) == 0
    async with pool.acquire() as conn:  # a copy of the ciphertext (a backup) no longer opens
        assert await TemplateVault(conn, load_kek(None, stack.kek_file)).data_key(talent, create=False) is None
    status = await stub.GetEnrollmentStatus(epb.GetEnrollmentStatusRequest(talent_id=talent), metadata=md)
    assert list(status.enrollments) == []
    rows = await pool.fetch("SELECT event_id::text AS event_id, event_type FROM outbox WHERE message_key = $1 AND topic = $2 ORDER BY id",
                            talent, topics.ENROLLMENT.name)  # fmt: skip
    assert [r["event_type"] for r in rows] == ["FaceEnrolled", "BiometricsErased"]
    relay = relay_process(stack, "relay-enrollment")
    relay.start()
    try:
        await wait_drained(pool, [talent])
    finally:
        relay.stop()
    records = await consume(stack.bootstrap, topics.ENROLLMENT.name, {talent}, {r["event_id"] for r in rows})
    types = {dict(r.headers)["event_type"].decode() for r in records}
    assert types == {"FaceEnrolled", "BiometricsErased"}
    assert all(b"sealed" not in r.value and len(r.value) < 2000 for r in records)  # no media, no templates
