"""Verification records <-> protobuf (the RPC responses and the VerificationDecided event)."""

from __future__ import annotations

from google.longrunning import operations_proto_pb2 as lro
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.events.v1 import events_pb2
from likeness.verification.v1 import verification_pb2 as pb
from likeness_common.interceptors import ERROR_DOMAIN
from likeness_common.proto import enum_name, enum_value, ts
from likeness_common.provenance import SIDECAR_TYPE

from ..domain.model import Coverage, IncomingProvenance, Match, VerificationRecord
from ..domain.operations import VerifyOperation
from ..service_layer.ports import StoredVerification


def purpose_name(value: int) -> str:
    return enum_name(cpb.Purpose, value, "PURPOSE_")


def match_pb(m: Match) -> pb.Match:
    loc = m.location
    box = pb.FaceBox(top=loc.box[0], right=loc.box[1], bottom=loc.box[2], left=loc.box[3]) if loc.box else None
    return pb.Match(
        talent_id=m.talent_id, modality=enum_value(epb.Modality, m.modality.value, "MODALITY_"), score=m.score,
        start_seconds=loc.start_s, end_seconds=loc.end_s, frame_index=loc.frame_index, face_box=box,
        in_review_band=m.in_review_band, grant_id=m.grant_id,
        denial_reason=enum_value(cpb.DenialReason, m.denial, "DENIAL_REASON_"), dispute_id=m.dispute_id,
        talent_identity_verified=m.talent_identity_verified, raw_score=m.raw_score, speech_seconds=m.speech_s or 0.0,
        impostors=m.impostors,
    )  # fmt: skip


def coverage_pb(c: Coverage | None) -> pb.Coverage | None:
    if c is None:
        return None
    return pb.Coverage(
        complete=c.complete, incomplete_reasons=c.incomplete_reasons, media_seconds=c.media_seconds, sample_fps=c.sample_fps,
        frames_in_clip=c.frames_in_clip, frames_sampled=c.frames_sampled, frames_analyzed=c.frames_analyzed,
        frames_skipped_unchanged=c.frames_skipped_unchanged, skip_rule=c.skip_rule, max_gap_seconds=c.max_gap_s,
        max_gap_allowed_seconds=c.max_gap_allowed_s, max_analyzed_gap_seconds=c.max_analyzed_gap_s, audio_track=c.audio_track,
        audio_seconds=c.audio_seconds, speech_seconds=c.speech_seconds, voice_windows=c.voice_windows, decode_errors=c.decode_errors,
        speech_snr_db=c.speech_snr_db, speech_high_band_share=c.speech_high_band_share,
    )  # fmt: skip


def review_reasons_pb(r: VerificationRecord) -> list[int]:
    return [enum_value(pb.ReviewReason, reason.value, "REVIEW_REASON_") for reason in r.review_reasons]


def verification_pb(stored: StoredVerification) -> pb.Verification:
    r, sig = stored.record, stored.signature
    return pb.Verification(
        verification_id=r.verification_id, platform_id=r.platform_id,
        decision=enum_value(pb.Decision, r.decision.value, "DECISION_"),
        matches=[match_pb(m) for m in r.matches], grant_ids=r.grant_ids, media_sha256=r.media_sha256,
        decide_time=ts(r.decided_at),
        receipt=pb.Receipt(receipt_id=r.receipt_id, canonical_payload=stored.payload, key_id=sig.key_id,
                           algorithm=sig.algorithm, signature=sig.signature),
        conditions=[cpb.Condition(kind=k, value=v) for k, v in r.conditions],
        consistency_token=r.consistency_token,
        purpose=enum_value(cpb.Purpose, r.purpose, "PURPOSE_"), custom_purpose=r.custom_purpose, territory=r.territory,
        media_type=r.media_type, frames_analyzed=r.frames, coverage=coverage_pb(r.coverage), review_reasons=review_reasons_pb(r),
        incoming_provenance=provenance_pb(r.provenance), c2pa_requested=r.c2pa_requested,
    )  # fmt: skip


def provenance_pb(p: IncomingProvenance | None) -> pb.IncomingProvenance | None:
    if p is None:
        return None
    return pb.IncomingProvenance(validation_state=p.state, failures=p.failures, signer=p.signer, claim_generator=p.claim_generator,
                                 digital_source_types=p.digital_source_types, training_mining=p.training_mining)  # fmt: skip


def decided_pb(r: VerificationRecord) -> events_pb2.VerificationDecided:
    return events_pb2.VerificationDecided(
        verification_id=r.verification_id, platform_id=r.platform_id,
        decision=enum_value(pb.Decision, r.decision.value, "DECISION_"),
        purpose=enum_value(cpb.Purpose, r.purpose, "PURPOSE_"), territory=r.territory,
        matches=[match_pb(m) for m in r.matches], grant_ids=r.grant_ids, media_sha256=r.media_sha256,
        receipt_id=r.receipt_id, coverage=coverage_pb(r.coverage), review_reasons=review_reasons_pb(r),
        incoming_provenance=provenance_pb(r.provenance), c2pa_requested=r.c2pa_requested,
    )  # fmt: skip


def _any(message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def operation_pb(op: VerifyOperation, result: StoredVerification | None = None) -> lro.Operation:
    """google.longrunning.Operation: metadata always, and once done the VerifyResponse or the error."""
    meta = pb.VerifyOperationMetadata(
        state=enum_value(pb.VerifyOperationMetadata.State, op.state.value, "STATE_"), progress_percent=round(op.progress * 100, 1),
        create_time=ts(op.created_at), update_time=ts(op.updated_at), end_time=ts(op.ended_at) if op.ended_at else None,
        expire_time=ts(op.expire_at) if op.expire_at else None, request_id=op.request_id, media_sha256=op.media_sha256,
        media_bytes=op.media_bytes, media_seconds=op.media_seconds or 0.0, cancel_requested=op.cancel_requested, attempts=op.attempts,
    )  # fmt: skip
    out = lro.Operation(name=op.name, metadata=_any(meta), done=op.done)
    if result is not None:
        signed = pb.SignedMedia(content=op.c2pa_sidecar, media_type=SIDECAR_TYPE, sidecar=True) if op.c2pa_sidecar else None
        out.response.CopyFrom(_any(pb.VerifyResponse(verification=verification_pb(result), signed_media=signed)))
    elif op.error is not None:
        info = error_details_pb2.ErrorInfo(reason=op.error.reason, domain=ERROR_DOMAIN)
        out.error.CopyFrom(status_pb2.Status(code=code_pb2.Code.Value(op.error.code), message=op.error.message, details=[_any(info)]))
    return out
