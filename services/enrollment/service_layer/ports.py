"""What enrollment needs from the world."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import numpy as np

from likeness_common.ports import UnitOfWork as BaseUnitOfWork

from ..domain.model import Dispute, DisputeState, Enrollment, EnrollmentState, Modality, Sample, SampleOutcome, Similar


class BiometricEngine(Protocol):
    """Decoding, detection and embedding (off the event loop, in worker processes)."""

    def model(self, modality: Modality) -> tuple[str, str]:
        """(model name, model version) of the embeddings it makes."""

    async def analyze(self, modality: Modality, samples: list[Sample]) -> list[SampleOutcome]: ...

    def disagreeing(self, modality: Modality, new: list[np.ndarray], existing: list[np.ndarray]) -> list[int]:
        """Indexes into `new` of embeddings that do not look like the same person as the rest
        (and as `existing`, the talent's earlier templates)."""


class Templates(Protocol):
    async def vectors(self, talent_id: str, modality: Modality) -> list[np.ndarray]:
        """The talent's sample templates of that modality, decrypted."""

    async def add(self, enrollment: Enrollment, vectors: list[np.ndarray]) -> None: ...
    async def replace_centroid(self, talent_id: str, modality: Modality, model: tuple[str, str], vector: np.ndarray | None) -> None: ...
    async def erase_talent(self, talent_id: str) -> tuple[int, list[Modality]]: ...
    async def erase_enrollments(self, talent_id: str, enrollment_ids: list[str]) -> int: ...


class LikenessSearch(Protocol):
    """The 1:N index Verify searches, with Verify's thresholds (see adapters/likeness.py)."""

    async def similar(self, modality: Modality, vectors: list[np.ndarray], exclude_talent: str) -> tuple[list[Similar], int]:
        """Every other talent with a template in the review band of any of `vectors` (best score
        each), and the index position the search saw."""

    async def similar_since(self, position: int, modality: Modality, vectors: list[np.ndarray], exclude_talent: str) -> list[Similar]:
        """The same, against what changed after `position`, on an index caught up with every commit
        so far (the re-check after an enrollment commits)."""


class Disputes(Protocol):
    async def add(self, dispute: Dispute) -> bool:
        """False when the pair already has an open dispute for the modality (nothing stored)."""

    async def get(self, dispute_id: str, *, for_update: bool = False) -> Dispute | None: ...
    async def open_for_talent(self, talent_id: str, modality: Modality) -> list[Dispute]:
        """Open disputes over the talent's likeness in that modality (either side)."""
    async def involving(self, talent_ids: list[str] | None, state: DisputeState | None, after: str, limit: int) -> list[Dispute]:
        """Newest first (ids are time-ordered), ids below `after`; None: every talent."""

    async def save(self, dispute: Dispute) -> None: ...
    async def distinct(self, talent_a: str, talent_b: str, modality: Modality) -> bool: ...
    async def remember_distinct(self, talent_a: str, talent_b: str, modality: Modality) -> None: ...


class Enrollments(Protocol):
    async def add(self, enrollment: Enrollment) -> None: ...
    async def set_state(self, enrollment_ids: list[str], state: EnrollmentState) -> None: ...
    async def lock_likeness_check(self, modality: Modality) -> None:
        """Until commit: enrollments of this modality complete their duplicate-likeness check one at a time."""
    async def get(self, enrollment_id: str) -> Enrollment | None: ...
    async def for_talent(self, talent_id: str, *, for_update: bool = False) -> list[Enrollment]: ...
    async def mark_erased(self, enrollment_ids: list[str], now: datetime) -> None: ...
    async def expired(self, now: datetime, limit: int) -> list[Enrollment]: ...


class Parties(Protocol):
    async def talent_exists(self, talent_id: str) -> bool: ...
    async def represents(self, agency_id: str, talent_id: str, now: datetime) -> bool: ...
    async def represented(self, agency_id: str, now: datetime) -> list[str]: ...


class EnrollmentUnitOfWork(BaseUnitOfWork, Protocol):
    enrollments: Enrollments
    templates: Templates
    parties: Parties
    disputes: Disputes

    async def now(self) -> datetime:
        """The database's clock."""
