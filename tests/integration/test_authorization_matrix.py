"""Every RPC of every service x every kind of caller, over real gRPC servers, Postgres and Kafka.

The RPCs are enumerated from the generated service descriptors, so a new RPC without a row in
EXPECTED fails the test. Each cell sends a realistic request (real ids: the talent the mandate
covers, a real grant, a real verification; real photos and speech) and compares the outcome with
the table:
- ALLOWED: the call got past authorization (OK, or INVALID_ARGUMENT / FAILED_PRECONDITION /
  ALREADY_EXISTS for the request itself, e.g. revoking a grant an earlier cell already revoked);
- UNAUTHENTICATED / PERMISSION_DENIED;
- NOT_FOUND where the service deliberately hides that something exists (GetReceipt: "never
  confirm others' ids").
A wrong allow is a cell the table refuses that went through (or an allowed list call that showed
another agency's talent). The whole matrix is printed: pytest shows it when any cell differs.

The talent columns (issue 14): T's own identity-verified credential (issued by an operator), T's
invited credential (redeemed from agency A's invitation: unverified), and another talent's
identity-verified credential.

Also here: a revoked or rotated API key is refused on the very next call, on every service.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from google.longrunning import operations_pb2_grpc
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
from likeness_common.proto import ts
from tests.conftest import bearer, shared_data, unique
from tests.support import BIG, relay_process, rid
from verification.domain.model import Modality

KINDS = ("operator", "agency_with_mandate", "agency_without_mandate", "platform", "unauthenticated", "revoked_key",
         "talent_verified", "talent_invited", "other_talent")
OK, UNAUTH, DENIED, HIDDEN = "ALLOWED", "UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_FOUND"
# Refusals of the request itself, after authorization passed.
PAST_AUTHORIZATION = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS}
NOTICE = epb.BiometricNotice(purpose_text="Protect my likeness", retention=duration_pb2.Duration(seconds=30 * 86400),
                             accept_time=ts(datetime.now(UTC)), notice_version="2026-11")  # fmt: skip


def row(operator: str, with_mandate: str, without_mandate: str, platform: str, unauthenticated: str = UNAUTH, *,
        talent: str = DENIED, invited: str | None = None, other_talent: str = DENIED) -> dict[str, str]:  # fmt: skip
    """Expected outcome per caller kind; a revoked key is always UNAUTHENTICATED. `talent`: T's own
    verified credential; `invited`: T's invited one (default: as `talent`); `other_talent`: another
    talent's verified credential."""
    cells = (operator, with_mandate, without_mandate, platform, unauthenticated, UNAUTH, talent, talent if invited is None else invited, other_talent)
    return dict(zip(KINDS, cells, strict=True))


OPERATOR_ONLY = row(OK, DENIED, DENIED, DENIED)
ANY_PRINCIPAL = row(OK, OK, OK, OK, talent=OK, other_talent=OK)
FOR_THE_TALENT = row(OK, OK, DENIED, DENIED)  # operator, or an agency with an active mandate over the talent
READ_THE_TALENT = row(OK, OK, DENIED, DENIED, talent=OK)  # ... and the talent themselves
PLATFORM_ONLY = row(DENIED, DENIED, DENIED, OK)

