"""RegistryService over gRPC: proto -> command, call the handler, domain -> proto. Nothing else."""

from __future__ import annotations

from types import SimpleNamespace

import grpc

from likeness.registry.v1 import registry_pb2 as pb
from likeness.registry.v1 import registry_pb2_grpc
from likeness_common.interceptors import current_principal
from likeness_common.proto import dt, next_page_token, page

from .adapters.proto_mapping import PRINCIPAL_KIND, agency_pb, invitation_pb, mandate_pb, platform_pb, talent_pb
from .domain import commands


def _page(request: object) -> commands.Page:
    return commands.Page(*page(request.page_size, request.page_token))  # type: ignore[attr-defined]


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, h: SimpleNamespace) -> None:
        """`h`: service_layer.handlers with their dependencies bound (bootstrap)."""
        self._h = h

    async def RegisterAgency(self, request: pb.RegisterAgencyRequest, context: grpc.aio.ServicerContext) -> pb.RegisterAgencyResponse:
        cmd = commands.RegisterAgency(request.request_id, request.display_name)
        agency, api_key = await self._h.register_agency(cmd, current_principal())
        return pb.RegisterAgencyResponse(agency=agency_pb(agency), api_key=api_key)

    async def GetAgency(self, request: pb.GetAgencyRequest, context: grpc.aio.ServicerContext) -> pb.GetAgencyResponse:
        agency = await self._h.get_agency(request.agency_id, current_principal())
        return pb.GetAgencyResponse(agency=agency_pb(agency))

    async def ListAgencies(self, request: pb.ListAgenciesRequest, context: grpc.aio.ServicerContext) -> pb.ListAgenciesResponse:
        p = _page(request)
        found = await self._h.list_agencies(p, current_principal())
        return pb.ListAgenciesResponse(
            agencies=[agency_pb(a) for a in found], next_page_token=next_page_token([a.agency_id for a in found], p.size)
        )

    async def RegisterPlatform(self, request: pb.RegisterPlatformRequest, context: grpc.aio.ServicerContext) -> pb.RegisterPlatformResponse:
        cmd = commands.RegisterPlatform(request.request_id, request.display_name)
        platform, api_key = await self._h.register_platform(cmd, current_principal())
        return pb.RegisterPlatformResponse(platform=platform_pb(platform), api_key=api_key)

    async def GetPlatform(self, request: pb.GetPlatformRequest, context: grpc.aio.ServicerContext) -> pb.GetPlatformResponse:
        platform = await self._h.get_platform(request.platform_id, current_principal())
        return pb.GetPlatformResponse(platform=platform_pb(platform))

    async def ListPlatforms(self, request: pb.ListPlatformsRequest, context: grpc.aio.ServicerContext) -> pb.ListPlatformsResponse:
        p = _page(request)
        found = await self._h.list_platforms(p, current_principal())
        return pb.ListPlatformsResponse(
            platforms=[platform_pb(x) for x in found],
            next_page_token=next_page_token([x.platform_id for x in found], p.size),
        )

    async def RegisterTalent(self, request: pb.RegisterTalentRequest, context: grpc.aio.ServicerContext) -> pb.RegisterTalentResponse:
        cmd = commands.RegisterTalent(
            request.request_id,
            request.display_name,
            request.external_ref,
            request.agency_id,
            dt(request, "mandate_valid_until"),
        )
        talent, mandate = await self._h.register_talent(cmd, current_principal())
        return pb.RegisterTalentResponse(talent=talent_pb(talent), mandate=mandate_pb(mandate) if mandate else None)

    async def GetTalent(self, request: pb.GetTalentRequest, context: grpc.aio.ServicerContext) -> pb.GetTalentResponse:
        talent = await self._h.get_talent(request.talent_id, current_principal())
        return pb.GetTalentResponse(talent=talent_pb(talent))

    async def ListTalent(self, request: pb.ListTalentRequest, context: grpc.aio.ServicerContext) -> pb.ListTalentResponse:
        p = _page(request)
        found = await self._h.list_talent(p, current_principal())
        return pb.ListTalentResponse(
            talent=[talent_pb(t) for t in found], next_page_token=next_page_token([t.talent_id for t in found], p.size)
        )

    async def GrantMandate(self, request: pb.GrantMandateRequest, context: grpc.aio.ServicerContext) -> pb.GrantMandateResponse:
        cmd = commands.GrantMandate(
            request.request_id, request.agency_id, request.talent_id, dt(request, "valid_from"), dt(request, "valid_until")
        )
        mandate = await self._h.grant_mandate(cmd, current_principal())
        return pb.GrantMandateResponse(mandate=mandate_pb(mandate))

    async def EndMandate(self, request: pb.EndMandateRequest, context: grpc.aio.ServicerContext) -> pb.EndMandateResponse:
        cmd = commands.EndMandate(request.request_id, request.mandate_id, request.reason)
        mandate = await self._h.end_mandate(cmd, current_principal())
        return pb.EndMandateResponse(mandate=mandate_pb(mandate))

    async def ListMandates(self, request: pb.ListMandatesRequest, context: grpc.aio.ServicerContext) -> pb.ListMandatesResponse:
        p = _page(request)
        found = await self._h.list_mandates(request.talent_id, p, current_principal())
        return pb.ListMandatesResponse(
            mandates=[mandate_pb(m) for m in found], next_page_token=next_page_token([m.mandate_id for m in found], p.size)
        )

    async def RotateApiKey(self, request: pb.RotateApiKeyRequest, context: grpc.aio.ServicerContext) -> pb.RotateApiKeyResponse:
        cmd = commands.RotateApiKey(request.request_id, request.principal_id)
        return pb.RotateApiKeyResponse(api_key=await self._h.rotate_api_key(cmd, current_principal()))

    async def RevokeApiKeys(self, request: pb.RevokeApiKeysRequest, context: grpc.aio.ServicerContext) -> pb.RevokeApiKeysResponse:
        cmd = commands.RevokeApiKeys(request.request_id, request.principal_id)
        return pb.RevokeApiKeysResponse(revoked_count=await self._h.revoke_api_keys(cmd, current_principal()))

    async def WhoAmI(self, request: pb.WhoAmIRequest, context: grpc.aio.ServicerContext) -> pb.WhoAmIResponse:
        principal = current_principal()
        return pb.WhoAmIResponse(kind=PRINCIPAL_KIND[principal.kind.value], principal_id=principal.principal_id,
                                 identity_verified=principal.identity_verified, invited_by_agency_id=principal.invited_by)  # fmt: skip

    async def CreateTalentInvitation(self, request: pb.CreateTalentInvitationRequest, context: grpc.aio.ServicerContext) -> pb.CreateTalentInvitationResponse:
        cmd = commands.CreateTalentInvitation(request.request_id, request.talent_id)
        invitation, code = await self._h.create_talent_invitation(cmd, current_principal())
        return pb.CreateTalentInvitationResponse(invitation=invitation_pb(invitation), invitation_code=code)

    async def RedeemTalentInvitation(self, request: pb.RedeemTalentInvitationRequest, context: grpc.aio.ServicerContext) -> pb.RedeemTalentInvitationResponse:
        talent, api_key = await self._h.redeem_talent_invitation(request.invitation_code)
        return pb.RedeemTalentInvitationResponse(talent=talent_pb(talent), api_key=api_key)

    async def IssueTalentCredential(self, request: pb.IssueTalentCredentialRequest, context: grpc.aio.ServicerContext) -> pb.IssueTalentCredentialResponse:
        cmd = commands.IssueTalentCredential(request.request_id, request.talent_id, request.identity_verified, request.note)
        talent, api_key = await self._h.issue_talent_credential(cmd, current_principal())
        return pb.IssueTalentCredentialResponse(talent=talent_pb(talent), api_key=api_key)
