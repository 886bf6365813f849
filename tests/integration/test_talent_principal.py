"""The talent as a principal (issue 14), over real gRPC servers, Postgres and the broker's outbox:

- an agency with a mandate invites its talent; the code is redeemed without an API key, once, for
  the talent's own (not identity-verified) key; invitation and redemption are evented (never the
  code) and the redemption is in the hash-chained audit log;
- an invited credential reads the talent's record, grants and enrollments, revokes only grants the
  inviting agency issued (so an agency that redeems its own invitation gains nothing), and may not
  end mandates, erase biometrics, create grants or read anyone else;
- an operator issues an identity-verified credential (the talent record says so): it revokes any
  grant about the talent whoever issued it, ends any mandate over it and erases its biometrics;
- a talent's revocation carries the same consistency-token guarantee as an agency's: a platform's
  check on another consent replica, passing the token, is DENY REVOKED;
- Verify names, per matched talent, whether their identity is verified (response, signed receipt,
  VerificationDecided event); the talent lists and reads their uses; a deployment with
  LIKENESS_VERIFY_REQUIRE_IDENTITY_VERIFIED answers REVIEW where an ALLOW would rest on an
  unverified talent's grant.
"""

from __future__ import annotations

import json

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
from tests.conftest import bearer, start_verification, unique
from tests.support import BIG, NOTICE, expect, face, rid, wait_indexed

DENIED = grpc.StatusCode.PERMISSION_DENIED




@pytest.fixture(scope="module")
async def w(stack, channel, consent_app, consent_app_b, enrollment_app):
    """Agencies A and B, platform P, the operator, and stubs (consent on replicas A and B)."""
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    op = bearer(stack.operator_key)
    a = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("tal-a")), metadata=op)
    b = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("tal-b")), metadata=op)
    p = await reg.RegisterPlatform(rpb.RegisterPlatformRequest(request_id=rid(), display_name=unique("tal-p")), metadata=op)
    async with (
        grpc.aio.insecure_channel(consent_app.target) as cch,
        grpc.aio.insecure_channel(consent_app_b.target) as cch_b,
        grpc.aio.insecure_channel(enrollment_app.target, options=BIG) as ech,
    ):
        yield {
            "reg": reg, "consent": consent_pb2_grpc.ConsentServiceStub(cch), "consent_b": consent_pb2_grpc.ConsentServiceStub(cch_b),
            "enroll": enrollment_pb2_grpc.EnrollmentServiceStub(ech), "op": op,
            "a": bearer(a.api_key), "a_id": a.agency.agency_id, "b": bearer(b.api_key), "b_id": b.agency.agency_id,
            "p": bearer(p.api_key), "p_id": p.platform.platform_id,
        }  # fmt: skip


async def shared_talent(w) -> dict[str, str]:
    """A registers a talent; the operator gives B a mandate too; A and B each grant P:
    -> talent, mandate_a, mandate_b, grant_a, grant_b."""
    made = await w["reg"].RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name=unique("self")), metadata=w["a"])
    talent = made.talent.talent_id
    mandate_b = await w["reg"].GrantMandate(rpb.GrantMandateRequest(request_id=rid(), agency_id=w["b_id"], talent_id=talent), metadata=w["op"])
    grants = {}
    for who in ("a", "b"):
        created = await w["consent"].CreateGrant(grant_request(talent, w["p_id"]), metadata=w[who])
        assert created.grant.issuer.principal_id == w[f"{who}_id"]
        grants[f"grant_{who}"] = created.grant.grant_id
    return {"talent": talent, "mandate_a": made.mandate.mandate_id, "mandate_b": mandate_b.mandate.mandate_id, **grants}


def grant_request(talent_id: str, platform_id: str) -> cpb.CreateGrantRequest:
    return cpb.CreateGrantRequest(request_id=rid(), grant=cpb.Grant(
        talent_id=talent_id, platform_id=platform_id, modalities=[epb.MODALITY_FACE], purposes=[cpb.PURPOSE_ADVERTISING],
        worldwide=True))  # fmt: skip


