"""Long-running Verify operations in Postgres (migrations/0002_verify_operations.sql).

Any replica reads any operation. A replica runs an operation it has claimed with
`FOR UPDATE SKIP LOCKED` and renews the claim's lease while it works; when a replica stops, the
lease lapses and another one claims the operation again (attempts + 1). The uploaded media and the
caller's API key are sealed with AES-256-GCM under a random per-operation data key, itself wrapped
by the KEK (as templates are), and deleted when the operation ends.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from likeness_common.crypto import Kek

from ..domain.operations import CANCELLED, OperationError, OperationState, VerifyOperation, interrupted_error

CHUNK = 1024 * 1024
_NONCE = 12


@dataclass(frozen=True)
class Claim:
    """An operation this replica now runs, with what it needs to run it."""

    operation: VerifyOperation
    api_key: str
    media: bytes


def _seal(dek: bytes, plaintext: bytes, aad: str) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(dek).encrypt(nonce, plaintext, aad.encode())


def _open(dek: bytes, sealed: bytes, aad: str) -> bytes:
    return AESGCM(dek).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad.encode())


class PostgresOperations:
    def __init__(self, pool: asyncpg.Pool, kek: Kek) -> None:
        self._pool, self._kek = pool, kek

    async def create(self, op: VerifyOperation, media: bytes, api_key: str) -> tuple[VerifyOperation, bool]:
        """Store a new operation (QUEUED) with its sealed media; (the operation, True). When the
        platform already started one with this request_id: (that one, False)."""
        dek = os.urandom(32)
        wrapped = self._kek.wrap(dek, op.operation_id.encode())
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """INSERT INTO verify_operations (operation_id, platform_id, request_id, params, media_sha256, media_bytes,
                       media_seconds, state, wrapped_key, sealed_api_key, created_at, updated_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, 'QUEUED', $8, $9, $10, $10)
                   ON CONFLICT (platform_id, request_id) DO NOTHING RETURNING *""",
                op.operation_id, op.platform_id, op.request_id, json.dumps(op.params), op.media_sha256, op.media_bytes,
                op.media_seconds, wrapped, _seal(dek, api_key.encode(), op.operation_id + "/key"), op.created_at,
            )  # fmt: skip
            if row is None:
                existing = await conn.fetchrow("SELECT * FROM verify_operations WHERE platform_id = $1 AND request_id = $2",
                                               op.platform_id, op.request_id)  # fmt: skip
                return _operation(existing), False
            await conn.copy_records_to_table(
                "verify_operation_media",
                records=[(op.operation_id, n, _seal(dek, media[at : at + CHUNK], f"{op.operation_id}/{n}"))
                         for n, at in enumerate(range(0, len(media), CHUNK))],  # fmt: skip
                columns=["operation_id", "seq", "chunk"],
            )
            return _operation(row), True

    async def get(self, operation_id: str) -> VerifyOperation | None:
        row = await self._pool.fetchrow("SELECT * FROM verify_operations WHERE operation_id = $1", operation_id)
        return None if row is None else _operation(row)

    async def list(self, platform_id: str, after: str, limit: int) -> list[VerifyOperation]:
        rows = await self._pool.fetch(
            """SELECT * FROM verify_operations WHERE platform_id = $1 AND ($2 = '' OR operation_id < $2)
               ORDER BY operation_id DESC LIMIT $3""",
            platform_id, after, limit,
        )  # fmt: skip
        return [_operation(r) for r in rows]

    async def request_cancel(self, operation_id: str, retention: timedelta) -> None:
        """Queued: cancelled at once. Running: the replica running it stops at its next lease renewal."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """UPDATE verify_operations SET cancel_requested = true, updated_at = now() WHERE operation_id = $1
                   AND state IN ('QUEUED', 'RUNNING')""",
                operation_id,
            )  # fmt: skip
            queued = await conn.fetchval("SELECT state = 'QUEUED' FROM verify_operations WHERE operation_id = $1 FOR UPDATE", operation_id)
            if queued:
                await _finish(conn, operation_id, None, OperationState.CANCELLED, "", CANCELLED, retention)

    async def delete(self, operation_id: str) -> None:
        await self._pool.execute("DELETE FROM verify_operations WHERE operation_id = $1", operation_id)

    async def claim(self, owner: str, lease: timedelta, max_attempts: int) -> Claim | None:
        """The oldest operation nobody holds (queued, or running under a lapsed lease), now ours.
        One that has already been started `max_attempts` times fails instead (ANALYSIS_INTERRUPTED)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """UPDATE verify_operations SET state = 'RUNNING', attempts = attempts + 1, lease_owner = $1,
                       lease_until = now() + $2, updated_at = now()
                   WHERE operation_id = (
                       SELECT operation_id FROM verify_operations
                       WHERE state IN ('QUEUED', 'RUNNING') AND (lease_until IS NULL OR lease_until < now())
                       ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1)
                   RETURNING *""",
                owner, lease,
            )  # fmt: skip
            if row is None:
                return None
            op = _operation(row)
            if op.cancel_requested or op.attempts > max_attempts:
                await _end_unrun(conn, op, max_attempts)
                return None
            dek = self._kek.unwrap(bytes(row["wrapped_key"]), op.operation_id.encode())
            api_key = _open(dek, bytes(row["sealed_api_key"]), op.operation_id + "/key").decode()
            chunks = await conn.fetch("SELECT seq, chunk FROM verify_operation_media WHERE operation_id = $1 ORDER BY seq", op.operation_id)
            media = b"".join(_open(dek, bytes(c["chunk"]), f"{op.operation_id}/{c['seq']}") for c in chunks)
            return Claim(op, api_key, media)

    async def renew(self, operation_id: str, owner: str, lease: timedelta, progress: float) -> tuple[bool, bool]:
        """Extend our lease and record progress: (still ours, cancel requested)."""
        row = await self._pool.fetchrow(
            """UPDATE verify_operations SET lease_until = now() + $3, progress = GREATEST(progress, $4), updated_at = now()
               WHERE operation_id = $1 AND lease_owner = $2 AND state = 'RUNNING' RETURNING cancel_requested""",
            operation_id, owner, lease, progress,
        )  # fmt: skip
        return (row is not None, bool(row and row["cancel_requested"]))

    async def finish(self, operation_id: str, owner: str, state: OperationState, verification_id: str = "",
                     error: OperationError | None = None, retention: timedelta | None = None,
                     c2pa_sidecar: bytes | None = None) -> bool:  # fmt: skip
        """End an operation we hold; False when it was no longer ours (another replica took it over)."""
        async with self._pool.acquire() as conn, conn.transaction():
            return await _finish(conn, operation_id, owner, state, verification_id, error, retention, c2pa_sidecar)

    async def sweep(self) -> int:
        """Delete operations past their expire_at (their verifications stay)."""
        status = await self._pool.execute("DELETE FROM verify_operations WHERE expire_at < now()")
        return int(status.split()[-1])


