"""Grants and the rule that decides whether one covers a use.

Scope semantics (tested table-driven in tests/unit/test_consent_scope.py):
- platform: the grant names the platform, or any platform.
- modality: the use's modality is among the grant's.
- purpose: the use's purpose is among the grant's; a CUSTOM purpose matches a grant's custom
  purpose case-insensitively after trimming.
- territory: a worldwide grant covers every territory, including an unknown one (""); otherwise
  the use's ISO 3166-1 alpha-2 code (case-insensitive) must be listed.
- time: `not_before` is inclusive, `not_after` exclusive: valid on [not_before, not_after).
- revocation: a grant revoked at R covers nothing at any instant >= R.
Expiry is judged against the instant of the check (the server clock by default), never against a
sweeper's state, so an expired grant never allows even before the sweeper ran.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime

from likeness_common.documents import GRANT_TYPE
from likeness_common.modality import Modality


class Purpose(str, enum.Enum):
    ADVERTISING = "ADVERTISING"
    DUBBING = "DUBBING"
    SYNTHETIC_PERFORMANCE = "SYNTHETIC_PERFORMANCE"
    TRAINING = "TRAINING"
    EDITORIAL = "EDITORIAL"
    CUSTOM = "CUSTOM"


class GrantState(str, enum.Enum):
    ACTIVE = "ACTIVE"
    PENDING = "PENDING"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"


class Denial(str, enum.Enum):
    """Why a use is not covered, from the outermost scope dimension to the grant's status. For a
    denied check the service reports the reason of the grant that came closest (passed the most
    checks, in this order)."""

    NO_GRANT = "NO_GRANT"
    WRONG_PLATFORM = "WRONG_PLATFORM"
    WRONG_MODALITY = "WRONG_MODALITY"
    WRONG_PURPOSE = "WRONG_PURPOSE"
    OUT_OF_TERRITORY = "OUT_OF_TERRITORY"
    REVOKED = "REVOKED"
    NOT_YET_VALID = "NOT_YET_VALID"
    EXPIRED = "EXPIRED"


_DEPTH = {d: i for i, d in enumerate(Denial)}


def normalize_custom(purpose: str) -> str:
    return " ".join(purpose.split()).casefold()


@dataclass(frozen=True)
class Condition:
    kind: str
    value: str


@dataclass(frozen=True)
class Issuer:
    kind: str  # "agency" | "operator"
    principal_id: str


@dataclass(frozen=True)
class GrantSignature:
    key_id: str
    algorithm: str
    canonical_payload: bytes
    signature: bytes


@dataclass
class Grant:
    grant_id: str
    talent_id: str
    platform_id: str | None  # None: any platform
    modalities: frozenset[Modality]
    purposes: frozenset[Purpose]
    custom_purposes: frozenset[str]
    territories: frozenset[str] | None  # None: worldwide
    not_before: datetime
    not_after: datetime | None
    conditions: tuple[Condition, ...]
    issuer: Issuer
    terms_ref: str
    created_at: datetime
    revoked_at: datetime | None = None
    revoke_reason: str = ""
    signature: GrantSignature | None = None
    expiry_announced: bool = False

    def state(self, now: datetime, *, current: bool = False) -> GrantState:
        """The grant's state at `now`. `current`: `now` is the present, and a revoked grant is then
        revoked whatever `now` says (`revoked_at` is the revoking transaction's clock; a reader's
        clock may lag it). Without `current`, a question about an instant before the revocation
        gets the answer of that instant."""
        if self.revoked_at is not None and (current or now >= self.revoked_at):
            return GrantState.REVOKED
        if self.not_after is not None and now >= self.not_after:
            return GrantState.EXPIRED
        if now < self.not_before:
            return GrantState.PENDING
        return GrantState.ACTIVE

    def first_denial(self, use: Use) -> Denial | None:
        """None when this grant covers the use; else the first check it fails."""
        if self.platform_id is not None and self.platform_id != use.platform_id:
            return Denial.WRONG_PLATFORM
        if use.modality not in self.modalities:
            return Denial.WRONG_MODALITY
        if use.purpose not in self.purposes or (
            use.purpose is Purpose.CUSTOM
            and normalize_custom(use.custom_purpose) not in {normalize_custom(c) for c in self.custom_purposes}
        ):
            return Denial.WRONG_PURPOSE
        if self.territories is not None and use.territory.upper() not in self.territories:
            return Denial.OUT_OF_TERRITORY
        state = self.state(use.at, current=use.current)
        if state is GrantState.REVOKED:
            return Denial.REVOKED
        if state is GrantState.PENDING:
            return Denial.NOT_YET_VALID
        if state is GrantState.EXPIRED:
            return Denial.EXPIRED
        return None

    def canonical(self, key_id: str) -> dict:
        """What is signed: the terms of the grant (not its later status). See README."""

        def iso(moment: datetime | None) -> str | None:
            return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z") if moment else None

        return {
            "version": GRANT_TYPE,
            "grant_id": self.grant_id,
            "talent_id": self.talent_id,
            "platform": self.platform_id or "*",
            "modalities": sorted(m.value for m in self.modalities),
            "purposes": sorted(p.value for p in self.purposes),
            "custom_purposes": sorted(self.custom_purposes),
            "territories": sorted(self.territories) if self.territories is not None else ["*"],
            "not_before": iso(self.not_before),
            "not_after": iso(self.not_after),
            "conditions": sorted([{"kind": c.kind, "value": c.value} for c in self.conditions], key=lambda c: (c["kind"], c["value"])),
            "issuer": {"kind": self.issuer.kind, "principal_id": self.issuer.principal_id},
            "terms_ref": self.terms_ref,
            "issued_at": iso(self.created_at),
            "key_id": key_id,
        }


@dataclass(frozen=True)
class Use:
    """A use of a talent's likeness to judge."""

    talent_id: str
    platform_id: str
    modality: Modality
    purpose: Purpose
    custom_purpose: str
    territory: str
    at: datetime
    current: bool = False  # `at` is the present (a check without an explicit instant)


@dataclass(frozen=True)
class ConsentDecision:
    allowed: bool
    grant_ids: tuple[str, ...] = ()
    reason: Denial | None = None
    detail: str = ""
    conditions: tuple[Condition, ...] = field(default=())


def decide(grants: list[Grant], use: Use) -> ConsentDecision:
    """Allowed when at least one grant covers the use; every covering grant is named."""
    covering = [g for g in grants if g.talent_id == use.talent_id and g.first_denial(use) is None]
    if covering:
        conditions = tuple(dict.fromkeys(c for g in covering for c in g.conditions))
        return ConsentDecision(True, tuple(sorted(g.grant_id for g in covering)), None, "", conditions)
    denials = [(g, g.first_denial(use)) for g in grants if g.talent_id == use.talent_id]
    if not denials:
        return ConsentDecision(False, (), Denial.NO_GRANT, "no grant for this talent")
    closest, reason = max(denials, key=lambda pair: (_DEPTH[pair[1]], pair[0].grant_id))
    assert reason is not None
    return ConsentDecision(False, (), reason, f"closest grant {closest.grant_id}: {reason.value.lower().replace('_', ' ')}")
