"""Enrollment rules, free of I/O: what makes a usable set of samples."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from likeness_common.modality import Modality

MIN_TOTAL_SPEECH_SECONDS = 3.0
MAX_RETENTION = timedelta(days=3653)


class EnrollmentState(str, enum.Enum):
    ACTIVE = "ACTIVE"
    DISPUTED = "DISPUTED"  # matches another talent's likeness: held until a dispute is resolved
    REJECTED = "REJECTED"  # lost a dispute: templates deleted


class DisputeState(str, enum.Enum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


class Resolution(str, enum.Enum):
    SAME_PERSON_KEEP_EXISTING = "SAME_PERSON_KEEP_EXISTING"
    SAME_PERSON_KEEP_NEW = "SAME_PERSON_KEEP_NEW"
    DISTINCT_PEOPLE = "DISTINCT_PEOPLE"
    WITHDRAWN = "WITHDRAWN"  # one side's likeness was erased, swept or rejected before a resolution


@dataclass(frozen=True)
class Notice:
    """The biometric notice the talent accepted."""

    purpose_text: str
    retention: timedelta
    accepted_at: datetime
    version: str


@dataclass(frozen=True)
class Sample:
    filename: str
    content: bytes
    content_type: str = ""


@dataclass
class SampleOutcome:
    """What the engine made of one sample. `embedding` is None when rejected."""

    index: int
    filename: str
    accepted: bool
    rejection: str = ""  # a reason such as NO_FACE, MULTIPLE_FACES, TOO_LITTLE_SPEECH, INCONSISTENT_SAMPLES
    detail: str = ""
    quality: float = 0.0
    speech_seconds: float = 0.0
    embedding: np.ndarray | None = field(default=None, repr=False)

    def reject(self, reason: str, detail: str) -> None:
        self.accepted, self.rejection, self.detail, self.embedding = False, reason, detail, None


@dataclass
class Enrollment:
    enrollment_id: str
    talent_id: str
    modality: Modality
    accepted_samples: int
    rejected_samples: int
    mean_quality: float
    model_name: str
    model_version: str
    notice: Notice
    enrolled_by: str
    created_at: datetime
    retain_until: datetime
    erased_at: datetime | None = None
    state: EnrollmentState = EnrollmentState.ACTIVE
    dispute_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Similar:
    """Another talent whose templates the new samples resemble: its best score, and whether that
    reaches the match threshold (a dispute) or only the review band (a warning)."""

    talent_id: str
    score: float
    match: bool


@dataclass
class Dispute:
    dispute_id: str
    modality: Modality
    talent_id: str  # whose enrollment is held
    enrollment_id: str
    existing_talent_id: str
    score: float
    opened_at: datetime
    state: DisputeState = DisputeState.OPEN
    resolution: Resolution | None = None
    note: str = ""
    resolved_at: datetime | None = None
    resolved_by: str = ""

    @property
    def talent_ids(self) -> tuple[str, str]:
        return self.talent_id, self.existing_talent_id

    def resolve(self, resolution: Resolution, note: str, at: datetime, by: str) -> None:
        self.state, self.resolution, self.note, self.resolved_at, self.resolved_by = DisputeState.RESOLVED, resolution, note, at, by


def pair(a: str, b: str) -> tuple[str, str]:
    """A pair of talent in canonical order (distinct_likeness, open-dispute uniqueness)."""
    return (a, b) if a < b else (b, a)


def centroid(modality: Modality, vectors: list[np.ndarray]) -> np.ndarray:
    """Face: the mean encoding (Euclidean space). Voice: the mean, re-normalized (cosine space)."""
    mean = np.mean(np.stack(vectors), axis=0).astype(np.float32)
    if modality is Modality.VOICE:
        mean /= max(float(np.linalg.norm(mean)), 1e-9)
    return mean


def usable(modality: Modality, outcomes: list[SampleOutcome], min_face_samples: int = 1) -> tuple[bool, str]:
    """Enough good samples left? -> (ok, why not)."""
    good = [o for o in outcomes if o.accepted]
    if modality is Modality.FACE:
        if len(good) < min_face_samples:
            return False, f"{len(good)} usable image(s), at least {min_face_samples} needed"
        return True, ""
    speech = sum(o.speech_seconds for o in good)
    if speech < MIN_TOTAL_SPEECH_SECONDS:
        return False, f"{speech:.1f} s of speech in usable clips, at least {MIN_TOTAL_SPEECH_SECONDS:.0f} s needed"
    return True, ""
