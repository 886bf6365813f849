"""Whose likeness is it? Duplicate-likeness disputes at enrollment, through the real services.

The world has Obama's face and reader 1688's voice enrolled by one agency. A second agency
registers "B. Obama", enrolls other Obama photos and grants a platform consent (consent
laundering): the enrollment is held (DISPUTED), both agencies see the dispute, and a Verify of an
Obama photo is REVIEW naming it, never ALLOW. The operator resolves: SAME_PERSON_KEEP_EXISTING
rejects the held templates (every index drops them) and Verify decides normally again.
"""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.events.v1 import events_pb2
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.registry.v1 import registry_pb2_grpc
from likeness.verification.v1 import verification_pb2 as vpb
from tests.conftest import bearer, unique
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
from verification.domain.model import Modality


@pytest.fixture(scope="module")
async def second(stack, channel, world):
    """A second agency, and the enrollment stub."""
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    agency = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("ag2")), metadata=world["op"])
    async with grpc.aio.insecure_channel(world["enroll_target"], options=BIG) as ch:

        async def talent(name: str, md=None) -> str:
            resp = await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name=name), metadata=md or bearer(agency.api_key))
            return resp.talent.talent_id

        yield {"md": bearer(agency.api_key), "agency_id": agency.agency.agency_id, "talent": talent,
               "enroll": enrollment_pb2_grpc.EnrollmentServiceStub(ch)}  # fmt: skip


async def test_a_second_record_of_an_enrolled_face_is_held_in_a_dispute_and_verify_is_review(world, second, verification_app):
    enroll, md = second["enroll"], second["md"]
    fake = await second["talent"]("B. Obama")
    resp = await enroll_faces(enroll, md, fake, ("obama", "obama3.jpg"), ("obama", "obama4.jpg"))
    assert resp.enrollment.state == epb.ENROLLMENT_STATE_DISPUTED
    [dispute_id] = resp.enrollment.dispute_ids
    dispute = (await enroll.GetDispute(epb.GetDisputeRequest(dispute_id=dispute_id), metadata=md)).dispute
    assert (dispute.talent_id, dispute.existing_talent_id) == (fake, world["ids"]["obama"])
    assert dispute.state == epb.DISPUTE_STATE_OPEN and dispute.modality == epb.MODALITY_FACE
    assert dispute.enrollment_id == resp.enrollment.enrollment_id and dispute.score == 0  # the score: operators only
    operator_view = (await enroll.GetDispute(epb.GetDisputeRequest(dispute_id=dispute_id), metadata=world["op"])).dispute
    assert operator_view.score >= 0.5
    # Both agencies see it on their own talent (the other side only as a talent id); a platform does not.
    theirs = await enroll.ListDisputes(epb.ListDisputesRequest(talent_id=world["ids"]["obama"]), metadata=world["agency"])
    assert [d.dispute_id for d in theirs.disputes] == [dispute_id] and theirs.disputes[0].enrollment_id == ""
    await expect(grpc.StatusCode.NOT_FOUND, enroll.GetDispute(epb.GetDisputeRequest(dispute_id=dispute_id), metadata=world["platform"]))
    await expect(grpc.StatusCode.PERMISSION_DENIED, enroll.ListDisputes(epb.ListDisputesRequest(), metadata=world["platform"]))
    await expect(grpc.StatusCode.PERMISSION_DENIED, enroll.ResolveDispute(epb.ResolveDisputeRequest(
        request_id=rid(), dispute_id=dispute_id, resolution=epb.DISPUTE_RESOLUTION_DISTINCT_PEOPLE), metadata=md))  # fmt: skip

    # Consent laundering: both records hold a grant; a Verify of Obama is REVIEW naming the dispute.
    await wait_indexed(verification_app.app, fake, Modality.FACE)
    await grant(world, world["ids"]["obama"])
    laundered = await grant(world | {"agency": md}, fake)
    verdict = await world["verify"].Verify(verify_request(face_file("obama", "obama-480p.jpg"), token=laundered.consistency_token),
                                           metadata=world["platform"])  # fmt: skip
    v = verdict.verification
    assert v.decision == vpb.DECISION_REVIEW and vpb.REVIEW_REASON_LIKENESS_DISPUTE in v.review_reasons, v
    assert {m.talent_id: m.dispute_id for m in v.matches} == {world["ids"]["obama"]: dispute_id, fake: dispute_id}

    # The operator: the same person, the existing record stays. The held templates are gone from every index.
    resolved = await enroll.ResolveDispute(epb.ResolveDisputeRequest(
        request_id=rid(), dispute_id=dispute_id, resolution=epb.DISPUTE_RESOLUTION_SAME_PERSON_KEEP_EXISTING, note="ID checked"),
        metadata=world["op"])  # fmt: skip
    assert resolved.dispute.state == epb.DISPUTE_STATE_RESOLVED
    started = time.monotonic()
    dropped_s = await wait_indexed(verification_app.app, fake, Modality.FACE, present=False, timeout=10)
    after = (await world["verify"].Verify(verify_request(face_file("obama", "obama-480p.jpg")), metadata=world["platform"])).verification
    assert after.decision == vpb.DECISION_ALLOW and {m.talent_id for m in after.matches} == {world["ids"]["obama"]}
    status = await enroll.GetEnrollmentStatus(epb.GetEnrollmentStatusRequest(talent_id=fake), metadata=md)
    assert list(status.enrollments) == []  # rejected: its templates are deleted
    print(f"\nafter SAME_PERSON_KEEP_EXISTING the verification index dropped the held face in {dropped_s * 1000:.0f} ms "
          f"({(time.monotonic() - started) * 1000:.0f} ms to the next ALLOW)")


