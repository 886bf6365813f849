"""When a mandate ends (EndMandate by its agency or an operator, or its valid_until passes), over
real gRPC, Postgres and the broker:

- grants issued under it stay valid: they are signed licenses, in force until they expire or
  someone with authority revokes them (CheckConsent and Verify still ALLOW, the platform still
  reads them, the signature still verifies offline);
- the former agency can no longer act for the talent: no CreateGrant, RevokeGrant, ListGrants,
  GetGrant, agency-side CheckConsent, EnrollFace, EraseTalentBiometrics, GetEnrollmentStatus,
  GetTalent, and it no longer sees the talent's uses (verifications that matched the talent);
- any agency with a current mandate (GrantMandate, operator only) or an operator may revoke the
  grant, and the revoke's consistency token makes the platform's next check DENY REVOKED.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.consent.v1 import consent_pb2_grpc
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.events.v1 import events_pb2
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.registry.v1 import registry_pb2_grpc
from likeness.verification.v1 import verification_pb2 as vpb
from likeness.verification.v1 import verification_pb2_grpc
from likeness_common.proto import ts
from likeness_common.signing import Signature, envelope, verify_envelope
from tests.conftest import bearer, start_verification, unique
from tests.support import BIG, NOTICE, expect, face, rid, wait_indexed

DENIED = grpc.StatusCode.PERMISSION_DENIED




@pytest.fixture(scope="module")
async def parties(stack, channel, consent_app):
    """Agencies A (the former agency) and B (the next one), platform P, the operator, and stubs."""
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    op = bearer(stack.operator_key)
    a = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("ag-a")), metadata=op)
    b = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("ag-b")), metadata=op)
    p = await reg.RegisterPlatform(rpb.RegisterPlatformRequest(request_id=rid(), display_name=unique("pl")), metadata=op)
    async with grpc.aio.insecure_channel(consent_app.target) as cch:
        yield {
            "reg": reg, "consent": consent_pb2_grpc.ConsentServiceStub(cch), "op": op,
            "a": bearer(a.api_key), "a_id": a.agency.agency_id, "b": bearer(b.api_key), "b_id": b.agency.agency_id,
            "p": bearer(p.api_key), "p_id": p.platform.platform_id,
        }  # fmt: skip


async def talent_of_a(w, **mandate) -> tuple[str, str]:
    """A registers a talent: (talent id, A's mandate id)."""
    resp = await w["reg"].RegisterTalent(
        rpb.RegisterTalentRequest(request_id=rid(), display_name=unique("t"), **mandate), metadata=w["a"]
    )
    assert resp.mandate.agency_id == w["a_id"] and resp.mandate.state == rpb.MANDATE_STATE_ACTIVE
    return resp.talent.talent_id, resp.mandate.mandate_id


def grant_request(talent_id: str, platform_id: str) -> cpb.CreateGrantRequest:
    return cpb.CreateGrantRequest(request_id=rid(), grant=cpb.Grant(
        talent_id=talent_id, platform_id=platform_id, modalities=[epb.MODALITY_FACE], purposes=[cpb.PURPOSE_ADVERTISING],
        worldwide=True, conditions=[cpb.Condition(kind="disclosure_label", value="AI-generated")], terms_ref="C-mandate-end",
    ))  # fmt: skip


def check(talent_id: str, token: str = "", **fields) -> cpb.CheckConsentRequest:
    return cpb.CheckConsentRequest(talent_id=talent_id, modality=epb.MODALITY_FACE, purpose=cpb.PURPOSE_ADVERTISING,
                                   territory="US", at_least_as_fresh=token, **fields)  # fmt: skip


async def end_mandate(w, mandate_id: str, by: str = "a") -> rpb.Mandate:
    ended = (await w["reg"].EndMandate(rpb.EndMandateRequest(request_id=rid(), mandate_id=mandate_id, reason="contract over"),
                                       metadata=w[by])).mandate  # fmt: skip
    assert ended.state == rpb.MANDATE_STATE_ENDED and ended.HasField("end_time")
    return ended


async def assert_former_agency_locked_out(w, talent_id: str, grant_id: str) -> None:
    """A, whose mandate over the talent has ended, may not act for it nor read its grants."""
    c = w["consent"]
    await expect(DENIED, c.CreateGrant(grant_request(talent_id, w["p_id"]), metadata=w["a"]), "NO_MANDATE")
    await expect(
        DENIED,
        c.RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=grant_id, reason="x"), metadata=w["a"]),
        "NO_MANDATE",
    )
    await expect(DENIED, c.ListGrants(cpb.ListGrantsRequest(talent_id=talent_id), metadata=w["a"]), "NO_MANDATE")
    await expect(DENIED, c.GetGrant(cpb.GetGrantRequest(grant_id=grant_id), metadata=w["a"]))
    await expect(DENIED, c.CheckConsent(check(talent_id, platform_id=w["p_id"]), metadata=w["a"]), "NO_MANDATE")
    await expect(DENIED, w["reg"].GetTalent(rpb.GetTalentRequest(talent_id=talent_id), metadata=w["a"]))
    listed = await w["reg"].ListTalent(rpb.ListTalentRequest(page_size=1000), metadata=w["a"])
    assert talent_id not in {t.talent_id for t in listed.talent}


