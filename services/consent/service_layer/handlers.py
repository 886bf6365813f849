"""Consent use cases."""

from __future__ import annotations

from likeness_common.documents import canonical_json
from likeness_common.errors import FailedPrecondition, FieldViolation, NotFound, PermissionDenied, check_id, require
from likeness_common.ids import new_id
from likeness_common.ports import Signer
from likeness_common.principal import Principal, require_may_act_for
from likeness_common.tokens import decode_token

from ..domain import commands, events
from ..domain.model import ConsentDecision, Grant, GrantSignature, GrantState, Issuer, Use, decide
from .ports import ConsentReader, ConsentUnitOfWork


async def _may_act_for(uow: ConsentUnitOfWork, actor: Principal, talent_id: str) -> None:
    """Operators act for any talent; agencies only under an active mandate (by the database's clock)."""

    async def represents(agency_id: str, talent: str) -> bool:
        return await uow.parties.represents(agency_id, talent, await uow.now())

    await require_may_act_for(actor, talent_id, represents)


async def _may_read_talent(uow: ConsentUnitOfWork, actor: Principal, talent_id: str) -> None:
    """Whoever may act for the talent, and the talent themselves (any credential of their own)."""
    if not actor.is_talent_self(talent_id):
        await _may_act_for(uow, actor, talent_id)


async def _may_revoke(uow: ConsentUnitOfWork, actor: Principal, grant: Grant) -> None:
    """Whoever may act for the talent; the talent themselves with an identity-verified credential,
    whoever issued the grant; with an invited (unverified) credential, only the grants the inviting
    agency issued: an agency that redeems its own invitation gains nothing over other agencies."""
    if actor.speaks_for_self(grant.talent_id):
        return
    if actor.is_talent_self(grant.talent_id):
        if grant.issuer.kind == "agency" and grant.issuer.principal_id == actor.invited_by:
            return
        raise PermissionDenied(f"grant {grant.grant_id} was not issued by the agency that invited you; revoking it takes "
                               "an identity-verified credential", reason="IDENTITY_NOT_VERIFIED")  # fmt: skip
    await _may_act_for(uow, actor, grant.talent_id)


async def create_grant(
    cmd: commands.CreateGrant, actor: Principal, uow: ConsentUnitOfWork, signer: Signer
) -> tuple[Grant, int]:
    terms = commands.validate_terms(cmd)
    async with uow:
        now = await uow.now()  # the database's clock: every replica judges time by the same one
        await _may_act_for(uow, actor, cmd.talent_id)
        prior = await uow.idempotency.recall(actor.principal_id, "CreateGrant", cmd.request_id, cmd) if cmd.request_id else None
        if prior:
            return await _get(uow, prior["grant_id"]), await uow.revision()
        if not await uow.parties.talent_exists(cmd.talent_id):
            raise NotFound(f"talent {cmd.talent_id} not found")
        if terms.platform_id and not await uow.parties.platform_exists(terms.platform_id):
            raise NotFound(f"platform {terms.platform_id} not found")
        grant = Grant(
            grant_id=new_id("grt"),
            talent_id=cmd.talent_id,
            platform_id=terms.platform_id,
            modalities=terms.modalities,
            purposes=terms.purposes,
            custom_purposes=terms.custom_purposes,
            territories=terms.territories,
            not_before=terms.not_before or now,
            not_after=terms.not_after,
            conditions=terms.conditions,
            issuer=Issuer("operator" if actor.is_operator else "agency", actor.principal_id),
            terms_ref=terms.terms_ref,
            created_at=now,
        )
        if grant.not_after is not None and grant.not_after <= now:
            require([FieldViolation("grant.not_after", "must be in the future")], "invalid grant")
        payload, signature = await signer.sign(lambda key_id: canonical_json(grant.canonical(key_id)))
        grant.signature = GrantSignature(signature.key_id, signature.algorithm, payload, signature.signature)
        await uow.grants.add(grant)
        uow.emit(events.ConsentGranted(grant, actor.principal_id))
        if cmd.request_id:
            await uow.idempotency.remember(actor.principal_id, "CreateGrant", cmd.request_id, cmd, {"grant_id": grant.grant_id})
        revision = await uow.commit()
    return grant, revision