async def test_a_second_record_of_an_enrolled_voice_opens_a_dispute_distinct_people_releases_it(world, second, pool):
    enroll, md = second["enroll"], second["md"]
    twin = await second["talent"]("Reader A's twin")
    clips = [epb.MediaSample(filename=f"1688-{i}.flac", content=c) for i, c in enumerate(utterances("1688")[4:8])]
    resp = await enroll.EnrollVoice(epb.EnrollVoiceRequest(request_id=rid(), talent_id=twin, notice=NOTICE, clips=clips), metadata=md)
    assert resp.enrollment.state == epb.ENROLLMENT_STATE_DISPUTED
    [dispute_id] = resp.enrollment.dispute_ids
    rows = await pool.fetch("SELECT message_key, payload FROM outbox WHERE event_type = 'LikenessDisputeOpened'")
    opened = [r for r in rows if events_pb2.Event.FromString(r["payload"]).likeness_dispute_opened.dispute_id == dispute_id]
    assert sorted(r["message_key"] for r in opened) == sorted([twin, world["ids"]["reader_a"]])  # one event per talent

    await enroll.ResolveDispute(epb.ResolveDisputeRequest(request_id=rid(), dispute_id=dispute_id,
                                                          resolution=epb.DISPUTE_RESOLUTION_DISTINCT_PEOPLE), metadata=world["op"])  # fmt: skip
    status = await enroll.GetEnrollmentStatus(epb.GetEnrollmentStatusRequest(talent_id=twin), metadata=md)
    assert [e.state for e in status.enrollments] == [epb.ENROLLMENT_STATE_ACTIVE]
    more = [epb.MediaSample(filename=f"1688-{i}.flac", content=c) for i, c in enumerate(utterances("1688")[8:11])]
    again = await enroll.EnrollVoice(epb.EnrollVoiceRequest(request_id=rid(), talent_id=twin, notice=NOTICE, clips=more), metadata=md)
    assert again.enrollment.state == epb.ENROLLMENT_STATE_ACTIVE  # the pair is remembered: no new dispute


async def test_a_different_person_opens_no_dispute(second):
    enroll, md = second["enroll"], second["md"]
    someone = await second["talent"]("Kit Harington")
    resp = await enroll_faces(enroll, md, someone, ("kit_harington", "john1.jpeg"))
    assert resp.enrollment.state == epb.ENROLLMENT_STATE_ACTIVE and not resp.enrollment.dispute_ids


async def test_two_concurrent_enrollments_of_one_face_do_not_miss_each_other(second):
    enroll, md = second["enroll"], second["md"]
    one, two = await second["talent"]("Alex L."), await second["talent"]("A. Lacamoire")
    first, other = await asyncio.gather(enroll_faces(enroll, md, one, ("alex_lacamoire", "alex2.jpg")),
                                        enroll_faces(enroll, md, two, ("alex_lacamoire", "alex3.jpg")))  # fmt: skip
    held = [r for r in (first, other) if r.enrollment.state == epb.ENROLLMENT_STATE_DISPUTED]
    assert held, "two concurrent enrollments of one face both came back ACTIVE"
    listed = await enroll.ListDisputes(epb.ListDisputesRequest(talent_id=one), metadata=md)
    assert len([d for d in listed.disputes if {d.talent_id, d.existing_talent_id} == {one, two}]) == 1  # one dispute per pair


async def test_review_band_similarity_is_a_warning_on_the_result_not_a_dispute(second):
    """alex1.png scores 0.48 against alex2/alex3 (face match 0.50, review 0.40): recorded, not held."""
    enroll, md = second["enroll"], second["md"]
    third = await second["talent"]("Alex, older photo")
    resp = await enroll_faces(enroll, md, third, ("alex_lacamoire", "alex1.png"))
    assert resp.enrollment.state == epb.ENROLLMENT_STATE_ACTIVE and not resp.enrollment.dispute_ids
    [warning] = resp.warnings
    assert warning.modality == epb.MODALITY_FACE and warning.similar_talent == 2, warning


async def test_erasing_the_held_record_withdraws_its_dispute(second, world):
    """An erased record never keeps another talent in REVIEW: its open dispute ends WITHDRAWN."""
    enroll, md = second["enroll"], second["md"]
    copy = await second["talent"]("Lin-Manuel M.")
    held = await enroll_faces(enroll, md, copy, ("lin_manuel_miranda", "lin1.png"))
    [dispute_id] = held.enrollment.dispute_ids  # the world enrolled lin1.png under Lin-Manuel Miranda
    await enroll.EraseTalentBiometrics(epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=copy), metadata=md)
    after = (await enroll.GetDispute(epb.GetDisputeRequest(dispute_id=dispute_id), metadata=world["op"])).dispute
    assert after.state == epb.DISPUTE_STATE_RESOLVED and after.resolution == epb.DISPUTE_RESOLUTION_WITHDRAWN, after
