"""ConsentService over gRPC: proto <-> commands, nothing else."""

from __future__ import annotations

from types import SimpleNamespace

import grpc

from likeness.consent.v1 import consent_pb2 as pb
from likeness.consent.v1 import consent_pb2_grpc
from likeness_common.audit import SharedChainReports
from likeness_common.errors import PermissionDenied
from likeness_common.interceptors import current_principal
from likeness_common.proto import dt, next_page_token, page, ts
from likeness_common.signing import SigningKeyring
from likeness_common.tokens import encode_token

from .adapters.proto_mapping import denial_pb, grant_pb, modality_name, purpose_name
from .domain import commands
from .service_layer.ports import ConsentReader


class ConsentServicer(consent_pb2_grpc.ConsentServiceServicer):
    def __init__(self, h: SimpleNamespace, reader: ConsentReader, keyring: SigningKeyring, pool) -> None:
        """`h`: service_layer.handlers with their dependencies bound (bootstrap)."""
        self._h, self._reader, self._keyring, self._pool = h, reader, keyring, pool
        self._audit_report = SharedChainReports(pool)

    async def CreateGrant(self, request: pb.CreateGrantRequest, context: grpc.aio.ServicerContext) -> pb.CreateGrantResponse:
        g = request.grant
        cmd = commands.CreateGrant(
            request_id=request.request_id,
            talent_id=g.talent_id,
            platform_id=g.platform_id,
            any_platform=g.any_platform,
            modalities=tuple(modality_name(m) for m in g.modalities),
            purposes=tuple(purpose_name(p) for p in g.purposes),
            custom_purposes=tuple(g.custom_purposes),
            territories=tuple(g.territories),
            worldwide=g.worldwide,
            not_before=dt(g, "not_before"),
            not_after=dt(g, "not_after"),
            conditions=tuple((c.kind, c.value) for c in g.conditions),
            terms_ref=g.terms_ref,
        )
        grant, revision = await self._h.create_grant(cmd, current_principal())
        self._reader.applied(grant, revision)
        # The grant took effect at its creation (database time): a clock estimate a moment behind must not call it PENDING.
        now = max(self._reader.now(), grant.created_at)
        return pb.CreateGrantResponse(grant=grant_pb(grant, now), consistency_token=encode_token(revision))

    async def RevokeGrant(self, request: pb.RevokeGrantRequest, context: grpc.aio.ServicerContext) -> pb.RevokeGrantResponse:
        cmd = commands.RevokeGrant(request.request_id, request.grant_id, request.reason)
        grant, revision = await self._h.revoke_grant(cmd, current_principal())
        self._reader.applied(grant, revision)
        return pb.RevokeGrantResponse(grant=grant_pb(grant, self._reader.now()), consistency_token=encode_token(revision))

    async def GetGrant(self, request: pb.GetGrantRequest, context: grpc.aio.ServicerContext) -> pb.GetGrantResponse:
        grant = await self._h.get_grant(request.grant_id, current_principal())
        return pb.GetGrantResponse(grant=grant_pb(grant, self._reader.now()))

    async def ListGrants(self, request: pb.ListGrantsRequest, context: grpc.aio.ServicerContext) -> pb.ListGrantsResponse:
        size, after = page(request.page_size, request.page_token)
        grants = await self._h.list_grants(request.talent_id, after, size, current_principal())
        now = self._reader.now()
        return pb.ListGrantsResponse(
            grants=[grant_pb(g, now) for g in grants], next_page_token=next_page_token([g.grant_id for g in grants], size)
        )

    async def CheckConsent(self, request: pb.CheckConsentRequest, context: grpc.aio.ServicerContext) -> pb.CheckConsentResponse:
        cmd = commands.CheckConsent(
            talent_id=request.talent_id,
            platform_id=request.platform_id,
            modality=modality_name(request.modality),
            purpose=purpose_name(request.purpose),
            custom_purpose=request.custom_purpose,
            territory=request.territory,
            at=dt(request, "at"),
            at_least_as_fresh=request.at_least_as_fresh,
        )
        decision, revision = await self._h.check_consent(cmd, current_principal())
        return pb.CheckConsentResponse(
            allowed=decision.allowed,
            grant_ids=decision.grant_ids,
            reason=denial_pb(decision.reason),
            detail=decision.detail,
            consistency_token=encode_token(revision),
            conditions=[pb.Condition(kind=c.kind, value=c.value) for c in decision.conditions],
        )

    async def GetSigningKeys(self, request: pb.GetSigningKeysRequest, context: grpc.aio.ServicerContext) -> pb.GetSigningKeysResponse:
        keys = await self._keyring.public_keys()
        return pb.GetSigningKeysResponse(
            keys=[
                pb.SigningKey(key_id=k.key_id, algorithm="Ed25519", public_key=k.public_key,
                              create_time=ts(k.created_at), retire_time=ts(k.retired_at))  # fmt: skip
                for k in keys
            ]
        )

    async def RotateSigningKey(self, request: pb.RotateSigningKeyRequest, context: grpc.aio.ServicerContext) -> pb.RotateSigningKeyResponse:
        if not current_principal().is_operator:
            raise PermissionDenied("only an operator may rotate signing keys")
        key_id = await self._keyring.rotate()
        key = next(k for k in await self._keyring.public_keys() if k.key_id == key_id)
        return pb.RotateSigningKeyResponse(
            key=pb.SigningKey(key_id=key.key_id, algorithm="Ed25519", public_key=key.public_key, create_time=ts(key.created_at))
        )

    async def VerifyAuditLog(self, request: pb.VerifyAuditLogRequest, context: grpc.aio.ServicerContext) -> pb.VerifyAuditLogResponse:
        # The chain check reports integrity and a count, no one's data: agencies (whose grants it
        # records) may run it too, for the agency console's Audit page.
        actor = current_principal()
        if not (actor.is_operator or actor.is_agency):
            raise PermissionDenied("only an operator or an agency may verify the audit log")
        report = await self._audit_report(fresh=actor.is_operator)
        return pb.VerifyAuditLogResponse(
            intact=report.intact, entries_checked=report.entries_checked,
            first_broken_seq=report.first_broken_seq, detail=report.detail,
        )  # fmt: skip
