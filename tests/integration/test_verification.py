"""Verify over real gRPC with real media: enrollment -> outbox -> Kafka -> the verification index;
consent through the consent service; receipts checked with the published keys; events on Kafka."""

from __future__ import annotations

import hashlib
import os
import time

import grpc
import numpy as np
import pytest

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.events.v1 import events_pb2
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.registry.v1 import registry_pb2_grpc
from likeness.verification.v1 import verification_pb2 as vpb
from likeness_biometrics import decode_audio
from likeness_common import topics
from likeness_common.documents import RECEIPT_TYPE
from likeness_common.signing import SignatureError, verify_envelope
from tests.conftest import bearer, error_reason, shared_data, start_verification, unique
from tests.integration.verification_world import (
    by_talent,
    expect,
    face_file,
    grant,
    published_keys,
    receipt_document,
    rid,
    utterances,
    verify_request,
    wait_indexed,
    wav,
)
from tests.support import consume, wait_drained
from verification.bootstrap import VerificationSettings
from verification.domain.model import Modality


async def test_obama_photo_is_denied_without_a_grant_and_allowed_with_one(world):
    ids, stub = world["ids"], world["verify"]
    photo = face_file("obama", "obama3.jpg")  # not one of the enrollment photos
    denied = (await stub.Verify(verify_request(photo), metadata=world["platform"])).verification
    assert denied.decision == vpb.DECISION_DENY
    assert list(by_talent(denied)) == [ids["obama"]]
    match = denied.matches[0]
    assert match.modality == epb.MODALITY_FACE and match.score >= 0.5 and not match.in_review_band
    assert match.denial_reason == cpb.DENIAL_REASON_NO_GRANT and match.face_box.bottom > match.face_box.top

    granted = await grant(world, ids["obama"])
    allowed = (await stub.Verify(verify_request(photo, granted.consistency_token), metadata=world["platform"])).verification
    assert allowed.decision == vpb.DECISION_ALLOW
    assert list(allowed.grant_ids) == [granted.grant.grant_id] and allowed.matches[0].grant_id == granted.grant.grant_id
    assert [(c.kind, c.value) for c in allowed.conditions] == [("disclosure_label", "AI-generated")]
    assert allowed.consistency_token and allowed.media_type == "image/jpeg" and allowed.frames_analyzed == 1
    # The grant names one platform: another platform's upload of the same photo is denied.
    other = (await stub.Verify(verify_request(photo, granted.consistency_token), metadata=world["platform2"])).verification
    assert other.decision == vpb.DECISION_DENY and other.matches[0].denial_reason == cpb.DENIAL_REASON_WRONG_PLATFORM


