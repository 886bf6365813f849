"""What each page of the console needs, asked of the services with the signed-in user's own key
(the services' authorization decides what an agency or a talent may see). web/ turns a request
into one of these calls and its result into a page; what comes back is plain data: the services'
protobuf messages as they answer, rows of labels for the templates, None or a Problem."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf import duration_pb2, timestamp_pb2

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.verification.v1 import verification_pb2 as vpb
from likeness_cli.client import CliError, Connection, request_id
from likeness_cli.consent_cmds import grant_document, purpose_value
from likeness_cli.verify_cmds import coverage_line, receipt_document
from likeness_common.proto import enum_name, ts

from ..domain.formatting import label, provenance_line, when
from ..domain.model import PURPOSES, ROSTER_MAX_AGE, ROSTER_MIN_INTERVAL, Problem, Session
from .ports import Backends, Metadata, Upload

# gRPC status -> HTTP status of the page that shows it.
HTTP_STATUS = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 409, "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403,
               "NOT_FOUND": 404, "RESOURCE_EXHAUSTED": 413, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504}  # fmt: skip
# Codes whose details are about the infrastructure, not the request: say so plainly instead.
OPAQUE = {"UNAVAILABLE": "A service of the registry is unreachable right now. Try again in a moment.",
          "DEADLINE_EXCEEDED": "A service of the registry took too long to answer. Try again in a moment.",
          "INTERNAL": "A service of the registry failed. Try again; if it persists, contact the operator.",
          "UNKNOWN": "A service of the registry failed. Try again; if it persists, contact the operator."}  # fmt: skip


def problem_from_rpc(error: grpc.RpcError) -> Problem:
    """A service's refusal as something to tell the user (its field violations as details)."""
    e = CliError.from_rpc(error)
    if e.code in OPAQUE:
        return Problem(OPAQUE[e.code], HTTP_STATUS.get(e.code, 502))
    details = [f"{v['field']}: {v['description']}" for v in e.violations]
    return Problem(e.message, HTTP_STATUS.get(e.code, 502), details, e.reason)