def check(talent_id: str, token: str = "") -> cpb.CheckConsentRequest:
    return cpb.CheckConsentRequest(talent_id=talent_id, modality=epb.MODALITY_FACE, purpose=cpb.PURPOSE_ADVERTISING,
                                   territory="US", at_least_as_fresh=token)  # fmt: skip


async def invited_key(w, talent_id: str, by: str = "a", redeemer: list | None = None) -> str:
    """`by` invites the talent; the code is redeemed with `redeemer`'s metadata (None: no API key)."""
    made = await w["reg"].CreateTalentInvitation(rpb.CreateTalentInvitationRequest(request_id=rid(), talent_id=talent_id), metadata=w[by])
    assert made.invitation_code.startswith("lki_") and made.invitation.agency_id == w[f"{by}_id"]
    redeemed = await w["reg"].RedeemTalentInvitation(rpb.RedeemTalentInvitationRequest(invitation_code=made.invitation_code),
                                                     metadata=redeemer)  # fmt: skip
    assert redeemed.talent.talent_id == talent_id and not redeemed.talent.identity_verified
    await expect(grpc.StatusCode.FAILED_PRECONDITION, w["reg"].RedeemTalentInvitation(
        rpb.RedeemTalentInvitationRequest(invitation_code=made.invitation_code)), "INVITATION_ALREADY_REDEEMED")  # fmt: skip
    return redeemed.api_key


async def verified_key(w, talent_id: str) -> str:
    issued = await w["reg"].IssueTalentCredential(rpb.IssueTalentCredentialRequest(
        request_id=rid(), talent_id=talent_id, identity_verified=True, note="passport seen on a video call"), metadata=w["op"])  # fmt: skip
    assert issued.talent.identity_verified and issued.talent.HasField("identity_verify_time")
    return issued.api_key


async def assert_revoked_for_the_platform(w, talent_id: str, token: str) -> None:
    """The platform's next check on the other consent replica, passing the revoke's token."""
    answer = await w["consent_b"].CheckConsent(check(talent_id, token), metadata=w["p"])
    assert not answer.allowed and answer.reason == cpb.DENIAL_REASON_REVOKED, answer


