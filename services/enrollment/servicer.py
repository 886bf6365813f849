"""EnrollmentService over gRPC: proto <-> commands, nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import grpc

from likeness.enrollment.v1 import enrollment_pb2 as pb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness_common.errors import FieldViolation, InvalidArgument
from likeness_common.interceptors import current_principal
from likeness_common.proto import dt, enum_name, next_page_token, page, ts

from .domain import commands
from .domain.model import Dispute, DisputeState, Enrollment, Modality, Notice, Resolution, Sample, SampleOutcome, Similar
from .service_layer import handlers
from .service_layer.ports import BiometricEngine, EnrollmentUnitOfWork, LikenessSearch

_MODALITY = {Modality.FACE: pb.MODALITY_FACE, Modality.VOICE: pb.MODALITY_VOICE}


def enrollment_pb(e: Enrollment) -> pb.Enrollment:
    return pb.Enrollment(
        enrollment_id=e.enrollment_id, talent_id=e.talent_id, modality=_MODALITY[e.modality],
        accepted_samples=e.accepted_samples, model_name=e.model_name, model_version=e.model_version,
        create_time=ts(e.created_at), retain_until=ts(e.retain_until),
        state=pb.EnrollmentState.Value(f"ENROLLMENT_STATE_{e.state.value}"), dispute_ids=list(e.dispute_ids),
    )  # fmt: skip


def dispute_pb(d: Dispute) -> pb.Dispute:
    return pb.Dispute(
        dispute_id=d.dispute_id, modality=_MODALITY[d.modality], talent_id=d.talent_id, enrollment_id=d.enrollment_id,
        existing_talent_id=d.existing_talent_id, state=pb.DisputeState.Value(f"DISPUTE_STATE_{d.state.value}"),
        resolution=pb.DisputeResolution.Value(f"DISPUTE_RESOLUTION_{d.resolution.value}") if d.resolution else 0,
        note=d.note, open_time=ts(d.opened_at), resolve_time=ts(d.resolved_at), score=d.score,
    )  # fmt: skip


def warnings_pb(modality: Modality, similar: list[Similar]) -> list[pb.LikenessWarning]:
    if not similar:
        return []
    best = max(s.score for s in similar)
    return [pb.LikenessWarning(modality=_MODALITY[modality], similar_talent=len(similar),
                               detail=f"resembles {len(similar)} other enrolled talent in the review band (best score {best:.2f}); not a dispute")]  # fmt: skip


def result_pb(o: SampleOutcome) -> pb.SampleResult:
    """Reasons without an enum value (MEDIA_TOO_LARGE, ...) travel in the detail text."""
    name = f"SAMPLE_REJECTION_{o.rejection}"
    known = bool(o.rejection) and name in pb.SampleRejection.keys()
    return pb.SampleResult(
        index=o.index, filename=o.filename, accepted=o.accepted,
        rejection=pb.SampleRejection.Value(name) if known else pb.SAMPLE_REJECTION_UNSPECIFIED,
        detail=o.detail if known or not o.rejection else f"{o.rejection}: {o.detail}",
        quality=o.quality, speech_seconds=o.speech_seconds,
    )  # fmt: skip


def _member(kind, name: str, field: str):
    try:
        return kind(name)
    except ValueError:
        raise InvalidArgument(f"{field}: not a known value", violations=[FieldViolation(field, "unknown value")]) from None


def _notice(request: pb.EnrollFaceRequest | pb.EnrollVoiceRequest) -> Notice | None:
    if not request.HasField("notice"):
        return None
    n = request.notice
    accepted = dt(n, "accept_time")
    if accepted is None:
        return None
    return Notice(n.purpose_text, timedelta(seconds=n.retention.seconds, microseconds=n.retention.nanos // 1000), accepted, n.notice_version)


class EnrollmentServicer(enrollment_pb2_grpc.EnrollmentServiceServicer):
    def __init__(self, uow: Callable[[], EnrollmentUnitOfWork], engine: BiometricEngine, likeness: LikenessSearch, max_samples: int) -> None:
        self._uow, self._engine, self._likeness, self._max = uow, engine, likeness, max_samples

    async def _enroll(self, request, modality: Modality, samples) -> dict:
        cmd = commands.Enroll(request.request_id, request.talent_id, modality, _notice(request),
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
        state = _member(DisputeState, enum_name(pb.DisputeState, request.state, "DISPUTE_STATE_"), "state") if request.state else None
        found = await handlers.list_disputes(request.talent_id, state, current_principal(), self._uow(), after=after, limit=size)
        return pb.ListDisputesResponse(disputes=[dispute_pb(d) for d in found],
                                       next_page_token=next_page_token([d.dispute_id for d in found], size))  # fmt: skip

    async def ResolveDispute(self, request: pb.ResolveDisputeRequest, context: grpc.aio.ServicerContext) -> pb.ResolveDisputeResponse:
        resolution = (_member(Resolution, enum_name(pb.DisputeResolution, request.resolution, "DISPUTE_RESOLUTION_"), "resolution")
                      if request.resolution else None)  # fmt: skip
        cmd = commands.ResolveDispute(request.request_id, request.dispute_id, resolution, request.note)
        models = {m: self._engine.model(m) for m in Modality}
        return pb.ResolveDisputeResponse(dispute=dispute_pb(await handlers.resolve_dispute(cmd, current_principal(), self._uow(), models)))