EXPECTED: dict[str, dict[str, dict[str, str]]] = {
    "likeness.registry.v1.RegistryService": {
        "RegisterAgency": OPERATOR_ONLY,
        "GetAgency": row(OK, OK, DENIED, DENIED),  # an agency reads itself (the one with the mandate here)
        "ListAgencies": OPERATOR_ONLY,
        "RegisterPlatform": OPERATOR_ONLY,
        "GetPlatform": row(OK, DENIED, DENIED, OK),  # a platform reads itself
        "ListPlatforms": OPERATOR_ONLY,
        "RegisterTalent": row(OK, OK, OK, DENIED),
        "GetTalent": READ_THE_TALENT,
        "ListTalent": row(OK, OK, OK, DENIED, talent=OK, other_talent=OK),  # each sees only its talent, a talent itself (checked below)
        "GrantMandate": OPERATOR_ONLY,
        # The agency holding the mandate, or its talent with a verified credential (T's cells end R's mandate over T).
        "EndMandate": row(OK, OK, DENIED, DENIED, talent=OK, invited=DENIED),
        "ListMandates": row(OK, OK, OK, DENIED, talent=OK),  # agencies see only their mandates (checked below)
        "RotateApiKey": ANY_PRINCIPAL,  # one's own key; another's only as operator
        "RevokeApiKeys": OPERATOR_ONLY,
        "WhoAmI": ANY_PRINCIPAL,
        "CreateTalentInvitation": row(DENIED, OK, DENIED, DENIED),  # the agency representing the talent
        # Public (the code is the secret): a spent code is FAILED_PRECONDITION, past authorization.
        "RedeemTalentInvitation": row(OK, OK, OK, OK, unauthenticated=OK, talent=OK, other_talent=OK),
        "IssueTalentCredential": OPERATOR_ONLY,
    },
    "likeness.consent.v1.ConsentService": {
        "CreateGrant": FOR_THE_TALENT,
        # The talent revokes any grant with a verified credential; the invited cell tries an operator's grant.
        "RevokeGrant": row(OK, OK, DENIED, DENIED, talent=OK, invited=DENIED),
        "GetGrant": row(OK, OK, DENIED, OK, talent=OK),  # the platform the grant names may read it
        "ListGrants": row(OK, OK, DENIED, OK, talent=OK),  # a platform sees only grants naming it
        "CheckConsent": row(OK, OK, DENIED, OK, talent=OK),  # a platform checks its own uses
        "GetSigningKeys": row(OK, OK, OK, OK, unauthenticated=OK, talent=OK, other_talent=OK),  # public; a revoked key is still refused
        "RotateSigningKey": OPERATOR_ONLY,
        "VerifyAuditLog": row(OK, OK, OK, DENIED),  # integrity and a count only: any agency
    },
    "likeness.enrollment.v1.EnrollmentService": {
        "EnrollFace": FOR_THE_TALENT,
        "EnrollVoice": FOR_THE_TALENT,
        "GetEnrollmentStatus": READ_THE_TALENT,
        "EraseTalentBiometrics": row(OK, OK, DENIED, DENIED, talent=OK, invited=DENIED),  # the talent: verified only
        "GetDispute": row(OK, OK, HIDDEN, HIDDEN, talent=OK, other_talent=HIDDEN),  # either side; others NOT_FOUND (never confirm ids)
        "ListDisputes": READ_THE_TALENT,  # filtered to the talent the agency represents
        "ResolveDispute": OPERATOR_ONLY,
    },
    "likeness.verification.v1.VerificationService": {
        "Verify": PLATFORM_ONLY,
        "VerifyStream": PLATFORM_ONLY,
        "VerifyStreamSigned": PLATFORM_ONLY,  # (this world has no C2PA chain: the platform gets C2PA_NOT_CONFIGURED)
        "StartVerifyOperation": PLATFORM_ONLY,
        "GetReceipt": row(OK, OK, HIDDEN, OK, talent=OK, other_talent=HIDDEN),  # the platform, matched talent and their agencies
        "ListVerifications": ANY_PRINCIPAL,  # filtered per caller (checked below)
        "GetC2paTrust": row(OK, OK, OK, OK, unauthenticated=OK, talent=OK, other_talent=OK),  # public, as GetSigningKeys
    },
    # Long-running Verify operations, on the verification server: only the platform that started one.
    "google.longrunning.Operations": {
        "ListOperations": PLATFORM_ONLY,
        "GetOperation": PLATFORM_ONLY,
        "DeleteOperation": PLATFORM_ONLY,
        "CancelOperation": PLATFORM_ONLY,
        "WaitOperation": PLATFORM_ONLY,
    },
}

FILES = {
    "likeness.registry.v1.RegistryService": (rpb, registry_pb2_grpc.RegistryServiceStub),
    "likeness.consent.v1.ConsentService": (cpb, consent_pb2_grpc.ConsentServiceStub),
    "likeness.enrollment.v1.EnrollmentService": (epb, enrollment_pb2_grpc.EnrollmentServiceStub),
    "likeness.verification.v1.VerificationService": (vpb, verification_pb2_grpc.VerificationServiceStub),
    "google.longrunning.Operations": (lro, operations_pb2_grpc.OperationsStub),
}


