"""Domain events: what happened, as plain data. Adapters turn them into protobuf envelopes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AgencyRegistered:
    agency_id: str
    display_name: str
    actor_id: str


@dataclass(frozen=True)
class PlatformRegistered:
    platform_id: str
    display_name: str
    actor_id: str


@dataclass(frozen=True)
class TalentRegistered:
    talent_id: str
    display_name: str
    external_ref: str
    actor_id: str


@dataclass(frozen=True)
class MandateGranted:
    mandate_id: str
    agency_id: str
    talent_id: str
    valid_from: datetime
    valid_until: datetime | None
    actor_id: str


@dataclass(frozen=True)
class MandateEnded:
    mandate_id: str
    agency_id: str
    talent_id: str
    reason: str
    actor_id: str


@dataclass(frozen=True)
class ApiKeysRevoked:
    principal_id: str
    revoked_count: int
    actor_id: str


@dataclass(frozen=True)
class TalentInvitationCreated:
    invitation_id: str
    talent_id: str
    agency_id: str
    expires_at: datetime
    actor_id: str


@dataclass(frozen=True)
class TalentCredentialIssued:
    """From an operator after an identity check (`identity_verified`, `note` says how it was
    checked: audit log only), or from an agency's invitation (`invitation_id`, `invited_by`)."""

    talent_id: str
    identity_verified: bool
    invitation_id: str
    invited_by: str
    note: str
    actor_id: str


Event = (
    AgencyRegistered | PlatformRegistered | TalentRegistered | MandateGranted | MandateEnded | ApiKeysRevoked
    | TalentInvitationCreated | TalentCredentialIssued
)
