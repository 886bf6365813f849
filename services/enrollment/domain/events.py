"""Enrollment domain events: counts, model versions, quality; never media or embeddings."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Dispute, Enrollment, Modality


@dataclass(frozen=True)
class Enrolled:
    enrollment: Enrollment
    actor_id: str


@dataclass(frozen=True)
class BiometricsErased:
    talent_id: str
    modalities: tuple[Modality, ...]
    erased_templates: int
    reason: str
    actor_id: str


@dataclass(frozen=True)
class DisputeOpened:
    """Published once per talent involved (`key`), so each side hears of it."""

    dispute: Dispute
    key: str
    actor_id: str


@dataclass(frozen=True)
class DisputeResolved:
    dispute: Dispute
    key: str
    actor_id: str


Event = Enrolled | BiometricsErased | DisputeOpened | DisputeResolved