async def platform_allowed(w, talent_id: str, grant_id: str, token: str = "") -> None:
    allowed = await w["consent"].CheckConsent(check(talent_id, token), metadata=w["p"])
    assert allowed.allowed and list(allowed.grant_ids) == [grant_id], allowed
    assert [(x.kind, x.value) for x in allowed.conditions] == [("disclosure_label", "AI-generated")]


async def test_grants_issued_under_an_ended_mandate_stay_valid_and_the_former_agency_is_locked_out(parties):
    w = parties
    talent, mandate_id = await talent_of_a(w)
    created = await w["consent"].CreateGrant(grant_request(talent, w["p_id"]), metadata=w["a"])
    assert created.grant.issuer.kind == "agency" and created.grant.issuer.principal_id == w["a_id"]
    grant_id = created.grant.grant_id

    await end_mandate(w, mandate_id)  # by A itself
    mandates = await w["reg"].ListMandates(rpb.ListMandatesRequest(talent_id=talent), metadata=w["op"])
    assert [(m.agency_id, m.state) for m in mandates.mandates] == [(w["a_id"], rpb.MANDATE_STATE_ENDED)]

    # The grant is a signed license: still in force for the platform, with or without a token.
    await platform_allowed(w, talent, grant_id, created.consistency_token)
    await platform_allowed(w, talent, grant_id)
    got = (await w["consent"].GetGrant(cpb.GetGrantRequest(grant_id=grant_id), metadata=w["p"])).grant
    assert got.state == cpb.GRANT_STATE_ACTIVE and got.issuer.principal_id == w["a_id"]
    keys = {k.key_id: k.public_key for k in (await w["consent"].GetSigningKeys(cpb.GetSigningKeysRequest())).keys}
    sig = got.signature
    payload = verify_envelope(
        envelope("likeness.grant.v1", sig.canonical_payload, Signature(sig.key_id, sig.algorithm, sig.signature)), keys
    )
    assert payload["grant_id"] == grant_id and payload["issuer"] == {"kind": "agency", "principal_id": w["a_id"]}
    operator_view = await w["consent"].ListGrants(cpb.ListGrantsRequest(talent_id=talent), metadata=w["op"])
    assert [(g.grant_id, g.state) for g in operator_view.grants] == [(grant_id, cpb.GRANT_STATE_ACTIVE)]

    # A can neither grant, revoke nor read for the talent any more.
    await assert_former_agency_locked_out(w, talent, grant_id)
    # A's refused revoke changed nothing.
    await platform_allowed(w, talent, grant_id)
    # Ending it again is refused; A cannot re-grant itself a mandate (operator only).
    await expect(grpc.StatusCode.FAILED_PRECONDITION, w["reg"].EndMandate(rpb.EndMandateRequest(request_id=rid(), mandate_id=mandate_id),
                                                                          metadata=w["a"]), "MANDATE_ALREADY_ENDED")  # fmt: skip
    await expect(
        DENIED,
        w["reg"].GrantMandate(rpb.GrantMandateRequest(request_id=rid(), agency_id=w["a_id"], talent_id=talent), metadata=w["a"]),
    )