async def test_receipt_is_signed_binds_the_clip_and_fails_when_tampered(world, verification_app):
    photo = face_file("obama", "obama3.jpg")
    v = (await world["verify"].Verify(verify_request(photo, purpose=cpb.PURPOSE_DUBBING, territory="fr"), metadata=world["platform"])).verification
    document = receipt_document(v)
    payload = verify_envelope(document, await published_keys(world), RECEIPT_TYPE)
    assert payload["media"]["sha256"] == hashlib.sha256(photo).hexdigest() == v.media_sha256
    assert payload["platform_id"] == world["platform_id"] and payload["decision"] == "DENY"
    assert payload["use"] == {"purpose": "DUBBING", "custom_purpose": "", "territory": "FR"}
    assert payload["matches"][0]["talent_id"] == world["ids"]["obama"] and payload["models"]["FACE"].startswith("dlib")
    assert payload["verification_id"] == v.verification_id and payload["receipt_id"] == v.receipt.receipt_id
    # The population the thresholds were set for (schema 9): the templates searched, and what each
    # match's score means among them: strangers' templates expected to score as high.
    faces = verification_app.app.index.sizes()["FACE"]
    assert payload["thresholds"]["population_face"] == str(faces) and payload["thresholds"]["population_reference"] == "100"
    rule = VerificationSettings().population_rule()
    assert float(payload["matches"][0]["impostors"]) == pytest.approx(faces * rule.face.p(float(payload["matches"][0]["score"])), rel=1e-3)
    assert float(payload["matches"][0]["impostors"]) < 1e-3  # Obama's own photo: nowhere near a stranger's score
    assert v.matches[0].HasField("impostors") and f"{v.matches[0].impostors:.3e}" == payload["matches"][0]["impostors"]  # the API says the same
    for position in range(0, len(document) - 1, max(1, len(document) // 40)):  # every ~40th byte, newline excluded
        tampered = bytearray(document)
        tampered[position] ^= 0x01
        with pytest.raises(SignatureError):
            verify_envelope(bytes(tampered), await published_keys(world), RECEIPT_TYPE)
    fetched = (await world["verify"].GetReceipt(vpb.GetReceiptRequest(verification_id=v.verification_id), metadata=world["platform"])).verification
    assert receipt_document(fetched) == document
    await expect(grpc.StatusCode.NOT_FOUND, world["verify"].GetReceipt(vpb.GetReceiptRequest(verification_id=v.verification_id), metadata=world["platform2"]))


async def test_same_request_id_returns_the_same_receipt(world):
    request = verify_request(face_file("biden", "biden2.jpg"))
    first = (await world["verify"].Verify(request, metadata=world["platform"])).verification
    again = (await world["verify"].Verify(request, metadata=world["platform"])).verification
    assert again.verification_id == first.verification_id and again.receipt == first.receipt
    changed = verify_request(face_file("obama", "obama3.jpg"), request_id=request.parameters.request_id)
    err = await expect(grpc.StatusCode.INVALID_ARGUMENT, world["verify"].Verify(changed, metadata=world["platform"]))
    assert error_reason(err) == "REQUEST_ID_REUSED"


async def test_group_photo_finds_both_people_and_names_the_one_without_consent(world):
    ids = world["ids"]
    granted = await grant(world, ids["obama"])
    v = (await world["verify"].Verify(verify_request(face_file("group", "two_people.jpg"), granted.consistency_token),
                                      metadata=world["platform"])).verification  # fmt: skip
    found = by_talent(v)
    assert set(found) == {ids["obama"], ids["biden"]}
    assert v.decision == vpb.DECISION_DENY
    assert found[ids["obama"]].grant_id and found[ids["biden"]].denial_reason == cpb.DENIAL_REASON_NO_GRANT


async def test_unenrolled_face_and_landscape_are_no_match(world):
    for photo in (face_file("rose_leslie", "rose1.jpg"), face_file("kit_harington", "john1.jpeg")):
        v = (await world["verify"].Verify(verify_request(photo), metadata=world["platform"])).verification
        assert v.decision == vpb.DECISION_NO_MATCH and not v.matches, [(m.talent_id, m.score) for m in v.matches]


async def test_video_frames_find_lin_manuel_miranda_with_timestamps(world):
    clip = shared_data("faces", "video", "short_hamilton_clip.mp4").read_bytes()
    v = (await world["verify"].Verify(verify_request(clip), metadata=world["platform"])).verification
    assert v.media_type == "video/mp4" and v.frames_analyzed >= 2
    lin = by_talent(v)[world["ids"]["lin"]]
    assert lin.modality == epb.MODALITY_FACE and lin.score >= 0.5 and lin.face_box.right > lin.face_box.left
    assert v.decision == vpb.DECISION_DENY  # no grant for Lin-Manuel Miranda
    # The same clip streamed in 64 KiB chunks gives the same answer.
    async def chunks():
        yield vpb.VerifyStreamRequest(parameters=vpb.VerifyParameters(request_id=rid(), purpose=cpb.PURPOSE_ADVERTISING))
        for start in range(0, len(clip), 65536):
            yield vpb.VerifyStreamRequest(chunk=clip[start : start + 65536])

    streamed = (await world["verify"].VerifyStream(chunks(), metadata=world["platform"])).verification
    assert streamed.media_sha256 == v.media_sha256 and set(by_talent(streamed)) == set(by_talent(v))


async def test_voice_of_an_enrolled_reader_is_found_and_two_readers_in_one_clip_both(world):
    ids = world["ids"]
    a, b = utterances("1688")[6], utterances("2414")[6]  # not used for enrollment
    single = (await world["verify"].Verify(verify_request(a), metadata=world["platform"])).verification
    assert list(by_talent(single)) == [ids["reader_a"]]
    assert single.matches[0].modality == epb.MODALITY_VOICE and single.matches[0].end_seconds > single.matches[0].start_seconds
    granted = await grant(world, ids["reader_a"], (epb.MODALITY_VOICE,))
    allowed = (await world["verify"].Verify(verify_request(a, granted.consistency_token), metadata=world["platform"])).verification
    assert allowed.decision == vpb.DECISION_ALLOW
    pause = np.zeros(8000, np.float32)
    both = wav(np.concatenate([decode_audio(a).samples, pause, decode_audio(b).samples]))
    v = (await world["verify"].Verify(verify_request(both, granted.consistency_token), metadata=world["platform"])).verification
    found = by_talent(v)
    assert set(found) == {ids["reader_a"], ids["reader_b"]}, [(m.talent_id, m.score) for m in v.matches]
    assert found[ids["reader_a"]].end_seconds <= found[ids["reader_b"]].start_seconds + 0.5  # A speaks first
    assert v.decision in (vpb.DECISION_DENY, vpb.DECISION_REVIEW) and found[ids["reader_b"]].denial_reason == cpb.DENIAL_REASON_NO_GRANT


async def test_revoke_with_token_denies_at_once(world):
    ids = world["ids"]
    granted = await grant(world, ids["biden"])
    photo = face_file("biden", "biden2.jpg")
    assert (await world["verify"].Verify(verify_request(photo, granted.consistency_token), metadata=world["platform"])).verification.decision == vpb.DECISION_ALLOW
    revoked = await world["consent"].RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=granted.grant.grant_id, reason="talent withdrew"),
                                                 metadata=world["agency"])  # fmt: skip
    v = (await world["verify"].Verify(verify_request(photo, revoked.consistency_token), metadata=world["platform"])).verification
    assert v.decision == vpb.DECISION_DENY and v.matches[0].denial_reason == cpb.DENIAL_REASON_REVOKED


