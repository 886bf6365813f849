"""C2PA provenance out of Verify (issue 15): a platform asks for the clip back with the registry's
manifest embedded; C2PA's own reader (c2pa-python, a client nobody here wrote) validates it as
Trusted against the registry's root, and `likeness receipt verify` checks both the manifest and the
Ed25519 receipt inside it. Through a real verification replica started with a C2PA chain."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import grpc
import numpy as np
import pytest
from google.longrunning import operations_pb2_grpc
from google.longrunning import operations_proto_pb2 as lro
from PIL import Image

from likeness.events.v1 import events_pb2
from likeness.verification.v1 import verification_pb2 as vpb
from likeness.verification.v1 import verification_pb2_grpc
from likeness_cli.verify_cmds import STREAM_ABOVE
from likeness_common import provenance
from tests import mediakit
from tests.conftest import error_reason, start_verification
from tests.integration.verification_world import (
    face_file,
    grant,
    published_keys,
    receipt_document,
    stream,
    verify_request,
    wait_done,
)
from tests.support import BIG, expect, foreign_signed, wait_indexed
from verification import servicer

LIKENESS = str(Path(sys.executable).parent / "likeness")


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> dict[str, Path]:
    return provenance.dev_chain().write(tmp_path_factory.mktemp("c2pa"))


@pytest.fixture(scope="module")
async def signing(world, stack, pool, consent_app, chain):
    """A verification replica with a C2PA chain; Obama (face) holds a grant with an AI-disclosure condition."""
    token = (await grant(world, world["ids"]["obama"])).consistency_token
    replica = await start_verification(stack, pool, consent_app.target, workers=1,
                                       c2pa_cert_chain_file=chain["chain"], c2pa_key_file=chain["key"], c2pa_trust_anchor_file=chain["root"])  # fmt: skip
    await wait_indexed(replica.app, world["ids"]["obama"])
    channel = grpc.aio.insecure_channel(replica.target, options=BIG)
    try:
        yield {"stub": verification_pb2_grpc.VerificationServiceStub(channel), "ops": operations_pb2_grpc.OperationsStub(channel), "token": token,
               "target": replica.target}
    finally:
        await channel.close()
        await replica.app.stop()


@pytest.fixture(scope="module")
async def keys_file(world, tmp_path_factory) -> Path:
    """The registry's public receipt keys as `likeness keys export` writes them."""
    keys = await published_keys(world)
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    path.write_text(json.dumps({"keys": [{"key_id": k, "public_key": base64.b64encode(v).decode()} for k, v in keys.items()]}))
    return path


def portrait_png() -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(face_file("obama", "obama3.jpg"))).save(out, "PNG")
    return out.getvalue()


def portrait_mp4() -> bytes:
    """2 s of H.264 + AAC: Obama's face (230 px) in a 1280x720 scene."""
    frame = mediakit.paste(mediakit.scene(1280, 720, 1), mediakit.face_patch(("obama", "obama3.jpg"), 230), (640, 360))
    return mediakit.encode_video([frame] * 50, fps=25, audio=mediakit.noise(2.0, level=0.01))


def speech_wav() -> bytes:
    from likeness_biometrics import decode_audio
    from tests.integration.verification_world import utterances

    return mediakit.wav(decode_audio(utterances("1688")[6]).samples)


def receipt_verify(*args) -> subprocess.CompletedProcess:
    """`likeness receipt verify ARGS`, as a user runs it."""
    return subprocess.run([LIKENESS, "receipt", "verify", *map(str, args)], capture_output=True, text=True, timeout=60)


MEDIA = {"jpeg": lambda: face_file("obama", "obama3.jpg"), "png": portrait_png, "mp4": portrait_mp4, "wav": speech_wav}


