"""asyncpg implementations of the registry's repositories and unit of work."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from likeness_common import credentials, topics
from likeness_common.audit import append_audit
from likeness_common.idempotency import PostgresIdempotency
from likeness_common.outbox import append_events
from likeness_common.principal import PrincipalKind
from likeness_common.uow import PostgresUnitOfWorkBase, active_mandate

from ..domain import events
from ..domain.model import Agency, Mandate, Platform, Talent, TalentInvitation
from .events import to_proto


class _Repository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn


class PostgresAgencies(_Repository):
    async def add(self, agency: Agency) -> None:
        await self._conn.execute(
            "INSERT INTO agencies (agency_id, display_name, created_at) VALUES ($1, $2, $3)",
            agency.agency_id, agency.display_name, agency.created_at,
        )

    async def get(self, agency_id: str) -> Agency | None:
        row = await self._conn.fetchrow("SELECT * FROM agencies WHERE agency_id = $1", agency_id)
        return Agency(**row) if row else None

    async def list(self, after: str, limit: int) -> list[Agency]:
        rows = await self._conn.fetch(
            "SELECT * FROM agencies WHERE agency_id > $1 ORDER BY agency_id LIMIT $2", after, limit
        )
        return [Agency(**r) for r in rows]


class PostgresPlatforms(_Repository):
    async def add(self, platform: Platform) -> None:
        await self._conn.execute(
            "INSERT INTO platforms (platform_id, display_name, created_at) VALUES ($1, $2, $3)",
            platform.platform_id, platform.display_name, platform.created_at,
        )

    async def get(self, platform_id: str) -> Platform | None:
        row = await self._conn.fetchrow("SELECT * FROM platforms WHERE platform_id = $1", platform_id)
        return Platform(**row) if row else None

    async def list(self, after: str, limit: int) -> list[Platform]:
        rows = await self._conn.fetch(
            "SELECT * FROM platforms WHERE platform_id > $1 ORDER BY platform_id LIMIT $2", after, limit
        )
        return [Platform(**r) for r in rows]


class PostgresTalent(_Repository):
    async def add(self, talent: Talent) -> None:
        await self._conn.execute(
            "INSERT INTO talent (talent_id, display_name, external_ref, created_at, identity_verified_at) VALUES ($1, $2, $3, $4, $5)",
            talent.talent_id, talent.display_name, talent.external_ref, talent.created_at, talent.identity_verified_at,
        )

    async def save(self, talent: Talent) -> None:
        await self._conn.execute(
            "UPDATE talent SET identity_verified_at = $2 WHERE talent_id = $1", talent.talent_id, talent.identity_verified_at
        )

    async def get(self, talent_id: str) -> Talent | None:
        row = await self._conn.fetchrow("SELECT * FROM talent WHERE talent_id = $1", talent_id)
        return Talent(**row) if row else None

    async def list(self, after: str, limit: int, *, represented_by: str | None, now: datetime) -> list[Talent]:
        if represented_by is None:
            rows = await self._conn.fetch(
                "SELECT * FROM talent WHERE talent_id > $1 ORDER BY talent_id LIMIT $2", after, limit
            )
        else:
            rows = await self._conn.fetch(
                f"""SELECT t.* FROM talent t
                    WHERE t.talent_id > $1 AND EXISTS (
                        SELECT 1 FROM mandates m
                        WHERE m.talent_id = t.talent_id AND m.agency_id = $3 AND {active_mandate("$4", "m")})
                    ORDER BY t.talent_id LIMIT $2""",
                after, limit, represented_by, now,
            )
        return [Talent(**r) for r in rows]


class PostgresMandates(_Repository):
    _COLUMNS = "mandate_id, agency_id, talent_id, valid_from, valid_until, ended_at, end_reason"

    async def add(self, mandate: Mandate) -> None:
        await self._conn.execute(
            f"INSERT INTO mandates ({self._COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            mandate.mandate_id, mandate.agency_id, mandate.talent_id, mandate.valid_from,
            mandate.valid_until, mandate.ended_at, mandate.end_reason,
        )

    async def get(self, mandate_id: str) -> Mandate | None:
        row = await self._conn.fetchrow(f"SELECT {self._COLUMNS} FROM mandates WHERE mandate_id = $1", mandate_id)
        return Mandate(**row) if row else None

    async def save(self, mandate: Mandate) -> None:
        await self._conn.execute(
            "UPDATE mandates SET ended_at = $2, end_reason = $3 WHERE mandate_id = $1",
            mandate.mandate_id, mandate.ended_at, mandate.end_reason,
        )

    async def for_talent(self, talent_id: str) -> list[Mandate]:
        rows = await self._conn.fetch(f"SELECT {self._COLUMNS} FROM mandates WHERE talent_id = $1", talent_id)
        return [Mandate(**r) for r in rows]

    async def list(self, after: str, limit: int, *, agency_id: str | None, talent_id: str | None) -> list[Mandate]:
        rows = await self._conn.fetch(
            f"""SELECT {self._COLUMNS} FROM mandates
                WHERE mandate_id > $1 AND ($3::text IS NULL OR agency_id = $3)
                  AND ($4::text IS NULL OR talent_id = $4)
                ORDER BY mandate_id LIMIT $2""",
            after, limit, agency_id, talent_id,
        )
        return [Mandate(**r) for r in rows]


class PostgresInvitations(_Repository):
    async def add(self, invitation: TalentInvitation) -> None:
        i = invitation
        await self._conn.execute(
            """INSERT INTO talent_invitations (invitation_id, code_id, talent_id, agency_id, salt, secret_hash, created_at,
                   expires_at, redeemed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            i.invitation_id, i.code_id, i.talent_id, i.agency_id, i.salt, i.secret_hash, i.created_at, i.expires_at, i.redeemed_at,
        )

    async def get(self, invitation_id: str) -> TalentInvitation | None:
        row = await self._conn.fetchrow("SELECT * FROM talent_invitations WHERE invitation_id = $1", invitation_id)
        return TalentInvitation(**row) if row else None

    async def by_code(self, code_id: str) -> TalentInvitation | None:
        row = await self._conn.fetchrow("SELECT * FROM talent_invitations WHERE code_id = $1 FOR UPDATE", code_id)
        return TalentInvitation(**row) if row else None

    async def save(self, invitation: TalentInvitation) -> None:
        await self._conn.execute(
            "UPDATE talent_invitations SET redeemed_at = $2 WHERE invitation_id = $1", invitation.invitation_id, invitation.redeemed_at
        )


