"""The Uses page's 2 s poll reads the agency's roster from the session's cache, not the registry."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from console.domain.model import ROSTER_MAX_AGE, ROSTER_MIN_INTERVAL, Session
from console.service_layer.handlers import Handlers
from console.web.app import templates

from likeness.registry.v1 import registry_pb2 as rpb
from likeness.verification.v1 import verification_pb2 as vpb


class Registry:
    def __init__(self) -> None:
        self.talent = [rpb.Talent(talent_id="tal_a", display_name="Ada")]
        self.calls = 0

    async def ListTalent(self, request, metadata, timeout):  # noqa: N802 (the gRPC method name)
        self.calls += 1
        return rpb.ListTalentResponse(talent=self.talent)


class Verification:
    def __init__(self) -> None:
        self.matched: list[list[str]] = []
        self.signed: set[str] = set()  # verifications whose platform asked for embed_c2pa

    async def ListVerifications(self, request, metadata, timeout):  # noqa: N802
        uses = [vpb.Verification(verification_id=f"ver_{n}", matches=[vpb.Match(talent_id=t) for t in ids],
                                 c2pa_requested=f"ver_{n}" in self.signed)
                for n, ids in enumerate(self.matched)]  # fmt: skip
        return vpb.ListVerificationsResponse(verifications=uses)


@pytest.fixture
def console():
    clock = SimpleNamespace(now=1000.0)
    backends = SimpleNamespace(registry=Registry(), verification=Verification())
    c = Handlers(backends, timeout=60.0, max_upload_bytes=1 << 20, clock=lambda: clock.now)
    return c, clock


async def test_polls_reuse_the_roster_until_it_ages(console):
    c, clock = console
    session = Session(api_key="lk_x.y", agency_id="agc_1")
    c.backends.verification.matched = [["tal_a", "tal_other_agency"]]
    for _ in range(10):  # 20 s of polling
        rows = await c.uses_rows(session)
        clock.now += 2
    assert c.backends.registry.calls == 1
    assert [m["name"] for m in rows[0]["matches"]] == ["Ada"] and rows[0]["others"] == 1
    clock.now += ROSTER_MAX_AGE
    await c.uses_rows(session)
    assert c.backends.registry.calls == 2


async def test_a_use_of_an_unseen_talent_refetches_at_most_every_few_seconds(console):
    c, clock = console
    session = Session(api_key="lk_x.y", agency_id="agc_1")
    c.backends.verification.matched = [["tal_a"]]
    await c.uses_rows(session)
    # a talent registered elsewhere (the CLI) is matched a moment later
    c.backends.registry.talent.append(rpb.Talent(talent_id="tal_b", display_name="Bo"))
    c.backends.verification.matched.insert(0, ["tal_b"])
    clock.now += 1
    rows = await c.uses_rows(session)
    assert c.backends.registry.calls == 1 and rows[0]["others"] == 1  # too soon: counted as another's for now
    clock.now += ROSTER_MIN_INTERVAL
    rows = await c.uses_rows(session)
    assert c.backends.registry.calls == 2 and [m["name"] for m in rows[0]["matches"]] == ["Bo"]
    for _ in range(5):
        clock.now += ROSTER_MIN_INTERVAL
        await c.uses_rows(session)
    assert c.backends.registry.calls == 2  # nothing unseen any more


async def test_registering_talent_in_the_console_drops_the_cache(console):
    c, _ = console
    session = Session(api_key="lk_x.y", agency_id="agc_1")
    await c.talent_names(session, {"tal_a"})
    session.roster.fetched_at = None  # what register_talent does after RegisterTalent succeeds
    await c.talent_names(session, {"tal_a"})
    assert c.backends.registry.calls == 2


async def test_a_use_says_whether_the_platform_asked_for_a_signed_clip(console):
    c, _clock = console
    session = Session(api_key="lk_x.y", agency_id="agc_1")
    c.backends.verification.matched = [["tal_a"], ["tal_a"]]
    c.backends.verification.signed = {"ver_1"}
    rows = await c.uses_rows(session)
    html = templates().get_template("uses_rows.html").render(rows=rows, session=session)
    signed_row, plain_row = (html.split('data-verification-id="ver_1"')[1].split("</tr>")[0],
                             html.split('data-verification-id="ver_0"')[1].split("</tr>")[0])  # fmt: skip
    assert "asked for the clip signed" in signed_row and "asked for the clip signed" not in plain_row