async def test_replaying_a_create_after_the_mandate_ended_is_refused(parties):
    """A retry (same request_id, same grant) of a CreateGrant that succeeded under the mandate: the
    service authorizes before it recalls the first result, so the former agency gets NO_MANDATE,
    not the grant."""
    w = parties
    talent, mandate_id = await talent_of_a(w)
    req = grant_request(talent, w["p_id"])
    first = await w["consent"].CreateGrant(req, metadata=w["a"])
    again = await w["consent"].CreateGrant(req, metadata=w["a"])
    assert again.grant.grant_id == first.grant.grant_id
    await end_mandate(w, mandate_id)
    await expect(DENIED, w["consent"].CreateGrant(req, metadata=w["a"]), "NO_MANDATE")
    await platform_allowed(w, talent, first.grant.grant_id)


async def test_an_agency_with_a_current_mandate_revokes_the_former_agencys_grant(parties, pool):
    w = parties
    talent, mandate_id = await talent_of_a(w)
    created = await w["consent"].CreateGrant(grant_request(talent, w["p_id"]), metadata=w["a"])
    grant_id = created.grant.grant_id
    # B holds no mandate yet: it may not touch the grant.
    await expect(
        DENIED,
        w["consent"].RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=grant_id), metadata=w["b"]),
        "NO_MANDATE",
    )
    await end_mandate(w, mandate_id)
    # A second agency gets a mandate only from an operator (GrantMandate is operator only).
    await expect(
        DENIED,
        w["reg"].GrantMandate(rpb.GrantMandateRequest(request_id=rid(), agency_id=w["b_id"], talent_id=talent), metadata=w["b"]),
    )
    granted = await w["reg"].GrantMandate(
        rpb.GrantMandateRequest(request_id=rid(), agency_id=w["b_id"], talent_id=talent), metadata=w["op"]
    )
    assert granted.mandate.state == rpb.MANDATE_STATE_ACTIVE

    # B reads the grant A issued; the grant is still in force until B acts.
    listed = await w["consent"].ListGrants(cpb.ListGrantsRequest(talent_id=talent), metadata=w["b"])
    assert [(g.grant_id, g.issuer.principal_id, g.state) for g in listed.grants] == [
        (grant_id, w["a_id"], cpb.GRANT_STATE_ACTIVE)
    ]
    assert (await w["consent"].GetGrant(cpb.GetGrantRequest(grant_id=grant_id), metadata=w["b"])).grant.grant_id == grant_id
    await platform_allowed(w, talent, grant_id)
    # A still cannot revoke, B's mandate notwithstanding.
    await assert_former_agency_locked_out(w, talent, grant_id)

    revoked = await w["consent"].RevokeGrant(
        cpb.RevokeGrantRequest(request_id=rid(), grant_id=grant_id, reason="new agency"), metadata=w["b"]
    )
    assert revoked.grant.state == cpb.GRANT_STATE_REVOKED and revoked.grant.revoke_reason == "new agency"
    denied = await w["consent"].CheckConsent(check(talent, revoked.consistency_token), metadata=w["p"])
    assert not denied.allowed and denied.reason == cpb.DENIAL_REASON_REVOKED and not denied.grant_ids
    seen_by_p = (await w["consent"].GetGrant(cpb.GetGrantRequest(grant_id=grant_id), metadata=w["p"])).grant
    assert seen_by_p.state == cpb.GRANT_STATE_REVOKED
    row = await pool.fetchrow("SELECT payload FROM outbox WHERE message_key = $1 AND event_type = 'ConsentRevoked'", talent)
    assert events_pb2.Event.FromString(row["payload"]).actor_id == w["b_id"]  # the revoke is B's, on the record
    # B issues grants of its own for the talent.
    own = await w["consent"].CreateGrant(grant_request(talent, w["p_id"]), metadata=w["b"])
    assert own.grant.issuer.principal_id == w["b_id"]
    await platform_allowed(w, talent, own.grant.grant_id, own.consistency_token)


