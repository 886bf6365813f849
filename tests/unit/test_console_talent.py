"""The console's two kinds of session: a talent's own key signs in to /me, an agency's to /talent,
other keys are refused, and each kind is refused the other's pages before any service is asked.
(Plain ASGI calls with a fake registry; tests/browser/test_console.py drives the real thing.)"""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from console.bootstrap import ConsoleSettings, build_app
from console.domain.model import Session
from console.web.app import COOKIE

from likeness.registry.v1 import registry_pb2 as rpb

WHO = {"lk_talent.x": rpb.WhoAmIResponse(kind=rpb.PRINCIPAL_KIND_TALENT, principal_id="tal_1", display_name="Ada",
                                         invited_by_agency_id="agc_1"),
       "lk_platform.x": rpb.WhoAmIResponse(kind=rpb.PRINCIPAL_KIND_PLATFORM, principal_id="plt_1")}  # fmt: skip


class Registry:
    async def WhoAmI(self, request, metadata, timeout):  # noqa: N802 (the gRPC method name)
        return WHO[dict(metadata)["authorization"].removeprefix("Bearer ")]

    async def GetTalent(self, request, metadata, timeout):  # noqa: N802
        return rpb.GetTalentResponse(talent=rpb.Talent(talent_id=request.talent_id, display_name="Ada Lovelace"))


@pytest.fixture
def app():
    app = build_app(ConsoleSettings())
    app.state.console.backends = SimpleNamespace(registry=Registry())  # any other service asked would fail the test
    return app


async def call(app, method: str, path: str, session_id: str = "", form: dict | None = None) -> tuple[int, dict, str]:
    body = urlencode(form or {}).encode()
    headers = [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", str(len(body)).encode())]
    headers += [(b"cookie", f"{COOKIE}={session_id}".encode())] if session_id else []
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"", "headers": headers,
             "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "http_version": "1.1", "root_path": ""}  # fmt: skip
    sent, out = [{"type": "http.request", "body": body, "more_body": False}], {"body": b""}

    async def receive():
        return sent.pop() if sent else {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            out["status"], out["headers"] = message["status"], {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            out["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return out["status"], out["headers"], out["body"].decode()


async def sign_in(app, api_key: str) -> tuple[int, dict, str]:
    anonymous_id, anonymous = app.state.console.sessions.new()
    return await call(app, "POST", "/signin", anonymous_id, {"csrf_token": anonymous.csrf, "api_key": api_key})


async def test_a_talent_key_signs_in_to_my_likeness_and_a_platform_key_is_refused(app):
    status, headers, _ = await sign_in(app, "lk_talent.x")
    assert (status, headers["location"]) == (303, "/me")
    session = app.state.console.sessions.get(headers["set-cookie"].split(";")[0].split("=", 1)[1])
    assert (session.kind, session.talent_id, session.talent_name, session.identity_verified, session.invited_by_agency_id) == (
        "talent", "tal_1", "Ada Lovelace", False, "agc_1")  # fmt: skip
    status, _, page = await sign_in(app, "lk_platform.x")
    assert status == 403 and "for agencies and talent" in page and "lk_platform.x" not in page


@pytest.mark.parametrize(("method", "path"), [("GET", "/talent"), ("GET", "/uses"), ("GET", "/audit"), ("GET", "/talent/tal_1/consent"),
                                              ("GET", "/talent/tal_1/enroll"), ("POST", "/talent"), ("POST", "/talent/tal_1/consent")])  # fmt: skip
async def test_a_talent_session_is_refused_the_agency_pages(app, method, path):
    session_id, session = app.state.console.sessions.new(Session(api_key="lk_talent.x", talent_id="tal_1", talent_name="Ada"))
    status, _, page = await call(app, method, path, session_id, {"csrf_token": session.csrf, "display_name": "Forged"})
    assert status == 403 and "This page is for agencies" in page and 'href="/me"' in page


async def test_an_agency_session_is_refused_my_likeness_and_home_goes_to_each_kinds_page(app):
    agency_id, _ = app.state.console.sessions.new(Session(api_key="lk_agency.x", agency_id="agc_1", agency_name="Acme"))
    status, _, page = await call(app, "GET", "/me", agency_id)
    assert status == 403 and "for a talent signed in with their own credential" in page and "My likeness</a>" not in page
    talent_id, _ = app.state.console.sessions.new(Session(api_key="lk_talent.x", talent_id="tal_1"))
    assert (await call(app, "GET", "/", agency_id))[1]["location"] == "/talent"
    assert (await call(app, "GET", "/", talent_id))[1]["location"] == "/me"