def face(*parts: str) -> epb.MediaSample:
    path = shared_data("faces", *parts)
    return epb.MediaSample(filename=path.name, content=path.read_bytes())


def speech(speaker: str, count: int) -> list[epb.MediaSample]:
    folder = shared_data("voices", "librispeech", "test-other", speaker)
    return [epb.MediaSample(filename=p.name, content=p.read_bytes()) for p in sorted(folder.glob("*.flac"))[:count]]


@dataclass
class World:
    keys: dict[str, str | None]  # caller kind -> API key
    ids: dict[str, str]  # agency_a, agency_b, platform, talent, talent2, mandate2, spare_agency, grant, verification
    targets: dict[str, str]  # service full name -> host:port
    seen: list[str] = field(default_factory=list)

    def metadata(self, kind: str) -> list[tuple[str, str]] | None:
        key = self.keys[kind]
        return bearer(key) if key else None


async def wait_indexed(app: Any, talent_id: str, timeout: float = 45.0) -> None:
    started = time.monotonic()
    while not app.index.contains(talent_id, Modality.FACE):
        if time.monotonic() - started > timeout:
            pytest.fail(f"{talent_id} not indexed after {timeout}s")
        await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
async def world(stack, channel, consent_app, enrollment_app, verification_app) -> World:
    """Agency A holds a mandate over talent T (face enrolled; a grant for platform P), agency B
    none; agency R also holds one over T, but its key is revoked; P has verified a photo of T."""
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    op = bearer(stack.operator_key)

    async def agency() -> rpb.RegisterAgencyResponse:
        return await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("authz")), metadata=op)

    a, b, r, spare = agency(), agency(), agency(), agency()
    a, b, r, spare = await a, await b, await r, await spare
    platform = await reg.RegisterPlatform(rpb.RegisterPlatformRequest(request_id=rid(), display_name=unique("authz")), metadata=op)
    talent = (await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name="Matrix T"), metadata=bearer(a.api_key))).talent
    second = await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name="Matrix T2"), metadata=bearer(a.api_key))
    r_mandate = await reg.GrantMandate(rpb.GrantMandateRequest(request_id=rid(), agency_id=r.agency.agency_id, talent_id=talent.talent_id),
                                       metadata=op)  # fmt: skip
    # The talent's own credentials: verified (operator), invited (A's code); another talent's (verified).
    own_verified = await reg.IssueTalentCredential(rpb.IssueTalentCredentialRequest(request_id=rid(), talent_id=talent.talent_id,
                                                                                identity_verified=True), metadata=op)  # fmt: skip
    code = (await reg.CreateTalentInvitation(rpb.CreateTalentInvitationRequest(request_id=rid(), talent_id=talent.talent_id),
                                             metadata=bearer(a.api_key))).invitation_code  # fmt: skip
    invited = await reg.RedeemTalentInvitation(rpb.RedeemTalentInvitationRequest(invitation_code=code))
    third = await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name="Matrix T3"), metadata=bearer(b.api_key))
    other = await reg.IssueTalentCredential(rpb.IssueTalentCredentialRequest(request_id=rid(), talent_id=third.talent.talent_id,
                                                                             identity_verified=True), metadata=op)  # fmt: skip
    revoked = await reg.RevokeApiKeys(rpb.RevokeApiKeysRequest(request_id=rid(), principal_id=r.agency.agency_id), metadata=op)
    assert revoked.revoked_count == 1

    async with (
        grpc.aio.insecure_channel(enrollment_app.target, options=BIG) as ech,
        grpc.aio.insecure_channel(consent_app.target) as cch,
        grpc.aio.insecure_channel(verification_app.target, options=BIG) as vch,
    ):
        enrolled = await enrollment_pb2_grpc.EnrollmentServiceStub(ech).EnrollFace(
            epb.EnrollFaceRequest(request_id=rid(), talent_id=talent.talent_id, notice=NOTICE,
                                  images=[face("obama", "obama.jpg"), face("obama", "obama2.jpg")]), metadata=bearer(a.api_key))  # fmt: skip
        assert enrolled.enrollment.accepted_samples == 2
        # The same face under T2 too: a likeness dispute between two of A's talent.
        disputed = await enrollment_pb2_grpc.EnrollmentServiceStub(ech).EnrollFace(
            epb.EnrollFaceRequest(request_id=rid(), talent_id=second.talent.talent_id, notice=NOTICE,
                                  images=[face("obama", "obama4.jpg")]), metadata=bearer(a.api_key))  # fmt: skip
        assert disputed.enrollment.state == epb.ENROLLMENT_STATE_DISPUTED
        # (the face may be enrolled by earlier modules too: the dispute with T is the one the matrix uses)
        listed = await enrollment_pb2_grpc.EnrollmentServiceStub(ech).ListDisputes(epb.ListDisputesRequest(talent_id=talent.talent_id), metadata=op)
        [dispute_id] = [d.dispute_id for d in listed.disputes if d.talent_id == second.talent.talent_id]
        grant = await consent_pb2_grpc.ConsentServiceStub(cch).CreateGrant(
            cpb.CreateGrantRequest(request_id=rid(), grant=cpb.Grant(
                talent_id=talent.talent_id, platform_id=platform.platform.platform_id, modalities=[epb.MODALITY_FACE],
                purposes=[cpb.PURPOSE_ADVERTISING], territories=["US"])), metadata=bearer(a.api_key))  # fmt: skip
        operators_grant = await consent_pb2_grpc.ConsentServiceStub(cch).CreateGrant(
            cpb.CreateGrantRequest(request_id=rid(), grant=cpb.Grant(
                talent_id=talent.talent_id, platform_id=platform.platform.platform_id, modalities=[epb.MODALITY_VOICE],
                purposes=[cpb.PURPOSE_DUBBING], territories=["US"])), metadata=op)  # fmt: skip
        relay = relay_process(stack, "relay-authz")
        relay.start()
        try:
            await wait_indexed(verification_app.app, talent.talent_id)
        finally:
            relay.stop()
        verified = await verification_pb2_grpc.VerificationServiceStub(vch).Verify(
            vpb.VerifyRequest(parameters=vpb.VerifyParameters(request_id=rid(), purpose=cpb.PURPOSE_ADVERTISING, territory="US"),
                              media=face("obama", "obama3.jpg").content), metadata=bearer(platform.api_key))  # fmt: skip
        assert talent.talent_id in {m.talent_id for m in verified.verification.matches}
        operations = []
        for _ in range(2):  # one to read, cancel and wait for; one to delete
            started = await verification_pb2_grpc.VerificationServiceStub(vch).StartVerifyOperation(
                iter(REQUESTS["StartVerifyOperation"](None, "platform")), metadata=bearer(platform.api_key))
            done = await operations_pb2_grpc.OperationsStub(vch).WaitOperation(lro.WaitOperationRequest(name=started.name),
                                                                               metadata=bearer(platform.api_key))  # fmt: skip
            assert done.done, done
            operations.append(started.name)

    return World(
        keys={"operator": stack.operator_key, "agency_with_mandate": a.api_key, "agency_without_mandate": b.api_key,
              "platform": platform.api_key, "unauthenticated": None, "revoked_key": r.api_key,
              "talent_verified": own_verified.api_key, "talent_invited": invited.api_key, "other_talent": other.api_key},
        ids={"agency_a": a.agency.agency_id, "agency_b": b.agency.agency_id, "platform": platform.platform.platform_id,
             "talent": talent.talent_id, "talent2": second.talent.talent_id, "mandate2": second.mandate.mandate_id,
             "spare_agency": spare.agency.agency_id, "grant": grant.grant.grant_id,
             "verification": verified.verification.verification_id, "operation": operations[0],
             "operation_to_delete": operations[1], "dispute": dispute_id, "r_mandate": r_mandate.mandate.mandate_id,
             "operators_grant": operators_grant.grant.grant_id, "spent_code": code},
        targets={"likeness.registry.v1.RegistryService": "", "likeness.consent.v1.ConsentService": consent_app.target,
                 "likeness.enrollment.v1.EnrollmentService": enrollment_app.target,
                 "likeness.verification.v1.VerificationService": verification_app.target,
                 "google.longrunning.Operations": verification_app.target},
    )  # fmt: skip


