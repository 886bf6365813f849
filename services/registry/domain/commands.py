"""Commands: what a caller asks the registry to do, already out of protobuf. Each validates its
own fields (`validate`), returning the normalized values; who may ask is the handler's question,
asked first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from likeness_common.errors import FieldViolation, check_id, check_request_id, require

from .model import MAX_REF_LENGTH, check_name, check_optional_text

AGENCY, PLATFORM, TALENT, MANDATE, INVITATION = "agc", "plt", "tal", "mnd", "inv"  # id prefixes


@dataclass(frozen=True)
class RegisterParty:
    """An agency or a platform: a name and nothing else."""

    request_id: str
    display_name: str

    def validate(self) -> str:
        """-> the display name, normalized."""
        v: list[FieldViolation] = []
        name = check_name("display_name", self.display_name, v)
        check_request_id(self.request_id, v)
        require(v)
        return name


class RegisterAgency(RegisterParty):
    pass


class RegisterPlatform(RegisterParty):
    pass


@dataclass(frozen=True)
class RegisterTalent:
    request_id: str
    display_name: str
    external_ref: str = ""
    agency_id: str = ""
    mandate_valid_until: datetime | None = None

    def validate(self, now: datetime) -> tuple[str, str]:
        """-> (display name, external ref), normalized."""
        v: list[FieldViolation] = []
        name = check_name("display_name", self.display_name, v)
        ref = check_optional_text("external_ref", self.external_ref, v, limit=MAX_REF_LENGTH)
        check_request_id(self.request_id, v)
        if self.agency_id:
            check_id("agency_id", self.agency_id, AGENCY, v)
        if self.mandate_valid_until is not None and self.mandate_valid_until <= now:
            v.append(FieldViolation("mandate_valid_until", "must be in the future"))
        require(v)
        return name, ref


@dataclass(frozen=True)
class GrantMandate:
    request_id: str
    agency_id: str
    talent_id: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def validate(self, now: datetime) -> datetime:
        """-> when the mandate starts (now unless given)."""
        v: list[FieldViolation] = []
        check_id("agency_id", self.agency_id, AGENCY, v)
        check_id("talent_id", self.talent_id, TALENT, v)
        check_request_id(self.request_id, v)
        valid_from = self.valid_from or now
        if self.valid_until is not None and self.valid_until <= valid_from:
            v.append(FieldViolation("valid_until", "must be after valid_from"))
        require(v)
        return valid_from


@dataclass(frozen=True)
class EndMandate:
    request_id: str
    mandate_id: str
    reason: str = ""

    def validate(self) -> str:
        """-> the reason, trimmed."""
        v: list[FieldViolation] = []
        check_id("mandate_id", self.mandate_id, MANDATE, v)
        check_request_id(self.request_id, v)
        reason = check_optional_text("reason", self.reason, v, limit=500)
        require(v)
        return reason


@dataclass(frozen=True)
class RotateApiKey:
    request_id: str
    principal_id: str = ""

    def validate(self) -> None:
        v: list[FieldViolation] = []
        check_request_id(self.request_id, v)
        require(v)


@dataclass(frozen=True)
class RevokeApiKeys:
    request_id: str
    principal_id: str

    def validate(self) -> None:
        v: list[FieldViolation] = []
        check_request_id(self.request_id, v)
        if not self.principal_id:
            v.append(FieldViolation("principal_id", "must not be empty"))
        require(v)


@dataclass(frozen=True)
class CreateTalentInvitation:
    request_id: str
    talent_id: str

    def validate(self) -> None:
        v: list[FieldViolation] = []
        check_id("talent_id", self.talent_id, TALENT, v)
        check_request_id(self.request_id, v)
        require(v)


@dataclass(frozen=True)
class IssueTalentCredential:
    request_id: str
    talent_id: str
    identity_verified: bool
    note: str = ""

    def validate(self) -> str:
        """-> the note, trimmed."""
        v: list[FieldViolation] = []
        check_id("talent_id", self.talent_id, TALENT, v)
        check_request_id(self.request_id, v)
        if not self.identity_verified:
            v.append(FieldViolation("identity_verified", "must be true: an operator issues a credential only after "
                                    "checking the person's identity (an agency's invitation gives an unverified one)"))  # fmt: skip
        note = check_optional_text("note", self.note, v, limit=500)
        require(v)
        return note


@dataclass(frozen=True)
class Page:
    size: int
    after: str  # the last id of the previous page; "" for the first page
