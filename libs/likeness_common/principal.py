"""Who is calling. Plain data, shared by every service's domain code."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .errors import PermissionDenied


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


async def require_may_act_for(actor: Principal, talent_id: str, represents: Callable[[str, str], Awaitable[bool]]) -> None:
    """Who acts for a talent, in every service: an operator, or an agency holding an active mandate
    over them (`represents(agency_id, talent_id)`); anyone else is refused (NO_MANDATE)."""
    if actor.is_operator:
        return
    if actor.is_agency and await represents(actor.principal_id, talent_id):
        return
    raise PermissionDenied(f"no active mandate over talent {talent_id}", reason="NO_MANDATE")
