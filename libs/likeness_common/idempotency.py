"""`request_id` idempotency, stored in the transaction of the change it protects.

`recall` takes a transaction-scoped advisory lock on (principal, operation, request_id), so two
concurrent retries serialize: the second waits for the first to commit and then reads its result.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import asyncpg

from .errors import InvalidArgument


def fingerprint(parameters: Any) -> bytes:
    return hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode()).digest()


class PostgresIdempotency:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def recall(self, principal_id: str, operation: str, request_id: str, parameters: Any) -> dict | None:
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{principal_id}/{operation}/{request_id}"
        )
        row = await self._conn.fetchrow(
            "SELECT fingerprint, result FROM idempotency_keys "
            "WHERE principal_id = $1 AND operation = $2 AND request_id = $3",
            principal_id,
            operation,
            request_id,
        )
        if row is None:
            return None
        if row["fingerprint"] != fingerprint(parameters):
            raise InvalidArgument(
                "request_id was already used for a different request", reason="REQUEST_ID_REUSED"
            )
        return json.loads(row["result"])

    async def remember(
        self, principal_id: str, operation: str, request_id: str, parameters: Any, result: dict
    ) -> None:
        await self._conn.execute(
            "INSERT INTO idempotency_keys (principal_id, operation, request_id, fingerprint, result) "
            "VALUES ($1, $2, $3, $4, $5::jsonb)",
            principal_id,
            operation,
            request_id,
            fingerprint(parameters),
            json.dumps(result),
        )
