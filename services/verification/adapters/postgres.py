"""asyncpg adapters of the verification service."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from likeness_common import topics
from likeness_common.audit import append_audit
from likeness_common.events import new_event
from likeness_common.idempotency import PostgresIdempotency
from likeness_common.outbox import append_events
from likeness_common.signing import Signature
from likeness_common.uow import PostgresUnitOfWorkBase, represented_talent, represents_any

from ..domain import events
from ..domain.model import Modality, record_from_receipt
from ..service_layer.ports import StoredVerification
from .proto_mapping import decided_pb


class PostgresVerifications:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, stored: StoredVerification) -> None:
        r, sig = stored.record, stored.signature
        await self._conn.execute(
            """INSERT INTO verifications (verification_id, receipt_id, platform_id, decision, media_sha256, talent_ids,
                   payload, key_id, algorithm, signature, decided_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
            r.verification_id, r.receipt_id, r.platform_id, r.decision.value, r.media_sha256,
            sorted({m.talent_id for m in r.matches}), stored.payload, sig.key_id, sig.algorithm, sig.signature, r.decided_at,
        )  # fmt: skip

    async def get(self, verification_id: str) -> StoredVerification | None:
        row = await self._conn.fetchrow("SELECT * FROM verifications WHERE verification_id = $1", verification_id)
        return None if row is None else _stored(row)

    async def list(self, *, platform_id: str | None, talent_ids: list[str] | None, after: str, limit: int) -> list[StoredVerification]:
        rows = await self._conn.fetch(
            """SELECT * FROM verifications
               WHERE ($1::text IS NULL OR platform_id = $1) AND ($2::text[] IS NULL OR talent_ids && $2::text[])
                 AND ($3 = '' OR verification_id < $3)
               ORDER BY verification_id DESC LIMIT $4""",
            platform_id, talent_ids, after, limit,
        )  # fmt: skip
        return [_stored(row) for row in rows]


def _stored(row: asyncpg.Record) -> StoredVerification:
    payload = bytes(row["payload"])
    return StoredVerification(
        record_from_receipt(json.loads(payload)), payload, Signature(row["key_id"], row["algorithm"], bytes(row["signature"]))
    )


class PostgresDisputes:
    """Open likeness disputes (the enrollment service's table: one database, see README)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def open_for(self, talent_ids: set[str]) -> dict[tuple[str, Modality], str]:
        rows = await self._conn.fetch(
            """SELECT dispute_id, modality, talent_id, existing_talent_id FROM likeness_disputes WHERE state = 'OPEN'
                   AND (talent_id = ANY($1::text[]) OR existing_talent_id = ANY($1::text[])) ORDER BY dispute_id""",
            list(talent_ids),
        )
        found: dict[tuple[str, Modality], str] = {}
        for r in rows:
            for talent in (r["talent_id"], r["existing_talent_id"]):
                found.setdefault((talent, Modality(r["modality"])), r["dispute_id"])
        return found


class PostgresTalentIdentity:
    """The registry's `talent` table (one database, see README)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def identity_verified(self, talent_ids: set[str]) -> set[str]:
        rows = await self._conn.fetch(
            "SELECT talent_id FROM talent WHERE talent_id = ANY($1::text[]) AND identity_verified_at IS NOT NULL", list(talent_ids)
        )
        return {r["talent_id"] for r in rows}


class PostgresMandates:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def represented(self, agency_id: str, now: datetime) -> list[str]:
        return await represented_talent(self._conn, agency_id, now)

    async def represents_any(self, agency_id: str, talent_ids: list[str], now: datetime) -> bool:
        return await represents_any(self._conn, agency_id, talent_ids, now)


class PostgresVerificationUnitOfWork(PostgresUnitOfWorkBase):
    def bind(self, conn: asyncpg.Connection) -> None:
        self.verifications = PostgresVerifications(conn)
        self.mandates = PostgresMandates(conn)
        self.disputes = PostgresDisputes(conn)
        self.talent = PostgresTalentIdentity(conn)
        self.idempotency = PostgresIdempotency(conn)

    async def commit(self) -> None:
        decided: list[events.VerificationDecided] = self._events
        out = []
        for e in decided:
            r = e.record
            talent = e.key if e.key != r.platform_id else ""
            out.append(new_event(decided_pb(r), talent_id=talent, aggregate_id=talent and r.verification_id or r.platform_id,
                                 actor_id=r.platform_id, occurred_at=r.decided_at))  # fmt: skip
        await append_events(self._conn, topics.VERIFICATION.name, out)
        if decided:
            r = decided[0].record
            await append_audit(
                self._conn, actor_id=r.platform_id, action="verification.decided", subject_id=r.verification_id,
                details={"decision": r.decision.value, "receipt_id": r.receipt_id, "media_sha256": r.media_sha256,
                         "talent_ids": sorted({m.talent_id for m in r.matches}), "grant_ids": r.grant_ids},
            )  # fmt: skip
        await self._finish()
