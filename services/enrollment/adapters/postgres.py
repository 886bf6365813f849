"""asyncpg adapters of the enrollment service."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import numpy as np

from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.events.v1 import events_pb2
from likeness_common import topics
from likeness_common.crypto import Kek
from likeness_common.events import new_event
from likeness_common.idempotency import PostgresIdempotency
from likeness_common.ids import new_id
from likeness_common.outbox import append_events
from likeness_common.proto import ts
from likeness_common.templates import TemplateVault
from likeness_common.uow import PostgresUnitOfWorkBase, represented_talent, represents, talent_exists

from ..domain import events
from ..domain.model import Dispute, DisputeState, Enrollment, EnrollmentState, Modality, Notice, Resolution, pair

SAMPLE, CENTROID = "sample", "centroid"


def _enrollment(row: asyncpg.Record) -> Enrollment:
    return Enrollment(
        enrollment_id=row["enrollment_id"], talent_id=row["talent_id"], modality=Modality(row["modality"]),
        accepted_samples=row["accepted_samples"], rejected_samples=row["rejected_samples"], mean_quality=row["mean_quality"],
        model_name=row["model_name"], model_version=row["model_version"],
        notice=Notice(row["notice_purpose"], timedelta(seconds=row["notice_retention_s"]), row["notice_accepted_at"], row["notice_version"]),
        enrolled_by=row["enrolled_by"], created_at=row["created_at"], retain_until=row["retain_until"], erased_at=row["erased_at"],
        state=EnrollmentState(row["state"]), dispute_ids=tuple(row["dispute_ids"] or ()),
    )  # fmt: skip


# Every enrollment read carries the open disputes holding it: while DISPUTED, those over its talent's
# likeness in its modality.
_ENROLLMENTS = """SELECT e.*, ARRAY(SELECT d.dispute_id FROM likeness_disputes d WHERE e.state = 'DISPUTED' AND d.state = 'OPEN'
    AND d.modality = e.modality AND e.talent_id IN (d.talent_id, d.existing_talent_id) ORDER BY d.dispute_id) AS dispute_ids
    FROM enrollments e"""
_LIKENESS_CHECK_LOCK = 0x4C4B_4443  # "LKDC": enrollments of one modality complete their duplicate check in turn


class PostgresEnrollments:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, e: Enrollment) -> None:
        await self._conn.execute(
            """INSERT INTO enrollments (enrollment_id, talent_id, modality, accepted_samples, rejected_samples, mean_quality,
                   model_name, model_version, notice_purpose, notice_version, notice_retention_s, notice_accepted_at,
                   enrolled_by, created_at, retain_until, state)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)""",
            e.enrollment_id, e.talent_id, e.modality.value, e.accepted_samples, e.rejected_samples, e.mean_quality,
            e.model_name, e.model_version, e.notice.purpose_text, e.notice.version, int(e.notice.retention.total_seconds()),
            e.notice.accepted_at, e.enrolled_by, e.created_at, e.retain_until, e.state.value,
        )  # fmt: skip

    async def lock_likeness_check(self, modality: Modality) -> None:
        await self._conn.execute("SELECT pg_advisory_xact_lock($1, $2)", _LIKENESS_CHECK_LOCK, 0 if modality is Modality.FACE else 1)

    async def set_state(self, enrollment_ids: list[str], state: EnrollmentState) -> None:
        await self._conn.execute("UPDATE enrollments SET state = $2 WHERE enrollment_id = ANY($1::text[])", enrollment_ids, state.value)

    async def get(self, enrollment_id: str) -> Enrollment | None:
        row = await self._conn.fetchrow(f"{_ENROLLMENTS} WHERE e.enrollment_id = $1", enrollment_id)
        return _enrollment(row) if row else None

    async def for_talent(self, talent_id: str, *, for_update: bool = False) -> list[Enrollment]:
        lock = " FOR UPDATE OF e" if for_update else ""
        rows = await self._conn.fetch(f"{_ENROLLMENTS} WHERE e.talent_id = $1 ORDER BY e.enrollment_id{lock}", talent_id)
        return [_enrollment(r) for r in rows]

    async def mark_erased(self, enrollment_ids: list[str], now: datetime) -> None:
        await self._conn.execute("UPDATE enrollments SET erased_at = $2 WHERE enrollment_id = ANY($1::text[])", enrollment_ids, now)

    async def expired(self, now: datetime, limit: int) -> list[Enrollment]:
        rows = await self._conn.fetch(
            f"{_ENROLLMENTS} WHERE e.erased_at IS NULL AND e.retain_until <= $1 ORDER BY e.retain_until LIMIT $2 "
            "FOR UPDATE OF e SKIP LOCKED",
            now, limit,
        )  # fmt: skip
        return [_enrollment(r) for r in rows]


class PostgresTemplates:
    def __init__(self, conn: asyncpg.Connection, kek: Kek) -> None:
        self._vault = TemplateVault(conn, kek)
        self._conn = conn

    async def vectors(self, talent_id: str, modality: Modality) -> list[np.ndarray]:
        return [t.vector for t in await self._vault.for_talent(talent_id, modality.value, SAMPLE)]

    async def add(self, e: Enrollment, vectors: list[np.ndarray]) -> None:
        for vector in vectors:
            await self._vault.add(new_id("tpl"), e.talent_id, e.enrollment_id, e.modality.value, SAMPLE,
                                  e.model_name, e.model_version, vector, e.created_at)  # fmt: skip

    async def replace_centroid(self, talent_id: str, modality: Modality, model: tuple[str, str], vector: np.ndarray | None) -> None:
        await self._vault.delete(talent_id, kind=CENTROID, modality=modality.value)
        if vector is not None:
            await self._vault.add(new_id("tpl"), talent_id, None, modality.value, CENTROID, model[0], model[1], vector,
                                  await self._conn.fetchval("SELECT now()"))  # fmt: skip
        elif not await self._conn.fetchval("SELECT EXISTS (SELECT 1 FROM templates WHERE talent_id = $1)", talent_id):
            await self._vault.shred(talent_id)

    async def erase_talent(self, talent_id: str) -> tuple[int, list[Modality]]:
        modalities = [Modality(r["modality"]) for r in await self._conn.fetch(
            "SELECT DISTINCT modality FROM templates WHERE talent_id = $1 ORDER BY modality", talent_id)]  # fmt: skip
        await self._vault.shred(talent_id)  # first the key: from here on the rows are noise
        erased = await self._vault.delete(talent_id, kind=SAMPLE)
        await self._vault.delete(talent_id, kind=CENTROID)
        return erased, modalities

    async def erase_enrollments(self, talent_id: str, enrollment_ids: list[str]) -> int:
        return await self._vault.delete(talent_id, enrollment_ids=enrollment_ids)


class PostgresParties:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def talent_exists(self, talent_id: str) -> bool:
        return await talent_exists(self._conn, talent_id)

    async def represents(self, agency_id: str, talent_id: str, now: datetime) -> bool:
        return await represents(self._conn, agency_id, talent_id, now)

    async def represented(self, agency_id: str, now: datetime) -> list[str]:
        return await represented_talent(self._conn, agency_id, now)


def _dispute(row: asyncpg.Record) -> Dispute:
    return Dispute(
        dispute_id=row["dispute_id"], modality=Modality(row["modality"]), talent_id=row["talent_id"],
        enrollment_id=row["enrollment_id"], existing_talent_id=row["existing_talent_id"], score=row["score"],
        opened_at=row["opened_at"], state=DisputeState(row["state"]),
        resolution=Resolution(row["resolution"]) if row["resolution"] else None, note=row["note"],
        resolved_at=row["resolved_at"], resolved_by=row["resolved_by"] or "",
    )  # fmt: skip


class PostgresDisputes:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, d: Dispute) -> bool:
        status = await self._conn.execute(
            """INSERT INTO likeness_disputes (dispute_id, modality, talent_id, enrollment_id, existing_talent_id, score, state,
                   note, opened_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT DO NOTHING""",
            d.dispute_id, d.modality.value, d.talent_id, d.enrollment_id, d.existing_talent_id, d.score, d.state.value,
            d.note, d.opened_at,
        )  # fmt: skip
        return status.endswith(" 1")

    async def get(self, dispute_id: str, *, for_update: bool = False) -> Dispute | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(f"SELECT * FROM likeness_disputes WHERE dispute_id = $1{lock}", dispute_id)
        return _dispute(row) if row else None

    async def open_for_talent(self, talent_id: str, modality: Modality) -> list[Dispute]:
        rows = await self._conn.fetch(
            """SELECT * FROM likeness_disputes WHERE state = 'OPEN' AND modality = $2 AND $1 IN (talent_id, existing_talent_id)
                   ORDER BY dispute_id""",
            talent_id, modality.value,
        )  # fmt: skip
        return [_dispute(r) for r in rows]

    async def involving(self, talent_ids: list[str] | None, state: DisputeState | None, after: str, limit: int) -> list[Dispute]:
        rows = await self._conn.fetch(
            """SELECT * FROM likeness_disputes WHERE ($1::text[] IS NULL OR talent_id = ANY($1) OR existing_talent_id = ANY($1))
                   AND ($2::text IS NULL OR state = $2) AND ($3 = '' OR dispute_id < $3) ORDER BY dispute_id DESC LIMIT $4""",
            talent_ids, state.value if state else None, after, limit,
        )  # fmt: skip
        return [_dispute(r) for r in rows]

    async def save(self, d: Dispute) -> None:
        await self._conn.execute(
            "UPDATE likeness_disputes SET state = $2, resolution = $3, note = $4, resolved_at = $5, resolved_by = $6 WHERE dispute_id = $1",
            d.dispute_id, d.state.value, d.resolution.value if d.resolution else None, d.note, d.resolved_at, d.resolved_by or None,
        )  # fmt: skip

    async def distinct(self, talent_a: str, talent_b: str, modality: Modality) -> bool:
        a, b = pair(talent_a, talent_b)
        return await self._conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM distinct_likeness WHERE talent_a = $1 AND talent_b = $2 AND modality = $3)", a, b, modality.value
        )

    async def remember_distinct(self, talent_a: str, talent_b: str, modality: Modality) -> None:
        a, b = pair(talent_a, talent_b)
        await self._conn.execute(
            "INSERT INTO distinct_likeness (talent_a, talent_b, modality, decided_at) VALUES ($1, $2, $3, now()) ON CONFLICT DO NOTHING",
            a, b, modality.value,
        )  # fmt: skip


def _modality_pb(modality: Modality) -> int:
    return epb.Modality.Value(f"MODALITY_{modality.value}")


def _event_proto(event: events.Event) -> events_pb2.Event:
    if isinstance(event, events.DisputeOpened | events.DisputeResolved):
        d = event.dispute
        common = dict(dispute_id=d.dispute_id, modality=_modality_pb(d.modality), held_talent_id=d.talent_id,
                      existing_talent_id=d.existing_talent_id)  # fmt: skip
        if isinstance(event, events.DisputeOpened):
            payload = events_pb2.LikenessDisputeOpened(**common, enrollment_id=d.enrollment_id)
        else:
            assert d.resolution is not None
            payload = events_pb2.LikenessDisputeResolved(**common, resolution=epb.DisputeResolution.Value(f"DISPUTE_RESOLUTION_{d.resolution.value}"))
        return new_event(payload, talent_id=event.key, aggregate_id=d.dispute_id, actor_id=event.actor_id)
    if isinstance(event, events.Enrolled):
        e = event.enrollment
        summary = events_pb2.EnrollmentSummary(
            enrollment_id=e.enrollment_id, accepted_samples=e.accepted_samples, rejected_samples=e.rejected_samples,
            model_name=e.model_name, model_version=e.model_version, mean_quality=e.mean_quality, retain_until=ts(e.retain_until),
        )  # fmt: skip
        payload = events_pb2.FaceEnrolled(enrollment=summary) if e.modality is Modality.FACE else events_pb2.VoiceEnrolled(enrollment=summary)
        return new_event(payload, talent_id=e.talent_id, aggregate_id=e.enrollment_id, actor_id=event.actor_id)
    payload = events_pb2.BiometricsErased(
        modalities=[_modality_pb(m) for m in event.modalities],
        erased_templates=event.erased_templates, reason=event.reason,
    )  # fmt: skip
    return new_event(payload, talent_id=event.talent_id, aggregate_id=event.talent_id, actor_id=event.actor_id)


class PostgresEnrollmentUnitOfWork(PostgresUnitOfWorkBase):
    def __init__(self, pool: asyncpg.Pool, kek: Kek) -> None:
        super().__init__(pool)
        self._kek = kek

    def bind(self, conn: asyncpg.Connection) -> None:
        self.enrollments = PostgresEnrollments(conn)
        self.templates = PostgresTemplates(conn, self._kek)
        self.parties = PostgresParties(conn)
        self.disputes = PostgresDisputes(conn)
        self.idempotency = PostgresIdempotency(conn)

    async def commit(self) -> None:
        await append_events(self._conn, topics.ENROLLMENT.name, [_event_proto(e) for e in self._events])
        await self._finish()
