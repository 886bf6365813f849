"""The verification integration world, shared by the Verify test modules: earlier modules'
biometrics erased, then an agency with Obama, Biden, Lin-Manuel Miranda (faces) and two
LibriSpeech readers (voices) enrolled, two platforms, and the helpers that talk to them. The
fixtures reach test modules through tests/integration/conftest.py."""

from __future__ import annotations

import asyncio
import io
import time
import wave
from datetime import UTC, datetime

import grpc
import numpy as np
import pytest
from google.longrunning import operations_proto_pb2 as lro
from google.protobuf import duration_pb2

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.consent.v1 import consent_pb2_grpc
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.registry.v1 import registry_pb2_grpc
from likeness.verification.v1 import verification_pb2 as vpb
from likeness.verification.v1 import verification_pb2_grpc
from likeness_common.documents import RECEIPT_TYPE
from likeness_common.proto import ts
from likeness_common.signing import Signature, envelope
from tests.conftest import bearer, shared_data, unique
from tests.support import BIG, module_relay, rid
from verification.domain.model import Modality

NOTICE = epb.BiometricNotice(purpose_text="Protect my likeness", retention=duration_pb2.Duration(seconds=365 * 86400),
                             accept_time=ts(datetime.now(UTC)), notice_version="2026-11")  # fmt: skip


def face_file(*parts: str) -> bytes:
    return shared_data("faces", *parts).read_bytes()


def utterances(speaker: str) -> list[bytes]:
    folder = shared_data("voices", "librispeech", "test-other", speaker)
    return [p.read_bytes() for p in sorted(folder.glob("*.flac"))]


def wav(samples: np.ndarray) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return out.getvalue()


async def enroll_faces(enroll, md, talent_id: str, *files: tuple[str, str], notice: epb.BiometricNotice = NOTICE) -> epb.EnrollFaceResponse:
    """EnrollFace with photos from ../shared/data/faces (`files`: (identity folder, file name))."""
    images = [epb.MediaSample(filename=f[1], content=face_file(*f)) for f in files]
    return await enroll.EnrollFace(epb.EnrollFaceRequest(request_id=rid(), talent_id=talent_id, notice=notice, images=images), metadata=md)


async def expect(code, call):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    return caught.value


async def wait_indexed(app, talent_id: str, modality: Modality, present: bool = True, timeout: float = 45.0) -> float:
    """Seconds until the replica's index has (or no longer has) the talent."""
    started = time.monotonic()
    while app.index.contains(talent_id, modality) != present:
        if time.monotonic() - started > timeout:
            pytest.fail(f"{talent_id} {'not indexed' if present else 'still indexed'} after {timeout}s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


relay = module_relay("relay-verification")  # enrollment events must reach Kafka to reach the verification index


@pytest.fixture(scope="module")
async def world(stack, pool, channel, enrollment_app, consent_app, verification_app, relay):
    """Earlier modules' biometrics erased (through the service, so every index hears of it); then an
    agency with Obama, Biden, Lin-Manuel Miranda (faces) and two LibriSpeech readers (voices)
    enrolled, and two platforms."""
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    op = bearer(stack.operator_key)
    async with grpc.aio.insecure_channel(enrollment_app.target, options=BIG) as ech:
        enroll = enrollment_pb2_grpc.EnrollmentServiceStub(ech)
        for row in await pool.fetch("SELECT talent_id FROM talent_data_keys"):
            await enroll.EraseTalentBiometrics(epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=row["talent_id"]), metadata=op)
        agency = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("ag")), metadata=op)
        md = bearer(agency.api_key)

        async def talent(name: str) -> str:
            return (await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name=name), metadata=md)).talent.talent_id

        ids = {name: await talent(name) for name in ("obama", "biden", "lin", "reader_a", "reader_b")}
        faces = {"obama": [("obama", "obama.jpg"), ("obama", "obama2.jpg")], "biden": [("biden", "biden.jpg")],
                 "lin": [("lin_manuel_miranda", "lin1.png")]}  # fmt: skip
        for name, files in faces.items():
            images = [epb.MediaSample(filename=f[1], content=face_file(*f)) for f in files]
            await enroll.EnrollFace(epb.EnrollFaceRequest(request_id=rid(), talent_id=ids[name], notice=NOTICE, images=images), metadata=md)
        for name, speaker in (("reader_a", "1688"), ("reader_b", "2414")):
            clips = [epb.MediaSample(filename=f"{speaker}-{i}.flac", content=c) for i, c in enumerate(utterances(speaker)[:4])]
            await enroll.EnrollVoice(epb.EnrollVoiceRequest(request_id=rid(), talent_id=ids[name], notice=NOTICE, clips=clips), metadata=md)
    plat = await reg.RegisterPlatform(rpb.RegisterPlatformRequest(request_id=rid(), display_name=unique("pl")), metadata=op)
    plat2 = await reg.RegisterPlatform(rpb.RegisterPlatformRequest(request_id=rid(), display_name=unique("pl")), metadata=op)
    index = verification_app.app.index
    for name in ("obama", "biden", "lin"):
        await wait_indexed(verification_app.app, ids[name], Modality.FACE)
    for name in ("reader_a", "reader_b"):
        await wait_indexed(verification_app.app, ids[name], Modality.VOICE)
    assert index.by_modality[Modality.FACE].talents() == {ids["obama"], ids["biden"], ids["lin"]}
    async with grpc.aio.insecure_channel(verification_app.target, options=BIG) as vch, grpc.aio.insecure_channel(consent_app.target) as cch:
        yield {
            "ids": ids, "agency": md, "op": op, "enroll_target": enrollment_app.target,
            "platform_id": plat.platform.platform_id, "platform": bearer(plat.api_key),
            "platform2_id": plat2.platform.platform_id, "platform2": bearer(plat2.api_key),
            "verify": verification_pb2_grpc.VerificationServiceStub(vch), "consent": consent_pb2_grpc.ConsentServiceStub(cch),
        }  # fmt: skip


