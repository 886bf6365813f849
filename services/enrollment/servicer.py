"""EnrollmentService over gRPC: proto <-> commands, nothing else."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from likeness.enrollment.v1 import enrollment_pb2 as pb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness_common.interceptors import current_principal
from likeness_common.proto import enum_name, next_page_token, page, ts

from .adapters.proto_mapping import dispute_pb, enrollment_pb, member, notice_from_pb, result_pb, warnings_pb
from .domain import commands
from .domain.model import DisputeState, Modality, Resolution, Sample
from .service_layer import handlers
from .service_layer.ports import BiometricEngine, EnrollmentUnitOfWork, LikenessSearch


class EnrollmentServicer(enrollment_pb2_grpc.EnrollmentServiceServicer):
    def __init__(self, uow: Callable[[], EnrollmentUnitOfWork], engine: BiometricEngine, likeness: LikenessSearch, max_samples: int) -> None:
        self._uow, self._engine, self._likeness, self._max = uow, engine, likeness, max_samples

    async def _enroll(self, request, modality: Modality, samples) -> dict:
        cmd = commands.Enroll(request.request_id, request.talent_id, modality, notice_from_pb(request),
                              tuple(Sample(s.filename, s.content, s.content_type) for s in samples))  # fmt: skip
        enrollment, outcomes, similar = await handlers.enroll(cmd, current_principal(), self._uow(), self._engine, self._likeness,
                                                              max_samples=self._max)  # fmt: skip
        return {"enrollment": enrollment_pb(enrollment), "results": [result_pb(o) for o in outcomes], "warnings": warnings_pb(modality, similar)}

    async def EnrollFace(self, request: pb.EnrollFaceRequest, context: grpc.aio.ServicerContext) -> pb.EnrollFaceResponse:
        return pb.EnrollFaceResponse(**await self._enroll(request, Modality.FACE, request.images))

    async def EnrollVoice(self, request: pb.EnrollVoiceRequest, context: grpc.aio.ServicerContext) -> pb.EnrollVoiceResponse:
        return pb.EnrollVoiceResponse(**await self._enroll(request, Modality.VOICE, request.clips))

    async def GetEnrollmentStatus(self, request: pb.GetEnrollmentStatusRequest, context: grpc.aio.ServicerContext) -> pb.GetEnrollmentStatusResponse:
        found = await handlers.enrollment_status(request.talent_id, current_principal(), self._uow())
        return pb.GetEnrollmentStatusResponse(enrollments=[enrollment_pb(e) for e in found])

    async def EraseTalentBiometrics(self, request: pb.EraseTalentBiometricsRequest, context: grpc.aio.ServicerContext) -> pb.EraseTalentBiometricsResponse:
        erased, at = await handlers.erase(commands.Erase(request.request_id, request.talent_id, request.reason), current_principal(), self._uow())
        return pb.EraseTalentBiometricsResponse(erased_templates=erased, erase_time=ts(at))

    async def GetDispute(self, request: pb.GetDisputeRequest, context: grpc.aio.ServicerContext) -> pb.GetDisputeResponse:
        return pb.GetDisputeResponse(dispute=dispute_pb(await handlers.get_dispute(request.dispute_id, current_principal(), self._uow())))

    async def ListDisputes(self, request: pb.ListDisputesRequest, context: grpc.aio.ServicerContext) -> pb.ListDisputesResponse:
        size, after = page(request.page_size, request.page_token)
        state = member(DisputeState, enum_name(pb.DisputeState, request.state, "DISPUTE_STATE_"), "state") if request.state else None
        found = await handlers.list_disputes(request.talent_id, state, current_principal(), self._uow(), after=after, limit=size)
        return pb.ListDisputesResponse(disputes=[dispute_pb(d) for d in found],
                                       next_page_token=next_page_token([d.dispute_id for d in found], size))  # fmt: skip

    async def ResolveDispute(self, request: pb.ResolveDisputeRequest, context: grpc.aio.ServicerContext) -> pb.ResolveDisputeResponse:
        resolution = (member(Resolution, enum_name(pb.DisputeResolution, request.resolution, "DISPUTE_RESOLUTION_"), "resolution")
                      if request.resolution else None)  # fmt: skip
        cmd = commands.ResolveDispute(request.request_id, request.dispute_id, resolution, request.note)
        models = {m: self._engine.model(m) for m in Modality}
        return pb.ResolveDisputeResponse(dispute=dispute_pb(await handlers.resolve_dispute(cmd, current_principal(), self._uow(), models)))