async def test_bad_requests_get_clear_errors(world):
    stub = world["verify"]
    err = await expect(grpc.StatusCode.INVALID_ARGUMENT, stub.Verify(verify_request(os.urandom(4096)), metadata=world["platform"]))
    assert error_reason(err) == "UNDECODABLE_MEDIA"
    err = await expect(grpc.StatusCode.INVALID_ARGUMENT, stub.Verify(verify_request(b"%PDF-1.7 not media"), metadata=world["platform"]))
    assert error_reason(err) in ("UNDECODABLE_MEDIA", "UNSUPPORTED_MEDIA_TYPE")
    photo = face_file("obama", "obama3.jpg")
    err = await expect(grpc.StatusCode.INVALID_ARGUMENT, stub.Verify(verify_request(photo, purpose=cpb.PURPOSE_UNSPECIFIED), metadata=world["platform"]))
    assert "purpose" in err.details()
    await expect(grpc.StatusCode.INVALID_ARGUMENT, stub.Verify(verify_request(photo, territory="XX"), metadata=world["platform"]))
    await expect(grpc.StatusCode.INVALID_ARGUMENT, stub.Verify(verify_request(photo, token="not-a-token"), metadata=world["platform"]))
    await expect(grpc.StatusCode.INVALID_ARGUMENT, stub.Verify(verify_request(b""), metadata=world["platform"]))
    err = await expect(grpc.StatusCode.INVALID_ARGUMENT, stub.Verify(verify_request(photo, content_type="audio/wav"), metadata=world["platform"]))
    assert error_reason(err) == "CONTENT_TYPE_MISMATCH"
    err = await expect(grpc.StatusCode.PERMISSION_DENIED, stub.Verify(verify_request(photo), metadata=world["agency"]))
    assert error_reason(err) == "PLATFORM_ONLY"
    await expect(grpc.StatusCode.UNAUTHENTICATED, stub.Verify(verify_request(photo)))

    async def parameters_twice():
        p = vpb.VerifyParameters(request_id=rid(), purpose=cpb.PURPOSE_ADVERTISING)
        yield vpb.VerifyStreamRequest(parameters=p)
        yield vpb.VerifyStreamRequest(chunk=photo)
        yield vpb.VerifyStreamRequest(parameters=p)

    err = await expect(grpc.StatusCode.INVALID_ARGUMENT, stub.VerifyStream(parameters_twice(), metadata=world["platform"]))
    assert error_reason(err) == "STREAM_OUT_OF_ORDER"


