"""API keys: issued once, stored as a salted SHA-256 hash, checked on every RPC.

A key reads `lk_<key_id>.<secret>`: `key_id` (16 hex chars) finds the row, the 256-bit random
`secret` is compared in constant time against `sha256(salt || secret)`. A fast hash is the right
tool for high-entropy random secrets (as GitHub does for its tokens); a slow KDF only matters for
guessable passwords. Revocation takes effect on the next RPC: nothing is cached.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import asyncpg

from .errors import Unauthenticated
from .principal import Principal, PrincipalKind

PREFIX = "lk_"


def _hash(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


def parse_api_key(api_key: str) -> tuple[str, str]:
    """-> (key_id, secret); Unauthenticated when the key is not shaped like one of ours."""
    if not api_key.startswith(PREFIX) or "." not in api_key or len(api_key) > 200:
        raise Unauthenticated("malformed API key", reason="MALFORMED_API_KEY")
    key_id, _, secret = api_key[len(PREFIX) :].partition(".")
    if len(key_id) != 16 or not secret:
        raise Unauthenticated("malformed API key", reason="MALFORMED_API_KEY")
    return key_id, secret


async def issue_api_key(conn: asyncpg.Connection, kind: PrincipalKind, principal_id: str) -> str:
    """Store a new key for the principal; return it in clear (the only time it exists in clear)."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    await conn.execute(
        "INSERT INTO api_keys (key_id, principal_kind, principal_id, salt, secret_hash) VALUES ($1, $2, $3, $4, $5)",
        key_id,
        kind.value,
        principal_id,
        salt,
        _hash(salt, secret),
    )
    return f"{PREFIX}{key_id}.{secret}"


async def revoke_api_keys(conn: asyncpg.Connection, principal_id: str) -> int:
    status = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE principal_id = $1 AND revoked_at IS NULL", principal_id
    )
    return int(status.split()[-1])


class PostgresAuthenticator:
    """Resolves an API key to a Principal against the `api_keys` table."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def authenticate(self, api_key: str) -> Principal:
        key_id, secret = parse_api_key(api_key)
        row = await self._pool.fetchrow(
            "SELECT principal_kind, principal_id, salt, secret_hash, revoked_at FROM api_keys WHERE key_id = $1",
            key_id,
        )
        if row is None or not hmac.compare_digest(_hash(row["salt"], secret), row["secret_hash"]):
            raise Unauthenticated("unknown API key", reason="UNKNOWN_API_KEY")
        if row["revoked_at"] is not None:
            raise Unauthenticated("API key revoked", reason="API_KEY_REVOKED")
        return Principal(PrincipalKind(row["principal_kind"]), row["principal_id"])
