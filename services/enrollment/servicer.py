"""EnrollmentService over gRPC: proto <-> commands, nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import grpc

from likeness.enrollment.v1 import enrollment_pb2 as pb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness_common.interceptors import current_principal
from likeness_common.proto import dt, ts

from .domain import commands
from .domain.model import Enrollment, Modality, Notice, Sample, SampleOutcome
from .service_layer import handlers
from .service_layer.ports import BiometricEngine, EnrollmentUnitOfWork

_MODALITY = {Modality.FACE: pb.MODALITY_FACE, Modality.VOICE: pb.MODALITY_VOICE}


def enrollment_pb(e: Enrollment) -> pb.Enrollment:
    return pb.Enrollment(
        enrollment_id=e.enrollment_id, talent_id=e.talent_id, modality=_MODALITY[e.modality],
        accepted_samples=e.accepted_samples, model_name=e.model_name, model_version=e.model_version,
        create_time=ts(e.created_at), retain_until=ts(e.retain_until),
    )  # fmt: skip


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


def _notice(request: pb.EnrollFaceRequest | pb.EnrollVoiceRequest) -> Notice | None:
    if not request.HasField("notice"):
        return None
    n = request.notice
    accepted = dt(n, "accept_time")
    if accepted is None:
        return None
    return Notice(n.purpose_text, timedelta(seconds=n.retention.seconds, microseconds=n.retention.nanos // 1000), accepted, n.notice_version)


class EnrollmentServicer(enrollment_pb2_grpc.EnrollmentServiceServicer):
    def __init__(self, uow: Callable[[], EnrollmentUnitOfWork], engine: BiometricEngine, max_samples: int) -> None:
        self._uow, self._engine, self._max = uow, engine, max_samples

    async def _enroll(self, request, modality: Modality, samples) -> tuple[pb.Enrollment, list[pb.SampleResult]]:
        cmd = commands.Enroll(request.request_id, request.talent_id, modality, _notice(request),
                              tuple(Sample(s.filename, s.content, s.content_type) for s in samples))  # fmt: skip
        enrollment, outcomes = await handlers.enroll(cmd, current_principal(), self._uow(), self._engine, max_samples=self._max)
        return enrollment_pb(enrollment), [result_pb(o) for o in outcomes]

    async def EnrollFace(self, request: pb.EnrollFaceRequest, context: grpc.aio.ServicerContext) -> pb.EnrollFaceResponse:
        enrollment, results = await self._enroll(request, Modality.FACE, request.images)
        return pb.EnrollFaceResponse(enrollment=enrollment, results=results)

    async def EnrollVoice(self, request: pb.EnrollVoiceRequest, context: grpc.aio.ServicerContext) -> pb.EnrollVoiceResponse:
        enrollment, results = await self._enroll(request, Modality.VOICE, request.clips)
        return pb.EnrollVoiceResponse(enrollment=enrollment, results=results)

    async def GetEnrollmentStatus(self, request: pb.GetEnrollmentStatusRequest, context: grpc.aio.ServicerContext) -> pb.GetEnrollmentStatusResponse:
        found = await handlers.enrollment_status(request.talent_id, current_principal(), self._uow())
        return pb.GetEnrollmentStatusResponse(enrollments=[enrollment_pb(e) for e in found])

    async def EraseTalentBiometrics(self, request: pb.EraseTalentBiometricsRequest, context: grpc.aio.ServicerContext) -> pb.EraseTalentBiometricsResponse:
        erased, at = await handlers.erase(commands.Erase(request.request_id, request.talent_id, request.reason), current_principal(), self._uow())
        return pb.EraseTalentBiometricsResponse(erased_templates=erased, erase_time=ts(at))
