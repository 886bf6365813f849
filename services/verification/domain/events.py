"""Verification domain events: decisions and matches; never media or embeddings."""

from __future__ import annotations

from dataclasses import dataclass

from .model import VerificationRecord


@dataclass(frozen=True)
class VerificationDecided:
    """Published once per matched talent (keyed by it), or once on the platform's key for NO_MATCH."""

    record: VerificationRecord
    key: str  # the talent id, or the platform id when nothing matched


Event = VerificationDecided
