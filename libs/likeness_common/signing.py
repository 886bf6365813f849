"""Ed25519 signing keys (the registry's, shared by grants and verification receipts) and the
signed-envelope format that exports them for offline verification.

Keys live in `signing_keys` with the private half wrapped by the KEK. The newest unretired key
signs; retired keys stay listed so old grants and receipts keep verifying.

Canonical JSON (what is signed): UTF-8, keys sorted, no insignificant white space
(`separators=(",", ":")`), non-ASCII kept as is, no floats (scores are strings or integers).
An exported envelope is itself canonical JSON plus a newline:
`{"algorithm": "Ed25519", "key_id": ..., "payload": {...}, "signature": base64, "type": ...}`;
the verifier re-serializes what it parsed and requires the file to be byte-identical, and the
envelope's `type` and `key_id` must equal the signed payload's `version` and `key_id`, so changing
any byte of the file fails verification.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .crypto import Kek
from .documents import canonical_json
from .ids import new_id

ALGORITHM = "Ed25519"


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    public_key: bytes  # raw 32 bytes
    created_at: datetime
    retired_at: datetime | None


@dataclass(frozen=True)
class Signature:
    key_id: str
    algorithm: str
    signature: bytes


class SignatureError(Exception):
    """The signature, the key or the envelope does not check out."""


def verify(payload: bytes, signature: bytes, key_id: str, keys: dict[str, bytes]) -> None:
    if key_id not in keys:
        raise SignatureError(f"unknown signing key {key_id!r}")
    try:
        Ed25519PublicKey.from_public_bytes(keys[key_id]).verify(signature, payload)
    except (InvalidSignature, ValueError):
        raise SignatureError("signature does not match") from None


def envelope(kind: str, payload: bytes, sig: Signature) -> bytes:
    """The exportable, self-describing signed document (canonical JSON + newline)."""
    doc = {
        "type": kind,
        "algorithm": sig.algorithm,
        "key_id": sig.key_id,
        "payload": json.loads(payload),
        "signature": base64.b64encode(sig.signature).decode(),
    }
    return canonical_json(doc) + b"\n"


def verify_envelope(data: bytes, keys: dict[str, bytes], kind: str | None = None) -> dict[str, Any]:
    """Check an exported envelope byte for byte; return its payload."""
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        if canonical_json(doc) + b"\n" != data:
            raise SignatureError("document is not in canonical form (was it edited?)")
        if doc.get("algorithm") != ALGORITHM:
            raise SignatureError(f"unsupported algorithm {doc.get('algorithm')!r}")
        if kind is not None and doc.get("type") != kind:
            raise SignatureError(f"expected a {kind} document, got {doc.get('type')!r}")
        signature = base64.b64decode(doc["signature"], validate=True)
        payload = canonical_json(doc["payload"])
        key_id = doc["key_id"]
        # Only the payload is signed: the envelope's labels must repeat what it says.
        if doc["payload"].get("version") != doc.get("type") or doc["payload"].get("key_id") != key_id:
            raise SignatureError("envelope type or key_id differs from the signed payload")
    except SignatureError:
        raise
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise SignatureError(f"malformed document: {error}") from None
    verify(payload, signature, key_id, keys)
    return doc["payload"]


class SigningKeyring:
    """Signs with the current key; lists every key. Caches the private key for a short while so
    a rotation made by another replica takes effect within `ttl_seconds`."""

    def __init__(self, pool: asyncpg.Pool, kek: Kek, ttl_seconds: float = 10.0) -> None:
        self._pool, self._kek, self._ttl = pool, kek, ttl_seconds
        self._current: tuple[str, Ed25519PrivateKey] | None = None
        self._loaded_at = 0.0

    async def sign(self, build: Callable[[str], bytes]) -> tuple[bytes, Signature]:
        """Sign `build(key_id)` with the current key: documents name the key that signs them."""
        key_id, private = await self._current_key()
        payload = build(key_id)
        return payload, Signature(key_id, ALGORITHM, private.sign(payload))

    async def public_keys(self) -> list[PublicKey]:
        rows = await self._pool.fetch(
            "SELECT key_id, public_key, created_at, retired_at FROM signing_keys ORDER BY created_at"
        )
        return [PublicKey(**r) for r in rows]

    async def public_key_map(self) -> dict[str, bytes]:
        return {k.key_id: k.public_key for k in await self.public_keys()}

    async def rotate(self) -> str:
        """A new current key; the previous ones are retired (still valid for verification)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("LOCK TABLE signing_keys IN EXCLUSIVE MODE")
            await conn.execute("UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL")
            key_id = await self._create(conn)
        self._current = None
        return key_id

    async def ensure_key(self) -> str:
        """Create the first key if there is none (idempotent; safe with concurrent starters)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("LOCK TABLE signing_keys IN EXCLUSIVE MODE")
            current = await conn.fetchval("SELECT key_id FROM signing_keys WHERE retired_at IS NULL")
            return current or await self._create(conn)

    async def _create(self, conn: asyncpg.Connection) -> str:
        key_id = new_id("sk")
        private = Ed25519PrivateKey.generate()
        raw_private = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        raw_public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        await conn.execute(
            "INSERT INTO signing_keys (key_id, algorithm, public_key, private_key_wrapped) VALUES ($1, $2, $3, $4)",
            key_id, ALGORITHM, raw_public, self._kek.wrap(raw_private, key_id.encode()),
        )  # fmt: skip
        return key_id

    async def _current_key(self) -> tuple[str, Ed25519PrivateKey]:
        if self._current is None or time.monotonic() - self._loaded_at > self._ttl:
            row = await self._pool.fetchrow(
                "SELECT key_id, private_key_wrapped FROM signing_keys WHERE retired_at IS NULL "
                "ORDER BY created_at DESC LIMIT 1"
            )
            if row is None:
                await self.ensure_key()
                return await self._current_key()
            raw = self._kek.unwrap(row["private_key_wrapped"], row["key_id"].encode())
            self._current = (row["key_id"], Ed25519PrivateKey.from_private_bytes(raw))
            self._loaded_at = time.monotonic()
        return self._current
