"""The agency console in Debian's Chromium, driven by Playwright: the console runs as its own process
(`python -m console`) against the suite's real services; a platform's Verify goes through the real
`likeness verify` command. Screenshots of every page land in test-artifacts/console/ (git-ignored)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import ssl as ssl_module
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.consent.v1 import consent_pb2_grpc
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.registry.v1 import registry_pb2_grpc
from likeness.verification.v1 import verification_pb2 as vpb
from likeness.verification.v1 import verification_pb2_grpc
from likeness_common.documents import GRANT_TYPE, RECEIPT_TYPE
from likeness_common.proto import ts
from likeness_common.signing import verify_envelope
from likeness_common.tls import DevPki, make_dev_pki
from likeness_devstack import Child, free_port
from tests.conftest import ROOT, bearer, shared_data, unique
from tests.support import BIG, module_relay, rid
from verification.domain.model import Modality

playwright_api = pytest.importorskip("playwright.async_api", reason="pip install -r requirements/dev.txt")
async_playwright, expect = playwright_api.async_playwright, playwright_api.expect

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
SHOTS = ROOT / "test-artifacts" / "console"
LIKENESS = str(Path(sys.executable).parent / "likeness")


async def wait_http(url: str, child: Child, timeout: float = 30.0, ssl: ssl_module.SSLContext | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert child.process is not None
        if child.process.poll() is not None:
            pytest.fail(f"the console exited ({child.process.returncode}):\n{child.log_path.read_text()[-3000:]}")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]), ssl=ssl,
                                                          server_hostname="localhost" if ssl else None)  # fmt: skip
            writer.write(b"GET /healthz HTTP/1.0\r\n\r\n")
            status = await reader.readline()
            writer.close()
            if b" 200 " in status:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    pytest.fail(f"the console did not serve {url} within {timeout}s")


relay = module_relay("relay-console")  # enrollment events must reach Kafka to reach the verification index


@contextlib.asynccontextmanager
async def running_console(stack, targets: dict[str, str], name: str = "console", pki: DevPki | None = None):
    """`python -m console` wired to the suite's services; over HTTPS with `pki`'s server certificate."""
    port = free_port()
    env = {**stack.env(), "LIKENESS_CONSOLE_PORT": str(port), "LIKENESS_CONSOLE_USES_POLL_SECONDS": "0.5",
           **{f"LIKENESS_CONSOLE_{service.upper()}_TARGET": target for service, target in targets.items()}}  # fmt: skip
    if pki is not None:
        env |= {"LIKENESS_CONSOLE_TLS_CERT_FILE": str(pki.server_cert), "LIKENESS_CONSOLE_TLS_KEY_FILE": str(pki.server_key)}
    child = Child(name, [sys.executable, "-m", "console"], stack.state_dir / "logs" / f"{name}.log", env=env)
    child.start()
    url = f"{'https://localhost' if pki else 'http://127.0.0.1'}:{port}"
    try:
        await wait_http(url, child, ssl=ssl_module.create_default_context(cafile=str(pki.ca)) if pki else None)
        yield url
    finally:
        child.stop()
        log = child.log_path.read_text()
        assert "Traceback" not in log, log[-3000:]


@pytest.fixture(scope="module")
def targets(registry_target, consent_app, enrollment_app, verification_app) -> dict[str, str]:
    return {"registry": registry_target, "consent": consent_app.target, "enrollment": enrollment_app.target,
            "verification": verification_app.target}  # fmt: skip


@pytest.fixture(scope="module")
async def console(stack, targets, relay):
    async with running_console(stack, targets) as url:
        yield url


@pytest.fixture(scope="module")
async def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/install-system-deps.sh installs it)")
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture(scope="module")
async def parties(stack, channel):
    """Two agencies and a platform, registered by the operator over gRPC."""
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    op = bearer(stack.operator_key)
    a = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("Acme Talent")), metadata=op)
    b = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("Other Agency")), metadata=op)
    plat = await reg.RegisterPlatform(rpb.RegisterPlatformRequest(request_id=rid(), display_name=unique("ClipTok")), metadata=op)
    return {"a": a.api_key, "b": b.api_key, "platform_id": plat.platform.platform_id, "platform": plat.api_key}


async def new_page(browser, base_url: str):
    context = await browser.new_context(base_url=base_url, accept_downloads=True)
    return context, await context.new_page()


async def sign_in(page, api_key: str) -> None:
    await page.goto("/signin")
    await page.get_by_label("Agency API key").fill(api_key)
    await page.get_by_role("button", name="Sign in").click()


async def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def signing_keys(consent_target: str) -> dict[str, bytes]:
    async with grpc.aio.insecure_channel(consent_target) as ch:
        resp = await consent_pb2_grpc.ConsentServiceStub(ch).GetSigningKeys(cpb.GetSigningKeysRequest())
    return {k.key_id: k.public_key for k in resp.keys}


async def download(page, link) -> bytes:
    async with page.expect_download() as info:
        await link.click()
    return Path(await (await info.value).path()).read_bytes()


async def cli_verify(target: str, api_key: str, photo: Path) -> dict:
    """`likeness verify` as the platform, in a subprocess (the event loop keeps serving the services)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIKENESS_")} | {"LIKENESS_DEV_JSON": "/nonexistent"}
    proc = await asyncio.create_subprocess_exec(
        LIKENESS, "verify", str(photo), "--purpose", "advertising", "--territory", "US", "--target", target,
        "--api-key", api_key, "--json", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, f"{out.decode()}\n{err.decode()}"
    return json.loads(out)


async def wait_indexed(verification_app, talent_id: str, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not verification_app.app.index.contains(talent_id, Modality.FACE):
        if time.monotonic() > deadline:
            pytest.fail(f"{talent_id} not in the verification index after {timeout}s")
        await asyncio.sleep(0.05)


async def test_agency_enrolls_grants_watches_a_use_and_revokes(console, browser, parties, consent_app, verification_app, tmp_path):
    context, page = await new_page(browser, console)
    name = unique("Barack Obama")
    await sign_in(page, parties["a"])
    await expect(page).to_have_url(re.compile(r"/talent$"))
    await expect(page.get_by_role("heading", name="Talent", exact=True)).to_be_visible()
    assert parties["a"] not in await page.content()  # the key is never rendered back

    # Register a talent.
    await page.get_by_label("Name").fill(name)
    await page.get_by_role("button", name="Register talent").click()
    row = page.locator("tbody tr", has_text=name)
    await expect(row).to_be_visible()
    talent_id = (await row.get_attribute("data-talent-id")) or ""
    assert talent_id.startswith("tal_")
    await expect(row.locator(".modality-face")).to_have_text("not enrolled")

    # Enroll a face: two portraits and a group photo (refused: more than one face), with progress.
    await row.get_by_role("link", name=f"Enroll {name}").click()
    await page.get_by_label("Face (JPEG, PNG or WebP photos)").check()
    await page.get_by_label("Photos or recordings").set_input_files(
        [shared_data("faces", "obama", "obama.jpg"), shared_data("faces", "obama", "obama2.jpg"), shared_data("faces", "group", "two_people.jpg")]
    )  # fmt: skip
    await page.get_by_label("The talent accepted this notice").check()
    await page.get_by_role("button", name="Upload and enroll").click()
    results = page.locator("#results")
    await expect(results).to_be_visible(timeout=60_000)
    await expect(results.locator("tr", has_text="obama.jpg")).to_contain_text("accepted")
    await expect(results.locator("tr", has_text="obama2.jpg")).to_contain_text("accepted")
    await expect(results.locator("tr", has_text="two_people.jpg")).to_contain_text("rejected")
    await expect(results.locator("tr", has_text="two_people.jpg")).to_contain_text("multiple faces")
    await expect(page.get_by_role("status").first).to_contain_text("2 sample(s) enrolled")
    await shot(page, "enroll")
    await page.get_by_role("link", name="Talent", exact=True).click()
    await expect(page.locator("tbody tr", has_text=name).locator(".modality-face")).to_contain_text("enrolled (2 samples)")
    await shot(page, "talent")

    # Grant consent to the platform for advertising, face, worldwide.
    await page.get_by_role("link", name=f"Consent of {name}").click()
    await page.get_by_label("Platform id").fill(parties["platform_id"])
    await page.get_by_label("advertising").check()
    await page.get_by_label("Disclosure label").fill("AI-generated")
    await page.get_by_role("button", name="Create grant").click()
    grant_row = page.locator("#grants tbody tr").first
    await expect(grant_row.locator(".state")).to_have_text("active")
    grant_id = (await grant_row.get_attribute("data-grant-id")) or ""
    assert grant_id.startswith("grt_")
    keys = await signing_keys(consent_app.target)
    payload = verify_envelope(await download(page, grant_row.get_by_role("link", name=re.compile("Signed JSON"))), keys, GRANT_TYPE)
    assert payload["grant_id"] == grant_id and payload["talent_id"] == talent_id and payload["platform"] == parties["platform_id"]
    await shot(page, "consent")

    # The Uses page is open while a platform verifies a new photo through the CLI: the row arrives by itself.
    await page.get_by_role("link", name="Uses").click()
    await wait_indexed(verification_app, talent_id)
    photo = shared_data("faces", "obama", "obama3.jpg")
    allowed = await cli_verify(verification_app.target, parties["platform"], photo)
    ours = [m for m in allowed["matches"] if m["talent_id"] == talent_id]
    assert ours and ours[0]["grant_id"] == grant_id, allowed
    # Obama photos enrolled by other modules' agencies (the session stack is shared) match too, with
    # no grant for this platform: then the clip is DENY overall, and our talent's use is still covered.
    others = {m["talent_id"] for m in allowed["matches"]} - {talent_id}
    assert allowed["decision"] == ("DENY" if others else "ALLOW"), allowed
    use = page.locator(f'tr[data-verification-id="{allowed["verification_id"]}"]')
    await expect(use).to_be_visible(timeout=15_000)
    await expect(use.locator(".decision")).to_have_text(allowed["decision"].lower())
    for text in (name, parties["platform_id"], "advertising", "US", f"covered by {grant_id}"):
        await expect(use).to_contain_text(text)
    await expect(use.locator(".coverage")).to_have_text("complete: still image")  # the coverage line, as `likeness verify` prints it
    assert re.search(r"score 0\.\d{3}", await use.inner_text())
    receipt = verify_envelope(await download(page, use.get_by_role("link", name=re.compile("Receipt"))), keys, RECEIPT_TYPE)
    assert receipt["verification_id"] == allowed["verification_id"] and receipt["decision"] == allowed["decision"]
    await shot(page, "uses")

    # Revoke with one click and a confirmation; the status changes and the next Verify is denied.
    await page.goto(f"/talent/{talent_id}/consent")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.locator(f'tr[data-grant-id="{grant_id}"]').get_by_role("button", name=re.compile("Revoke")).click()
    await expect(page.locator(f'tr[data-grant-id="{grant_id}"] .state')).to_contain_text("revoked")
    await expect(page.get_by_role("status").first).to_contain_text(f"Revoked {grant_id}")
    await shot(page, "consent-revoked")
    await page.get_by_role("link", name="Uses").click()
    denied = await cli_verify(verification_app.target, parties["platform"], photo)
    assert denied["decision"] == "DENY"
    await expect(page.locator(f'tr[data-verification-id="{denied["verification_id"]}"] .decision')).to_have_text("deny", timeout=15_000)
    rows = page.locator("#uses-rows tr[data-verification-id]")
    assert await rows.first.get_attribute("data-verification-id") == denied["verification_id"]  # newest first

    # A clip that arrived with a generator's C2PA manifest: the Uses row says what it declared.
    from likeness_common import provenance
    from tests.support import foreign_signed

    declared = tmp_path / "declared.jpg"
    declared.write_bytes(foreign_signed(photo.read_bytes(), "image/jpeg", provenance.dev_chain("Some Generator Inc")))
    seen = await cli_verify(verification_app.target, parties["platform"], declared)
    await expect(page.locator(f'tr[data-verification-id="{seen["verification_id"]}"] .provenance')).to_contain_text(
        "C2PA manifest Valid; declares trainedAlgorithmicMedia; signed by Some Generator Inc", timeout=15_000)

    await page.get_by_role("link", name="Audit").click()
    await expect(page.locator("#audit-result")).to_contain_text("Intact")
    await shot(page, "audit")
    await context.close()


async def test_wrong_key_cannot_sign_in(console, browser, parties):
    context, page = await new_page(browser, console)
    await page.goto("/talent")
    await expect(page).to_have_url(re.compile(r"/signin$"))  # no session: sign in first
    await sign_in(page, "lk_0123456789abcdef.not-a-real-secret")
    await expect(page.get_by_role("alert")).to_contain_text("That API key was not accepted")
    await expect(page.get_by_role("navigation")).to_have_count(0)
    await shot(page, "signin-refused")
    await sign_in(page, parties["platform"])  # a real key, but not an agency's
    await expect(page.get_by_role("alert")).to_contain_text("for agencies")
    assert parties["platform"] not in await page.content()
    await page.goto("/talent")
    await expect(page).to_have_url(re.compile(r"/signin$"))
    await shot(page, "signin")
    await context.close()


@pytest.fixture(scope="module")
async def story(stack, channel, parties, enrollment_app, consent_app, verification_app, relay) -> dict:
    """An agency of its own with a talent whose face is enrolled, a grant to the platform and a Verify
    that matched the talent, all made over gRPC: what another agency must not see in the console.
    (The isolation test needs nothing from the main scenario, so it also runs alone.)"""
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    agency = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("Story Agency")),
                                      metadata=bearer(stack.operator_key))  # fmt: skip
    md = bearer(agency.api_key)
    name = unique("Barack Obama")
    talent_id = (await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name=name), metadata=md)).talent.talent_id
    notice = epb.BiometricNotice(purpose_text="Protect my likeness", retention=duration_pb2.Duration(seconds=365 * 86400),
                                 accept_time=ts(datetime.now(UTC)), notice_version="2026-11")  # fmt: skip
    images = [epb.MediaSample(filename=n, content=shared_data("faces", "obama", n).read_bytes()) for n in ("obama.jpg", "obama2.jpg")]
    async with grpc.aio.insecure_channel(enrollment_app.target, options=BIG) as ch:
        await enrollment_pb2_grpc.EnrollmentServiceStub(ch).EnrollFace(
            epb.EnrollFaceRequest(request_id=rid(), talent_id=talent_id, notice=notice, images=images), metadata=md
        )
    grant = cpb.Grant(talent_id=talent_id, platform_id=parties["platform_id"], modalities=[epb.MODALITY_FACE],
                      purposes=[cpb.PURPOSE_ADVERTISING], worldwide=True)  # fmt: skip
    async with grpc.aio.insecure_channel(consent_app.target) as ch:
        created = await consent_pb2_grpc.ConsentServiceStub(ch).CreateGrant(cpb.CreateGrantRequest(request_id=rid(), grant=grant), metadata=md)
    await wait_indexed(verification_app, talent_id)
    params = vpb.VerifyParameters(request_id=rid(), purpose=cpb.PURPOSE_ADVERTISING, territory="US", at_least_as_fresh=created.consistency_token)
    photo = shared_data("faces", "obama", "obama3.jpg").read_bytes()
    async with grpc.aio.insecure_channel(verification_app.target, options=BIG) as ch:
        reply = await verification_pb2_grpc.VerificationServiceStub(ch).Verify(
            vpb.VerifyRequest(parameters=params, media=photo), metadata=bearer(parties["platform"])
        )
    assert talent_id in {m.talent_id for m in reply.verification.matches}, reply
    return {"talent_id": talent_id, "name": name, "grant_id": created.grant.grant_id, "verification_id": reply.verification.verification_id}


