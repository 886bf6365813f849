"""The agency console's HTTP side: Starlette routes rendering Jinja2 templates. Each endpoint reads
the request (cookie, path, form), asks service_layer.handlers for what the page needs, and renders
it; sign-in, the session cookie, CSRF, upload limits and the error pages live here. No database,
no cache: every fact comes from the services, asked with the signed-in user's own key. A talent
signs in with their own credential and gets one page of their own, My likeness (/me)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import structlog
from starlette.applications import Starlette
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import Lifespan

from ..domain.formatting import when
from ..domain.model import AGENCY, ANYONE, TALENT, Problem, Session, refusal
from ..service_layer.handlers import (
    Download,
    EnrollmentForm,
    GrantForm,
    Handlers,
    SignInRefused,
    grant_label,
    moment,
    problem_from_rpc,
    rejection_label,
)
from ..service_layer.ports import Backends, Sessions
from .middleware import SecurityHeaders

if TYPE_CHECKING:
    from ..bootstrap import ConsoleSettings

HERE = Path(__file__).parent
COOKIE = "likeness_console"
log = structlog.get_logger("likeness.console")

Endpoint = Callable[..., Awaitable[Response]]


def field(form: FormData, name: str) -> str:
    """A form field as text ("" when absent)."""
    return str(form.get(name) or "")


def download(doc: Download) -> Response:
    return Response(doc.content, media_type="application/json", headers={"Content-Disposition": f'attachment; filename="{doc.filename}"'})


class Console:
    def __init__(self, settings: ConsoleSettings, sessions: Sessions) -> None:
        self.settings, self.sessions = settings, sessions
        self.templates = templates()
        self.backends: Backends | None = None  # connected when the app starts (bootstrap); tests put fakes here

    @property
    def handlers(self) -> Handlers:
        """The service layer over the connected backends (stateless: what lasts lives in the session)."""
        assert self.backends is not None, "the console is not started"
        return Handlers(self.backends, timeout=self.settings.rpc_timeout_seconds, max_upload_bytes=self.settings.max_upload_bytes)

    # -- plumbing ---------------------------------------------------------------------------------

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

    def page(self, endpoint: Endpoint, who: frozenset[str] = AGENCY) -> Endpoint:
        """A page for a signed-in agency (or talent, per `who`): sign-in first, any other kind of
        session refused (403); service errors become a readable page."""

        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            session = self.session_of(request)
            if session is None or not session.signed_in:
                return RedirectResponse("/signin", status_code=303)
            if refused := refusal(session, who):
                return self.problem(request, session, refused)
            try:
                return await endpoint(request, session)
            except grpc.RpcError as error:
                return self.rpc_failed(request, session, error)
            except Problem as problem:
                return self.problem(request, session, problem)

        return guarded

    def action(self, endpoint: Endpoint, who: frozenset[str] = AGENCY) -> Endpoint:
        """A form POST: signed in as `who`, CSRF token checked (403 otherwise), then the endpoint."""

        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            session = self.session_of(request)
            if session is None:  # before reading a byte of the body: no session, no upload
                return self.problem(request, session, Problem(
                    "This form did not come from your console session (the CSRF check failed). Reload the page and try again.", 403))  # fmt: skip
            if session.signed_in and (refused := refusal(session, who)):  # nor from the wrong kind of session
                return self.problem(request, session, refused)
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
                return await endpoint(request, session, form)
            except grpc.RpcError as error:
                return self.rpc_failed(request, session, error)
            except Problem as problem:
                return self.problem(request, session, problem)
            finally:
                await form.close()

        return guarded

    def rpc_failed(self, request: Request, session: Session, error: grpc.RpcError) -> Response:
        if error.code() == grpc.StatusCode.UNAUTHENTICATED:  # the key was revoked or rotated meanwhile
            self.sessions.drop(request.cookies.get(COOKIE))
            return RedirectResponse("/signin?expired=1", status_code=303)
        return self.problem(request, session, problem_from_rpc(error))

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
        try:
            signed_in = await self.handlers.sign_in(field(form, "api_key").strip())
        except SignInRefused as refused:
            return self.render(request, session, "signin.html", refused.status, error=refused.message)
        except Problem as problem:
            return self.problem(request, session, problem)
        self.sessions.drop(request.cookies.get(COOKIE))
        session_id, _ = self.sessions.new(signed_in)
        response = RedirectResponse(signed_in.home, status_code=303)
        self.set_cookie(request, response, session_id)
        log.info("signed in", kind=signed_in.kind, principal_id=signed_in.agency_id or signed_in.talent_id)
        return response

    async def signout(self, request: Request, session: Session, form: FormData) -> Response:
        self.sessions.drop(request.cookies.get(COOKIE))
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=self.secure(request))
        return response

    async def home(self, request: Request, session: Session) -> Response:
        return RedirectResponse(session.home, status_code=303)

    # -- talent -----------------------------------------------------------------------------------

    async def talent_page(self, request: Request, session: Session) -> Response:
        return self.render(request, session, "talent.html", **await self.handlers.talent_page(session))

    async def register_talent(self, request: Request, session: Session, form: FormData) -> Response:
        await self.handlers.register_talent(session, field(form, "display_name"), field(form, "external_ref"))
        return RedirectResponse("/talent", status_code=303)

    # -- enrollment -------------------------------------------------------------------------------

    async def enroll_page(self, request: Request, session: Session) -> Response:
        return self.render(request, session, "enroll.html", **await self.handlers.enroll_page(session, request.path_params["talent_id"]))

    async def enroll(self, request: Request, session: Session, form: FormData) -> Response:
        enrollment = EnrollmentForm(
            modality=field(form, "modality"), files=[f for f in form.getlist("files") if isinstance(f, UploadFile) and f.filename],
            notice_accepted=field(form, "notice_accepted"), retention_days=field(form, "retention_days"), accepted_on=field(form, "accepted_on"),
            purpose_text=field(form, "purpose_text"), notice_version=field(form, "notice_version"),
        )  # fmt: skip
        context = await self.handlers.enroll(session, request.path_params["talent_id"], enrollment)
        return self.render(request, session, "enroll.html", 400 if context["error"] else 200, **context)

    # -- consent ----------------------------------------------------------------------------------

    async def consent_page(self, request: Request, session: Session, *, error: Problem | None = None, status: int = 200) -> Response:
        context = await self.handlers.consent_page(session, request.path_params["talent_id"])
        return self.render(request, session, "consent.html", status, **context, error=error, grant_label=grant_label)

    async def create_grant(self, request: Request, session: Session, form: FormData) -> Response:
        talent_id = request.path_params["talent_id"]
        grant = GrantForm(
            platform_id=field(form, "platform_id"), modalities=[str(m) for m in form.getlist("modalities")],
            purposes=[str(p) for p in form.getlist("purposes")], custom_purpose=field(form, "custom_purpose"),
            territories=field(form, "territories"), not_after=field(form, "not_after"), disclosure_label=field(form, "disclosure_label"),
            terms_ref=field(form, "terms_ref"),
        )  # fmt: skip
        if problem := await self.handlers.create_grant(session, talent_id, grant):
            return await self.consent_page(request, session, error=problem, status=400)
        return RedirectResponse(f"/talent/{talent_id}/consent", status_code=303)

    async def revoke_grant(self, request: Request, session: Session, form: FormData) -> Response:
        """An agency's revoke from the consent page, or a talent's own from My likeness."""
        revoked = await self.handlers.revoke_grant(session, request.path_params["grant_id"], field(form, "reason"))
        if isinstance(revoked, Problem):
            return await self.me_page(request, session, error=revoked, status=revoked.status)
        return RedirectResponse(session.home if session.kind == "talent" else f"/talent/{revoked.talent_id}/consent", status_code=303)

    async def grant_json(self, request: Request, session: Session) -> Response:
        return download(await self.handlers.grant_json(session, request.path_params["grant_id"]))

    # -- uses and audit ---------------------------------------------------------------------------

    async def uses_page(self, request: Request, session: Session) -> Response:
        return self.render(request, session, "uses.html", rows=await self.handlers.uses_rows(session))

    async def uses_fragment(self, request: Request, session: Session) -> Response:
        """The table body alone, for the page's polling script (the Uses page, or My likeness)."""
        return self.templates.TemplateResponse(request, "uses_rows.html", {"rows": await self.handlers.uses_rows(session), "session": session})

    async def receipt_json(self, request: Request, session: Session) -> Response:
        return download(await self.handlers.receipt_json(session, request.path_params["verification_id"]))

    async def audit_page(self, request: Request, session: Session) -> Response:
        return self.render(request, session, "audit.html", **await self.handlers.audit_page(session))

    # -- a talent's own page ----------------------------------------------------------------------

    async def me_page(self, request: Request, session: Session, *, error: Problem | None = None, status: int = 200) -> Response:
        context = await self.handlers.me_page(session)
        return self.render(request, session, "me.html", status, **context, error=error, grant_label=grant_label)

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


def templates() -> Jinja2Templates:
    """The pages (web/templates), with the filters they use."""
    found = Jinja2Templates(directory=HERE / "templates")
    found.env.filters["when"] = lambda stamp: when(moment(stamp))
    found.env.filters["rejection"] = rejection_label
    return found


def create_app(console: Console, lifespan: Lifespan[Starlette]) -> Starlette:
    """The Starlette app serving `console`; `lifespan` connects its backends (bootstrap.build_app)."""
    app = Starlette(
        routes=console.routes(), lifespan=lifespan, middleware=[Middleware(SecurityHeaders)],
        exception_handlers={404: console.not_found, 405: console.not_found, Exception: console.server_error},
    )  # fmt: skip
    app.state.console = console
    return app