# --- one realistic request per RPC: (world, caller kind) -> request (a list of messages for a stream)


def _verify_parameters() -> vpb.VerifyParameters:
    return vpb.VerifyParameters(request_id=rid(), purpose=cpb.PURPOSE_ADVERTISING, territory="US")


TALENT_KINDS = ("talent_verified", "talent_invited", "other_talent")

REQUESTS: dict[str, Callable[[World, str], Any]] = {
    "RegisterAgency": lambda w, k: rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("authz")),
    "GetAgency": lambda w, k: rpb.GetAgencyRequest(agency_id=w.ids["agency_a"]),
    "ListAgencies": lambda w, k: rpb.ListAgenciesRequest(page_size=5),
    "RegisterPlatform": lambda w, k: rpb.RegisterPlatformRequest(request_id=rid(), display_name=unique("authz")),
    "GetPlatform": lambda w, k: rpb.GetPlatformRequest(platform_id=w.ids["platform"]),
    "ListPlatforms": lambda w, k: rpb.ListPlatformsRequest(page_size=5),
    "RegisterTalent": lambda w, k: rpb.RegisterTalentRequest(request_id=rid(), display_name=unique("talent")),
    "GetTalent": lambda w, k: rpb.GetTalentRequest(talent_id=w.ids["talent"]),
    "ListTalent": lambda w, k: rpb.ListTalentRequest(page_size=1000),
    # The spare agency (never a caller) receives mandates over T2, so no caller's rights change.
    "GrantMandate": lambda w, k: rpb.GrantMandateRequest(request_id=rid(), agency_id=w.ids["spare_agency"], talent_id=w.ids["talent2"]),
    # A's mandate over T2: the operator's cell ends it, A's cell then gets FAILED_PRECONDITION (past authorization).
    # The talent cells try R's mandate over T (T's verified credential ends it).
    "EndMandate": lambda w, k: rpb.EndMandateRequest(request_id=rid(), mandate_id=w.ids["r_mandate" if k in TALENT_KINDS else "mandate2"],
                                                     reason="matrix"),  # fmt: skip
    "ListMandates": lambda w, k: rpb.ListMandatesRequest(talent_id=w.ids["talent"]),
    # The operator rotates the spare agency's key (never its own: the suite shares it); others their own.
    "RotateApiKey": lambda w, k: rpb.RotateApiKeyRequest(request_id=rid(), principal_id=w.ids["spare_agency"] if k == "operator" else ""),
    "RevokeApiKeys": lambda w, k: rpb.RevokeApiKeysRequest(request_id=rid(), principal_id=w.ids["spare_agency"]),
    "WhoAmI": lambda w, k: rpb.WhoAmIRequest(),
    "CreateTalentInvitation": lambda w, k: rpb.CreateTalentInvitationRequest(request_id=rid(), talent_id=w.ids["talent"]),
    "RedeemTalentInvitation": lambda w, k: rpb.RedeemTalentInvitationRequest(invitation_code=w.ids["spent_code"]),
    "IssueTalentCredential": lambda w, k: rpb.IssueTalentCredentialRequest(request_id=rid(), talent_id=w.ids["talent2"], identity_verified=True),
    "CreateGrant": lambda w, k: cpb.CreateGrantRequest(request_id=rid(), grant=cpb.Grant(
        talent_id=w.ids["talent"], platform_id=w.ids["platform"], modalities=[epb.MODALITY_FACE],
        purposes=[cpb.PURPOSE_DUBBING], territories=["GB"])),  # fmt: skip
    # A's grant; the invited talent (A's invitation) tries the operator's grant, which it may not revoke.
    "RevokeGrant": lambda w, k: cpb.RevokeGrantRequest(request_id=rid(), grant_id=w.ids["operators_grant" if k == "talent_invited" else "grant"],
                                                       reason="matrix"),  # fmt: skip
    "GetGrant": lambda w, k: cpb.GetGrantRequest(grant_id=w.ids["grant"]),
    "ListGrants": lambda w, k: cpb.ListGrantsRequest(talent_id=w.ids["talent"]),
    "CheckConsent": lambda w, k: cpb.CheckConsentRequest(talent_id=w.ids["talent"], platform_id=w.ids["platform"],
                                                         modality=epb.MODALITY_FACE, purpose=cpb.PURPOSE_ADVERTISING, territory="US"),  # fmt: skip
    "GetSigningKeys": lambda w, k: cpb.GetSigningKeysRequest(),
    "RotateSigningKey": lambda w, k: cpb.RotateSigningKeyRequest(request_id=rid()),
    "VerifyAuditLog": lambda w, k: cpb.VerifyAuditLogRequest(),
    "EnrollFace": lambda w, k: epb.EnrollFaceRequest(request_id=rid(), talent_id=w.ids["talent"], notice=NOTICE,
                                                     images=[face("obama", "obama4.jpg")]),  # fmt: skip
    "EnrollVoice": lambda w, k: epb.EnrollVoiceRequest(request_id=rid(), talent_id=w.ids["talent"], notice=NOTICE, clips=speech("1688", 3)),
    "GetEnrollmentStatus": lambda w, k: epb.GetEnrollmentStatusRequest(talent_id=w.ids["talent"]),
    "EraseTalentBiometrics": lambda w, k: epb.EraseTalentBiometricsRequest(request_id=rid(), talent_id=w.ids["talent"], reason="matrix"),
    "GetDispute": lambda w, k: epb.GetDisputeRequest(dispute_id=w.ids["dispute"]),
    "ListDisputes": lambda w, k: epb.ListDisputesRequest(talent_id=w.ids["talent"]),
    "ResolveDispute": lambda w, k: epb.ResolveDisputeRequest(request_id=rid(), dispute_id=w.ids["dispute"],
                                                             resolution=epb.DISPUTE_RESOLUTION_DISTINCT_PEOPLE),  # fmt: skip
    "Verify": lambda w, k: vpb.VerifyRequest(parameters=_verify_parameters(), media=face("obama", "obama_small.jpg").content),
    "VerifyStream": lambda w, k: [vpb.VerifyStreamRequest(parameters=_verify_parameters()),
                                  vpb.VerifyStreamRequest(chunk=face("obama", "obama_small.jpg").content)],  # fmt: skip
    # The parameters alone: every cell is decided on them (the caller before any message, the C2PA
    # chain on the first), and a chunk still being written when the refusal arrives makes grpc aio's
    # client report INTERNAL instead of the server's code (seen on a bidirectional stream).
    "VerifyStreamSigned": lambda w, k: [vpb.VerifyStreamRequest(parameters=_verify_parameters())],
    "StartVerifyOperation": lambda w, k: [vpb.VerifyStreamRequest(parameters=_verify_parameters()),
                                          vpb.VerifyStreamRequest(chunk=face("obama", "obama_small.jpg").content)],  # fmt: skip
    "ListOperations": lambda w, k: lro.ListOperationsRequest(page_size=10),
    "GetOperation": lambda w, k: lro.GetOperationRequest(name=w.ids["operation"]),
    "CancelOperation": lambda w, k: lro.CancelOperationRequest(name=w.ids["operation"]),
    "WaitOperation": lambda w, k: lro.WaitOperationRequest(name=w.ids["operation"]),
    "DeleteOperation": lambda w, k: lro.DeleteOperationRequest(name=w.ids["operation_to_delete"]),
    "GetReceipt": lambda w, k: vpb.GetReceiptRequest(verification_id=w.ids["verification"]),
    "ListVerifications": lambda w, k: vpb.ListVerificationsRequest(page_size=1000),
    "GetC2paTrust": lambda w, k: vpb.GetC2paTrustRequest(),
}