class SignInRefused(Exception):
    """The key was not accepted, or is no agency's or talent's: said on the sign-in form itself."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class EnrollmentForm:
    """The enrollment form as typed (web/ reads it out of the request)."""

    modality: str
    files: list[Upload]  # the ones with a file name
    notice_accepted: str
    retention_days: str
    accepted_on: str
    purpose_text: str
    notice_version: str


@dataclass
class GrantForm:
    """The consent form as typed."""

    platform_id: str
    modalities: list[str]
    purposes: list[str]
    custom_purpose: str  # comma separated words
    territories: str  # comma separated codes
    not_after: str  # a date, inclusive
    disclosure_label: str
    terms_ref: str


@dataclass
class Download:
    filename: str
    content: bytes


class Handlers:
    """One page's or one form's work each. `timeout`: the deadline of every gRPC call; `clock`: the
    roster cache's (time.monotonic; tests move it)."""

    def __init__(self, backends: Backends, *, timeout: float, max_upload_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.backends, self.timeout, self.max_upload_bytes, self.clock = backends, timeout, max_upload_bytes, clock

    def md(self, session: Session) -> Metadata:
        """The signed-in user's own key as the gRPC credential, as the CLI sends it."""
        return Connection("", session.api_key).metadata

    # -- sign-in ----------------------------------------------------------------------------------

    async def sign_in(self, api_key: str) -> Session:
        """A new session for an agency's key or a talent's own credential, as WhoAmI says; raises
        SignInRefused (a key not accepted, or another kind's), or a Problem (the registry failed)."""
        md = Connection("", api_key).metadata
        try:
            who = await self.backends.registry.WhoAmI(rpb.WhoAmIRequest(), metadata=md, timeout=self.timeout)
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT):
                raise SignInRefused("That API key was not accepted.", 401) from None
            raise problem_from_rpc(error) from None
        if who.kind not in (rpb.PRINCIPAL_KIND_AGENCY, rpb.PRINCIPAL_KIND_TALENT) or not api_key:
            raise SignInRefused("This console is for agencies and talent: sign in with an agency's API key or your own talent credential.", 403)
        return await (self.agency_session if who.kind == rpb.PRINCIPAL_KIND_AGENCY else self.talent_session)(api_key, who)

    async def _display_name(self, read, request, field: str, api_key: str, who: rpb.WhoAmIResponse) -> str:
        """The signed-in party's own record's name (`field` of the reply), for the header; WhoAmI's
        when the record cannot be read."""
        try:
            reply = await read(request, metadata=Connection("", api_key).metadata, timeout=self.timeout)
        except grpc.RpcError:
            return who.display_name
        return getattr(reply, field).display_name

    async def agency_session(self, api_key: str, who: rpb.WhoAmIResponse) -> Session:
        name = await self._display_name(self.backends.registry.GetAgency, rpb.GetAgencyRequest(agency_id=who.principal_id), "agency", api_key, who)
        return Session(api_key=api_key, agency_id=who.principal_id, agency_name=name)

    async def talent_session(self, api_key: str, who: rpb.WhoAmIResponse) -> Session:
        """A talent's own credential: what it may revoke depends on how it was issued (WhoAmI says)."""
        name = await self._display_name(self.backends.registry.GetTalent, rpb.GetTalentRequest(talent_id=who.principal_id), "talent", api_key, who)
        return Session(api_key=api_key, talent_id=who.principal_id, talent_name=name, identity_verified=who.identity_verified,
                       invited_by_agency_id=who.invited_by_agency_id)  # fmt: skip

    # -- talent -----------------------------------------------------------------------------------

    async def all_talent(self, session: Session) -> list[rpb.Talent]:
        found, token = [], ""
        while True:
            resp = await self.backends.registry.ListTalent(rpb.ListTalentRequest(page_size=500, page_token=token), metadata=self.md(session),
                                                           timeout=self.timeout)  # fmt: skip
            found += resp.talent
            token = resp.next_page_token
            if not token:
                return found

    async def enrollment_of(self, session: Session, talent_id: str) -> dict[str, epb.Enrollment]:
        resp = await self.backends.enrollment.GetEnrollmentStatus(epb.GetEnrollmentStatusRequest(talent_id=talent_id), metadata=self.md(session),
                                                                  timeout=self.timeout)  # fmt: skip
        found: dict[str, epb.Enrollment] = {}
        for e in resp.enrollments:  # a held (DISPUTED) enrollment is the one to show
            modality = enum_label(epb.Modality, e.modality, "MODALITY_")
            if modality not in found or e.state == epb.ENROLLMENT_STATE_DISPUTED:
                found[modality] = e
        return found

    async def open_disputes(self, session: Session) -> list[epb.Dispute]:
        """Open likeness disputes over the agency's talent, or over the signed-in talent themselves."""
        resp = await self.backends.enrollment.ListDisputes(epb.ListDisputesRequest(state=epb.DISPUTE_STATE_OPEN, page_size=100),
                                                           metadata=self.md(session), timeout=self.timeout)  # fmt: skip
        return list(resp.disputes)

    async def get_talent(self, session: Session, talent_id: str) -> rpb.Talent:
        resp = await self.backends.registry.GetTalent(rpb.GetTalentRequest(talent_id=talent_id), metadata=self.md(session), timeout=self.timeout)
        return resp.talent

    async def talent_page(self, session: Session) -> dict:
        """The agency's talent with each one's enrollment, and the open disputes over them."""
        talent, disputes = await asyncio.gather(self.all_talent(session), self.open_disputes(session))
        status = await asyncio.gather(*(self.enrollment_of(session, t.talent_id) for t in talent))
        rows = dispute_rows(disputes, {t.talent_id: t.display_name for t in talent})
        return {"rows": list(zip(talent, status, strict=True)), "disputes": rows}

    async def register_talent(self, session: Session, display_name: str, external_ref: str) -> None:
        req = rpb.RegisterTalentRequest(request_id=request_id(), display_name=display_name.strip(), external_ref=external_ref.strip())
        resp = await self.backends.registry.RegisterTalent(req, metadata=self.md(session), timeout=self.timeout)
        session.flash = f"Registered {resp.talent.display_name} ({resp.talent.talent_id})."
        session.roster.fetched_at = None

    # -- enrollment -------------------------------------------------------------------------------

    async def enroll_page(self, session: Session, talent_id: str) -> dict:
        talent, status = await asyncio.gather(self.get_talent(session, talent_id), self.enrollment_of(session, talent_id))
        return {"talent": talent, "status": status, "today": datetime.now(UTC).date().isoformat()}

    async def enroll(self, session: Session, talent_id: str, form: EnrollmentForm) -> dict:
        """Enroll the uploaded samples; the enrollment page again, with each sample's outcome, or
        with the service's reasons (`error`) when it rejected every one. A Problem for a form that
        cannot be sent."""
        if form.modality not in ("face", "voice"):
            raise Problem("Choose face or voice.")
        if not form.files:
            raise Problem("Choose at least one file to upload.")
        if form.notice_accepted != "yes":
            raise Problem("Enrollment needs the biometric notice the talent accepted: tick the confirmation box.")
        try:
            retention_days = int(form.retention_days or "365")
            accepted = datetime.fromisoformat(form.accepted_on).replace(tzinfo=UTC)
        except ValueError:
            raise Problem("Give the retention in days and the date the talent accepted the notice.") from None
        samples, total = [], 0
        for f in form.files:
            content = await f.read()
            total += len(content)
            if total > self.max_upload_bytes:
                raise Problem(f"The files exceed {self.max_upload_bytes // (1 << 20)} MiB together.", 413)
            samples.append(epb.MediaSample(filename=f.filename or "", content=content, content_type=f.content_type or ""))
        notice = epb.BiometricNotice(
            purpose_text=form.purpose_text, retention=duration_pb2.Duration(seconds=retention_days * 86400),
            accept_time=ts(min(accepted, datetime.now(UTC))), notice_version=form.notice_version,
        )  # fmt: skip
        md, timeout = self.md(session), self.timeout
        try:
            if form.modality == "face":
                req = epb.EnrollFaceRequest(request_id=request_id(), talent_id=talent_id, notice=notice, images=samples)
                resp = await self.backends.enrollment.EnrollFace(req, metadata=md, timeout=timeout)
            else:
                req = epb.EnrollVoiceRequest(request_id=request_id(), talent_id=talent_id, notice=notice, clips=samples)
                resp = await self.backends.enrollment.EnrollVoice(req, metadata=md, timeout=timeout)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            # Every sample rejected: the violations name each file and why.
            problem = problem_from_rpc(error)
            results, enrollment = [], None
        else:
            problem, results, enrollment = None, list(resp.results), resp.enrollment
        page = await self.enroll_page(session, talent_id)
        return page | {"results": results, "enrollment": enrollment, "error": problem, "modality": form.modality}

    # -- consent ----------------------------------------------------------------------------------

    async def grants_of(self, session: Session, talent_id: str) -> list[cpb.Grant]:
        """Every grant about the talent, newest first."""
        resp = await self.backends.consent.ListGrants(cpb.ListGrantsRequest(talent_id=talent_id, page_size=500), metadata=self.md(session),
                                                      timeout=self.timeout)  # fmt: skip
        return sorted(resp.grants, key=lambda g: g.create_time.ToDatetime(), reverse=True)

    async def consent_page(self, session: Session, talent_id: str) -> dict:
        talent, grants = await asyncio.gather(self.get_talent(session, talent_id), self.grants_of(session, talent_id))
        return {"talent": talent, "grants": grants, "purposes": PURPOSES}

    async def create_grant(self, session: Session, talent_id: str, form: GrantForm) -> Problem | None:
        """None: granted (the session's flash says so); a Problem: the consent service refused the
        grant as asked (INVALID_ARGUMENT), to show on the form."""
        platform = form.platform_id.strip()
        purposes, custom = [], []
        names = form.purposes + [w.strip() for w in form.custom_purpose.split(",") if w.strip()]
        for name in names:
            value, custom_name = purpose_value(name)
            purposes.append(value)
            custom += [custom_name] if custom_name else []
        territories = [t.strip().upper() for t in form.territories.split(",") if t.strip()]
        until = form.not_after.strip()
        disclosure = form.disclosure_label.strip()
        grant = cpb.Grant(
            talent_id=talent_id, platform_id="" if platform in ("", "any") else platform, any_platform=platform in ("", "any"),
            modalities=[epb.Modality.Value(f"MODALITY_{m.upper()}") for m in form.modalities if m in ("face", "voice")],
            purposes=sorted(set(purposes)), custom_purposes=custom, territories=territories, worldwide=not territories,
            not_after=ts(datetime.fromisoformat(until).replace(tzinfo=UTC) + timedelta(days=1)) if until else None,
            conditions=[cpb.Condition(kind="disclosure_label", value=disclosure)] if disclosure else [],
            terms_ref=form.terms_ref.strip(),
        )  # fmt: skip
        try:
            resp = await self.backends.consent.CreateGrant(cpb.CreateGrantRequest(request_id=request_id(), grant=grant), metadata=self.md(session),
                                                           timeout=self.timeout)  # fmt: skip
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            return problem_from_rpc(error)
        session.flash = f"Granted {resp.grant.grant_id}."
        return None

    async def revoke_grant(self, session: Session, grant_id: str, reason: str) -> cpb.Grant | Problem:
        """An agency's revoke from the consent page, or a talent's own from My likeness: the revoked
        grant, or (a talent's credential refused) a Problem saying why, for the talent's own page."""
        default = "revoked by the talent in the console" if session.kind == "talent" else "revoked in the agency console"
        req = cpb.RevokeGrantRequest(request_id=request_id(), grant_id=grant_id, reason=reason or default)
        try:
            resp = await self.backends.consent.RevokeGrant(req, metadata=self.md(session), timeout=self.timeout)
        except grpc.RpcError as error:
            if session.kind != "talent" or error.code() != grpc.StatusCode.PERMISSION_DENIED:
                raise
            # An invited credential revoking another agency's grant: say why on the talent's own page.
            problem = problem_from_rpc(error)
            if problem.reason == "IDENTITY_NOT_VERIFIED":
                problem.details.append("The registry's operator can issue you an identity-verified credential after checking who you are.")
            return problem
        session.flash = f"Revoked {resp.grant.grant_id}."
        return resp.grant

    async def grant_json(self, session: Session, grant_id: str) -> Download:
        """The signed grant document."""
        resp = await self.backends.consent.GetGrant(cpb.GetGrantRequest(grant_id=grant_id), metadata=self.md(session), timeout=self.timeout)
        return Download(f"{resp.grant.grant_id}.json", grant_document(resp.grant))

    # -- uses and audit ---------------------------------------------------------------------------

    async def talent_names(self, session: Session, wanted: set[str]) -> dict[str, str]:
        """Names of the agency's talent among `wanted`, from the session's roster cache: fetched
        again after ROSTER_MAX_AGE, or when a use names a talent it has not seen (a newly
        registered one), at most every ROSTER_MIN_INTERVAL."""
        roster, now = session.roster, self.clock()
        if roster.stale(wanted, now, ROSTER_MAX_AGE, ROSTER_MIN_INTERVAL):
            roster.names = {t.talent_id: t.display_name for t in await self.all_talent(session)}
            roster.others, roster.fetched_at = wanted - roster.names.keys(), now
        return {t: roster.names[t] for t in wanted if t in roster.names}

    async def uses_rows(self, session: Session) -> list[dict]:
        """The latest verifications that matched the caller's talent (or the talent), one row each."""
        listed = await self.backends.verification.ListVerifications(vpb.ListVerificationsRequest(page_size=100), metadata=self.md(session),
                                                                    timeout=self.timeout)  # fmt: skip
        names = await self.talent_names(session, {m.talent_id for v in listed.verifications for m in v.matches})
        rows = []
        for v in listed.verifications:
            ours = [m for m in v.matches if m.talent_id in names]
            rows.append({
                "v": v, "decision": enum_label(vpb.Decision, v.decision, "DECISION_"),
                "purpose": v.custom_purpose or enum_label(cpb.Purpose, v.purpose, "PURPOSE_"),
                "matches": [{"name": names[m.talent_id], "talent_id": m.talent_id, "modality": enum_label(epb.Modality, m.modality, "MODALITY_"),
                             "score": f"{m.score:.3f}", "covered": m.grant_id,
                             "denial": enum_label(cpb.DenialReason, m.denial_reason, "DENIAL_REASON_") if m.denial_reason else ""}
                            for m in ours],
                "others": len({m.talent_id for m in v.matches} - set(names)),
                "coverage": coverage_line(v.coverage) if v.HasField("coverage") else "not recorded",
                "reasons": ", ".join(enum_label(vpb.ReviewReason, r, "REVIEW_REASON_") for r in v.review_reasons),
                "provenance": provenance_line(v.incoming_provenance) if v.HasField("incoming_provenance") else "",
                "c2pa_requested": v.c2pa_requested,
            })  # fmt: skip
        return rows

    async def receipt_json(self, session: Session, verification_id: str) -> Download:
        """The signed receipt of one verification."""
        resp = await self.backends.verification.GetReceipt(vpb.GetReceiptRequest(verification_id=verification_id), metadata=self.md(session),
                                                           timeout=self.timeout)  # fmt: skip
        v = resp.verification
        return Download(f"{v.receipt.receipt_id}.json", receipt_document(v))

    async def audit_page(self, session: Session) -> dict:
        report = await self.backends.consent.VerifyAuditLog(cpb.VerifyAuditLogRequest(), metadata=self.md(session), timeout=self.timeout)
        return {"report": report, "checked_at": datetime.now(UTC)}

    # -- a talent's own page ----------------------------------------------------------------------

    async def mandates_of(self, session: Session) -> list[rpb.Mandate]:
        resp = await self.backends.registry.ListMandates(rpb.ListMandatesRequest(talent_id=session.talent_id, page_size=100),
                                                         metadata=self.md(session), timeout=self.timeout)  # fmt: skip
        return list(resp.mandates)

    async def me_page(self, session: Session) -> dict:
        """My likeness: everything the registry holds about the signed-in talent, read with their own key."""
        me = session.talent_id
        talent, enrollments, grants, disputes, mandates, uses = await asyncio.gather(
            self.get_talent(session, me), self.enrollment_of(session, me), self.grants_of(session, me),
            self.open_disputes(session), self.mandates_of(session), self.uses_rows(session),
        )  # fmt: skip
        session.talent_name = talent.display_name
        modalities = [{"modality": m, "state": enum_label(epb.EnrollmentState, e.state, "ENROLLMENT_STATE_") if e else "not enrolled",
                       "held": bool(e and e.dispute_ids), "samples": e.accepted_samples if e else 0}
                      for m, e in ((m, enrollments.get(m)) for m in ("face", "voice"))]  # fmt: skip
        agencies = [{"m": m, "state": enum_label(rpb.MandateState, m.state, "MANDATE_STATE_"), "inviting": m.agency_id == session.invited_by_agency_id}
                    for m in mandates]  # fmt: skip
        return {"talent": talent, "modalities": modalities, "grants": grants, "mandates": agencies,
                "disputes": dispute_rows(disputes, {me: talent.display_name}), "rows": uses}  # fmt: skip


