"""Secrets at rest: a real `pg_dump` of the database after enrolling a face and a voice, signing a
grant and issuing and rotating API keys holds no API key, no KEK, no data key, no signing private
key and no embedding, in any encoding a dump could carry them (raw, hex as bytea is dumped, base64).

Each search is shown able to find what it looks for: the ciphertexts, wrapped keys and public keys
that are supposed to be in the dump are found by the same search.

Tampering: an exported grant with any one byte flipped fails verification (below). Receipts: see
tests/integration/test_verification.py::test_receipt_is_signed_binds_the_clip_and_fails_when_tampered
(every ~40th byte of a real receipt flipped) and the CLI's tampered receipt in tests/e2e.
"""

from __future__ import annotations

import base64
import subprocess
from datetime import UTC, datetime

import grpc
import numpy as np
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import duration_pb2

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.consent.v1 import consent_pb2_grpc
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.registry.v1 import registry_pb2_grpc
from likeness_cli.consent_cmds import grant_document
from likeness_common.crypto import load_kek
from likeness_common.documents import GRANT_TYPE
from likeness_common.proto import ts
from likeness_common.signing import SignatureError, verify_envelope
from likeness_common.templates import TemplateVault, open_sealed
from likeness_devstack import _postgres_bin
from tests.conftest import bearer, shared_data, unique
from tests.support import rid

NOTICE = epb.BiometricNotice(purpose_text="Protect my likeness", retention=duration_pb2.Duration(seconds=30 * 86400),
                             accept_time=ts(datetime.now(UTC)), notice_version="2026-11")  # fmt: skip
BIG = [("grpc.max_send_message_length", 64 << 20)]


def encodings(secret: bytes) -> dict[str, bytes]:
    """How bytes could appear in a plain-format dump: raw, bytea hex (\\x...), base64."""
    return {"raw": secret, "hex": secret.hex().encode(), "base64": base64.b64encode(secret).rstrip(b"=")}


def windows(vector: np.ndarray, width: int = 16) -> list[bytes]:
    """Every float-aligned `width`-byte window of the vector's float32 bytes that identifies it
    (at least 8 distinct byte values: voice embeddings have runs of 0.0, found in any dump)."""
    raw = np.asarray(vector, "<f4").tobytes()
    found = [raw[i : i + width] for i in range(0, len(raw) - width + 1, 4)]
    return [w for w in found if len(set(w)) >= 8]


@pytest.fixture(scope="module")
async def world(stack, channel, pool, consent_app, enrollment_app):
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    op = bearer(stack.operator_key)
    agency = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("rest")), metadata=op)
    platform = await reg.RegisterPlatform(rpb.RegisterPlatformRequest(request_id=rid(), display_name=unique("rest")), metadata=op)
    rotated = await reg.RotateApiKey(rpb.RotateApiKeyRequest(request_id=rid()), metadata=bearer(agency.api_key))
    md = bearer(rotated.api_key)
    talent = (await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name="At Rest"), metadata=md)).talent.talent_id
    async with grpc.aio.insecure_channel(enrollment_app.target, options=BIG) as ech, grpc.aio.insecure_channel(consent_app.target) as cch:
        enroll = enrollment_pb2_grpc.EnrollmentServiceStub(ech)
        images = [epb.MediaSample(filename=n, content=shared_data("faces", "rose_leslie", n).read_bytes()) for n in ("rose1.jpg", "rose2.jpg")]
        await enroll.EnrollFace(epb.EnrollFaceRequest(request_id=rid(), talent_id=talent, notice=NOTICE, images=images), metadata=md)
        clips = [epb.MediaSample(filename=p.name, content=p.read_bytes())
                 for p in sorted(shared_data("voices", "librispeech", "test-other", "3005").glob("*.flac"))[:3]]  # fmt: skip
        await enroll.EnrollVoice(epb.EnrollVoiceRequest(request_id=rid(), talent_id=talent, notice=NOTICE, clips=clips), metadata=md)
        consent = consent_pb2_grpc.ConsentServiceStub(cch)
        grant = (await consent.CreateGrant(cpb.CreateGrantRequest(request_id=rid(), grant=cpb.Grant(
            talent_id=talent, platform_id=platform.platform.platform_id, modalities=[epb.MODALITY_FACE, epb.MODALITY_VOICE],
            purposes=[cpb.PURPOSE_DUBBING], territories=["FR"])), metadata=md)).grant  # fmt: skip
        keys = {k.key_id: k.public_key for k in (await consent.GetSigningKeys(cpb.GetSigningKeysRequest())).keys}
    kek = load_kek(None, stack.kek_file)
    async with pool.acquire() as conn:
        templates = await TemplateVault(conn, kek).for_talent(talent)
        sealed = await conn.fetch("SELECT template_id, sealed FROM templates WHERE talent_id = $1", talent)
        wrapped_dek = await conn.fetchval("SELECT wrapped_key FROM talent_data_keys WHERE talent_id = $1", talent)
        signing = await conn.fetch("SELECT key_id, public_key, private_key_wrapped FROM signing_keys")
    assert {t.modality for t in templates} == {"FACE", "VOICE"} and len(templates) >= 4  # samples and centroids
    dump = subprocess.run([str(_postgres_bin() / "pg_dump"), "--no-owner", stack.dsn], capture_output=True, check=True, timeout=120).stdout
    assert b"COPY public.templates" in dump and b"COPY public.api_keys" in dump and b"COPY public.signing_keys" in dump
    return {
        "dump": dump, "kek": kek, "talent": talent, "templates": templates, "sealed": sealed, "wrapped_dek": wrapped_dek,
        "signing": signing, "grant": grant, "keys": keys,
        "api_keys": [agency.api_key, platform.api_key, rotated.api_key, stack.operator_key],
    }  # fmt: skip