async def test_an_operator_revokes_when_no_agency_holds_a_mandate(parties):
    w = parties
    talent, mandate_id = await talent_of_a(w)
    created = await w["consent"].CreateGrant(grant_request(talent, w["p_id"]), metadata=w["a"])
    grant_id = created.grant.grant_id
    await end_mandate(w, mandate_id, by="op")  # the operator ends A's mandate
    await platform_allowed(w, talent, grant_id, created.consistency_token)
    await assert_former_agency_locked_out(w, talent, grant_id)
    revoked = await w["consent"].RevokeGrant(
        cpb.RevokeGrantRequest(request_id=rid(), grant_id=grant_id, reason="talent asked"), metadata=w["op"]
    )
    assert revoked.grant.state == cpb.GRANT_STATE_REVOKED
    denied = await w["consent"].CheckConsent(check(talent, revoked.consistency_token), metadata=w["p"])
    assert not denied.allowed and denied.reason == cpb.DENIAL_REASON_REVOKED


async def test_a_mandate_that_lapses_by_valid_until_ends_the_same_way(parties):
    w = parties
    until = datetime.now(UTC) + timedelta(seconds=1.5)
    talent, _ = await talent_of_a(w, mandate_valid_until=ts(until))
    created = await w["consent"].CreateGrant(grant_request(talent, w["p_id"]), metadata=w["a"])
    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.1)
    mandates = await w["reg"].ListMandates(rpb.ListMandatesRequest(talent_id=talent), metadata=w["op"])
    assert [m.state for m in mandates.mandates] == [rpb.MANDATE_STATE_ENDED]
    await platform_allowed(w, talent, created.grant.grant_id)
    await assert_former_agency_locked_out(w, talent, created.grant.grant_id)


async def test_the_former_agency_can_neither_enroll_nor_erase(parties, enrollment_app):
    """Authorization comes before media analysis, so a few junk bytes stand in for a photo: with the
    mandate they get past authorization (INVALID_ARGUMENT for the image), without it NO_MANDATE."""
    w = parties
    talent, mandate_id = await talent_of_a(w)
    junk = [epb.MediaSample(filename="junk.jpg", content=b"\xff\xd8\xff not a jpeg")]
    async with grpc.aio.insecure_channel(enrollment_app.target, options=BIG) as ech:
        enroll = enrollment_pb2_grpc.EnrollmentServiceStub(ech)

        def enroll_face(md):
            return enroll.EnrollFace(
                epb.EnrollFaceRequest(request_id=rid(), talent_id=talent, notice=NOTICE, images=junk), metadata=md
            )

        def erase(md):
            return enroll.EraseTalentBiometrics(
                epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=talent, reason="x"), metadata=md
            )

        await expect(grpc.StatusCode.INVALID_ARGUMENT, enroll_face(w["a"]))  # control: past authorization
        await enroll.GetEnrollmentStatus(epb.GetEnrollmentStatusRequest(talent_id=talent), metadata=w["a"])
        await end_mandate(w, mandate_id)
        await expect(DENIED, enroll_face(w["a"]), "NO_MANDATE")
        await expect(DENIED, erase(w["a"]), "NO_MANDATE")
        await expect(
            DENIED, enroll.GetEnrollmentStatus(epb.GetEnrollmentStatusRequest(talent_id=talent), metadata=w["a"]), "NO_MANDATE"
        )
        await expect(grpc.StatusCode.INVALID_ARGUMENT, enroll_face(w["op"]))  # the operator still may
        assert (await erase(w["op"])).erased_templates == 0


@pytest.fixture(scope="module")
async def verification(stack, pool, consent_app):
    """A verification replica of its own with one worker (this module needs one Verify or two)."""
    replica = await start_verification(stack, pool, consent_app.target, workers=1)
    yield replica
    await replica.app.stop()