@pytest.mark.parametrize("kind", list(MEDIA))
async def test_a_verified_clip_comes_back_signed_and_c2pas_reader_trusts_it(world, signing, chain, keys_file, pool, tmp_path, kind):
    media = MEDIA[kind]()
    answer = await signing["stub"].Verify(verify_request(media, signing["token"], embed_c2pa=True), metadata=world["platform"])
    v, signed = answer.verification, answer.signed_media
    # That the platform asked for it is recorded: answer, receipt (schema 8), VerificationDecided.
    assert v.c2pa_requested and json.loads(v.receipt.canonical_payload)["c2pa_requested"] is True
    rows = await pool.fetch("SELECT payload FROM outbox WHERE event_type = 'VerificationDecided' ORDER BY id DESC LIMIT 50")
    decided = [e.verification_decided for e in map(events_pb2.Event.FromString, (r["payload"] for r in rows))
               if e.verification_decided.verification_id == v.verification_id]  # fmt: skip
    assert decided and all(d.c2pa_requested for d in decided)
    assert signed.content and signed.media_type == v.media_type and signed.content != media and not signed.sidecar, (kind, v.media_type)
    root = chain["root"].read_bytes()
    found = provenance.read(signed.content, signed.media_type, root)
    assert found.state == "Trusted" and not found.failures, found
    assert found.receipt_envelope == receipt_document(v)  # the receipt, byte for byte, as `receipt verify` checks it
    assert found.claim_generator == "likeness-registry" and "Likeness Registry" in found.signer
    if kind in ("jpeg", "png", "mp4"):  # Obama's grant asks for an AI disclosure
        assert v.decision == vpb.DECISION_ALLOW and found.digital_source_types == (provenance.TRAINED_ALGORITHMIC_MEDIA,)
    assert provenance.read(signed.content, signed.media_type).state == "Valid"  # without the root: intact, signer unknown

    out = tmp_path / f"signed.{kind}"
    out.write_bytes(signed.content)
    done = receipt_verify(out, "--keys", keys_file, "--c2pa-root", chain["root"], "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["valid"] and report["c2pa"]["state"] == "Trusted" and report["id"] == v.receipt.receipt_id


async def test_any_changed_byte_of_a_signed_clip_fails_naming_why(world, signing, chain, keys_file, tmp_path):
    answer = await signing["stub"].Verify(verify_request(face_file("obama", "obama3.jpg"), signing["token"], embed_c2pa=True),
                                          metadata=world["platform"])  # fmt: skip
    signed = answer.signed_media.content
    root = chain["root"].read_bytes()
    pixels = bytearray(signed)
    pixels[-5000] ^= 0x01  # in the image data, after the manifest (JPEG APP11 segments sit at the start)
    tampered = provenance.read(bytes(pixels), "image/jpeg", root)
    assert tampered.state == "Invalid" and "assertion.dataHash.mismatch" in tampered.failures, tampered
    receipt_at = signed.find(b"receipt_id")  # inside the manifest's receipt assertion (CBOR)
    assert receipt_at > 0
    in_manifest = bytearray(signed)
    in_manifest[receipt_at + 16] ^= 0x01  # a character of the receipt id
    assert provenance.read(bytes(in_manifest), "image/jpeg", root).state != "Trusted"
    actions_at = signed.find(b"c2pa.published")  # the actions assertion, outside the receipt
    assert actions_at > 0
    in_actions = bytearray(signed)
    in_actions[actions_at + 5] ^= 0x01
    assert provenance.read(bytes(in_actions), "image/jpeg", root).state != "Trusted"
    for name, data in (("pixels", pixels), ("manifest", in_manifest), ("actions", in_actions)):
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(bytes(data))
        done = receipt_verify(path, "--keys", keys_file, "--c2pa-root", chain["root"])
        said = " ".join((done.stderr + done.stdout).split())  # (the console wraps long lines)
        assert done.returncode != 0 and "NOT VALID" in said, (name, said)
        assert "dataHash.mismatch" in said if name == "pixels" else "fails validation" in said or "receipt" in said, said
    other_root = tmp_path / "other-root.pem"
    other_root.write_bytes(provenance.dev_chain("Someone Else").root_pem)
    good = tmp_path / "good.jpg"
    good.write_bytes(signed)
    done = receipt_verify(good, "--keys", keys_file, "--c2pa-root", other_root)
    assert done.returncode != 0 and "does not chain" in " ".join((done.stderr + done.stdout).split())
    # Without the registry's root nothing binds the receipt to these bytes (anyone can sign a clip
    # holding a copied receipt under a chain of their own): the check is refused, not passed.
    done = receipt_verify(good, "--keys", keys_file)
    assert done.returncode != 0 and "C2PA_ROOT_REQUIRED" in done.stderr + done.stdout


async def test_embedding_is_refused_before_any_analysis_where_it_cannot_be_answered(world, signing):
    photo = face_file("obama", "obama3.jpg")
    # A deployment without a C2PA chain (the world's own replica).
    await expect(grpc.StatusCode.FAILED_PRECONDITION, world["verify"].Verify(verify_request(photo, embed_c2pa=True), metadata=world["platform"]),
                 "C2PA_NOT_CONFIGURED")  # fmt: skip
    # Nor a long-running operation: refused on its first message, before any upload.
    await expect(grpc.StatusCode.FAILED_PRECONDITION, world["verify"].StartVerifyOperation(stream(photo, embed_c2pa=True), metadata=world["platform"]),
                 "C2PA_NOT_CONFIGURED")  # fmt: skip
    # Without embed_c2pa nothing changes: no signed media in the answer.
    plain = await signing["stub"].Verify(verify_request(photo, signing["token"]), metadata=world["platform"])
    assert not plain.HasField("signed_media") and plain.verification.decision == vpb.DECISION_ALLOW
    assert not plain.verification.c2pa_requested and json.loads(plain.verification.receipt.canonical_payload)["c2pa_requested"] is False


def portrait_webm() -> bytes:
    frame = mediakit.paste(mediakit.scene(640, 360, 2), mediakit.face_patch(("obama", "obama3.jpg"), 200), (320, 180))
    return mediakit.encode_video([frame] * 10, fps=10, fmt="webm", codec="libvpx-vp9")


def portrait_fragmented_mp4() -> bytes:
    frame = mediakit.paste(mediakit.scene(640, 360, 3), mediakit.face_patch(("obama", "obama3.jpg"), 200), (320, 180))
    return mediakit.encode_video([frame] * 25, fps=25, container_options={"movflags": "frag_keyframe+empty_moov"})


SIDECAR_MEDIA = {"webm": portrait_webm, "fragmented-mp4": portrait_fragmented_mp4}


@pytest.mark.parametrize("kind", list(SIDECAR_MEDIA))
async def test_formats_c2pa_cannot_embed_into_get_a_sidecar_bound_to_the_clip_as_uploaded(world, signing, chain, keys_file, tmp_path, kind):
    """WebM (no c2pa writer) and fragmented MP4: the answer is a `.c2pa` manifest store whose data
    hash covers every byte of the clip as uploaded; C2PA's own reader trusts it against the root,
    `likeness receipt verify` finds it beside the clip, and one changed byte of either fails."""
    media = SIDECAR_MEDIA[kind]()
    answer = await signing["stub"].Verify(verify_request(media, signing["token"], embed_c2pa=True), metadata=world["platform"])
    v, signed = answer.verification, answer.signed_media
    assert v.decision == vpb.DECISION_ALLOW, vpb.Decision.Name(v.decision)
    assert not provenance.embeddable(media, v.media_type), v.media_type
    assert signed.sidecar and signed.media_type == "application/c2pa" and len(signed.content) < 64 << 10, (signed.sidecar, signed.media_type)
    root = chain["root"].read_bytes()
    found = provenance.read(media, v.media_type, root, sidecar=signed.content)
    assert found.state == "Trusted" and not found.failures, found
    assert found.receipt_envelope == receipt_document(v)
    assert found.digital_source_types == (provenance.TRAINED_ALGORITHMIC_MEDIA,)  # Obama's grant asks for an AI disclosure

    clip = tmp_path / f"clip.{'webm' if kind == 'webm' else 'mp4'}"
    clip.write_bytes(media)
    clip.with_suffix(".c2pa").write_bytes(signed.content)
    command = [clip, "--keys", keys_file, "--c2pa-root", chain["root"], "--json"]
    done = receipt_verify(*command)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["c2pa"]["state"] == "Trusted" and report["c2pa"]["sidecar"] == str(clip.with_suffix(".c2pa")) and report["id"] == v.receipt.receipt_id

    changed = bytearray(media)
    changed[len(changed) // 2] ^= 0x01
    clip.write_bytes(bytes(changed))
    done = receipt_verify(*command)
    said = " ".join((done.stderr + done.stdout).split())
    assert done.returncode != 0 and "NOT VALID" in said and "dataHash.mismatch" in said, said
    clip.write_bytes(media)
    manifest = bytearray(signed.content)
    manifest[manifest.find(b"receipt_id") + 16] ^= 0x01
    clip.with_suffix(".c2pa").write_bytes(bytes(manifest))
    done = receipt_verify(*command)
    assert done.returncode != 0 and "NOT VALID" in " ".join((done.stderr + done.stdout).split())
    clip.with_suffix(".c2pa").unlink()
    done = receipt_verify(*command)
    assert done.returncode != 0 and "NO_C2PA_MANIFEST" in done.stderr + done.stdout


def long_speech_wav() -> bytes:
    """Two utterances at 48 kHz (a plain upsampling): a WAV of some 1.5 MB."""
    from likeness_biometrics import decode_audio
    from tests.integration.verification_world import utterances

    samples = np.concatenate([decode_audio(path).samples for path in utterances("1688")[6:8]])
    return mediakit.wav(np.repeat(samples, 3), rate=48000)


async def test_verify_stream_signed_sends_the_signed_clip_back_in_chunks(world, signing, chain):
    """A clip larger than one chunk comes back embedded, as a server stream: the answer first (type
    and sidecar flag, no content), then the signed clip in 1 MiB chunks. No chain: refused on the
    first message; no key: UNAUTHENTICATED (the interceptor guards server streams too)."""
    media = long_speech_wav()
    assert len(media) > servicer.SIGNED_CHUNK_BYTES
    messages = [m async for m in signing["stub"].VerifyStreamSigned(stream(media, at_least_as_fresh=signing["token"]), metadata=world["platform"])]
    first, chunks = messages[0], [m.chunk for m in messages[1:]]
    assert first.WhichOneof("part") == "answer" and all(m.WhichOneof("part") == "chunk" for m in messages[1:])
    v, header = first.answer.verification, first.answer.signed_media
    assert v.c2pa_requested and header.media_type == "audio/wav" and not header.sidecar and not header.content
    assert len(chunks) >= 2 and all(len(c) == servicer.SIGNED_CHUNK_BYTES for c in chunks[:-1])
    found = provenance.read(b"".join(chunks), "audio/wav", chain["root"].read_bytes())
    assert found.state == "Trusted" and found.receipt_envelope == receipt_document(v), found

    async def refused(stub, metadata, requests) -> grpc.aio.AioRpcError:
        # (no media after the parameters: grpc's client reports a refusal that arrives while it is
        # still writing as INTERNAL "Internal error from Core", not as the status the server sent)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            [m async for m in stub.VerifyStreamSigned(requests, metadata=metadata)]
        return caught.value

    unsigned = await refused(world["verify"], world["platform"], stream(b""))
    assert unsigned.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(unsigned) == "C2PA_NOT_CONFIGURED"
    assert (await refused(signing["stub"], None, iter(()))).code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_long_running_operation_answers_a_sidecar_for_the_clip_it_analysed(world, signing, chain, tmp_path):
    """An operation keeps no media once it ends: with embed_c2pa its response carries the registry's
    manifest as a sidecar (signed when the analysis ended, kept with the operation), which C2PA's
    reader trusts for the MP4 exactly as uploaded."""
    media = portrait_mp4()
    started = await signing["stub"].StartVerifyOperation(stream(media, at_least_as_fresh=signing["token"], embed_c2pa=True), metadata=world["platform"])
    op, _ = await wait_done(signing["ops"], started.name, world["platform"])
    assert not op.HasField("error"), op.error
    response = vpb.VerifyResponse()
    assert op.response.Unpack(response)
    v, signed = response.verification, response.signed_media
    assert v.decision == vpb.DECISION_ALLOW and signed.sidecar and signed.media_type == provenance.SIDECAR_TYPE
    found = provenance.read(media, "video/mp4", chain["root"].read_bytes(), sidecar=signed.content)
    assert found.state == "Trusted" and found.receipt_envelope == receipt_document(v), found
    again = await signing["ops"].GetOperation(lro.GetOperationRequest(name=started.name), metadata=world["platform"])
    assert again.response == op.response  # the same sidecar on every read, not a new signature


def large_png() -> bytes:
    """Obama's face on 2600x2600 px of noise, stored uncompressed: a 20 MB PNG, past the size from
    which the CLI streams (VerifyStream, and VerifyStreamSigned with --embed)."""
    scene = np.random.default_rng(7).integers(0, 256, (2600, 2600, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(mediakit.paste(scene, mediakit.face_patch(("obama", "obama3.jpg"), 300), (1300, 1300))).save(out, "PNG", compress_level=0)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["jpeg", "webm-long", "png-large"])
async def test_the_cli_writes_the_signed_clip_and_checks_it(world, signing, chain, keys_file, tmp_path, kind):
    """`likeness verify --embed` as a platform runs it: a JPEG comes back with the manifest embedded;
    a WebM through a long-running operation (--long) comes back as the clip plus <file>.c2pa; a 20 MB
    PNG through VerifyStreamSigned comes back embedded, in chunks. Then `likeness receipt verify` on
    what was written."""
    media = {"jpeg": lambda: face_file("obama", "obama3.jpg"), "webm-long": portrait_webm, "png-large": large_png}[kind]()
    ext = {"jpeg": "jpg", "webm-long": "webm", "png-large": "png"}[kind]
    source, out = tmp_path / f"in.{ext}", tmp_path / f"out.{ext}"
    assert (len(media) > STREAM_ABOVE) == (kind == "png-large")
    source.write_bytes(media)
    api_key = dict(world["platform"])["authorization"].removeprefix("Bearer ")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIKENESS_")} | {"LIKENESS_DEV_JSON": "/nonexistent"}
    proc = await asyncio.create_subprocess_exec(
        LIKENESS, "verify", str(source), "--purpose", "advertising", "--territory", "US", "--token", signing["token"], "--embed", str(out),
        *(["--long"] if kind == "webm-long" else []), "--target", signing["target"], "--api-key", api_key, "--json",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    said, err = await asyncio.wait_for(proc.communicate(), 120)  # (a subprocess: the replica runs on this event loop)
    assert proc.returncode == 0, err.decode()
    summary = json.loads(said)
    assert summary["decision"] == "ALLOW" and summary["signed_media_file"] == str(out)
    if kind != "webm-long":
        assert "c2pa_sidecar_file" not in summary and out.read_bytes() != media and not out.with_suffix(".c2pa").exists()
    else:
        assert summary["c2pa_sidecar_file"] == str(out.with_suffix(".c2pa")) and out.read_bytes() == media
    done = receipt_verify(out, "--keys", keys_file, "--c2pa-root", chain["root"], "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == summary["receipt_id"]


async def test_the_registry_publishes_its_c2pa_trust_and_a_keys_file_carries_it(world, signing, chain, keys_file, tmp_path):
    """GetC2paTrust is public (no API key): the root a validator trusts and the signing chain; empty
    where the deployment signs nothing. A keys file holding the root checks a signed clip without
    --c2pa-root; one holding another root refuses it."""
    async with grpc.aio.insecure_channel(signing["target"]) as channel:
        trust = await verification_pb2_grpc.VerificationServiceStub(channel).GetC2paTrust(vpb.GetC2paTrustRequest())
    assert trust.trust_anchors_pem == chain["root"].read_text() and trust.signer_chain_pem == chain["chain"].read_text()
    unsigned = await world["verify"].GetC2paTrust(vpb.GetC2paTrustRequest())
    assert not unsigned.trust_anchors_pem and not unsigned.signer_chain_pem

    answer = await signing["stub"].Verify(verify_request(face_file("obama", "obama3.jpg"), signing["token"], embed_c2pa=True),
                                          metadata=world["platform"])  # fmt: skip
    clip = tmp_path / "signed.jpg"
    clip.write_bytes(answer.signed_media.content)
    for anchor, ok in ((trust.trust_anchors_pem, True), (provenance.dev_chain("Someone Else").root_pem.decode(), False)):
        keys = json.loads(keys_file.read_text()) | {"c2pa": {"trust_anchors_pem": anchor, "signer_chain_pem": trust.signer_chain_pem}}
        with_root = tmp_path / "keys-with-root.json"
        with_root.write_text(json.dumps(keys))
        done = receipt_verify(clip, "--keys", with_root, "--json")
        if ok:
            assert done.returncode == 0 and json.loads(done.stdout)["c2pa"]["state"] == "Trusted", done.stdout + done.stderr
        else:
            assert done.returncode != 0 and "does not chain" in " ".join((done.stdout + done.stderr).split())


async def test_the_clips_own_manifest_is_read_as_evidence_and_never_changes_the_decision(world, signing, chain):
    """A generator's manifest (another CA) declares trainedAlgorithmicMedia and reserves AI training:
    Verify reports it, the receipt records it; a forged one is reported Invalid; the decision is the
    one the same pixels get without any manifest. Embedding keeps it as the parent ingredient."""
    photo = face_file("obama", "obama3.jpg")
    someone = provenance.dev_chain("Some Generator Inc")
    declared = foreign_signed(photo, "image/jpeg", someone)
    token = signing["token"]
    bare = (await world["verify"].Verify(verify_request(photo, token), metadata=world["platform"])).verification
    assert not bare.HasField("incoming_provenance")
    seen = (await world["verify"].Verify(verify_request(declared, token), metadata=world["platform"])).verification
    p = seen.incoming_provenance
    assert p.validation_state == "Valid" and "Some Generator Inc" in p.signer and p.claim_generator == "some-generator", p
    assert list(p.digital_source_types) == [provenance.TRAINED_ALGORITHMIC_MEDIA]
    assert list(p.training_mining) == ["cawg.ai_generative_training=notAllowed"]
    assert seen.decision == bare.decision == vpb.DECISION_ALLOW
    receipt = json.loads(seen.receipt.canonical_payload)
    assert receipt["schema"] == 9 and receipt["incoming_provenance"]["state"] == "Valid"
    assert receipt["incoming_provenance"]["digital_source_types"] == [provenance.TRAINED_ALGORITHMIC_MEDIA]

    forged = bytearray(declared)
    forged[-5000] ^= 0x01
    bad = (await world["verify"].Verify(verify_request(bytes(forged), token), metadata=world["platform"])).verification
    assert bad.incoming_provenance.validation_state == "Invalid" and "assertion.dataHash.mismatch" in bad.incoming_provenance.failures
    assert bad.decision == vpb.DECISION_ALLOW

    signed = (await signing["stub"].Verify(verify_request(declared, token, embed_c2pa=True), metadata=world["platform"])).signed_media
    import c2pa

    with c2pa.Reader("image/jpeg", io.BytesIO(signed.content)) as reader:
        store = json.loads(reader.json())
    assert len(store["manifests"]) == 2  # ours, and the generator's as our parent ingredient's
    ours = store["manifests"][store["active_manifest"]]
    [parent] = ours["ingredients"]
    assert parent["relationship"] == "parentOf" and parent.get("active_manifest") in store["manifests"]
    assert provenance.read(signed.content, "image/jpeg", chain["root"].read_bytes()).state == "Trusted"