def verify_request(media: bytes, token: str = "", request_id: str = "", **params) -> vpb.VerifyRequest:
    base = dict(request_id=request_id or rid(), purpose=cpb.PURPOSE_ADVERTISING, territory="US", at_least_as_fresh=token)
    base.update(params)
    return vpb.VerifyRequest(parameters=vpb.VerifyParameters(**base), media=media)


async def grant(world, talent: str, modalities=(epb.MODALITY_FACE,), platform: str = "") -> cpb.CreateGrantResponse:
    g = cpb.Grant(talent_id=talent, platform_id=platform or world["platform_id"], modalities=list(modalities),
                  purposes=[cpb.PURPOSE_ADVERTISING], worldwide=True,
                  conditions=[cpb.Condition(kind="disclosure_label", value="AI-generated")])  # fmt: skip
    return await world["consent"].CreateGrant(cpb.CreateGrantRequest(request_id=rid(), grant=g), metadata=world["agency"])


async def published_keys(world) -> dict[str, bytes]:
    resp = await world["consent"].GetSigningKeys(cpb.GetSigningKeysRequest())
    return {k.key_id: k.public_key for k in resp.keys}


def receipt_document(v: vpb.Verification) -> bytes:
    r = v.receipt
    return envelope(RECEIPT_TYPE, r.canonical_payload, Signature(r.key_id, r.algorithm, r.signature))


def by_talent(v: vpb.Verification) -> dict[str, vpb.Match]:
    return {m.talent_id: m for m in v.matches}


def stream(media: bytes, request_id: str | None = None, **params):
    async def messages():
        base = dict(request_id=rid() if request_id is None else request_id, purpose=cpb.PURPOSE_ADVERTISING, territory="US")
        base.update(params)
        yield vpb.VerifyStreamRequest(parameters=vpb.VerifyParameters(**base))
        for at in range(0, len(media), 256 * 1024):
            yield vpb.VerifyStreamRequest(chunk=media[at : at + 256 * 1024])

    return messages()


def metadata_of(op: lro.Operation) -> vpb.VerifyOperationMetadata:
    meta = vpb.VerifyOperationMetadata()
    assert op.metadata.Unpack(meta)
    return meta


async def wait_done(ops, name: str, md, timeout: float = 120.0) -> tuple[lro.Operation, list[float]]:
    """Poll GetOperation until done; the progress values seen on the way."""
    seen: list[float] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        op = await ops.GetOperation(lro.GetOperationRequest(name=name), metadata=md)
        seen.append(metadata_of(op).progress_percent)
        if op.done:
            return op, seen
        assert loop.time() < deadline, f"{name} not done after {timeout}s: {metadata_of(op)}"
        await asyncio.sleep(0.2)