async def test_second_agency_cannot_see_the_first_agencys_talent(console, browser, parties, story):
    context, page = await new_page(browser, console)
    await sign_in(page, parties["b"])
    await expect(page.get_by_role("heading", name="Talent", exact=True)).to_be_visible()
    assert story["name"] not in await page.content()
    for url in (f"/talent/{story['talent_id']}/consent", f"/talent/{story['talent_id']}/enroll"):  # editing the URL
        response = await page.goto(url)
        assert response is not None and response.status == 403, url
        await expect(page.get_by_role("alert")).to_contain_text(re.compile("does not represent|no active mandate"))
        assert story["name"] not in await page.content()
    await shot(page, "isolation-denied")
    for url in (f"/grants/{story['grant_id']}.json", f"/uses/{story['verification_id']}/receipt.json"):
        response = await page.request.get(url)
        assert response.status in (403, 404), (url, response.status)
        assert story["talent_id"] not in await response.text()
    await page.goto("/uses")
    await expect(page.locator("#uses-rows")).to_contain_text("No Verify call has matched your talent yet")
    assert story["verification_id"] not in await page.content()
    await context.close()


async def test_form_post_without_the_csrf_token_is_refused(console, browser, parties, channel):
    context, page = await new_page(browser, console)
    await sign_in(page, parties["a"])
    await expect(page.get_by_role("heading", name="Talent", exact=True)).to_be_visible()
    name = unique("Forged")
    missing = await page.request.post("/talent", form={"display_name": name})  # the session cookie goes along
    wrong = await page.request.post("/talent", form={"display_name": name, "csrf_token": "forged"})
    assert (missing.status, wrong.status) == (403, 403)
    assert "CSRF" in await missing.text()
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    listed = await reg.ListTalent(rpb.ListTalentRequest(page_size=500), metadata=bearer(parties["a"]))
    assert name not in {t.display_name for t in listed.talent}
    # The real form (with its token) still works in the same session.
    await page.get_by_label("Name").fill(name)
    await page.get_by_role("button", name="Register talent").click()
    await expect(page.locator("tbody tr", has_text=name)).to_be_visible()
    await context.close()