def test_no_api_key_in_the_dump(world):
    dump = world["dump"]
    for key in world["api_keys"]:
        key_id, _, secret = key.removeprefix("lk_").partition(".")
        assert key_id.encode() in dump  # the key id is the row's lookup key: the search sees the table
        assert key.encode() not in dump and secret.encode() not in dump
        for name, needle in encodings(secret.encode()).items():
            assert needle not in dump, f"an API key secret appears in the dump ({name})"


def test_no_kek_and_no_data_key_in_the_dump(world, stack):
    dump, kek = world["dump"], world["kek"]
    assert stack.kek_file.read_text().strip().encode() not in dump  # the file's base64 text
    for name, needle in encodings(kek.key).items():
        assert needle not in dump, f"the KEK appears in the dump ({name})"
    assert world["wrapped_dek"].hex().encode() in dump  # the wrapped data key is there (bytea hex)...
    dek = kek.unwrap(world["wrapped_dek"], world["talent"].encode())
    for name, needle in encodings(dek).items():
        assert needle not in dump, f"a talent data key appears in the dump ({name})"  # ...the key itself is not


def test_no_embedding_is_recoverable_from_the_dump(world):
    dump, kek = world["dump"], world["kek"]
    dek = kek.unwrap(world["wrapped_dek"], world["talent"].encode())
    for row in world["sealed"]:
        blob = bytes(row["sealed"])
        assert blob.hex().encode() in dump  # the ciphertext is in the dump
        vector = open_sealed(dek, blob, row["template_id"])  # AES-GCM: authenticated under the talent's key...
        assert len(blob) == 12 + 4 * len(vector) + 16
        tampered = bytearray(blob)
        tampered[20] ^= 1
        with pytest.raises(InvalidTag):  # ...and a changed byte does not open
            AESGCM(dek).decrypt(bytes(tampered[:12]), bytes(tampered[12:]), row["template_id"].encode())
    for template in world["templates"]:
        assert len(windows(template.vector)) > len(template.vector) // 8
        for window in windows(template.vector):
            for name, needle in encodings(window).items():
                assert needle not in dump, f"{template.modality} {template.kind} embedding bytes appear in the dump ({name})"
        texts = [repr(float(v))[:10] for v in template.vector if len(repr(float(v))) >= 10][:8]
        assert texts
        for text in texts:  # nor as decimal text (an event or a JSON column)
            assert text.encode() not in dump, f"{template.modality} embedding value {text} appears in the dump"


def test_no_signing_private_key_in_the_dump(world):
    dump, kek = world["dump"], world["kek"]
    assert world["signing"]
    for row in world["signing"]:
        assert bytes(row["public_key"]).hex().encode() in dump
        private = kek.unwrap(row["private_key_wrapped"], row["key_id"].encode())
        assert len(private) == 32
        for name, needle in encodings(private).items():
            assert needle not in dump, f"signing key {row['key_id']} appears in the dump ({name})"


def test_exported_grant_with_any_byte_flipped_fails_verification(world):
    document = grant_document(world["grant"])
    assert verify_envelope(document, world["keys"], GRANT_TYPE)["grant_id"] == world["grant"].grant_id
    for position in range(len(document)):
        tampered = bytearray(document)
        tampered[position] ^= 0x01
        with pytest.raises(SignatureError):
            verify_envelope(bytes(tampered), world["keys"], GRANT_TYPE)
