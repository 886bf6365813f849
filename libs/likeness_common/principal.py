"""Who is calling. Plain data, shared by every service's domain code."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PrincipalKind(str, enum.Enum):
    OPERATOR = "operator"
    AGENCY = "agency"
    PLATFORM = "platform"
    TALENT = "talent"  # the talent themselves; principal_id is the talent id


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    principal_id: str
    display_name: str = ""
    # Talent credentials only: issued by an operator after an identity check, or redeemed from
    # the invitation of agency `invited_by` (then it may revoke only that agency's grants).
    identity_verified: bool = False
    invited_by: str = ""
    key_id: str = ""  # the API key this call was authenticated with (a talent may hold several)

    @property
    def is_operator(self) -> bool:
        return self.kind is PrincipalKind.OPERATOR

    @property
    def is_agency(self) -> bool:
        return self.kind is PrincipalKind.AGENCY

    @property
    def is_platform(self) -> bool:
        return self.kind is PrincipalKind.PLATFORM

    @property
    def is_talent(self) -> bool:
        return self.kind is PrincipalKind.TALENT

    def is_talent_self(self, talent_id: str) -> bool:
        """The talent `talent_id` calling with a credential of their own (verified or not)."""
        return self.is_talent and self.principal_id == talent_id

    def speaks_for_self(self, talent_id: str) -> bool:
        """The talent `talent_id` with an identity-verified credential: the person themselves, as
        far as the registry knows. Ends mandates, erases biometrics, revokes any grant about them."""
        return self.is_talent_self(talent_id) and self.identity_verified