async def test_uploads_are_refused_before_the_body_is_read_without_a_session_or_over_the_limit(console):
    """Raw HTTP: no session cookie -> 403 although the body never arrives; a session that
    declares more than the upload limit -> 413, also before the body (the server answers at once)."""
    port = int(console.rsplit(":", 1)[1])

    async def post(headers: str) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"POST /talent/tal_x/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}"
                     "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 4000000000\r\n\r\n".encode())  # fmt: skip
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)  # no body was sent: an answer means it was not awaited
        writer.close()
        return status

    assert b" 403 " in await post("")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)  # an anonymous session from the sign-in page
    writer.write(b"GET /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    head = (await asyncio.wait_for(reader.read(), 10)).decode(errors="replace")
    writer.close()
    cookie = re.search(r"set-cookie: (likeness_console=[^;]+)", head, re.IGNORECASE).group(1)
    assert b" 413 " in await post(f"Cookie: {cookie}\r\n")


async def test_over_https_the_session_cookie_is_secure_httponly_and_strict(stack, targets, browser, parties, tmp_path):
    """The console serving TLS itself (LIKENESS_CONSOLE_TLS_CERT_FILE / _KEY_FILE, a throwaway CA that
    Chromium is told to accept): signing in works and the session cookie carries Secure."""
    async with running_console(stack, targets, "console-https", make_dev_pki(tmp_path / "pki")) as url:
        context = await browser.new_context(base_url=url, ignore_https_errors=True)
        page = await context.new_page()
        await sign_in(page, parties["a"])
        await expect(page.get_by_role("heading", name="Talent", exact=True)).to_be_visible()
        cookies = [c for c in await context.cookies() if c["value"]]
        assert cookies and all(c["secure"] and c["httpOnly"] and c["sameSite"] == "Strict" for c in cookies), cookies
        await shot(page, "talent-https")
        await context.close()


async def test_over_plain_http_the_session_cookie_is_httponly_and_strict_but_not_secure(console, browser, parties):
    """The same console without TLS (dev stack): a Secure cookie would never come back over http."""
    context, page = await new_page(browser, console)
    await sign_in(page, parties["a"])
    await expect(page.get_by_role("heading", name="Talent", exact=True)).to_be_visible()
    cookies = [c for c in await context.cookies() if c["value"]]
    assert cookies and all(not c["secure"] and c["httpOnly"] and c["sameSite"] == "Strict" for c in cookies), cookies
    await context.close()


async def test_an_agency_sees_a_likeness_dispute_over_its_talent_but_not_the_other_sides_name(console, browser, parties, story, channel,
                                                                                              enrollment_app):  # fmt: skip
    """Agency B enrolls a photo of the face the story's agency enrolled: B's talent page shows the
    enrollment held and the open dispute; the other record appears only as an opaque talent id."""
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    name = unique("B. Obama")
    fake = (await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name=name), metadata=bearer(parties["b"]))).talent
    notice = epb.BiometricNotice(purpose_text="Protect my likeness", retention=duration_pb2.Duration(seconds=365 * 86400),
                                 accept_time=ts(datetime.now(UTC)), notice_version="2026-11")  # fmt: skip
    photo = epb.MediaSample(filename="obama4.jpg", content=shared_data("faces", "obama", "obama4.jpg").read_bytes())
    async with grpc.aio.insecure_channel(enrollment_app.target, options=BIG) as ch:
        held = await enrollment_pb2_grpc.EnrollmentServiceStub(ch).EnrollFace(
            epb.EnrollFaceRequest(request_id=rid(), talent_id=fake.talent_id, notice=notice, images=[photo]), metadata=bearer(parties["b"])
        )
    assert held.enrollment.state == epb.ENROLLMENT_STATE_DISPUTED
    context, page = await new_page(browser, console)
    await sign_in(page, parties["b"])
    row = page.locator(f'tr[data-talent-id="{fake.talent_id}"] td.modality-face')
    await expect(row).to_contain_text("held: likeness dispute")
    for dispute_id in held.enrollment.dispute_ids:
        await expect(page.locator(f'#disputes tr[data-dispute-id="{dispute_id}"]')).to_contain_text(name)
    await expect(page.locator("#disputes")).to_contain_text(f"another record ({story['talent_id']})")
    assert story["name"] not in await page.content()
    await shot(page, "talent-dispute")
    await context.close()


