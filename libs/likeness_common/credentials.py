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
from dataclasses import dataclass

import asyncpg

from .errors import Unauthenticated
from .principal import Principal, PrincipalKind

PREFIX = "lk_"
INVITATION_PREFIX = "lki_"  # a talent invitation code (registry): the same shape, its own prefix


def _hash(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


@dataclass(frozen=True)
class Secret:
    """A freshly made `<prefix><id>.<secret>`: `text` is given out once, the rest is stored."""

    id: str
    salt: bytes
    secret_hash: bytes
    text: str


def new_secret(prefix: str) -> Secret:
    key_id, secret, salt = secrets.token_hex(8), secrets.token_urlsafe(32), secrets.token_bytes(16)
    return Secret(key_id, salt, _hash(salt, secret), f"{prefix}{key_id}.{secret}")


def parse_secret(text: str, prefix: str = PREFIX) -> tuple[str, str] | None:
    """-> (id, secret), or None when `text` is not shaped like one of ours."""
    if not text.startswith(prefix) or "." not in text or len(text) > 200:
        return None
    key_id, _, secret = text[len(prefix) :].partition(".")
    if len(key_id) != 16 or not secret:
        return None
    return key_id, secret


def matches(salt: bytes, secret_hash: bytes, secret: str) -> bool:
    return hmac.compare_digest(_hash(salt, secret), secret_hash)


def parse_api_key(api_key: str) -> tuple[str, str]:
    """-> (key_id, secret); Unauthenticated when the key is not shaped like one of ours."""
    if (parsed := parse_secret(api_key)) is None:
        raise Unauthenticated("malformed API key", reason="MALFORMED_API_KEY")
    return parsed


async def issue_api_key(conn: asyncpg.Connection, kind: PrincipalKind, principal_id: str, *,
                        identity_verified: bool = False, invited_by: str = "") -> str:  # fmt: skip
    """Store a new key for the principal; return it in clear (the only time it exists in clear).
    `identity_verified` and `invited_by` describe a talent's own credential (see Principal)."""
    made = new_secret(PREFIX)
    await conn.execute(
        """INSERT INTO api_keys (key_id, principal_kind, principal_id, salt, secret_hash, identity_verified, invited_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        made.id, kind.value, principal_id, made.salt, made.secret_hash, identity_verified, invited_by,
    )  # fmt: skip
    return made.text


async def revoke_api_keys(conn: asyncpg.Connection, principal_id: str, key_id: str | None = None) -> int:
    """Revoke every live key of the principal, or only `key_id` of them."""
    status = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE principal_id = $1 AND revoked_at IS NULL AND ($2::text IS NULL OR key_id = $2)",
        principal_id, key_id,
    )  # fmt: skip
    return int(status.split()[-1])


class PostgresAuthenticator:
    """Resolves an API key to a Principal against the `api_keys` table."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def authenticate(self, api_key: str) -> Principal:
        key_id, secret = parse_api_key(api_key)
        row = await self._pool.fetchrow(
            """SELECT principal_kind, principal_id, salt, secret_hash, revoked_at, identity_verified, invited_by
               FROM api_keys WHERE key_id = $1""",
            key_id,
        )
        if row is None or not matches(row["salt"], row["secret_hash"], secret):
            raise Unauthenticated("unknown API key", reason="UNKNOWN_API_KEY")
        if row["revoked_at"] is not None:
            raise Unauthenticated("API key revoked", reason="API_KEY_REVOKED")
        return Principal(PrincipalKind(row["principal_kind"]), row["principal_id"],
                         identity_verified=row["identity_verified"], invited_by=row["invited_by"], key_id=key_id)  # fmt: skip