async def revoke_grant(cmd: commands.RevokeGrant, actor: Principal, uow: ConsentUnitOfWork) -> tuple[Grant, int]:
    v: list[FieldViolation] = []
    commands.check_request_id(cmd.request_id, v)
    check_id("grant_id", cmd.grant_id, "grt", v)
    if len(cmd.reason) > 500:
        v.append(FieldViolation("reason", "at most 500 characters"))
    require(v)
    async with uow:
        grant = await uow.grants.get(cmd.grant_id, for_update=True)
        if grant is None:
            if actor.is_operator:
                raise NotFound(f"grant {cmd.grant_id} not found")
            raise PermissionDenied(f"no active mandate over the talent of grant {cmd.grant_id}", reason="NO_MANDATE")
        await _may_revoke(uow, actor, grant)
        if cmd.request_id and await uow.idempotency.recall(actor.principal_id, "RevokeGrant", cmd.request_id, cmd):
            return grant, await uow.revision()
        if grant.revoked_at is not None:
            raise FailedPrecondition(f"grant {grant.grant_id} is already revoked", reason="ALREADY_REVOKED")
        grant.revoked_at = await uow.now()
        grant.revoke_reason = cmd.reason.strip()
        await uow.grants.save(grant)
        uow.emit(events.ConsentRevoked(grant, actor.principal_id))
        if cmd.request_id:
            await uow.idempotency.remember(actor.principal_id, "RevokeGrant", cmd.request_id, cmd, {"grant_id": grant.grant_id})
        revision = await uow.commit()
    return grant, revision


async def get_grant(grant_id: str, actor: Principal, uow: ConsentUnitOfWork) -> Grant:
    v: list[FieldViolation] = []
    check_id("grant_id", grant_id, "grt", v)
    require(v)
    async with uow:
        grant = await uow.grants.get(grant_id)
        if grant is not None and (_may_read(actor, grant) or actor.is_talent_self(grant.talent_id)):
            return grant
        if grant is not None and actor.is_agency and await uow.parties.represents(actor.principal_id, grant.talent_id, await uow.now()):
            return grant
        if actor.is_operator:
            raise NotFound(f"grant {grant_id} not found")
        raise PermissionDenied(f"grant {grant_id} is not visible to you")


def _may_read(actor: Principal, grant: Grant) -> bool:
    if actor.is_operator:
        return True
    if actor.is_platform:
        return grant.platform_id in (None, actor.principal_id)
    return False


async def list_grants(talent_id: str, after: str, limit: int, actor: Principal, uow: ConsentUnitOfWork) -> list[Grant]:
    v: list[FieldViolation] = []
    check_id("talent_id", talent_id, "tal", v)
    require(v)
    async with uow:
        if actor.is_agency or actor.is_talent:
            await _may_read_talent(uow, actor, talent_id)
        grants = await uow.grants.list_for_talent(talent_id, after, limit)
    return [g for g in grants if actor.is_agency or actor.is_talent or _may_read(actor, g)]


async def check_consent(
    cmd: commands.CheckConsent, actor: Principal, reader: ConsentReader, uow_factory
) -> tuple[ConsentDecision, int]:
    v: list[FieldViolation] = []
    check_id("talent_id", cmd.talent_id, "tal", v)
    modality = commands.parse_modality(cmd.modality, "modality", v)
    purpose = commands.parse_purpose(cmd.purpose, "purpose", v)
    territory = commands.parse_territory(cmd.territory, "territory", v) if cmd.territory else ""
    if purpose is not None and purpose.value == "CUSTOM" and not cmd.custom_purpose.strip():
        v.append(FieldViolation("custom_purpose", "required with purpose CUSTOM"))
    platform_id = cmd.platform_id
    if actor.is_platform:
        if platform_id and platform_id != actor.principal_id:
            raise PermissionDenied("a platform may check only its own uses")
        platform_id = actor.principal_id
    else:
        check_id("platform_id", platform_id, "plt", v)
    min_revision = decode_token(cmd.at_least_as_fresh)
    require(v)
    if actor.is_agency or actor.is_talent:
        async with uow_factory() as uow:
            await _may_read_talent(uow, actor, cmd.talent_id)
    grants, revision = await reader.grants_for(cmd.talent_id, min_revision)
    # Without `at`, the question is "now": judged by the database's clock, and a revoked grant is
    # revoked whatever any clock says. With `at`, the question is about that instant.
    at = cmd.at or reader.now()
    use = Use(cmd.talent_id, platform_id, modality, purpose, cmd.custom_purpose, territory, at, current=cmd.at is None)  # type: ignore[arg-type]
    return decide(grants, use), revision


async def expire_due(uow: ConsentUnitOfWork, limit: int = 500) -> list[Grant]:
    """Announce (once per grant) the grants whose not_after has passed. Checks never depend on
    this: expiry is judged against the clock."""
    async with uow:
        now = await uow.now()
        due = await uow.grants.due_for_expiry(now, limit)
        for grant in due:
            assert grant.state(now) is GrantState.EXPIRED
            grant.expiry_announced = True
            await uow.grants.save(grant)
            uow.emit(events.ConsentExpired(grant))
        if due:
            await uow.commit()
    return due


async def _get(uow: ConsentUnitOfWork, grant_id: str) -> Grant:
    grant = await uow.grants.get(grant_id)
    if grant is None:
        raise NotFound(f"grant {grant_id} not found")
    return grant