async def _end_unrun(conn: asyncpg.Connection, op: VerifyOperation, max_attempts: int) -> None:
    """An operation claimed only to be ended: cancelled while queued, or interrupted too often."""
    if op.cancel_requested:
        await _finish(conn, op.operation_id, None, OperationState.CANCELLED, "", CANCELLED, None)
    else:
        await _finish(conn, op.operation_id, None, OperationState.FAILED, "", interrupted_error(max_attempts), None)


async def _finish(conn, operation_id: str, owner: str | None, state: OperationState, verification_id: str,
                  error: OperationError | None, retention: timedelta | None, c2pa_sidecar: bytes | None = None) -> bool:  # fmt: skip
    status = await conn.execute(
        """UPDATE verify_operations SET state = $3, verification_id = NULLIF($4, ''), error_code = $5, error_reason = $6,
               error_message = $7, progress = CASE WHEN $3 = 'SUCCEEDED' THEN 1 ELSE progress END, ended_at = now(),
               updated_at = now(), expire_at = now() + COALESCE($8, interval '7 days'), lease_owner = NULL,
               lease_until = NULL, wrapped_key = NULL, sealed_api_key = NULL, c2pa_sidecar = $9
           WHERE operation_id = $1 AND ($2::text IS NULL OR lease_owner = $2) AND state IN ('QUEUED', 'RUNNING')""",
        operation_id, owner, state.value, verification_id, error.code if error else None, error.reason if error else None,
        error.message if error else None, retention, c2pa_sidecar,
    )  # fmt: skip
    ended = status.endswith(" 1")
    if ended:  # the media goes with the end of the operation (never kept)
        await conn.execute("DELETE FROM verify_operation_media WHERE operation_id = $1", operation_id)
    return ended


def _operation(row: asyncpg.Record) -> VerifyOperation:
    error = OperationError(row["error_code"], row["error_reason"] or "", row["error_message"] or "") if row["error_code"] else None
    return VerifyOperation(
        operation_id=row["operation_id"], platform_id=row["platform_id"], request_id=row["request_id"],
        params=json.loads(row["params"]), media_sha256=row["media_sha256"], media_bytes=row["media_bytes"],
        media_seconds=row["media_seconds"], state=OperationState(row["state"]), progress=float(row["progress"]),
        attempts=row["attempts"], cancel_requested=row["cancel_requested"], created_at=row["created_at"],
        updated_at=row["updated_at"], ended_at=row["ended_at"], expire_at=row["expire_at"],
        verification_id=row["verification_id"] or "", error=error, c2pa_sidecar=row["c2pa_sidecar"],
    )  # fmt: skip