# -- the services' messages as labels for people ---------------------------------------------------


def enum_label(enum_type, value: int, prefix: str) -> str:
    """`PURPOSE_SYNTHETIC_PERFORMANCE` -> "synthetic performance" (likeness_common.proto.enum_name, for people)."""
    return label(enum_name(enum_type, value, prefix))


def moment(stamp: timestamp_pb2.Timestamp) -> datetime | None:
    """A Timestamp as a datetime (UTC); None when unset."""
    return stamp.ToDatetime(tzinfo=UTC) if stamp.seconds else None


def rejection_label(value: int) -> str:
    return enum_label(epb.SampleRejection, value, "SAMPLE_REJECTION_")


def dispute_rows(disputes: list[epb.Dispute], names: dict[str, str]) -> list[dict]:
    """Table rows naming only the talent in `names` (the caller's): the other side of a dispute
    appears as an opaque talent id."""
    return [{"dispute_id": d.dispute_id, "modality": enum_label(epb.Modality, d.modality, "MODALITY_"),
             "held": names.get(d.talent_id, f"another record ({d.talent_id})"),
             "existing": names.get(d.existing_talent_id, f"another record ({d.existing_talent_id})"),
             "opened": when(moment(d.open_time))} for d in disputes]  # fmt: skip


def grant_label(g: cpb.Grant) -> dict:
    return {
        "state": enum_label(cpb.GrantState, g.state, "GRANT_STATE_"),
        "platform": "any platform" if g.any_platform else g.platform_id,
        "modalities": ", ".join(enum_label(epb.Modality, m, "MODALITY_") for m in g.modalities),
        "purposes": ", ".join([enum_label(cpb.Purpose, p, "PURPOSE_") for p in g.purposes if p != cpb.PURPOSE_CUSTOM] + list(g.custom_purposes)),
        "territories": "worldwide" if g.worldwide else ", ".join(g.territories),
        "conditions": ", ".join(f"{c.kind} = {c.value}" for c in g.conditions),
    }
