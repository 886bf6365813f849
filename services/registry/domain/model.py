"""Parties of the registry and the mandates between them."""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from likeness_common.errors import FieldViolation

MAX_NAME_LENGTH = 200
MAX_REF_LENGTH = 200


class MandateState(str, enum.Enum):
    ACTIVE = "active"
    PENDING = "pending"
    ENDED = "ended"


@dataclass
class Agency:
    agency_id: str
    display_name: str
    created_at: datetime


@dataclass
class Platform:
    platform_id: str
    display_name: str
    created_at: datetime


@dataclass
class Talent:
    talent_id: str
    display_name: str
    external_ref: str
    created_at: datetime
    # Set when an operator, having checked the person's identity out of band, issued them a credential.
    identity_verified_at: datetime | None = None

    @property
    def identity_verified(self) -> bool:
        return self.identity_verified_at is not None


@dataclass
class TalentInvitation:
    """A one-time code an agency hands the talent it represents: redeemed, it becomes the talent's
    own (not identity-verified) credential. `code_id` finds the row; the code's secret is kept only
    as `secret_hash`."""

    invitation_id: str
    code_id: str
    talent_id: str
    agency_id: str
    salt: bytes
    secret_hash: bytes
    created_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None = None


@dataclass
class Mandate:
    """Agency `agency_id` represents talent `talent_id` from `valid_from` (inclusive) until
    `valid_until` (exclusive; None: open-ended) unless ended earlier."""

    mandate_id: str
    agency_id: str
    talent_id: str
    valid_from: datetime
    valid_until: datetime | None
    ended_at: datetime | None = None
    end_reason: str = ""

    def state(self, now: datetime) -> MandateState:
        if self.ended_at is not None and self.ended_at <= now:
            return MandateState.ENDED
        if self.valid_until is not None and now >= self.valid_until:
            return MandateState.ENDED
        if now < self.valid_from:
            return MandateState.PENDING
        return MandateState.ACTIVE

    def is_active(self, now: datetime) -> bool:
        return self.state(now) is MandateState.ACTIVE

    def end(self, now: datetime, reason: str) -> None:
        self.ended_at = now
        self.end_reason = reason


def check_name(field: str, value: str, violations: list[FieldViolation], *, limit: int = MAX_NAME_LENGTH) -> str:
    """Normalize a human-readable name (NFC, trimmed) and record what is wrong with it."""
    cleaned = unicodedata.normalize("NFC", value).strip()
    if not cleaned:
        violations.append(FieldViolation(field, "must not be empty"))
    elif len(cleaned) > limit:
        violations.append(FieldViolation(field, f"must be at most {limit} characters"))
    elif any(unicodedata.category(ch) == "Cc" for ch in cleaned):
        violations.append(FieldViolation(field, "must not contain control characters"))
    return cleaned


def check_optional_text(field: str, value: str, violations: list[FieldViolation], *, limit: int) -> str:
    cleaned = value.strip()
    if len(cleaned) > limit:
        violations.append(FieldViolation(field, f"must be at most {limit} characters"))
    return cleaned
