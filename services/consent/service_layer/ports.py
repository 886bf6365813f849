"""What the consent use cases need from the outside world."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from likeness_common.ports import UnitOfWork as BaseUnitOfWork

from ..domain.model import Grant


class GrantRepository(Protocol):
    async def add(self, grant: Grant) -> None: ...
    async def get(self, grant_id: str, *, for_update: bool = False) -> Grant | None: ...
    async def save(self, grant: Grant) -> None: ...
    async def list_for_talent(self, talent_id: str, after: str, limit: int) -> list[Grant]: ...
    async def due_for_expiry(self, now: datetime, limit: int) -> list[Grant]: ...


class Parties(Protocol):
    """Read-only view of the registry's parties (same database, registry's tables)."""

    async def talent_exists(self, talent_id: str) -> bool: ...
    async def platform_exists(self, platform_id: str) -> bool: ...
    async def represents(self, agency_id: str, talent_id: str, now: datetime) -> bool: ...


class ConsentUnitOfWork(BaseUnitOfWork, Protocol):
    grants: GrantRepository
    parties: Parties

    async def commit(self) -> int:
        """Commit changes, events and audit entries together; return the new consent revision."""

    async def revision(self) -> int:
        """The current consent revision (for results replayed by request_id)."""

    async def now(self) -> datetime:
        """The database's clock: the one clock every write and check is judged by."""


class ConsentReader(Protocol):
    """The (possibly cached) view checks read from."""

    async def grants_for(self, talent_id: str, min_revision: int) -> tuple[list[Grant], int]:
        """Grants of the talent as of a revision >= min_revision, and that revision."""

    def applied(self, grant: Grant, revision: int) -> None:
        """Read-your-writes: a change this process just committed."""

    def now(self) -> datetime:
        """The database's clock, without a round trip (see likeness_common.freshness.DatabaseClock)."""
