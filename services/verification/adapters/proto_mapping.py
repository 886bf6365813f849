"""Verification records <-> protobuf (the RPC responses and the VerificationDecided event)."""

from __future__ import annotations

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.events.v1 import events_pb2
from likeness.verification.v1 import verification_pb2 as pb
from likeness_common.proto import enum_name, enum_value, ts

from ..domain.model import Match, VerificationRecord
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
        denial_reason=enum_value(cpb.DenialReason, m.denial, "DENIAL_REASON_"),
    )  # fmt: skip


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
        media_type=r.media_type, frames_analyzed=r.frames,
    )  # fmt: skip


def decided_pb(r: VerificationRecord) -> events_pb2.VerificationDecided:
    return events_pb2.VerificationDecided(
        verification_id=r.verification_id, platform_id=r.platform_id,
        decision=enum_value(pb.Decision, r.decision.value, "DECISION_"),
        purpose=enum_value(cpb.Purpose, r.purpose, "PURPOSE_"), territory=r.territory,
        matches=[match_pb(m) for m in r.matches], grant_ids=r.grant_ids, media_sha256=r.media_sha256,
        receipt_id=r.receipt_id,
    )  # fmt: skip