async def test_an_invited_talent_reads_itself_and_revokes_only_the_inviting_agencys_grants(w, pool):
    t = await shared_talent(w)
    talent = t["talent"]
    key = await invited_key(w, talent)
    me = bearer(key)
    who = await w["reg"].WhoAmI(rpb.WhoAmIRequest(), metadata=me)
    assert (who.kind, who.principal_id, who.identity_verified, who.invited_by_agency_id) == (rpb.PRINCIPAL_KIND_TALENT, talent, False, w["a_id"])

    # Reads: its own record, mandates, grants (whoever issued them), enrollments; nobody else's.
    assert (await w["reg"].GetTalent(rpb.GetTalentRequest(talent_id=talent), metadata=me)).talent.identity_verified is False
    assert [x.talent_id for x in (await w["reg"].ListTalent(rpb.ListTalentRequest(page_size=100), metadata=me)).talent] == [talent]
    mandates = await w["reg"].ListMandates(rpb.ListMandatesRequest(), metadata=me)
    assert {m.mandate_id for m in mandates.mandates} == {t["mandate_a"], t["mandate_b"]}
    grants = await w["consent"].ListGrants(cpb.ListGrantsRequest(talent_id=talent), metadata=me)
    assert {g.grant_id for g in grants.grants} == {t["grant_a"], t["grant_b"]}
    await w["enroll"].GetEnrollmentStatus(epb.GetEnrollmentStatusRequest(talent_id=talent), metadata=me)
    other = (await w["reg"].RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name=unique("other")), metadata=w["a"])).talent
    await expect(DENIED, w["reg"].GetTalent(rpb.GetTalentRequest(talent_id=other.talent_id), metadata=me))
    await expect(DENIED, w["consent"].ListGrants(cpb.ListGrantsRequest(talent_id=other.talent_id), metadata=me))
    await expect(DENIED, w["enroll"].GetEnrollmentStatus(epb.GetEnrollmentStatusRequest(talent_id=other.talent_id), metadata=me))

    # Acts: only on what the inviting agency issued.
    await expect(DENIED, w["consent"].RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=t["grant_b"]), metadata=me),
                 "IDENTITY_NOT_VERIFIED")  # fmt: skip
    await expect(DENIED, w["reg"].EndMandate(rpb.EndMandateRequest(request_id=rid(), mandate_id=t["mandate_b"]), metadata=me),
                 "IDENTITY_NOT_VERIFIED")  # fmt: skip
    await expect(DENIED, w["enroll"].EraseTalentBiometrics(epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=talent), metadata=me),
                 "IDENTITY_NOT_VERIFIED")  # fmt: skip
    await expect(DENIED, w["consent"].CreateGrant(grant_request(talent, w["p_id"]), metadata=me))
    await expect(DENIED, w["reg"].CreateTalentInvitation(rpb.CreateTalentInvitationRequest(request_id=rid(), talent_id=talent), metadata=me))
    revoked = await w["consent"].RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=t["grant_a"], reason="I never agreed"),
                                             metadata=me)  # fmt: skip
    assert revoked.grant.state == cpb.GRANT_STATE_REVOKED
    # B's grant still covers the use; after B revokes too, the token of the talent's revoke is honoured alike.
    still = await w["consent_b"].CheckConsent(check(talent, revoked.consistency_token), metadata=w["p"])
    assert still.allowed and list(still.grant_ids) == [t["grant_b"]]

    # Evented (keyed by the talent, never the code) and audited.
    rows = await pool.fetch("SELECT event_type, payload FROM outbox WHERE message_key = $1 ORDER BY id", talent)
    types = [r["event_type"] for r in rows]
    assert "TalentInvitationCreated" in types and "TalentCredentialIssued" in types, types
    issued = [events_pb2.Event.FromString(r["payload"]) for r in rows if r["event_type"] == "TalentCredentialIssued"]
    assert [(e.talent_credential_issued.identity_verified, e.talent_credential_issued.invited_by_agency_id) for e in issued] == [(False, w["a_id"])]
    assert not any(b"lki_" in r["payload"] for r in rows)
    audit = await pool.fetch("SELECT actor_id, details FROM audit_log WHERE action = 'talent.credential_issued' AND talent_id = $1", talent)
    assert [(r["actor_id"], json.loads(r["details"])["invited_by"]) for r in audit] == [(talent, w["a_id"])]


async def test_an_agency_that_redeems_its_own_invitation_gains_nothing(w):
    """A redeems the code itself (with its own key on the call): the talent key it holds still
    revokes nothing B issued, and after A's mandate ends it creates nothing."""
    t = await shared_talent(w)
    key = bearer(await invited_key(w, t["talent"], redeemer=w["a"]))
    await expect(DENIED, w["consent"].RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=t["grant_b"]), metadata=key),
                 "IDENTITY_NOT_VERIFIED")  # fmt: skip
    await w["reg"].EndMandate(rpb.EndMandateRequest(request_id=rid(), mandate_id=t["mandate_a"]), metadata=w["a"])
    await expect(DENIED, w["consent"].CreateGrant(grant_request(t["talent"], w["p_id"]), metadata=key))
    await expect(DENIED, w["consent"].RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=t["grant_b"]), metadata=key))
    # An agency without a mandate cannot invite at all.
    await expect(DENIED, w["reg"].CreateTalentInvitation(rpb.CreateTalentInvitationRequest(request_id=rid(), talent_id=t["talent"]),
                                                         metadata=w["a"]), "NO_MANDATE")  # fmt: skip


