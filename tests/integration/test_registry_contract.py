"""Registry use cases, run against the in-memory fakes and against Postgres: the same tests, so
the fakes stay honest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from likeness_common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from likeness_common.principal import Principal, PrincipalKind
from registry.adapters.postgres import PostgresUnitOfWork
from registry.domain import commands
from registry.service_layer import handlers
from tests.fakes import FakeStore, FakeUnitOfWork
from tests.support import rid

OPERATOR = Principal(PrincipalKind.OPERATOR, "opr_test")


class FakeHarness:
    def __init__(self) -> None:
        self.store = FakeStore()

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.store)

    async def event_types(self, key: str) -> list[str]:
        def key_of(e) -> str:
            return getattr(e, "talent_id", None) or getattr(e, "agency_id", None) or getattr(e, "platform_id", "")

        return [type(e).__name__ for e in self.store.events if key_of(e) == key]


class PostgresHarness:
    def __init__(self, pool) -> None:
        self.pool = pool

    def uow(self) -> PostgresUnitOfWork:
        return PostgresUnitOfWork(self.pool)

    async def event_types(self, key: str) -> list[str]:
        rows = await self.pool.fetch("SELECT event_type FROM outbox WHERE message_key = $1 ORDER BY id", key)
        return [r["event_type"] for r in rows]


@pytest.fixture(params=["fake", "postgres"])
def h(request):
    if request.param == "fake":
        return FakeHarness()
    return PostgresHarness(request.getfixturevalue("pool"))


async def new_agency(h, name="Agency") -> Principal:
    agency, key = await handlers.register_agency(commands.RegisterAgency(rid(), name), OPERATOR, h.uow())
    assert key.startswith("lk_")
    return Principal(PrincipalKind.AGENCY, agency.agency_id)


async def test_agency_registers_talent_with_a_mandate_and_events(h):
    agency = await new_agency(h)
    talent, mandate = await handlers.register_talent(commands.RegisterTalent(rid(), " Jane Doe "), agency, h.uow())
    assert talent.display_name == "Jane Doe"
    assert mandate is not None and mandate.agency_id == agency.principal_id and mandate.talent_id == talent.talent_id
    assert await h.event_types(talent.talent_id) == ["TalentRegistered", "MandateGranted"]
    assert (await handlers.get_talent(talent.talent_id, agency, h.uow())).talent_id == talent.talent_id


async def test_repeated_request_id_returns_first_result_without_new_rows_or_events(h):
    agency = await new_agency(h)
    request_id = rid()
    first, _ = await handlers.register_talent(commands.RegisterTalent(request_id, "Jane"), agency, h.uow())
    again, _ = await handlers.register_talent(commands.RegisterTalent(request_id, "Jane"), agency, h.uow())
    assert again.talent_id == first.talent_id
    assert await h.event_types(first.talent_id) == ["TalentRegistered", "MandateGranted"]
    listed = await handlers.list_talent(commands.Page(50, ""), agency, h.uow())
    assert [t.talent_id for t in listed] == [first.talent_id]
    with pytest.raises(InvalidArgument) as reused:
        await handlers.register_talent(commands.RegisterTalent(request_id, "Someone Else"), agency, h.uow())
    assert reused.value.reason == "REQUEST_ID_REUSED"


async def test_retried_agency_registration_does_not_show_the_key_again(h):
    request_id = rid()
    first, key = await handlers.register_agency(commands.RegisterAgency(request_id, "Once"), OPERATOR, h.uow())
    again, key_again = await handlers.register_agency(commands.RegisterAgency(request_id, "Once"), OPERATOR, h.uow())
    assert again.agency_id == first.agency_id and key and key_again == ""
    assert await h.event_types(first.agency_id) == ["AgencyRegistered"]


async def test_agency_cannot_see_or_end_another_agencys_talent(h):
    mine, theirs = await new_agency(h, "Mine"), await new_agency(h, "Theirs")
    talent, mandate = await handlers.register_talent(commands.RegisterTalent(rid(), "Jane"), mine, h.uow())
    with pytest.raises(PermissionDenied):
        await handlers.get_talent(talent.talent_id, theirs, h.uow())
    with pytest.raises(PermissionDenied):
        await handlers.end_mandate(commands.EndMandate(rid(), mandate.mandate_id), theirs, h.uow())
    assert await handlers.list_talent(commands.Page(50, ""), theirs, h.uow()) == []
    assert await handlers.list_mandates("", commands.Page(50, ""), theirs, h.uow()) == []


async def test_ended_mandate_removes_access(h):
    agency = await new_agency(h)
    talent, mandate = await handlers.register_talent(commands.RegisterTalent(rid(), "Jane"), agency, h.uow())
    ended = await handlers.end_mandate(commands.EndMandate(rid(), mandate.mandate_id, "contract over"), agency, h.uow())
    assert ended.ended_at is not None
    with pytest.raises(PermissionDenied):
        await handlers.get_talent(talent.talent_id, agency, h.uow())
    assert await h.event_types(talent.talent_id) == ["TalentRegistered", "MandateGranted", "MandateEnded"]


async def test_operator_grants_mandates_and_platforms_see_no_talent(h):
    agency = await new_agency(h)
    talent, _ = await handlers.register_talent(commands.RegisterTalent(rid(), "Solo"), OPERATOR, h.uow())
    with pytest.raises(PermissionDenied):
        await handlers.get_talent(talent.talent_id, agency, h.uow())
    later = datetime.now(UTC) + timedelta(days=30)
    mandate = await handlers.grant_mandate(
        commands.GrantMandate(rid(), agency.principal_id, talent.talent_id, None, later), OPERATOR, h.uow()
    )
    assert mandate.valid_until == later
    assert (await handlers.get_talent(talent.talent_id, agency, h.uow())).talent_id == talent.talent_id
    platform, _ = await handlers.register_platform(commands.RegisterPlatform(rid(), "ClipTok"), OPERATOR, h.uow())
    as_platform = Principal(PrincipalKind.PLATFORM, platform.platform_id)
    for attempt in (
        handlers.list_talent(commands.Page(50, ""), as_platform, h.uow()),
        handlers.get_talent(talent.talent_id, as_platform, h.uow()),
        handlers.register_talent(commands.RegisterTalent(rid(), "X"), as_platform, h.uow()),
    ):
        with pytest.raises(PermissionDenied):
            await attempt
    with pytest.raises(PermissionDenied):
        await handlers.grant_mandate(
            commands.GrantMandate(rid(), agency.principal_id, talent.talent_id), agency, h.uow()
        )


async def test_unknown_and_malformed_ids(h):
    with pytest.raises(InvalidArgument):
        await handlers.get_talent("not-an-id", OPERATOR, h.uow())
    with pytest.raises(NotFound):
        await handlers.get_talent("tal_01M88J602BD7QVZB8KK88Q3310", OPERATOR, h.uow())
    with pytest.raises(NotFound):
        await handlers.grant_mandate(
            commands.GrantMandate(rid(), "agc_01M88J602BD7QVZB8KK88Q3310", "tal_01M88J602BD7QVZB8KK88Q3310"),
            OPERATOR,
            h.uow(),
        )


async def test_failed_use_case_leaves_nothing_behind(h):
    agency = await new_agency(h)
    # The agency named does not exist: nothing of the talent may remain.
    with pytest.raises(NotFound):
        await handlers.register_talent(
            commands.RegisterTalent(rid(), "Ghost", agency_id="agc_01M88J602BD7QVZB8KK88Q3310"), OPERATOR, h.uow()
        )
    listed = await handlers.list_talent(commands.Page(500, ""), OPERATOR, h.uow())
    assert "Ghost" not in {t.display_name for t in listed}
    assert await handlers.list_talent(commands.Page(50, ""), agency, h.uow()) == []


# --- the talent's own credential (issue 14) ------------------------------------------------------


def talent_principal(talent_id: str, *, verified: bool, invited_by: str = "") -> Principal:
    return Principal(PrincipalKind.TALENT, talent_id, identity_verified=verified, invited_by=invited_by)


async def test_invitation_is_redeemed_once_for_an_unverified_talent_key(h):
    agency = await new_agency(h)
    talent, _ = await handlers.register_talent(commands.RegisterTalent(rid(), "Invited"), agency, h.uow())
    request_id = rid()
    invitation, code = await handlers.create_talent_invitation(commands.CreateTalentInvitation(request_id, talent.talent_id), agency, h.uow())
    assert code.startswith("lki_") and invitation.agency_id == agency.principal_id
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)  # the default
    again, shown = await handlers.create_talent_invitation(commands.CreateTalentInvitation(request_id, talent.talent_id), agency, h.uow())
    assert (again.invitation_id, shown) == (invitation.invitation_id, "")  # the code is shown once

    with pytest.raises(NotFound):  # the right id with a wrong secret
        await handlers.redeem_talent_invitation(code[:-4] + "AAAA", h.uow())
    redeemed, api_key = await handlers.redeem_talent_invitation(code, h.uow())
    assert redeemed.talent_id == talent.talent_id and not redeemed.identity_verified
    assert api_key.startswith("lk_")
    with pytest.raises(FailedPrecondition) as twice:
        await handlers.redeem_talent_invitation(code, h.uow())
    assert twice.value.reason == "INVITATION_ALREADY_REDEEMED"
    assert await h.event_types(talent.talent_id) == ["TalentRegistered", "MandateGranted", "TalentInvitationCreated", "TalentCredentialIssued"]
    with pytest.raises(InvalidArgument):
        await handlers.redeem_talent_invitation("not-a-code", h.uow())


async def test_invitation_expires_and_needs_a_mandate(h):
    agency, stranger = await new_agency(h), await new_agency(h, "Stranger")
    talent, _ = await handlers.register_talent(commands.RegisterTalent(rid(), "Late"), agency, h.uow())
    _, code = await handlers.create_talent_invitation(commands.CreateTalentInvitation(rid(), talent.talent_id), agency, h.uow(),
                                                      ttl=timedelta(milliseconds=1))  # fmt: skip
    await asyncio.sleep(0.01)
    with pytest.raises(FailedPrecondition) as late:
        await handlers.redeem_talent_invitation(code, h.uow())
    assert late.value.reason == "INVITATION_EXPIRED"
    for caller in (stranger, OPERATOR, talent_principal(talent.talent_id, verified=True)):
        with pytest.raises(PermissionDenied):
            await handlers.create_talent_invitation(commands.CreateTalentInvitation(rid(), talent.talent_id), caller, h.uow())


async def test_operator_issues_an_identity_verified_credential(h):
    agency = await new_agency(h)
    talent, _ = await handlers.register_talent(commands.RegisterTalent(rid(), "Checked"), agency, h.uow())
    with pytest.raises(InvalidArgument):  # the operator must attest the identity check
        await handlers.issue_talent_credential(commands.IssueTalentCredential(rid(), talent.talent_id, False), OPERATOR, h.uow())
    with pytest.raises(PermissionDenied):
        await handlers.issue_talent_credential(commands.IssueTalentCredential(rid(), talent.talent_id, True), agency, h.uow())
    request_id = rid()
    cmd = commands.IssueTalentCredential(request_id, talent.talent_id, True, "passport seen on a video call")
    verified, api_key = await handlers.issue_talent_credential(cmd, OPERATOR, h.uow())
    assert verified.identity_verified and api_key.startswith("lk_")
    assert (await handlers.issue_talent_credential(cmd, OPERATOR, h.uow()))[1] == ""  # a retry: shown once
    assert (await handlers.get_talent(talent.talent_id, agency, h.uow())).identity_verified


async def test_a_talent_reads_only_itself_and_ends_mandates_only_when_verified(h):
    agency = await new_agency(h)
    talent, mandate = await handlers.register_talent(commands.RegisterTalent(rid(), "Self"), agency, h.uow())
    other, other_mandate = await handlers.register_talent(commands.RegisterTalent(rid(), "Other"), agency, h.uow())
    invited = talent_principal(talent.talent_id, verified=False, invited_by=agency.principal_id)
    verified = talent_principal(talent.talent_id, verified=True)

    assert (await handlers.get_talent(talent.talent_id, invited, h.uow())).talent_id == talent.talent_id
    with pytest.raises(PermissionDenied):
        await handlers.get_talent(other.talent_id, verified, h.uow())
    assert [t.talent_id for t in await handlers.list_talent(commands.Page(50, ""), invited, h.uow())] == [talent.talent_id]
    assert [m.mandate_id for m in await handlers.list_mandates("", commands.Page(50, ""), invited, h.uow())] == [mandate.mandate_id]
    with pytest.raises(PermissionDenied):
        await handlers.list_mandates(other.talent_id, commands.Page(50, ""), verified, h.uow())
    for caller in (invited, verified):
        with pytest.raises(PermissionDenied):
            await handlers.register_talent(commands.RegisterTalent(rid(), "Sneaky"), caller, h.uow())

    with pytest.raises(PermissionDenied) as unverified:
        await handlers.end_mandate(commands.EndMandate(rid(), mandate.mandate_id, "leaving"), invited, h.uow())
    assert unverified.value.reason == "IDENTITY_NOT_VERIFIED"
    with pytest.raises(PermissionDenied):  # not their mandate
        await handlers.end_mandate(commands.EndMandate(rid(), other_mandate.mandate_id, "x"), verified, h.uow())
    ended = await handlers.end_mandate(commands.EndMandate(rid(), mandate.mandate_id, "leaving the agency"), verified, h.uow())
    assert ended.ended_at is not None


async def test_a_talent_key_rotation_keeps_what_the_key_said(h):
    agency = await new_agency(h)
    talent, _ = await handlers.register_talent(commands.RegisterTalent(rid(), "Rotor"), agency, h.uow())
    invited = talent_principal(talent.talent_id, verified=False, invited_by=agency.principal_id)
    key = await handlers.rotate_api_key(commands.RotateApiKey(rid()), invited, h.uow())
    if isinstance(h, FakeHarness):
        assert h.store.credentials.attributes[key] == (False, agency.principal_id)
    else:
        key_id = key[3:].split(".")[0]
        row = await h.pool.fetchrow("SELECT principal_kind, identity_verified, invited_by FROM api_keys WHERE key_id = $1", key_id)
        assert tuple(row) == ("talent", False, agency.principal_id)
    with pytest.raises(FailedPrecondition):  # an operator issues talent keys with IssueTalentCredential
        await handlers.rotate_api_key(commands.RotateApiKey(rid(), talent.talent_id), OPERATOR, h.uow())


async def test_a_talents_rotation_replaces_only_the_key_it_came_with(h):
    """An agency that redeemed its own invitation cannot, by rotating that key, revoke the talent's
    identity-verified one."""
    agency = await new_agency(h)
    talent, _ = await handlers.register_talent(commands.RegisterTalent(rid(), "Two keys"), agency, h.uow())
    _, verified_key = await handlers.issue_talent_credential(commands.IssueTalentCredential(rid(), talent.talent_id, True), OPERATOR, h.uow())
    _, code = await handlers.create_talent_invitation(commands.CreateTalentInvitation(rid(), talent.talent_id), agency, h.uow())
    _, invited_key = await handlers.redeem_talent_invitation(code, h.uow())
    invited = Principal(PrincipalKind.TALENT, talent.talent_id, invited_by=agency.principal_id, key_id=invited_key[3:].split(".")[0])
    await handlers.rotate_api_key(commands.RotateApiKey(rid()), invited, h.uow())
    if isinstance(h, FakeHarness):
        live = {k for k, (_, pid, revoked) in h.store.credentials.keys.items() if pid == talent.talent_id and not revoked}
        assert verified_key in live and invited_key not in live and len(live) == 2
    else:
        rows = await h.pool.fetch("SELECT key_id, identity_verified FROM api_keys WHERE principal_id = $1 AND revoked_at IS NULL", talent.talent_id)
        assert sorted(r["identity_verified"] for r in rows) == [False, True]
        assert invited.key_id not in {r["key_id"] for r in rows}
