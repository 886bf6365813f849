"""What the handlers need from storage. Implemented by adapters.postgres and by the fakes in
tests/unit; the same contract tests run against both."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from likeness_common.ports import UnitOfWork as BaseUnitOfWork
from likeness_common.principal import PrincipalKind

from ..domain.model import Agency, Mandate, Platform, Talent, TalentInvitation


class AgencyRepository(Protocol):
    async def add(self, agency: Agency) -> None: ...
    async def get(self, agency_id: str) -> Agency | None: ...
    async def list(self, after: str, limit: int) -> list[Agency]: ...


class PlatformRepository(Protocol):
    async def add(self, platform: Platform) -> None: ...
    async def get(self, platform_id: str) -> Platform | None: ...
    async def list(self, after: str, limit: int) -> list[Platform]: ...


class TalentRepository(Protocol):
    async def add(self, talent: Talent) -> None: ...
    async def get(self, talent_id: str) -> Talent | None: ...
    async def save(self, talent: Talent) -> None:
        """Store `identity_verified_at` (the only field that changes)."""
    async def list(self, after: str, limit: int, *, represented_by: str | None, now: datetime) -> list[Talent]: ...


class MandateRepository(Protocol):
    async def add(self, mandate: Mandate) -> None: ...
    async def get(self, mandate_id: str) -> Mandate | None: ...
    async def save(self, mandate: Mandate) -> None: ...
    async def for_talent(self, talent_id: str) -> list[Mandate]: ...
    async def list(self, after: str, limit: int, *, agency_id: str | None, talent_id: str | None) -> list[Mandate]: ...


class InvitationRepository(Protocol):
    async def add(self, invitation: TalentInvitation) -> None: ...
    async def get(self, invitation_id: str) -> TalentInvitation | None: ...
    async def by_code(self, code_id: str) -> TalentInvitation | None:
        """The invitation whose code has this id, locked for the rest of the transaction."""
    async def save(self, invitation: TalentInvitation) -> None:
        """Store `redeemed_at` (the only field that changes)."""


class CredentialStore(Protocol):
    async def issue(self, kind: PrincipalKind, principal_id: str, *, identity_verified: bool = False, invited_by: str = "") -> str: ...
    async def revoke_all(self, principal_id: str, key_id: str | None = None) -> int:
        """Revoke every live key of the principal (or only `key_id`); -> how many."""


class UnitOfWork(BaseUnitOfWork, Protocol):
    agencies: AgencyRepository
    platforms: PlatformRepository
    talent: TalentRepository
    mandates: MandateRepository
    invitations: InvitationRepository
    credentials: CredentialStore