class PostgresCredentials(_Repository):
    async def issue(self, kind: PrincipalKind, principal_id: str, *, identity_verified: bool = False, invited_by: str = "") -> str:
        return await credentials.issue_api_key(self._conn, kind, principal_id, identity_verified=identity_verified, invited_by=invited_by)

    async def revoke_all(self, principal_id: str, key_id: str | None = None) -> int:
        return await credentials.revoke_api_keys(self._conn, principal_id, key_id)


class PostgresUnitOfWork(PostgresUnitOfWorkBase):
    """One connection and one transaction; events go to the outbox in the same transaction."""

    def bind(self, conn: asyncpg.Connection) -> None:
        self.agencies = PostgresAgencies(conn)
        self.platforms = PostgresPlatforms(conn)
        self.talent = PostgresTalent(conn)
        self.mandates = PostgresMandates(conn)
        self.invitations = PostgresInvitations(conn)
        self.credentials = PostgresCredentials(conn)
        self.idempotency = PostgresIdempotency(conn)

    async def commit(self) -> None:
        await append_events(self._conn, topics.REGISTRY.name, [to_proto(e) for e in self._events])
        for e in self._events:  # who holds a credential for a talent, and on whose word: audited
            if isinstance(e, events.TalentCredentialIssued):
                await append_audit(
                    self._conn, actor_id=e.actor_id, action="talent.credential_issued", subject_id=e.invitation_id or e.talent_id,
                    talent_id=e.talent_id, details={"identity_verified": e.identity_verified, "invited_by": e.invited_by, "note": e.note},
                )  # fmt: skip
        await self._finish()