async def test_decisions_are_published_keyed_by_each_matched_talent_or_the_platform(world, stack, pool):
    ids = world["ids"]
    two = (await world["verify"].Verify(verify_request(face_file("group", "two_people.jpg")), metadata=world["platform"])).verification
    none = (await world["verify"].Verify(verify_request(face_file("rose_leslie", "rose1.jpg")), metadata=world["platform"])).verification
    keys = {ids["obama"], ids["biden"], world["platform_id"]}
    await wait_drained(pool, list(keys))
    want = {str(r["event_id"]) for r in await pool.fetch(
        "SELECT event_id FROM outbox WHERE topic = $1 AND message_key = ANY($2::text[])", topics.VERIFICATION.name, list(keys))}  # fmt: skip
    records = await consume(stack.bootstrap, topics.VERIFICATION.name, keys, want)
    seen: dict[str, set[str]] = {}
    for record in records:
        event = events_pb2.Event.FromString(record.value)
        decided = event.verification_decided
        seen.setdefault(decided.verification_id, set()).add(record.key.decode())
        assert not event.HasField("face_enrolled") and decided.media_sha256  # a decision, never media
    assert seen[two.verification_id] == {ids["obama"], ids["biden"]}
    assert seen[none.verification_id] == {world["platform_id"]}


async def test_agencies_list_uses_of_their_talent_and_read_those_receipts(world, channel):
    stub, op = world["verify"], world["op"]
    earlier = (await stub.Verify(verify_request(face_file("obama", "obama3.jpg")), metadata=world["platform2"])).verification
    v = (await stub.Verify(verify_request(face_file("group", "two_people.jpg")), metadata=world["platform"])).verification
    first = await stub.ListVerifications(vpb.ListVerificationsRequest(page_size=1), metadata=world["agency"])
    assert [x.verification_id for x in first.verifications] == [v.verification_id]  # newest first
    assert receipt_document(first.verifications[0]) == receipt_document(v)
    second = await stub.ListVerifications(vpb.ListVerificationsRequest(page_size=1, page_token=first.next_page_token), metadata=world["agency"])
    assert second.verifications[0].verification_id == earlier.verification_id  # another platform's use of its talent
    fetched = (await stub.GetReceipt(vpb.GetReceiptRequest(verification_id=v.verification_id), metadata=world["agency"])).verification
    assert receipt_document(fetched) == receipt_document(v)

    own = (await stub.ListVerifications(vpb.ListVerificationsRequest(page_size=500), metadata=world["platform2"])).verifications
    assert {x.platform_id for x in own} == {world["platform2_id"]} and v.verification_id not in {x.verification_id for x in own}
    everything = (await stub.ListVerifications(vpb.ListVerificationsRequest(), metadata=op)).verifications
    assert everything[0].verification_id == v.verification_id

    # Another agency, with a talent of its own that never matched, sees none of them.
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    other = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("ag")), metadata=op)
    await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name="someone"), metadata=bearer(other.api_key))
    assert not (await stub.ListVerifications(vpb.ListVerificationsRequest(), metadata=bearer(other.api_key))).verifications
    await expect(grpc.StatusCode.NOT_FOUND, stub.GetReceipt(vpb.GetReceiptRequest(verification_id=v.verification_id),
                                                           metadata=bearer(other.api_key)))  # fmt: skip


async def test_erased_talent_stops_matching_and_a_fresh_replica_rebuilds_its_index(world, stack, pool, consent_app, verification_app):
    ids = world["ids"]
    fresh = await start_verification(stack, pool, consent_app.target, workers=1)
    try:
        for name, modality in (("obama", Modality.FACE), ("biden", Modality.FACE), ("lin", Modality.FACE), ("reader_a", Modality.VOICE)):
            assert fresh.app.index.contains(ids[name], modality), name
        async with grpc.aio.insecure_channel(world["enroll_target"]) as ch:
            erased_at = time.monotonic()
            await enrollment_pb2_grpc.EnrollmentServiceStub(ch).EraseTalentBiometrics(
                epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=ids["lin"], reason="erasure test"), metadata=world["agency"]
            )
        # Verify never answers with an erased talent, even before the index hears of the erasure.
        clip = face_file("lin_manuel_miranda", "lin1.png")
        v = (await world["verify"].Verify(verify_request(clip), metadata=world["platform"])).verification
        assert ids["lin"] not in by_talent(v)
        for app in (verification_app.app, fresh.app):
            await wait_indexed(app, ids["lin"], Modality.FACE, present=False)
        print(f"\nerasure left both replicas' indexes {time.monotonic() - erased_at:.3f}s after the erase RPC was sent")
    finally:
        await fresh.app.stop()
