"""Commands: what a caller asks the registry to do, already out of protobuf."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RegisterAgency:
    request_id: str
    display_name: str


@dataclass(frozen=True)
class RegisterPlatform:
    request_id: str
    display_name: str


@dataclass(frozen=True)
class RegisterTalent:
    request_id: str
    display_name: str
    external_ref: str = ""
    agency_id: str = ""
    mandate_valid_until: datetime | None = None


@dataclass(frozen=True)
class GrantMandate:
    request_id: str
    agency_id: str
    talent_id: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None


@dataclass(frozen=True)
class EndMandate:
    request_id: str
    mandate_id: str
    reason: str = ""


@dataclass(frozen=True)
class RotateApiKey:
    request_id: str
    principal_id: str = ""


@dataclass(frozen=True)
class RevokeApiKeys:
    request_id: str
    principal_id: str


@dataclass(frozen=True)
class CreateTalentInvitation:
    request_id: str
    talent_id: str


@dataclass(frozen=True)
class IssueTalentCredential:
    request_id: str
    talent_id: str
    identity_verified: bool
    note: str = ""


@dataclass(frozen=True)
class Page:
    size: int
    after: str  # the last id of the previous page; "" for the first page