async def test_a_talent_signs_in_with_their_own_credential_and_revokes_from_their_likeness_page(
    console, browser, stack, channel, parties, story, consent_app, enrollment_app, verification_app
):  # fmt: skip
    """Agency A registers a talent, a second agency gets a mandate too, each grants the platform;
    A enrolls a photo of the face the story's talent holds (held by a likeness dispute) and invites
    the talent. With the redeemed (not identity-verified) key the talent sees My likeness, watches a
    platform's Verify arrive, revokes A's grant and is refused the second agency's; an operator-issued
    identity-verified key then revokes that one. Each kind of session is refused the other's pages."""
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    op, a = bearer(stack.operator_key), bearer(parties["a"])
    second = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name=unique("Second Agency")), metadata=op)
    name = unique("B. Obama")
    talent_id = (await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name=name), metadata=a)).talent.talent_id
    await reg.GrantMandate(rpb.GrantMandateRequest(request_id=rid(), agency_id=second.agency.agency_id, talent_id=talent_id), metadata=op)
    grants = {}
    async with grpc.aio.insecure_channel(consent_app.target) as ch:
        for who, key in (("inviting", parties["a"]), ("second", second.api_key)):
            grant = cpb.Grant(talent_id=talent_id, platform_id=parties["platform_id"], modalities=[epb.MODALITY_FACE],
                              purposes=[cpb.PURPOSE_ADVERTISING], worldwide=True)  # fmt: skip
            created = await consent_pb2_grpc.ConsentServiceStub(ch).CreateGrant(cpb.CreateGrantRequest(request_id=rid(), grant=grant),
                                                                                metadata=bearer(key))  # fmt: skip
            grants[who] = created.grant.grant_id
    notice = epb.BiometricNotice(purpose_text="Protect my likeness", retention=duration_pb2.Duration(seconds=365 * 86400),
                                 accept_time=ts(datetime.now(UTC)), notice_version="2026-11")  # fmt: skip
    photo = epb.MediaSample(filename="obama4.jpg", content=shared_data("faces", "obama", "obama4.jpg").read_bytes())
    async with grpc.aio.insecure_channel(enrollment_app.target, options=BIG) as ch:
        held = await enrollment_pb2_grpc.EnrollmentServiceStub(ch).EnrollFace(
            epb.EnrollFaceRequest(request_id=rid(), talent_id=talent_id, notice=notice, images=[photo]), metadata=a
        )
    assert held.enrollment.state == epb.ENROLLMENT_STATE_DISPUTED  # the story's talent holds this face
    invitation = await reg.CreateTalentInvitation(rpb.CreateTalentInvitationRequest(request_id=rid(), talent_id=talent_id), metadata=a)
    invited = (await reg.RedeemTalentInvitation(rpb.RedeemTalentInvitationRequest(invitation_code=invitation.invitation_code))).api_key

    # The invited key signs in: My likeness, and only what applies to a talent.
    context, page = await new_page(browser, console)
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await sign_in(page, invited)
    await expect(page).to_have_url(re.compile(r"/me$"))
    await expect(page.get_by_role("heading", name="My likeness")).to_be_visible()
    await expect(page.locator("#me")).to_contain_text(name)
    await expect(page.locator("#identity")).to_contain_text("Identity not verified")
    await expect(page.locator("#identity")).to_contain_text("revoke only the grants that agency issued")
    await expect(page.get_by_role("navigation").get_by_role("link")).to_have_text(["My likeness"])
    await expect(page.locator('#enrollments tr[data-modality="face"] .state')).to_contain_text("disputed (held: likeness dispute)")
    await expect(page.locator('#enrollments tr[data-modality="voice"] .state')).to_have_text("not enrolled")
    for dispute_id in held.enrollment.dispute_ids:
        await expect(page.locator(f'#disputes tr[data-dispute-id="{dispute_id}"]')).to_contain_text(name)
    await expect(page.locator("#disputes")).to_contain_text(f"another record ({story['talent_id']})")
    for grant_id in grants.values():
        await expect(page.locator(f'#grants tr[data-grant-id="{grant_id}"] .state')).to_have_text("active")
    await expect(page.locator(f'#grants tr[data-grant-id="{grants["inviting"]}"] .issuer')).to_contain_text("invited you")
    await expect(page.locator(f'#grants tr[data-grant-id="{grants["second"]}"] .issuer')).to_contain_text(second.agency.agency_id)
    await expect(page.locator("#mandates")).to_contain_text(second.agency.agency_id)
    await expect(page.locator("#uses-rows")).to_contain_text("No Verify call has matched you yet")

    # A platform's Verify matches the talent while the page is open: the use arrives by itself.
    await wait_indexed(verification_app, talent_id)
    params = vpb.VerifyParameters(request_id=rid(), purpose=cpb.PURPOSE_ADVERTISING, territory="US")
    async with grpc.aio.insecure_channel(verification_app.target, options=BIG) as ch:
        reply = await verification_pb2_grpc.VerificationServiceStub(ch).Verify(
            vpb.VerifyRequest(parameters=params, media=shared_data("faces", "obama", "obama3.jpg").read_bytes()), metadata=bearer(parties["platform"])
        )  # fmt: skip
    assert talent_id in {m.talent_id for m in reply.verification.matches}, reply
    use = page.locator(f'#uses-rows tr[data-verification-id="{reply.verification.verification_id}"]')
    await expect(use).to_be_visible(timeout=15_000)
    # A held likeness is never ALLOW; other modules' Obama records in the same clip may make it DENY.
    decision = vpb.Decision.Name(reply.verification.decision).removeprefix("DECISION_").lower()
    assert decision in ("review", "deny"), reply
    await expect(use.locator(".decision")).to_contain_text(decision)
    for text in (name, parties["platform_id"], "advertising"):
        await expect(use).to_contain_text(text)
    receipt = verify_envelope(await download(page, use.get_by_role("link", name=re.compile("Receipt"))),
                              await signing_keys(consent_app.target), RECEIPT_TYPE)  # fmt: skip
    assert receipt["verification_id"] == reply.verification.verification_id
    content = await page.content()
    assert invited not in content and story["name"] not in content  # never the key, never the other record's name
    await shot(page, "me")

    # One click revokes the inviting agency's grant; the second agency's is refused with the reason.
    await page.locator(f'#grants tr[data-grant-id="{grants["inviting"]}"]').get_by_role("button", name=re.compile("Revoke")).click()
    await expect(page.locator(f'#grants tr[data-grant-id="{grants["inviting"]}"] .state')).to_contain_text("revoked")
    await expect(page.get_by_role("status").first).to_contain_text(f"Revoked {grants['inviting']}")
    await page.locator(f'#grants tr[data-grant-id="{grants["second"]}"]').get_by_role("button", name=re.compile("Revoke")).click()
    await expect(page.get_by_role("alert")).to_contain_text("was not issued by the agency that invited you")
    await expect(page.get_by_role("alert")).to_contain_text("identity-verified credential")
    await expect(page.locator(f'#grants tr[data-grant-id="{grants["second"]}"] .state')).to_have_text("active")
    await shot(page, "me-revoke-refused")
    await page.goto("/me")
    await expect(page.locator(f'#grants tr[data-grant-id="{grants["second"]}"] .state')).to_have_text("active")

    # Agency pages refuse a talent session (and a talent's POST never reaches the services).
    for url in ("/talent", "/uses", "/audit", f"/talent/{talent_id}/consent", f"/talent/{talent_id}/enroll"):
        response = await page.goto(url)
        assert response is not None and response.status == 403, url
        await expect(page.get_by_role("alert")).to_contain_text("This page is for agencies")
    forged = unique("Forged by a talent")
    refused = await page.request.post("/talent", form={"display_name": forged})
    assert refused.status == 403
    listed = await reg.ListTalent(rpb.ListTalentRequest(page_size=500), metadata=a)
    assert forged not in {t.display_name for t in listed.talent}
    await context.close()

    # ...and the talent's page refuses an agency session, even the inviting agency's.
    context, page = await new_page(browser, console)
    await sign_in(page, parties["a"])
    await expect(page.get_by_role("heading", name="Talent", exact=True)).to_be_visible()
    await expect(page.get_by_role("navigation").get_by_role("link", name="My likeness")).to_have_count(0)
    response = await page.goto("/me")
    assert response is not None and response.status == 403
    await expect(page.get_by_role("alert")).to_contain_text("for a talent signed in with their own credential")
    await context.close()

    # An operator-issued, identity-verified credential revokes the second agency's grant.
    issued = await reg.IssueTalentCredential(rpb.IssueTalentCredentialRequest(
        request_id=rid(), talent_id=talent_id, identity_verified=True, note="passport seen on a video call"), metadata=op)  # fmt: skip
    context, page = await new_page(browser, console)
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await sign_in(page, issued.api_key)
    await expect(page.locator("#identity")).to_contain_text("Identity verified")
    await page.locator(f'#grants tr[data-grant-id="{grants["second"]}"]').get_by_role("button", name=re.compile("Revoke")).click()
    await expect(page.locator(f'#grants tr[data-grant-id="{grants["second"]}"] .state')).to_contain_text("revoked")
    assert issued.api_key not in await page.content()
    await shot(page, "me-verified")
    await context.close()