async def test_an_identity_verified_talent_revokes_any_grant_and_ends_any_mandate(w):
    t = await shared_talent(w)
    talent = t["talent"]
    me = bearer(await verified_key(w, talent))
    who = await w["reg"].WhoAmI(rpb.WhoAmIRequest(), metadata=me)
    assert (who.kind, who.identity_verified) == (rpb.PRINCIPAL_KIND_TALENT, True)
    assert (await w["reg"].GetTalent(rpb.GetTalentRequest(talent_id=talent), metadata=w["b"])).talent.identity_verified

    revoked = await w["consent"].RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=t["grant_b"], reason="mine to stop"),
                                             metadata=me)  # fmt: skip
    await w["consent"].RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=t["grant_a"]), metadata=me)
    await expect(grpc.StatusCode.FAILED_PRECONDITION, w["consent"].RevokeGrant(
        cpb.RevokeGrantRequest(request_id=rid(), grant_id=t["grant_b"]), metadata=me), "ALREADY_REVOKED")  # fmt: skip
    listed = await w["consent"].ListGrants(cpb.ListGrantsRequest(talent_id=talent), metadata=me)
    assert {g.state for g in listed.grants} == {cpb.GRANT_STATE_REVOKED}
    newest = max((g for g in listed.grants), key=lambda g: g.revoke_time.ToDatetime())
    assert newest.grant_id == t["grant_a"]
    await assert_revoked_for_the_platform(w, talent, revoked.consistency_token)

    for mandate in ("mandate_a", "mandate_b"):
        ended = await w["reg"].EndMandate(rpb.EndMandateRequest(request_id=rid(), mandate_id=t[mandate], reason="going solo"), metadata=me)
        assert ended.mandate.state == rpb.MANDATE_STATE_ENDED
    await expect(DENIED, w["consent"].CreateGrant(grant_request(talent, w["p_id"]), metadata=w["b"]), "NO_MANDATE")
    await expect(DENIED, w["consent"].CreateGrant(grant_request(talent, w["p_id"]), metadata=me))  # the talent grants nothing itself

    # Another talent's mandates stay out of reach.
    other = await shared_talent(w)
    await expect(DENIED, w["reg"].EndMandate(rpb.EndMandateRequest(request_id=rid(), mandate_id=other["mandate_a"]), metadata=me))
    await expect(DENIED, w["consent"].RevokeGrant(cpb.RevokeGrantRequest(request_id=rid(), grant_id=other["grant_a"]), metadata=me))




def verify_request(photo: epb.MediaSample) -> vpb.VerifyRequest:
    return vpb.VerifyRequest(parameters=vpb.VerifyParameters(request_id=rid(), purpose=cpb.PURPOSE_ADVERTISING, territory="US"),
                             media=photo.content)  # fmt: skip


