"""Enrollment commands. A command validates its own fields (`validate`); who may ask is the
handler's question, asked first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from likeness_common.errors import FailedPrecondition, FieldViolation, check_id, check_request_id, require

from .model import MAX_RETENTION, Modality, Notice, Resolution, Sample


@dataclass(frozen=True)
class Enroll:
    request_id: str
    talent_id: str
    modality: Modality
    notice: Notice | None
    samples: tuple[Sample, ...]

    def validate(self, max_samples: int, now: datetime) -> None:
        v: list[FieldViolation] = []
        check_id("talent_id", self.talent_id, "tal", v)
        check_request_id(self.request_id, v)
        field = "images" if self.modality is Modality.FACE else "clips"
        if not self.samples:
            v.append(FieldViolation(field, "send at least one sample"))
        if len(self.samples) > max_samples:
            v.append(FieldViolation(field, f"at most {max_samples} samples per request"))
        require(v)
        n = self.notice
        if n is None or not n.purpose_text.strip():
            raise FailedPrecondition("enrollment needs the biometric notice the talent accepted", reason="NOTICE_REQUIRED")
        v = []
        if n.retention <= timedelta(0) or n.retention > MAX_RETENTION:
            v.append(FieldViolation("notice.retention", f"must be positive and at most {MAX_RETENTION.days} days"))
        if n.accepted_at > now + timedelta(minutes=5):
            v.append(FieldViolation("notice.accept_time", "must not be in the future"))
        if len(n.purpose_text) > 4000 or len(n.version) > 64:
            v.append(FieldViolation("notice", "purpose text at most 4000 characters, version at most 64"))
        require(v)


@dataclass(frozen=True)
class Erase:
    request_id: str
    talent_id: str
    reason: str


@dataclass(frozen=True)
class ResolveDispute:
    request_id: str
    dispute_id: str
    resolution: Resolution | None
    note: str
