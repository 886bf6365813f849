"""The agency console: Starlette routes rendering Jinja2 templates, every fact read from or written
to the services over gRPC with the signed-in agency's own API key. No database, no cache: each page
asks the services, whose authorization decides what an agency may see. A talent signs in with their
own credential and gets one page of their own, My likeness (/me)."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import structlog
from google.protobuf import duration_pb2
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.verification.v1 import verification_pb2 as vpb
from likeness_cli.client import CliError, Connection, request_id
from likeness_cli.consent_cmds import grant_document, purpose_value
from likeness_cli.verify_cmds import coverage_line, receipt_document
from likeness_common import purposes
from likeness_common.proto import enum_name, ts
from likeness_common.tls import ClientTls

from ..adapters.sessions import COOKIE, Session, SessionStore
from ..bootstrap import Backends, ConsoleSettings

HERE = Path(__file__).parent
log = structlog.get_logger("likeness.console")

PURPOSES = [p.lower() for p in purposes.NAMED]  # the consent form's choices (custom: its own field)
# gRPC status -> HTTP status of the page that shows it.
HTTP_STATUS = {"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 409, "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403,
               "NOT_FOUND": 404, "RESOURCE_EXHAUSTED": 413, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504}  # fmt: skip
# Codes whose details are about the infrastructure, not the request: say so plainly instead.
OPAQUE = {"UNAVAILABLE": "A service of the registry is unreachable right now. Try again in a moment.",
          "DEADLINE_EXCEEDED": "A service of the registry took too long to answer. Try again in a moment.",
          "INTERNAL": "A service of the registry failed. Try again; if it persists, contact the operator.",
          "UNKNOWN": "A service of the registry failed. Try again; if it persists, contact the operator."}  # fmt: skip


def provenance_line(p: vpb.IncomingProvenance) -> str:
    """The clip's own C2PA manifest in one line (evidence the platform's clip carried, not a verdict)."""
    sources = ", ".join(t.rsplit("/", 1)[-1] for t in p.digital_source_types)
    parts = [f"C2PA manifest {p.validation_state}", f"declares {sources}" if sources else "", f"signed by {p.signer}" if p.signer else "",
             f"training: {', '.join(p.training_mining)}" if p.training_mining else "", f"failures: {', '.join(p.failures)}" if p.validation_state == "Invalid" else ""]  # fmt: skip
    return "; ".join(x for x in parts if x)


class Problem(Exception):
    """Something to tell the user, with the HTTP status of the page that tells it."""

    def __init__(self, message: str, status: int = 400, details: list[str] | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.message, self.status, self.details, self.reason = message, status, details or [], reason

    @classmethod
    def from_rpc(cls, error: grpc.RpcError) -> Problem:
        e = CliError.from_rpc(error)
        if e.code in OPAQUE:
            return cls(OPAQUE[e.code], HTTP_STATUS.get(e.code, 502))
        details = [f"{v['field']}: {v['description']}" for v in e.violations]
        return cls(e.message, HTTP_STATUS.get(e.code, 502), details, e.reason)


def enum_label(enum_type, value: int, prefix: str) -> str:
    """`PURPOSE_SYNTHETIC_PERFORMANCE` -> "synthetic performance" (likeness_common.proto.enum_name, for people)."""
    return enum_name(enum_type, value, prefix).replace("_", " ").lower()


def when(stamp) -> str:
    return stamp.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if stamp.seconds else ""


class SecurityHeaders(BaseHTTPMiddleware):
    """No framing, no sniffing, scripts only from /static, and no page stored by any cache."""

    async def dispatch(self, request: Request, call_next) -> Response:
        started = time.monotonic()
        response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
        )
        if request.url.path != "/healthz":
            log.info("http", method=request.method, path=request.url.path, status=response.status_code,
                     duration_ms=round((time.monotonic() - started) * 1000, 1))  # fmt: skip
        return response


Handler = Callable[..., Awaitable[Response]]
# Who may use a page or an action (Session.kind).
AGENCY, TALENT = frozenset({"agency"}), frozenset({"talent"})
ANYONE = AGENCY | TALENT
WRONG_KIND = {"agency": "This page is for a talent signed in with their own credential.",
              "talent": "This page is for agencies. Your own likeness is on My likeness."}  # fmt: skip
ROSTER_MAX_AGE = 60.0  # seconds a session's cached talent names serve the Uses page
ROSTER_MIN_INTERVAL = 5.0  # at most this often refetched because a use names an unseen talent


class Console:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.sessions = SessionStore(settings.session_idle_seconds, settings.max_sessions)
        self.templates = Jinja2Templates(directory=HERE / "templates")
        self.templates.env.filters["when"] = when
        self.templates.env.filters["rejection"] = lambda value: enum_label(epb.SampleRejection, value, "SAMPLE_REJECTION_")
        self.backends: Backends | None = None
        self.clock = time.monotonic  # the roster cache's clock (tests move it)

    # -- plumbing ---------------------------------------------------------------------------------

    def md(self, session: Session) -> list[tuple[str, str]]:
        """The agency's own key as the gRPC credential, as the CLI sends it."""
        return Connection("", session.api_key).metadata

    @property
    def rpc(self) -> Backends:
        assert self.backends is not None, "the console is not started"
        return self.backends

    def secure(self, request: Request) -> bool:
        forced = self.settings.secure_cookies
        return forced if forced is not None else request.url.scheme == "https"

    def set_cookie(self, request: Request, response: Response, session_id: str) -> None:
        response.set_cookie(COOKIE, session_id, httponly=True, samesite="strict", secure=self.secure(request), path="/")

    def render(self, request: Request, session: Session | None, name: str, http_status: int = 200, **context) -> Response:
        context |= {"session": session, "flash": session.pop_flash() if session else "", "nav": name.removesuffix(".html"),
                    "poll_seconds": self.settings.uses_poll_seconds}  # fmt: skip
        return self.templates.TemplateResponse(request, name, context, status_code=http_status)

    def problem(self, request: Request, session: Session | None, problem: Problem) -> Response:
        return self.render(request, session, "error.html", problem.status, problem=problem)

    def session_of(self, request: Request) -> Session | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    def page(self, handler: Handler, who: frozenset[str] = AGENCY) -> Handler:
        """A page for a signed-in agency (or talent, per `who`): sign-in first, any other kind of
        session refused (403); service errors become a readable page."""

        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            session = self.session_of(request)
            if session is None or not session.signed_in:
                return RedirectResponse("/signin", status_code=303)
            if session.kind not in who:
                return self.problem(request, session, Problem(WRONG_KIND[session.kind], 403))
            try:
                return await handler(request, session)
            except grpc.RpcError as error:
                return self.rpc_failed(request, session, error)
            except Problem as problem:
                return self.problem(request, session, problem)

        return endpoint

    def action(self, handler: Handler, who: frozenset[str] = AGENCY) -> Handler:
        """A form POST: signed in as `who`, CSRF token checked (403 otherwise), then the handler."""

        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            session = self.session_of(request)
            if session is None:  # before reading a byte of the body: no session, no upload
                return self.problem(request, session, Problem(
                    "This form did not come from your console session (the CSRF check failed). Reload the page and try again.", 403))  # fmt: skip
            if session.signed_in and session.kind not in who:  # nor from the wrong kind of session
                return self.problem(request, session, Problem(WRONG_KIND[session.kind], 403))
            declared = request.headers.get("content-length", "")
            if not declared.isdigit() or int(declared) > self.settings.max_upload_bytes + (1 << 20):
                return self.problem(request, session, Problem(
                    f"The upload is too large or has no declared length (at most {self.settings.max_upload_bytes >> 20} MiB).", 413))  # fmt: skip
            try:
                form = await request.form(max_files=100, max_fields=100)
            except MultiPartException as error:
                return self.problem(request, session, Problem(f"The form could not be read: {error.message}"))
            if session is None or not session.csrf_ok(form.get("csrf_token")):
                return self.problem(request, session, Problem(
                    "This form did not come from your console session (the CSRF check failed). Reload the page and try again.", 403))  # fmt: skip
            if not session.signed_in:
                return RedirectResponse("/signin", status_code=303)
            try:
                return await handler(request, session, form)
            except grpc.RpcError as error:
                return self.rpc_failed(request, session, error)
            except Problem as problem:
                return self.problem(request, session, problem)
            finally:
                await form.close()

        return endpoint

    def rpc_failed(self, request: Request, session: Session, error: grpc.RpcError) -> Response:
        if error.code() == grpc.StatusCode.UNAUTHENTICATED:  # the key was revoked or rotated meanwhile
            self.sessions.drop(request.cookies.get(COOKIE))
            return RedirectResponse("/signin?expired=1", status_code=303)
        return self.problem(request, session, Problem.from_rpc(error))

    # -- sign-in ----------------------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def signin_form(self, request: Request) -> Response:
        session = self.session_of(request)
        if session and session.signed_in:
            return RedirectResponse(session.home, status_code=303)
        session_id = request.cookies.get(COOKIE)
        if session is None:  # an anonymous session only to carry the sign-in form's CSRF token
            session_id, session = self.sessions.new()
        if request.query_params.get("expired"):
            session.flash = "Your API key is no longer valid. Sign in again."
        response = self.render(request, session, "signin.html")
        self.set_cookie(request, response, session_id)
        return response

    async def signin(self, request: Request) -> Response:
        session = self.session_of(request)
        form = await request.form(max_files=0, max_fields=10)
        if session is None or not session.csrf_ok(form.get("csrf_token")):
            return self.problem(request, session, Problem("The sign-in form expired. Reload the page and try again.", 403))
        api_key = str(form.get("api_key") or "").strip()
        try:
            who = await self.rpc.registry.WhoAmI(rpb.WhoAmIRequest(), metadata=Connection("", api_key).metadata,
                                                 timeout=self.settings.rpc_timeout_seconds)  # fmt: skip
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT):
                return self.render(request, session, "signin.html", 401, error="That API key was not accepted.")
            return self.problem(request, session, Problem.from_rpc(error))
        if who.kind not in (rpb.PRINCIPAL_KIND_AGENCY, rpb.PRINCIPAL_KIND_TALENT) or not api_key:
            return self.render(request, session, "signin.html", 403,
                               error="This console is for agencies and talent: sign in with an agency's API key or your own talent credential.")  # fmt: skip
        signed_in = await (self.agency_session if who.kind == rpb.PRINCIPAL_KIND_AGENCY else self.talent_session)(api_key, who)
        self.sessions.drop(request.cookies.get(COOKIE))
        session_id, _ = self.sessions.new(signed_in)
        response = RedirectResponse(signed_in.home, status_code=303)
        self.set_cookie(request, response, session_id)
        log.info("signed in", kind=signed_in.kind, principal_id=who.principal_id)
        return response

    async def agency_session(self, api_key: str, who: rpb.WhoAmIResponse) -> Session:
        try:
            agency = await self.rpc.registry.GetAgency(rpb.GetAgencyRequest(agency_id=who.principal_id), metadata=Connection("", api_key).metadata,
                                                       timeout=self.settings.rpc_timeout_seconds)  # fmt: skip
            name = agency.agency.display_name
        except grpc.RpcError:
            name = who.display_name  # only for the header
        return Session(api_key=api_key, agency_id=who.principal_id, agency_name=name)

    async def talent_session(self, api_key: str, who: rpb.WhoAmIResponse) -> Session:
        """A talent's own credential: what it may revoke depends on how it was issued (WhoAmI says)."""
        try:
            talent = await self.rpc.registry.GetTalent(rpb.GetTalentRequest(talent_id=who.principal_id), metadata=Connection("", api_key).metadata,
                                                       timeout=self.settings.rpc_timeout_seconds)  # fmt: skip
            name = talent.talent.display_name
        except grpc.RpcError:
            name = who.display_name  # only for the header
        return Session(api_key=api_key, talent_id=who.principal_id, talent_name=name, identity_verified=who.identity_verified,
                       invited_by_agency_id=who.invited_by_agency_id)  # fmt: skip

    async def signout(self, request: Request, session: Session, form: FormData) -> Response:
        self.sessions.drop(request.cookies.get(COOKIE))
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=self.secure(request))
        return response

    async def home(self, request: Request, session: Session) -> Response:
        return RedirectResponse(session.home, status_code=303)

    # -- talent -----------------------------------------------------------------------------------

    async def all_talent(self, session: Session) -> list[rpb.Talent]:
        found, token = [], ""
        while True:
            resp = await self.rpc.registry.ListTalent(rpb.ListTalentRequest(page_size=500, page_token=token), metadata=self.md(session),
                                                      timeout=self.settings.rpc_timeout_seconds)  # fmt: skip
            found += resp.talent
            token = resp.next_page_token
            if not token:
                return found

    async def enrollment_of(self, session: Session, talent_id: str) -> dict[str, epb.Enrollment]:
        resp = await self.rpc.enrollment.GetEnrollmentStatus(epb.GetEnrollmentStatusRequest(talent_id=talent_id), metadata=self.md(session),
                                                             timeout=self.settings.rpc_timeout_seconds)  # fmt: skip
        found: dict[str, epb.Enrollment] = {}
        for e in resp.enrollments:  # a held (DISPUTED) enrollment is the one to show
            modality = enum_label(epb.Modality, e.modality, "MODALITY_")
            if modality not in found or e.state == epb.ENROLLMENT_STATE_DISPUTED:
                found[modality] = e
        return found

    async def open_disputes(self, session: Session) -> list[epb.Dispute]:
        """Open likeness disputes over the agency's talent, or over the signed-in talent themselves."""
        resp = await self.rpc.enrollment.ListDisputes(epb.ListDisputesRequest(state=epb.DISPUTE_STATE_OPEN, page_size=100),
                                                      metadata=self.md(session), timeout=self.settings.rpc_timeout_seconds)  # fmt: skip
        return list(resp.disputes)

    async def get_talent(self, session: Session, talent_id: str) -> rpb.Talent:
        resp = await self.rpc.registry.GetTalent(rpb.GetTalentRequest(talent_id=talent_id), metadata=self.md(session),
                                                 timeout=self.settings.rpc_timeout_seconds)  # fmt: skip
        return resp.talent

    async def talent_page(self, request: Request, session: Session) -> Response:
        talent, disputes = await asyncio.gather(self.all_talent(session), self.open_disputes(session))
        status = await asyncio.gather(*(self.enrollment_of(session, t.talent_id) for t in talent))
        rows = dispute_rows(disputes, {t.talent_id: t.display_name for t in talent})
        return self.render(request, session, "talent.html", rows=list(zip(talent, status, strict=True)), disputes=rows)

    async def register_talent(self, request: Request, session: Session, form: FormData) -> Response:
        name = str(form.get("display_name") or "").strip()
        req = rpb.RegisterTalentRequest(request_id=request_id(), display_name=name, external_ref=str(form.get("external_ref") or "").strip())
        resp = await self.rpc.registry.RegisterTalent(req, metadata=self.md(session), timeout=self.settings.rpc_timeout_seconds)
        session.flash = f"Registered {resp.talent.display_name} ({resp.talent.talent_id})."
        session.roster.fetched_at = None
        return RedirectResponse("/talent", status_code=303)

    # -- enrollment -------------------------------------------------------------------------------

    async def enroll_page(self, request: Request, session: Session) -> Response:
        talent_id = request.path_params["talent_id"]
        talent, status = await asyncio.gather(self.get_talent(session, talent_id), self.enrollment_of(session, talent_id))
        return self.render(request, session, "enroll.html", talent=talent, status=status, today=datetime.now(UTC).date().isoformat())

    async def enroll(self, request: Request, session: Session, form: FormData) -> Response:
        talent_id = request.path_params["talent_id"]
        modality = form.get("modality")
        files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename]
        if modality not in ("face", "voice"):
            raise Problem("Choose face or voice.")
        if not files:
            raise Problem("Choose at least one file to upload.")
        if form.get("notice_accepted") != "yes":
            raise Problem("Enrollment needs the biometric notice the talent accepted: tick the confirmation box.")
        try:
            retention_days = int(str(form.get("retention_days") or "365"))
            accepted = datetime.fromisoformat(str(form.get("accepted_on") or "")).replace(tzinfo=UTC)
        except ValueError:
            raise Problem("Give the retention in days and the date the talent accepted the notice.") from None
        samples, total = [], 0
        for f in files:
            content = await f.read()
            total += len(content)
            if total > self.settings.max_upload_bytes:
                raise Problem(f"The files exceed {self.settings.max_upload_bytes // (1 << 20)} MiB together.", 413)
            samples.append(epb.MediaSample(filename=f.filename or "", content=content, content_type=f.content_type or ""))
        notice = epb.BiometricNotice(
            purpose_text=str(form.get("purpose_text") or ""), retention=duration_pb2.Duration(seconds=retention_days * 86400),
            accept_time=ts(min(accepted, datetime.now(UTC))), notice_version=str(form.get("notice_version") or ""),
        )  # fmt: skip
        md, timeout = self.md(session), self.settings.rpc_timeout_seconds
        try:
            if modality == "face":
                req = epb.EnrollFaceRequest(request_id=request_id(), talent_id=talent_id, notice=notice, images=samples)
                resp = await self.rpc.enrollment.EnrollFace(req, metadata=md, timeout=timeout)
            else:
                req = epb.EnrollVoiceRequest(request_id=request_id(), talent_id=talent_id, notice=notice, clips=samples)
                resp = await self.rpc.enrollment.EnrollVoice(req, metadata=md, timeout=timeout)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            # Every sample rejected: the violations name each file and why.
            problem = Problem.from_rpc(error)
            results, enrollment = [], None
        else:
            problem, results, enrollment = None, list(resp.results), resp.enrollment
        talent, status = await asyncio.gather(self.get_talent(session, talent_id), self.enrollment_of(session, talent_id))
        return self.render(request, session, "enroll.html", 400 if problem else 200, talent=talent, status=status, results=results,
                           enrollment=enrollment, error=problem, modality=modality, today=datetime.now(UTC).date().isoformat())  # fmt: skip

    # -- consent ----------------------------------------------------------------------------------

    async def grants_of(self, session: Session, talent_id: str) -> list[cpb.Grant]:
        """Every grant about the talent, newest first."""
        resp = await self.rpc.consent.ListGrants(cpb.ListGrantsRequest(talent_id=talent_id, page_size=500), metadata=self.md(session),
                                                 timeout=self.settings.rpc_timeout_seconds)  # fmt: skip
        return sorted(resp.grants, key=lambda g: g.create_time.ToDatetime(), reverse=True)

    async def consent_page(self, request: Request, session: Session, *, error: Problem | None = None, status: int = 200) -> Response:
        talent_id = request.path_params["talent_id"]
        talent, grants = await asyncio.gather(self.get_talent(session, talent_id), self.grants_of(session, talent_id))
        return self.render(request, session, "consent.html", status, talent=talent, grants=grants, purposes=PURPOSES, error=error,
                           grant_label=grant_label)  # fmt: skip

    async def create_grant(self, request: Request, session: Session, form: FormData) -> Response:
        talent_id = request.path_params["talent_id"]
        platform = str(form.get("platform_id") or "").strip()
        purposes, custom = [], []
        names = [str(p) for p in form.getlist("purposes")] + [w.strip() for w in str(form.get("custom_purpose") or "").split(",") if w.strip()]
        for name in names:
            value, custom_name = purpose_value(name)
            purposes.append(value)
            custom += [custom_name] if custom_name else []
        territories = [t.strip().upper() for t in str(form.get("territories") or "").split(",") if t.strip()]
        until = str(form.get("not_after") or "").strip()
        label = str(form.get("disclosure_label") or "").strip()
        grant = cpb.Grant(
            talent_id=talent_id, platform_id="" if platform in ("", "any") else platform, any_platform=platform in ("", "any"),
            modalities=[epb.Modality.Value(f"MODALITY_{m.upper()}") for m in form.getlist("modalities") if m in ("face", "voice")],
            purposes=sorted(set(purposes)), custom_purposes=custom, territories=territories, worldwide=not territories,
            not_after=ts(datetime.fromisoformat(until).replace(tzinfo=UTC) + timedelta(days=1)) if until else None,
            conditions=[cpb.Condition(kind="disclosure_label", value=label)] if label else [],
            terms_ref=str(form.get("terms_ref") or "").strip(),
        )  # fmt: skip
        try:
            resp = await self.rpc.consent.CreateGrant(cpb.CreateGrantRequest(request_id=request_id(), grant=grant), metadata=self.md(session),
                                                      timeout=self.settings.rpc_timeout_seconds)  # fmt: skip
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            return await self.consent_page(request, session, error=Problem.from_rpc(error), status=400)
        session.flash = f"Granted {resp.grant.grant_id}."
        return RedirectResponse(f"/talent/{talent_id}/consent", status_code=303)

    async def revoke_grant(self, request: Request, session: Session, form: FormData) -> Response:
        """An agency's revoke from the consent page, or a talent's own from My likeness."""
        default = "revoked by the talent in the console" if session.kind == "talent" else "revoked in the agency console"
        req = cpb.RevokeGrantRequest(request_id=request_id(), grant_id=request.path_params["grant_id"], reason=str(form.get("reason") or default))
        try:
            resp = await self.rpc.consent.RevokeGrant(req, metadata=self.md(session), timeout=self.settings.rpc_timeout_seconds)
        except grpc.RpcError as error:
            if session.kind != "talent" or error.code() != grpc.StatusCode.PERMISSION_DENIED:
                raise
            # An invited credential revoking another agency's grant: say why on the talent's own page.
            problem = Problem.from_rpc(error)
            if problem.reason == "IDENTITY_NOT_VERIFIED":
                problem.details.append("The registry's operator can issue you an identity-verified credential after checking who you are.")
            return await self.me_page(request, session, error=problem, status=problem.status)
        session.flash = f"Revoked {resp.grant.grant_id}."
        return RedirectResponse(session.home if session.kind == "talent" else f"/talent/{resp.grant.talent_id}/consent", status_code=303)

    async def grant_json(self, request: Request, session: Session) -> Response:
        grant_id = request.path_params["grant_id"]
        resp = await self.rpc.consent.GetGrant(cpb.GetGrantRequest(grant_id=grant_id), metadata=self.md(session),
                                               timeout=self.settings.rpc_timeout_seconds)  # fmt: skip
        return Response(grant_document(resp.grant), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{resp.grant.grant_id}.json"'})  # fmt: skip

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
        listed = await self.rpc.verification.ListVerifications(vpb.ListVerificationsRequest(page_size=100), metadata=self.md(session),
                                                               timeout=self.settings.rpc_timeout_seconds)  # fmt: skip
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

    async def uses_page(self, request: Request, session: Session) -> Response:
        return self.render(request, session, "uses.html", rows=await self.uses_rows(session))

    async def uses_fragment(self, request: Request, session: Session) -> Response:
        """The table body alone, for the page's polling script (the Uses page, or My likeness)."""
        return self.templates.TemplateResponse(request, "uses_rows.html", {"rows": await self.uses_rows(session), "session": session})

    async def receipt_json(self, request: Request, session: Session) -> Response:
        resp = await self.rpc.verification.GetReceipt(vpb.GetReceiptRequest(verification_id=request.path_params["verification_id"]),
                                                      metadata=self.md(session), timeout=self.settings.rpc_timeout_seconds)  # fmt: skip
        v = resp.verification
        return Response(receipt_document(v), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{v.receipt.receipt_id}.json"'})  # fmt: skip

    async def audit_page(self, request: Request, session: Session) -> Response:
        report = await self.rpc.consent.VerifyAuditLog(cpb.VerifyAuditLogRequest(), metadata=self.md(session),
                                                       timeout=self.settings.rpc_timeout_seconds)  # fmt: skip
        return self.render(request, session, "audit.html", report=report, checked_at=datetime.now(UTC))

    # -- a talent's own page ----------------------------------------------------------------------

    async def mandates_of(self, session: Session) -> list[rpb.Mandate]:
        resp = await self.rpc.registry.ListMandates(rpb.ListMandatesRequest(talent_id=session.talent_id, page_size=100),
                                                    metadata=self.md(session), timeout=self.settings.rpc_timeout_seconds)  # fmt: skip
        return list(resp.mandates)

    async def me_page(self, request: Request, session: Session, *, error: Problem | None = None, status: int = 200) -> Response:
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
        return self.render(request, session, "me.html", status, talent=talent, modalities=modalities, grants=grants, mandates=agencies,
                           disputes=dispute_rows(disputes, {me: talent.display_name}), rows=uses, error=error, grant_label=grant_label)  # fmt: skip

    # -- errors -----------------------------------------------------------------------------------

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return self.problem(request, self.session_of(request), Problem("There is no such page.", 404))

    async def server_error(self, request: Request, exc: Exception) -> Response:
        log.error("unexpected error", path=request.url.path, error_type=type(exc).__name__)
        return self.problem(request, None, Problem("Something went wrong in the console. Try again.", 500))

    def routes(self) -> list:
        p, a = self.page, self.action
        return [
            Route("/healthz", self.healthz),
            Route("/", p(self.home, ANYONE)),
            Route("/signin", self.signin_form, methods=["GET"]),
            Route("/signin", self.signin, methods=["POST"]),
            Route("/signout", a(self.signout, ANYONE), methods=["POST"]),
            Route("/talent", p(self.talent_page), methods=["GET"]),
            Route("/talent", a(self.register_talent), methods=["POST"]),
            Route("/talent/{talent_id}/enroll", p(self.enroll_page), methods=["GET"]),
            Route("/talent/{talent_id}/enroll", a(self.enroll), methods=["POST"]),
            Route("/talent/{talent_id}/consent", p(self.consent_page), methods=["GET"]),
            Route("/talent/{talent_id}/consent", a(self.create_grant), methods=["POST"]),
            Route("/grants/{grant_id}/revoke", a(self.revoke_grant, ANYONE), methods=["POST"]),
            Route("/grants/{grant_id}.json", p(self.grant_json, ANYONE)),
            Route("/uses", p(self.uses_page)),
            Route("/uses/rows", p(self.uses_fragment, ANYONE)),
            Route("/uses/{verification_id}/receipt.json", p(self.receipt_json, ANYONE)),
            Route("/audit", p(self.audit_page)),
            Route("/me", p(self.me_page, TALENT)),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]


def dispute_rows(disputes: list[epb.Dispute], names: dict[str, str]) -> list[dict]:
    """Table rows naming only the talent in `names` (the caller's): the other side of a dispute
    appears as an opaque talent id."""
    return [{"dispute_id": d.dispute_id, "modality": enum_label(epb.Modality, d.modality, "MODALITY_"),
             "held": names.get(d.talent_id, f"another record ({d.talent_id})"),
             "existing": names.get(d.existing_talent_id, f"another record ({d.existing_talent_id})"),
             "opened": when(d.open_time)} for d in disputes]  # fmt: skip


def grant_label(g: cpb.Grant) -> dict:
    return {
        "state": enum_label(cpb.GrantState, g.state, "GRANT_STATE_"),
        "platform": "any platform" if g.any_platform else g.platform_id,
        "modalities": ", ".join(enum_label(epb.Modality, m, "MODALITY_") for m in g.modalities),
        "purposes": ", ".join([enum_label(cpb.Purpose, p, "PURPOSE_") for p in g.purposes if p != cpb.PURPOSE_CUSTOM] + list(g.custom_purposes)),
        "territories": "worldwide" if g.worldwide else ", ".join(g.territories),
        "conditions": ", ".join(f"{c.kind} = {c.value}" for c in g.conditions),
    }


def create_app(settings: ConsoleSettings, client_tls: ClientTls | None = None) -> Starlette:
    console = Console(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        console.backends = Backends.connect(settings, client_tls)
        try:
            yield
        finally:
            await console.backends.close()

    app = Starlette(
        routes=console.routes(), lifespan=lifespan, middleware=[Middleware(SecurityHeaders)],
        exception_handlers={404: console.not_found, 405: console.not_found, Exception: console.server_error},
    )  # fmt: skip
    app.state.console = console
    return app