def leak(method: str, w: World, kind: str, response: Any) -> str:
    """For allowed list calls: what the caller must not see. "" when nothing leaked."""
    if kind in ("talent_verified", "talent_invited"):
        if method == "ListTalent" and [t.talent_id for t in response.talent] != [w.ids["talent"]]:
            return "saw talent other than itself"
        if method == "ListVerifications" and any(w.ids["talent"] not in {m.talent_id for m in v.matches} for v in response.verifications):
            return "saw a use that did not match it"
        return ""
    if kind not in ("agency_without_mandate", "other_talent"):
        return ""
    if method == "ListTalent" and w.ids["talent"] in {t.talent_id for t in response.talent}:
        return "saw talent T"
    if method == "ListMandates" and list(response.mandates):
        return "saw mandates over T"
    if method == "ListVerifications" and w.ids["verification"] in {v.verification_id for v in response.verifications}:
        return "saw the verification of T"
    return ""


def test_every_rpc_has_a_row_and_a_request():
    declared = {
        name: sorted(pb2.DESCRIPTOR.services_by_name[name.rsplit(".", 1)[1]].methods_by_name) for name, (pb2, _) in FILES.items()
    }
    assert declared == {name: sorted(rows) for name, rows in EXPECTED.items()}, "an RPC lacks a row in EXPECTED (or a row names no RPC)"
    assert {m for methods in declared.values() for m in methods} == set(REQUESTS)
    assert all(set(cells) == set(KINDS) for rows in EXPECTED.values() for cells in rows.values())


