"""Enrollment commands."""

from __future__ import annotations

from dataclasses import dataclass

from .model import Modality, Notice, Resolution, Sample


@dataclass(frozen=True)
class Enroll:
    request_id: str
    talent_id: str
    modality: Modality
    notice: Notice | None
    samples: tuple[Sample, ...]


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
