"""Enrollment domain objects as EnrollmentService messages, and the request fields read back."""

from __future__ import annotations

from datetime import timedelta

from likeness.enrollment.v1 import enrollment_pb2 as pb
from likeness_common.errors import FieldViolation, InvalidArgument
from likeness_common.proto import dt, ts

from ..domain.model import Dispute, Enrollment, Modality, Notice, SampleOutcome, Similar

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


def member(kind, name: str, field: str):
    try:
        return kind(name)
    except ValueError:
        raise InvalidArgument(f"{field}: not a known value", violations=[FieldViolation(field, "unknown value")]) from None


def notice_from_pb(request: pb.EnrollFaceRequest | pb.EnrollVoiceRequest) -> Notice | None:
    if not request.HasField("notice"):
        return None
    n = request.notice
    accepted = dt(n, "accept_time")
    if accepted is None:
        return None
    return Notice(n.purpose_text, timedelta(seconds=n.retention.seconds, microseconds=n.retention.nanos // 1000), accepted, n.notice_version)
