"""Consent commands, already out of protobuf, and their validation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from likeness_common.errors import FieldViolation, check_id, check_request_id, require
from likeness_common.territories import ISO_3166_1_ALPHA_2

from .model import Condition, Modality, Purpose, normalize_custom

MAX_CUSTOM = 20
MAX_CONDITIONS = 20
MAX_TERRITORIES = 300


@dataclass(frozen=True)
class CreateGrant:
    request_id: str
    talent_id: str
    platform_id: str
    any_platform: bool
    modalities: tuple[str, ...]
    purposes: tuple[str, ...]
    custom_purposes: tuple[str, ...]
    territories: tuple[str, ...]
    worldwide: bool
    not_before: datetime | None
    not_after: datetime | None
    conditions: tuple[tuple[str, str], ...]
    terms_ref: str


@dataclass(frozen=True)
class ValidGrantTerms:
    platform_id: str | None
    modalities: frozenset[Modality]
    purposes: frozenset[Purpose]
    custom_purposes: frozenset[str]
    territories: frozenset[str] | None
    not_before: datetime | None
    not_after: datetime | None
    conditions: tuple[Condition, ...]
    terms_ref: str


@dataclass(frozen=True)
class RevokeGrant:
    request_id: str
    grant_id: str
    reason: str


@dataclass(frozen=True)
class CheckConsent:
    talent_id: str
    platform_id: str
    modality: str
    purpose: str
    custom_purpose: str
    territory: str
    at: datetime | None
    at_least_as_fresh: str


def parse_modality(value: str, field: str, violations: list[FieldViolation]) -> Modality | None:
    try:
        return Modality(value)
    except ValueError:
        violations.append(FieldViolation(field, "must be FACE or VOICE"))
        return None


def parse_purpose(value: str, field: str, violations: list[FieldViolation]) -> Purpose | None:
    try:
        return Purpose(value)
    except ValueError:
        violations.append(FieldViolation(field, "must be one of " + ", ".join(p.value for p in Purpose)))
        return None


def parse_territory(value: str, field: str, violations: list[FieldViolation]) -> str:
    code = value.strip().upper()
    if code not in ISO_3166_1_ALPHA_2:
        violations.append(FieldViolation(field, f"{value[:8]!r} is not an ISO 3166-1 alpha-2 code"))
    return code


def validate_terms(cmd: CreateGrant) -> ValidGrantTerms:
    v: list[FieldViolation] = []
    check_request_id(cmd.request_id, v)
    check_id("grant.talent_id", cmd.talent_id, "tal", v)
    if cmd.any_platform == bool(cmd.platform_id):
        v.append(FieldViolation("grant.platform_id", "name one platform, or set any_platform (not both)"))
    elif cmd.platform_id:
        check_id("grant.platform_id", cmd.platform_id, "plt", v)
    modalities = {parse_modality(m, "grant.modalities", v) for m in cmd.modalities}
    if not cmd.modalities:
        v.append(FieldViolation("grant.modalities", "name at least one modality"))
    purposes = {parse_purpose(p, "grant.purposes", v) for p in cmd.purposes}
    custom = {" ".join(c.split()) for c in cmd.custom_purposes}
    if custom:
        purposes.add(Purpose.CUSTOM)
    if not purposes:
        v.append(FieldViolation("grant.purposes", "name at least one purpose"))
    if Purpose.CUSTOM in purposes and not custom:
        v.append(FieldViolation("grant.custom_purposes", "a CUSTOM purpose needs at least one custom purpose"))
    if len(custom) > MAX_CUSTOM or any(not c or len(c) > 100 for c in custom):
        v.append(FieldViolation("grant.custom_purposes", f"at most {MAX_CUSTOM}, each 1-100 characters"))
    if len({normalize_custom(c) for c in custom}) != len(custom):
        v.append(FieldViolation("grant.custom_purposes", "duplicates (case-insensitive)"))
    territories: set[str] | None = None
    if cmd.worldwide == bool(cmd.territories):
        v.append(FieldViolation("grant.territories", "list territories, or set worldwide (not both)"))
    elif not cmd.worldwide:
        if len(cmd.territories) > MAX_TERRITORIES:
            v.append(FieldViolation("grant.territories", "too many territories"))
        else:
            territories = {parse_territory(t, "grant.territories", v) for t in cmd.territories}
    if cmd.not_before and cmd.not_after and cmd.not_after <= cmd.not_before:
        v.append(FieldViolation("grant.not_after", "must be after not_before"))
    if len(cmd.conditions) > MAX_CONDITIONS:
        v.append(FieldViolation("grant.conditions", f"at most {MAX_CONDITIONS}"))
    conditions = []
    for kind, value in cmd.conditions[:MAX_CONDITIONS]:
        if not kind.strip() or len(kind) > 64 or len(value) > 500:
            v.append(FieldViolation("grant.conditions", "kind 1-64 characters, value at most 500"))
        conditions.append(Condition(kind.strip(), value.strip()))
    if len(cmd.terms_ref) > 200 or not cmd.terms_ref.isprintable():
        v.append(FieldViolation("grant.terms_ref", "printable, at most 200 characters"))
    require(v, "invalid grant")
    return ValidGrantTerms(
        platform_id=cmd.platform_id or None,
        modalities=frozenset(m for m in modalities if m),
        purposes=frozenset(p for p in purposes if p),
        custom_purposes=frozenset(custom),
        territories=frozenset(territories) if territories is not None else None,
        not_before=cmd.not_before,
        not_after=cmd.not_after,
        conditions=tuple(dict.fromkeys(conditions)),
        terms_ref=cmd.terms_ref.strip(),
    )