async def test_the_former_agency_no_longer_sees_the_talents_uses_and_the_grant_still_allows_verify(
    parties, enrollment_app, verification, pool
):
    """Real photos (../shared/data/faces, see its NOTICE): A enrolls the talent and grants P; P's
    Verify matches and ALLOWs. After A's mandate ends, P's next Verify still ALLOWs under A's grant;
    A no longer lists or reads either verification (GetReceipt: NOT_FOUND, as for any id it may not
    see); B, given a mandate, does."""
    w = parties
    talent, mandate_id = await talent_of_a(w)
    async with (
        grpc.aio.insecure_channel(enrollment_app.target, options=BIG) as ech,
        grpc.aio.insecure_channel(verification.target, options=BIG) as vch,
    ):
        enroll = enrollment_pb2_grpc.EnrollmentServiceStub(ech)
        verify = verification_pb2_grpc.VerificationServiceStub(vch)
        # Earlier modules' biometrics erased: this face must match this talent alone.
        for row in await pool.fetch("SELECT talent_id FROM talent_data_keys"):
            await enroll.EraseTalentBiometrics(epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=row["talent_id"]), metadata=w["op"])
        enrolled = await enroll.EnrollFace(epb.EnrollFaceRequest(request_id=rid(), talent_id=talent, notice=NOTICE,
                                                                 images=[face("obama", "obama.jpg")]), metadata=w["a"])  # fmt: skip
        assert enrolled.enrollment.accepted_samples == 1
        try:
            created = await w["consent"].CreateGrant(grant_request(talent, w["p_id"]), metadata=w["a"])
            await wait_indexed(verification.app, talent)

            def verify_photo(name: str, token: str):
                params = vpb.VerifyParameters(
                    request_id=rid(), purpose=cpb.PURPOSE_ADVERTISING, territory="US", at_least_as_fresh=token
                )
                return verify.Verify(vpb.VerifyRequest(parameters=params, media=face("obama", name).content), metadata=w["p"])

            before = (await verify_photo("obama2.jpg", created.consistency_token)).verification
            assert before.decision == vpb.DECISION_ALLOW and list(before.grant_ids) == [created.grant.grant_id]
            assert talent in {m.talent_id for m in before.matches}
            seen = await verify.ListVerifications(vpb.ListVerificationsRequest(page_size=1000), metadata=w["a"])
            assert before.verification_id in {v.verification_id for v in seen.verifications}
            await verify.GetReceipt(vpb.GetReceiptRequest(verification_id=before.verification_id), metadata=w["a"])

            ended = await end_mandate(w, mandate_id)
            after = (await verify_photo("obama3.jpg", created.consistency_token)).verification
            assert after.decision == vpb.DECISION_ALLOW and list(after.grant_ids) == [created.grant.grant_id], (after, ended)

            seen = await verify.ListVerifications(vpb.ListVerificationsRequest(page_size=1000), metadata=w["a"])
            assert not {before.verification_id, after.verification_id} & {v.verification_id for v in seen.verifications}
            for v in (before, after):
                await expect(
                    grpc.StatusCode.NOT_FOUND,
                    verify.GetReceipt(vpb.GetReceiptRequest(verification_id=v.verification_id), metadata=w["a"]),
                )

            await w["reg"].GrantMandate(
                rpb.GrantMandateRequest(request_id=rid(), agency_id=w["b_id"], talent_id=talent), metadata=w["op"]
            )
            seen = await verify.ListVerifications(vpb.ListVerificationsRequest(page_size=1000), metadata=w["b"])
            assert {before.verification_id, after.verification_id} <= {v.verification_id for v in seen.verifications}
            got = await verify.GetReceipt(vpb.GetReceiptRequest(verification_id=after.verification_id), metadata=w["b"])
            assert got.verification.decision == vpb.DECISION_ALLOW
            status = await enroll.GetEnrollmentStatus(epb.GetEnrollmentStatusRequest(talent_id=talent), metadata=w["b"])
            assert [e.enrollment_id for e in status.enrollments] == [enrolled.enrollment.enrollment_id]
            await expect(DENIED, enroll.EraseTalentBiometrics(epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=talent),
                                                              metadata=w["a"]), "NO_MANDATE")  # fmt: skip
            erased = await enroll.EraseTalentBiometrics(
                epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=talent), metadata=w["b"]
            )
            assert erased.erased_templates >= 1
        finally:  # leave no live template behind for later modules of the session
            await enroll.EraseTalentBiometrics(
                epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=talent), metadata=w["op"]
            )