async def test_verify_names_identity_per_match_and_a_strict_deployment_reviews_unverified_talent(w, stack, pool, consent_app):
    """Real photos (../shared/data/faces, see its NOTICE): Biden's face under a verified talent,
    Kit Harington's under an invited one, each with a grant for P. The default deployment ALLOWs
    both and says which is verified; a replica with require_identity_verified answers REVIEW
    TALENT_IDENTITY_NOT_VERIFIED for the unverified one and ALLOW for the other. Each talent lists
    and reads its own uses, and not the other's."""
    verified, invited = await shared_talent(w), await shared_talent(w)
    verified_me = bearer(await verified_key(w, verified["talent"]))
    invited_me = bearer(await invited_key(w, invited["talent"]))
    # Earlier modules' biometrics erased: these faces must match these talent alone.
    for row in await pool.fetch("SELECT talent_id FROM talent_data_keys"):
        await w["enroll"].EraseTalentBiometrics(epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=row["talent_id"]), metadata=w["op"])
    for t, photos in ((verified, [face("biden", "biden.jpg")]), (invited, [face("kit_harington", "john1.jpeg"), face("kit_harington", "john2.jpeg")])):
        done = await w["enroll"].EnrollFace(epb.EnrollFaceRequest(request_id=rid(), talent_id=t["talent"], notice=NOTICE, images=photos),
                                            metadata=w["a"])  # fmt: skip
        assert done.enrollment.state == epb.ENROLLMENT_STATE_ACTIVE, done

    default = await start_verification(stack, pool, consent_app.target, workers=1)
    strict = await start_verification(stack, pool, consent_app.target, workers=1, require_identity_verified=True)
    try:
        for replica in (default, strict):
            await wait_indexed(replica.app, verified["talent"])
            await wait_indexed(replica.app, invited["talent"])
        async with grpc.aio.insecure_channel(default.target, options=BIG) as dch, grpc.aio.insecure_channel(strict.target, options=BIG) as sch:
            plain, firm = verification_pb2_grpc.VerificationServiceStub(dch), verification_pb2_grpc.VerificationServiceStub(sch)
            biden = (await plain.Verify(verify_request(face("biden", "biden2.jpg")), metadata=w["p"])).verification
            kit = (await plain.Verify(verify_request(face("kit_harington", "johnsnow_test1.jpg")), metadata=w["p"])).verification
            assert biden.decision == vpb.DECISION_ALLOW and kit.decision == vpb.DECISION_ALLOW, (biden, kit)
            assert [(m.talent_id, m.talent_identity_verified) for m in biden.matches] == [(verified["talent"], True)]
            assert [(m.talent_id, m.talent_identity_verified) for m in kit.matches] == [(invited["talent"], False)]
            receipt = json.loads(kit.receipt.canonical_payload)
            assert receipt["schema"] == 9 and receipt["policy"] == {"require_identity_verified": False}
            assert [m["talent_identity_verified"] for m in receipt["matches"]] == [False]

            strict_kit = (await firm.Verify(verify_request(face("kit_harington", "johnsnow_test1.jpg")), metadata=w["p"])).verification
            assert strict_kit.decision == vpb.DECISION_REVIEW
            assert list(strict_kit.review_reasons) == [vpb.REVIEW_REASON_TALENT_IDENTITY_NOT_VERIFIED]
            assert json.loads(strict_kit.receipt.canonical_payload)["policy"] == {"require_identity_verified": True}
            strict_biden = (await firm.Verify(verify_request(face("biden", "biden2.jpg")), metadata=w["p"])).verification
            assert strict_biden.decision == vpb.DECISION_ALLOW

            # The VerificationDecided event carries the flag too.
            row = await pool.fetchrow("SELECT payload FROM outbox WHERE event_type = 'VerificationDecided' "
                                      "AND message_key = $1 ORDER BY id DESC LIMIT 1", invited["talent"])  # fmt: skip
            decided = events_pb2.Event.FromString(row["payload"]).verification_decided
            assert decided.decision == vpb.DECISION_REVIEW and [m.talent_identity_verified for m in decided.matches] == [False]

            # Each talent sees its own uses, not the other's.
            mine = await plain.ListVerifications(vpb.ListVerificationsRequest(page_size=100), metadata=invited_me)
            assert {v.verification_id for v in mine.verifications} == {kit.verification_id, strict_kit.verification_id}
            assert (await plain.GetReceipt(vpb.GetReceiptRequest(verification_id=biden.verification_id), metadata=verified_me)).verification.receipt.receipt_id
            await expect(grpc.StatusCode.NOT_FOUND, plain.GetReceipt(vpb.GetReceiptRequest(verification_id=biden.verification_id),
                                                                     metadata=invited_me))  # fmt: skip
            await expect(DENIED, plain.Verify(verify_request(face("biden", "biden2.jpg")), metadata=verified_me), "PLATFORM_ONLY")

        # The verified talent erases its own biometrics; the invited one may not.
        await expect(DENIED, w["enroll"].EraseTalentBiometrics(epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=invited["talent"]),
                                                               metadata=invited_me), "IDENTITY_NOT_VERIFIED")  # fmt: skip
        erased = await w["enroll"].EraseTalentBiometrics(epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=verified["talent"]),
                                                         metadata=verified_me)  # fmt: skip
        assert erased.erased_templates == 1
    finally:
        await default.app.stop()
        await strict.app.stop()