async def _call(stub: Any, method: str, request: Any, metadata: Any) -> tuple[str, str, Any]:
    """-> (outcome for the table, the actual code, the response or None)."""
    try:
        call = getattr(stub, method)(iter(request) if isinstance(request, list) else request, metadata=metadata, timeout=60)
        response = [message async for message in call] if isinstance(call, grpc.aio.StreamStreamCall) else await call
        return OK, "OK", response
    except grpc.aio.AioRpcError as error:
        code = error.code()
        return (OK if code in PAST_AUTHORIZATION else code.name), code.name, None


async def test_authorization_matrix(world, registry_target):
    world.targets["likeness.registry.v1.RegistryService"] = registry_target
    cells: list[tuple[str, str, str, str, str, str]] = []  # service, method, kind, expected, outcome, detail
    for service, rows in EXPECTED.items():
        pb2, stub_class = FILES[service]
        async with grpc.aio.insecure_channel(world.targets[service], options=BIG) as ch:
            stub = stub_class(ch)
            for method in pb2.DESCRIPTOR.services_by_name[service.rsplit(".", 1)[1]].methods_by_name:
                for kind in KINDS:
                    outcome, code, response = await _call(stub, method, REQUESTS[method](world, kind), world.metadata(kind))
                    detail = "" if code in ("OK", outcome) else code
                    if response is not None:
                        if leaked := leak(method, world, kind, response):
                            outcome, detail = "LEAK", leaked
                        if method == "RotateApiKey" and kind != "operator":
                            world.keys[kind] = response.api_key  # the old key is revoked now
                    cells.append((service.split(".")[1], method, kind, rows[method][kind], outcome, detail))

    wrong_allows = [c for c in cells if c[4] in (OK, "LEAK") and c[3] != OK or c[4] == "LEAK"]
    mismatches = [c for c in cells if c[3] != c[4]]
    print("\n" + render(cells))  # shown by pytest when the test fails (or with -s)
    assert len(cells) == sum(len(r) for r in EXPECTED.values()) * len(KINDS)
    assert not wrong_allows, f"{len(wrong_allows)} wrong allows: {wrong_allows}"
    assert not mismatches, f"{len(mismatches)} cells differ from the table: {mismatches}"


