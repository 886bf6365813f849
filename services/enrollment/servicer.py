"""EnrollmentService over gRPC: proto <-> commands, nothing else."""

from __future__ import annotations

from types import SimpleNamespace

import grpc

from likeness.enrollment.v1 import enrollment_pb2 as pb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness_common.interceptors import current_principal
from likeness_common.proto import enum_name, next_page_token, page, ts

from .adapters.proto_mapping import dispute_pb, enrollment_pb, member, notice_from_pb, result_pb, warnings_pb
from .domain import commands
from .domain.model import DisputeState, Modality, Resolution, Sample


class EnrollmentServicer(enrollment_pb2_grpc.EnrollmentServiceServicer):
    def __init__(self, h: SimpleNamespace) -> None:
        """`h`: service_layer.handlers with their dependencies bound (bootstrap)."""
        self._h = h

    async def _enroll(self, request, modality: Modality, samples) -> dict:
        cmd = commands.Enroll(request.request_id, request.talent_id, modality, notice_from_pb(request),
                              tuple(Sample(s.filename, s.content, s.content_type) for s in samples))  # fmt: skip
        enrollment, outcomes, similar = await self._h.enroll(cmd, current_principal())
        return {"enrollment": enrollment_pb(enrollment), "results": [result_pb(o) for o in outcomes], "warnings": warnings_pb(modality, similar)}

    async def EnrollFace(self, request: pb.EnrollFaceRequest, context: grpc.aio.ServicerContext) -> pb.EnrollFaceResponse:
        return pb.EnrollFaceResponse(**await self._enroll(request, Modality.FACE, request.images))

    async def EnrollVoice(self, request: pb.EnrollVoiceRequest, context: grpc.aio.ServicerContext) -> pb.EnrollVoiceResponse:
        return pb.EnrollVoiceResponse(**await self._enroll(request, Modality.VOICE, request.clips))

    async def GetEnrollmentStatus(self, request: pb.GetEnrollmentStatusRequest, context: grpc.aio.ServicerContext) -> pb.GetEnrollmentStatusResponse:
        found = await self._h.enrollment_status(request.talent_id, current_principal())
        return pb.GetEnrollmentStatusResponse(enrollments=[enrollment_pb(e) for e in found])

    async def EraseTalentBiometrics(self, request: pb.EraseTalentBiometricsRequest, context: grpc.aio.ServicerContext) -> pb.EraseTalentBiometricsResponse:
        erased, at = await self._h.erase(commands.Erase(request.request_id, request.talent_id, request.reason), current_principal())
        return pb.EraseTalentBiometricsResponse(erased_templates=erased, erase_time=ts(at))

    async def GetDispute(self, request: pb.GetDisputeRequest, context: grpc.aio.ServicerContext) -> pb.GetDisputeResponse:
        return pb.GetDisputeResponse(dispute=dispute_pb(await self._h.get_dispute(request.dispute_id, current_principal())))

    async def ListDisputes(self, request: pb.ListDisputesRequest, context: grpc.aio.ServicerContext) -> pb.ListDisputesResponse:
        size, after = page(request.page_size, request.page_token)
        state = member(DisputeState, enum_name(pb.DisputeState, request.state, "DISPUTE_STATE_"), "state") if request.state else None
        found = await self._h.list_disputes(request.talent_id, state, current_principal(), after=after, limit=size)
        return pb.ListDisputesResponse(disputes=[dispute_pb(d) for d in found],
                                       next_page_token=next_page_token([d.dispute_id for d in found], size))  # fmt: skip

    async def ResolveDispute(self, request: pb.ResolveDisputeRequest, context: grpc.aio.ServicerContext) -> pb.ResolveDisputeResponse:
        resolution = (member(Resolution, enum_name(pb.DisputeResolution, request.resolution, "DISPUTE_RESOLUTION_"), "resolution")
                      if request.resolution else None)  # fmt: skip
        cmd = commands.ResolveDispute(request.request_id, request.dispute_id, resolution, request.note)
        return pb.ResolveDisputeResponse(dispute=dispute_pb(await self._h.resolve_dispute(cmd, current_principal())))
