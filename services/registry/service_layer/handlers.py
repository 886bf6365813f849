"""Use cases of the registry. Each takes a command, the calling principal and a unit of work."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from likeness_common import credentials
from likeness_common.errors import FailedPrecondition, FieldViolation, NotFound, PermissionDenied, check_id, require
from likeness_common.ids import is_id, new_id
from likeness_common.principal import Principal, PrincipalKind

from ..domain import commands, events
from ..domain.commands import AGENCY, INVITATION, MANDATE, PLATFORM, TALENT
from ..domain.model import Agency, Mandate, Platform, Talent, TalentInvitation
from .ports import UnitOfWork

DEFAULT_INVITATION_TTL = timedelta(days=7)


def _now() -> datetime:
    return datetime.now(UTC)


def _require_operator(actor: Principal) -> None:
    if not actor.is_operator:
        raise PermissionDenied("only an operator may do this")


class _Idempotent:
    """request_id bookkeeping for one operation: `recall()` returns the first result for this
    request_id (the handler then returns it unchanged), `done(result)` records it before commit.
    An empty request_id opts out."""

    def __init__(self, uow: UnitOfWork, actor: Principal, operation: str, request_id: str, params: Any) -> None:
        self._uow, self._actor, self._op, self._rid, self._params = uow, actor, operation, request_id, params

    async def recall(self) -> dict | None:
        if not self._rid:
            return None
        return await self._uow.idempotency.recall(self._actor.principal_id, self._op, self._rid, self._params)

    async def done(self, result: dict) -> None:
        if self._rid:
            await self._uow.idempotency.remember(self._actor.principal_id, self._op, self._rid, self._params, result)


async def _represents(uow: UnitOfWork, agency_id: str, talent_id: str, now: datetime) -> bool:
    return any(m.agency_id == agency_id and m.is_active(now) for m in await uow.mandates.for_talent(talent_id))


# --- agencies and platforms -------------------------------------------------------------------


async def register_agency(cmd: commands.RegisterAgency, actor: Principal, uow: UnitOfWork) -> tuple[Agency, str]:
    """-> (agency, api key); the key is "" when a retried request_id returns the first result."""
    return await _register_party(cmd, actor, uow, PrincipalKind.AGENCY)


async def register_platform(cmd: commands.RegisterPlatform, actor: Principal, uow: UnitOfWork) -> tuple[Platform, str]:
    """-> (platform, api key); the key is "" when a retried request_id returns the first result."""
    return await _register_party(cmd, actor, uow, PrincipalKind.PLATFORM)


# An agency and a platform are registered alike: (id prefix and field, record, event, operation name).
_PARTIES = {
    PrincipalKind.AGENCY: (AGENCY, "agency_id", Agency, events.AgencyRegistered, "RegisterAgency"),
    PrincipalKind.PLATFORM: (PLATFORM, "platform_id", Platform, events.PlatformRegistered, "RegisterPlatform"),
}


async def _register_party(cmd: commands.RegisterParty, actor: Principal, uow: UnitOfWork, kind: PrincipalKind) -> tuple[Any, str]:
    _require_operator(actor)
    name = cmd.validate()
    prefix, id_field, record, registered, operation = _PARTIES[kind]
    async with uow:
        repository = uow.agencies if kind is PrincipalKind.AGENCY else uow.platforms  # (bound on entering)
        once = _Idempotent(uow, actor, operation, cmd.request_id, {"display_name": name})
        if prior := await once.recall():
            return await _get_or_fail(repository.get(prior[id_field])), ""
        principal_id = new_id(prefix)
        party = record(principal_id, name, _now())
        await repository.add(party)
        api_key = await uow.credentials.issue(kind, principal_id)
        uow.emit(registered(principal_id, name, actor.principal_id))
        await once.done({id_field: principal_id})
        await uow.commit()
    return party, api_key


async def get_agency(agency_id: str, actor: Principal, uow: UnitOfWork) -> Agency:
    if not (actor.is_operator or (actor.is_agency and actor.principal_id == agency_id)):
        raise PermissionDenied("an agency may read only itself")
    _validate_id("agency_id", agency_id, AGENCY)
    async with uow:
        return await _get_or_fail(uow.agencies.get(agency_id), f"agency {agency_id} not found")


async def list_agencies(page: commands.Page, actor: Principal, uow: UnitOfWork) -> list[Agency]:
    _require_operator(actor)
    async with uow:
        return await uow.agencies.list(page.after, page.size)


async def get_platform(platform_id: str, actor: Principal, uow: UnitOfWork) -> Platform:
    if not (actor.is_operator or (actor.is_platform and actor.principal_id == platform_id)):
        raise PermissionDenied("a platform may read only itself")
    _validate_id("platform_id", platform_id, PLATFORM)
    async with uow:
        return await _get_or_fail(uow.platforms.get(platform_id), f"platform {platform_id} not found")


async def list_platforms(page: commands.Page, actor: Principal, uow: UnitOfWork) -> list[Platform]:
    _require_operator(actor)
    async with uow:
        return await uow.platforms.list(page.after, page.size)


# --- talent and mandates ----------------------------------------------------------------------


async def register_talent(
    cmd: commands.RegisterTalent, actor: Principal, uow: UnitOfWork
) -> tuple[Talent, Mandate | None]:
    """An agency registers talent it represents (a mandate comes with it); an operator may name
    the agency that receives the mandate, or register the talent alone."""
    if not (actor.is_operator or actor.is_agency):
        raise PermissionDenied("only an agency or an operator registers talent")
    agency_id = cmd.agency_id
    if actor.is_agency:
        if agency_id and agency_id != actor.principal_id:
            raise PermissionDenied("an agency registers talent for itself only")
        agency_id = actor.principal_id
    now = _now()
    name, ref = cmd.validate(now)
    params = {"display_name": name, "external_ref": ref, "agency_id": agency_id, "until": cmd.mandate_valid_until}
    async with uow:
        once = _Idempotent(uow, actor, "RegisterTalent", cmd.request_id, params)
        if prior := await once.recall():
            talent = await _get_or_fail(uow.talent.get(prior["talent_id"]))
            mandate = await uow.mandates.get(prior["mandate_id"]) if prior.get("mandate_id") else None
            return talent, mandate
        if agency_id and await uow.agencies.get(agency_id) is None:
            raise NotFound(f"agency {agency_id} not found")
        talent = Talent(new_id(TALENT), name, ref, now)
        await uow.talent.add(talent)
        uow.emit(events.TalentRegistered(talent.talent_id, name, ref, actor.principal_id))
        mandate = None
        if agency_id:
            mandate = Mandate(new_id(MANDATE), agency_id, talent.talent_id, now, cmd.mandate_valid_until)
            await uow.mandates.add(mandate)
            uow.emit(_mandate_granted(mandate, actor))
        await once.done({"talent_id": talent.talent_id, "mandate_id": mandate.mandate_id if mandate else None})
        await uow.commit()
    return talent, mandate


async def get_talent(talent_id: str, actor: Principal, uow: UnitOfWork) -> Talent:
    if actor.is_platform:
        raise PermissionDenied("a platform cannot read talent records")
    if actor.is_talent and not actor.is_talent_self(talent_id):
        raise PermissionDenied("a talent reads only their own record")
    _validate_id("talent_id", talent_id, TALENT)
    async with uow:
        # Agencies get PERMISSION_DENIED whether or not the talent exists (AIP-193): no probing.
        if actor.is_agency and not await _represents(uow, actor.principal_id, talent_id, _now()):
            raise PermissionDenied(f"your agency does not represent talent {talent_id}")
        return await _get_or_fail(uow.talent.get(talent_id), f"talent {talent_id} not found")


async def list_talent(page: commands.Page, actor: Principal, uow: UnitOfWork) -> list[Talent]:
    if actor.is_platform:
        raise PermissionDenied("a platform cannot list talent")
    async with uow:
        if actor.is_talent:  # only themselves
            me = await uow.talent.get(actor.principal_id)
            return [me] if me is not None and me.talent_id > page.after else []
        return await uow.talent.list(
            page.after, page.size, represented_by=actor.principal_id if actor.is_agency else None, now=_now()
        )


async def grant_mandate(cmd: commands.GrantMandate, actor: Principal, uow: UnitOfWork) -> Mandate:
    _require_operator(actor)
    valid_from = cmd.validate(_now())
    params = asdict(cmd) | {"request_id": None, "valid_from": cmd.valid_from}
    async with uow:
        once = _Idempotent(uow, actor, "GrantMandate", cmd.request_id, params)
        if prior := await once.recall():
            return await _get_or_fail(uow.mandates.get(prior["mandate_id"]))
        if await uow.agencies.get(cmd.agency_id) is None:
            raise NotFound(f"agency {cmd.agency_id} not found")
        if await uow.talent.get(cmd.talent_id) is None:
            raise NotFound(f"talent {cmd.talent_id} not found")
        mandate = Mandate(new_id(MANDATE), cmd.agency_id, cmd.talent_id, valid_from, cmd.valid_until)
        await uow.mandates.add(mandate)
        uow.emit(_mandate_granted(mandate, actor))
        await once.done({"mandate_id": mandate.mandate_id})
        await uow.commit()
    return mandate


async def end_mandate(cmd: commands.EndMandate, actor: Principal, uow: UnitOfWork) -> Mandate:
    if actor.is_platform:
        raise PermissionDenied("a platform cannot end mandates")
    reason = cmd.validate()
    async with uow:
        once = _Idempotent(uow, actor, "EndMandate", cmd.request_id, {"mandate_id": cmd.mandate_id, "reason": reason})
        if await once.recall():
            return await _get_or_fail(uow.mandates.get(cmd.mandate_id))
        mandate = await uow.mandates.get(cmd.mandate_id)
        if not actor.is_operator and not _may_end(actor, mandate):
            if actor.is_talent and mandate is not None and actor.is_talent_self(mandate.talent_id):
                raise PermissionDenied("ending a mandate takes an identity-verified talent credential", reason="IDENTITY_NOT_VERIFIED")
            raise PermissionDenied(f"you may not end mandate {cmd.mandate_id}")
        if mandate is None:
            raise NotFound(f"mandate {cmd.mandate_id} not found")
        now = _now()
        if mandate.ended_at is not None:
            raise FailedPrecondition(f"mandate {cmd.mandate_id} already ended", reason="MANDATE_ALREADY_ENDED")
        mandate.end(now, reason)
        await uow.mandates.save(mandate)
        uow.emit(events.MandateEnded(mandate.mandate_id, mandate.agency_id, mandate.talent_id, reason, actor.principal_id))
        await once.done({"mandate_id": mandate.mandate_id})
        await uow.commit()
    return mandate


def _may_end(actor: Principal, mandate: Mandate | None) -> bool:
    """The agency holding the mandate, or the talent it covers with an identity-verified credential."""
    if mandate is None:
        return False
    return (actor.is_agency and mandate.agency_id == actor.principal_id) or actor.speaks_for_self(mandate.talent_id)


async def list_mandates(talent_id: str, page: commands.Page, actor: Principal, uow: UnitOfWork) -> list[Mandate]:
    if actor.is_platform:
        raise PermissionDenied("a platform cannot read mandates")
    if actor.is_talent:
        if talent_id and not actor.is_talent_self(talent_id):
            raise PermissionDenied("a talent reads only the mandates over themselves")
        talent_id = actor.principal_id
    if talent_id:
        _validate_id("talent_id", talent_id, TALENT)
    async with uow:
        return await uow.mandates.list(
            page.after,
            page.size,
            agency_id=actor.principal_id if actor.is_agency else None,
            talent_id=talent_id or None,
        )


# --- credentials ------------------------------------------------------------------------------


async def rotate_api_key(cmd: commands.RotateApiKey, actor: Principal, uow: UnitOfWork) -> str:
    target = cmd.principal_id or actor.principal_id
    if target != actor.principal_id and not actor.is_operator:
        raise PermissionDenied("only an operator may rotate another principal's key")
    cmd.validate()
    async with uow:
        once = _Idempotent(uow, actor, "RotateApiKey", cmd.request_id, {"principal_id": target})
        if await once.recall():
            raise FailedPrecondition("this rotation already happened; its key was shown once", reason="ALREADY_ROTATED")
        kind = actor.kind if target == actor.principal_id else await _kind_of(uow, target)
        if kind is PrincipalKind.TALENT and target != actor.principal_id:
            raise FailedPrecondition("a talent's credential is issued with IssueTalentCredential (identity-verified), "
                                     "or revoked with RevokeApiKeys", reason="TALENT_CREDENTIAL")  # fmt: skip
        # One's own rotation replaces the key it was called with (a talent may hold an invited and a
        # verified credential: neither holder can revoke the other's); an operator's, every key.
        revoked = await uow.credentials.revoke_all(target, actor.key_id if target == actor.principal_id and actor.key_id else None)
        # The new key keeps what the key it replaces said about a talent.
        api_key = await uow.credentials.issue(kind, target, identity_verified=actor.identity_verified, invited_by=actor.invited_by)
        uow.emit(events.ApiKeysRevoked(target, revoked, actor.principal_id))
        await once.done({"principal_id": target})
        await uow.commit()
    return api_key


async def revoke_api_keys(cmd: commands.RevokeApiKeys, actor: Principal, uow: UnitOfWork) -> int:
    _require_operator(actor)
    cmd.validate()
    async with uow:
        once = _Idempotent(uow, actor, "RevokeApiKeys", cmd.request_id, {"principal_id": cmd.principal_id})
        if prior := await once.recall():
            return int(prior["revoked"])
        await _kind_of(uow, cmd.principal_id)
        revoked = await uow.credentials.revoke_all(cmd.principal_id)
        uow.emit(events.ApiKeysRevoked(cmd.principal_id, revoked, actor.principal_id))
        await once.done({"revoked": revoked})
        await uow.commit()
    return revoked


# --- the talent's own credential --------------------------------------------------------------


async def create_talent_invitation(
    cmd: commands.CreateTalentInvitation, actor: Principal, uow: UnitOfWork, *, ttl: timedelta = DEFAULT_INVITATION_TTL
) -> tuple[TalentInvitation, str]:
    """The agency holding an active mandate over the talent -> (invitation, code); the code is ""
    when a retried request_id returns the first result (it is shown once)."""
    if not actor.is_agency:
        raise PermissionDenied("the agency representing the talent invites them; an operator issues an "
                               "identity-verified credential instead (IssueTalentCredential)")  # fmt: skip
    cmd.validate()
    async with uow:
        now = _now()
        if not await _represents(uow, actor.principal_id, cmd.talent_id, now):
            raise PermissionDenied(f"your agency does not represent talent {cmd.talent_id}", reason="NO_MANDATE")
        once = _Idempotent(uow, actor, "CreateTalentInvitation", cmd.request_id, {"talent_id": cmd.talent_id})
        if prior := await once.recall():
            return await _get_or_fail(uow.invitations.get(prior["invitation_id"])), ""
        code = credentials.new_secret(credentials.INVITATION_PREFIX)
        invitation = TalentInvitation(new_id(INVITATION), code.id, cmd.talent_id, actor.principal_id, code.salt,
                                      code.secret_hash, now, now + ttl)  # fmt: skip
        await uow.invitations.add(invitation)
        uow.emit(events.TalentInvitationCreated(invitation.invitation_id, cmd.talent_id, actor.principal_id,
                                                invitation.expires_at, actor.principal_id))  # fmt: skip
        await once.done({"invitation_id": invitation.invitation_id})
        await uow.commit()
    return invitation, code.text


async def redeem_talent_invitation(invitation_code: str, uow: UnitOfWork) -> tuple[Talent, str]:
    """Anyone holding the code (it is the secret; no API key needed) -> (talent, the talent's own
    API key). Single-use: the row is locked, so two concurrent redemptions yield one key."""
    parsed = credentials.parse_secret(invitation_code.strip(), credentials.INVITATION_PREFIX)
    if parsed is None:
        require([FieldViolation("invitation_code", "not an invitation code (lki_...)")])
    code_id, secret = parsed  # type: ignore[misc]
    async with uow:
        invitation = await uow.invitations.by_code(code_id)
        if invitation is None or not credentials.matches(invitation.salt, invitation.secret_hash, secret):
            raise NotFound("no such invitation code", reason="INVITATION_NOT_FOUND")
        now = _now()
        if invitation.redeemed_at is not None:
            raise FailedPrecondition("this invitation code was already redeemed", reason="INVITATION_ALREADY_REDEEMED")
        if now >= invitation.expires_at:
            raise FailedPrecondition("this invitation code has expired: ask the agency for a new one", reason="INVITATION_EXPIRED")
        invitation.redeemed_at = now
        await uow.invitations.save(invitation)
        talent = await _get_or_fail(uow.talent.get(invitation.talent_id))
        api_key = await uow.credentials.issue(PrincipalKind.TALENT, talent.talent_id, invited_by=invitation.agency_id)
        uow.emit(events.TalentCredentialIssued(talent.talent_id, False, invitation.invitation_id, invitation.agency_id, "",
                                               actor_id=talent.talent_id))  # fmt: skip
        await uow.commit()
    return talent, api_key


async def issue_talent_credential(cmd: commands.IssueTalentCredential, actor: Principal, uow: UnitOfWork) -> tuple[Talent, str]:
    """Operator, after checking the person's identity out of band -> (talent, now identity-verified;
    their API key, "" on a retried request_id)."""
    _require_operator(actor)
    note = cmd.validate()
    async with uow:
        once = _Idempotent(uow, actor, "IssueTalentCredential", cmd.request_id, {"talent_id": cmd.talent_id, "note": note})
        if await once.recall():
            return await _get_or_fail(uow.talent.get(cmd.talent_id)), ""
        talent = await _get_or_fail(uow.talent.get(cmd.talent_id), f"talent {cmd.talent_id} not found")
        if talent.identity_verified_at is None:
            talent.identity_verified_at = _now()
            await uow.talent.save(talent)
        api_key = await uow.credentials.issue(PrincipalKind.TALENT, talent.talent_id, identity_verified=True)
        uow.emit(events.TalentCredentialIssued(talent.talent_id, True, "", "", note, actor.principal_id))
        await once.done({"talent_id": talent.talent_id})
        await uow.commit()
    return talent, api_key


# --- helpers ----------------------------------------------------------------------------------


def _mandate_granted(mandate: Mandate, actor: Principal) -> events.MandateGranted:
    return events.MandateGranted(
        mandate.mandate_id, mandate.agency_id, mandate.talent_id, mandate.valid_from, mandate.valid_until,
        actor.principal_id,
    )


def _validate_id(field: str, value: str, prefix: str) -> None:
    violations: list[FieldViolation] = []
    check_id(field, value, prefix, violations)
    require(violations)


async def _kind_of(uow: UnitOfWork, principal_id: str) -> PrincipalKind:
    if is_id(principal_id, AGENCY) and await uow.agencies.get(principal_id):
        return PrincipalKind.AGENCY
    if is_id(principal_id, PLATFORM) and await uow.platforms.get(principal_id):
        return PrincipalKind.PLATFORM
    if is_id(principal_id, TALENT) and await uow.talent.get(principal_id):
        return PrincipalKind.TALENT
    raise NotFound(f"principal {principal_id} not found")


async def _get_or_fail(found: Any, message: str = "not found") -> Any:
    value = await found
    if value is None:
        raise NotFound(message)
    return value