def render(cells: list[tuple[str, str, str, str, str, str]]) -> str:
    """The matrix as a table: one line per RPC, one column per caller kind; `!` marks a cell that
    differs from EXPECTED (expected -> actual)."""
    short = {OK: "allow", UNAUTH: "unauth", DENIED: "denied", HIDDEN: "hidden"}
    lines = [f"{'rpc':38}" + "".join(f"{k[:22]:>24}" for k in KINDS)]
    by_rpc: dict[tuple[str, str], dict[str, str]] = {}
    for service, method, kind, expected, outcome, detail in cells:
        text = short.get(outcome, outcome) + (f"({detail})" if detail else "")
        if expected != outcome:
            text = f"!{short.get(expected, expected)}->{text}"
        by_rpc.setdefault((service, method), {})[kind] = text
    for (service, method), row_cells in by_rpc.items():
        lines.append(f"{service + '.' + method:38}" + "".join(f"{row_cells[k][:23]:>24}" for k in KINDS))
    return "\n".join(lines)


# --- API keys: revocation and rotation act on the very next call, on every service ---------------


async def _one_call_per_service(world: World, registry_target: str, key: str) -> dict[str, str]:
    """A cheap authenticated call on each service with `key` -> service -> code name."""
    md = bearer(key)
    calls = {
        registry_target: lambda ch: registry_pb2_grpc.RegistryServiceStub(ch).WhoAmI(rpb.WhoAmIRequest(), metadata=md),
        world.targets["likeness.consent.v1.ConsentService"]: lambda ch: consent_pb2_grpc.ConsentServiceStub(ch).GetSigningKeys(
            cpb.GetSigningKeysRequest(), metadata=md),  # public: a sent key is still checked  # fmt: skip
        world.targets["likeness.enrollment.v1.EnrollmentService"]: lambda ch: enrollment_pb2_grpc.EnrollmentServiceStub(ch).GetEnrollmentStatus(
            epb.GetEnrollmentStatusRequest(talent_id=world.ids["talent"]), metadata=md),  # fmt: skip
        world.targets["likeness.verification.v1.VerificationService"]: lambda ch: verification_pb2_grpc.VerificationServiceStub(ch).ListVerifications(
            vpb.ListVerificationsRequest(page_size=1), metadata=md),  # fmt: skip
    }
    codes = {}
    for target, call in calls.items():
        async with grpc.aio.insecure_channel(target) as ch:
            try:
                await call(ch)
                codes[target] = "OK"
            except grpc.aio.AioRpcError as error:
                codes[target] = error.code().name
    return codes


async def _agency_over_talent(world: World, registry_target: str, op_key: str) -> tuple[str, str]:
    """A fresh agency with a mandate over T (so every probe call is allowed) -> (agency id, key)."""
    async with grpc.aio.insecure_channel(registry_target) as ch:
        reg = registry_pb2_grpc.RegistryServiceStub(ch)
        made = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("keys")), metadata=bearer(op_key))
        await reg.GrantMandate(rpb.GrantMandateRequest(request_id=rid(), agency_id=made.agency.agency_id, talent_id=world.ids["talent"]),
                               metadata=bearer(op_key))  # fmt: skip
    return made.agency.agency_id, made.api_key


async def test_revoked_key_is_refused_on_the_very_next_call_on_every_service(world, registry_target, stack):
    agency_id, key = await _agency_over_talent(world, registry_target, stack.operator_key)
    assert set((await _one_call_per_service(world, registry_target, key)).values()) == {"OK"}  # warm: any cache would hold it now
    async with grpc.aio.insecure_channel(registry_target) as ch:
        revoked = await registry_pb2_grpc.RegistryServiceStub(ch).RevokeApiKeys(
            rpb.RevokeApiKeysRequest(request_id=rid(), principal_id=agency_id), metadata=bearer(stack.operator_key))
    assert revoked.revoked_count == 1
    assert set((await _one_call_per_service(world, registry_target, key)).values()) == {"UNAUTHENTICATED"}


async def test_rotated_key_replaces_the_old_one_at_once_on_every_service(world, registry_target, stack):
    _, old = await _agency_over_talent(world, registry_target, stack.operator_key)
    assert set((await _one_call_per_service(world, registry_target, old)).values()) == {"OK"}
    async with grpc.aio.insecure_channel(registry_target) as ch:
        new = (await registry_pb2_grpc.RegistryServiceStub(ch).RotateApiKey(rpb.RotateApiKeyRequest(request_id=rid()), metadata=bearer(old))).api_key
    assert new != old
    assert set((await _one_call_per_service(world, registry_target, old)).values()) == {"UNAUTHENTICATED"}
    assert set((await _one_call_per_service(world, registry_target, new)).values()) == {"OK"}


async def test_verify_stream_refuses_a_non_platform_before_reading_any_media(world):
    """An agency's stream that never ends is refused at once: no media is buffered for a caller
    that may not verify (the stream limit would otherwise let it park 64 MiB per call)."""

    async def endless():
        yield vpb.VerifyStreamRequest(parameters=_verify_parameters())
        while True:
            yield vpb.VerifyStreamRequest(chunk=b"\0" * 65536)
            await asyncio.sleep(0.05)

    async with grpc.aio.insecure_channel(world.targets["likeness.verification.v1.VerificationService"]) as ch:
        stub = verification_pb2_grpc.VerificationServiceStub(ch)
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.VerifyStream(endless(), metadata=world.metadata("agency_with_mandate"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED, caught.value.details()
    assert time.monotonic() - started < 5
