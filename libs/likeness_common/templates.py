"""Encrypted biometric templates (shared by enrollment, which writes them, and verification,
which loads them into its 1:N index).

Envelope encryption: each talent has a random 256-bit data key (DEK), stored only wrapped by the
KEK (AAD = talent id). Each template is float32 bytes sealed with AES-256-GCM under the DEK
(AAD = template id, so a ciphertext moved to another row does not open). Erasure deletes the
wrapped DEK first (crypto-shredding: every copy of the ciphertext, backups included, becomes
noise), then the rows. KEK rotation (rotate_kek.py) re-wraps DEKs and never touches templates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import numpy as np
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .crypto import Kek

_NONCE = 12


def seal(dek: bytes, vector: np.ndarray, template_id: str) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(dek).encrypt(nonce, np.asarray(vector, dtype="<f4").tobytes(), template_id.encode())


def open_sealed(dek: bytes, sealed: bytes, template_id: str) -> np.ndarray:
    plain = AESGCM(dek).decrypt(sealed[:_NONCE], sealed[_NONCE:], template_id.encode())
    return np.frombuffer(plain, dtype="<f4").copy()


@dataclass(frozen=True)
class StoredTemplate:
    template_id: str
    talent_id: str
    enrollment_id: str | None
    modality: str
    kind: str  # "sample" | "centroid"
    model_name: str
    model_version: str
    vector: np.ndarray


class TemplateVault:
    """Template rows and data keys, on one connection (inside the caller's transaction)."""

    def __init__(self, conn: asyncpg.Connection, kek: Kek) -> None:
        self._conn, self._kek = conn, kek

    async def data_key(self, talent_id: str, *, create: bool) -> bytes | None:
        row = await self._conn.fetchrow("SELECT wrapped_key FROM talent_data_keys WHERE talent_id = $1", talent_id)
        if row is not None:
            return self._kek.unwrap(row["wrapped_key"], talent_id.encode())
        if not create:
            return None
        dek = AESGCM.generate_key(bit_length=256)
        await self._conn.execute(
            "INSERT INTO talent_data_keys (talent_id, wrapped_key) VALUES ($1, $2)", talent_id, self._kek.wrap(dek, talent_id.encode())
        )
        return dek

    async def add(self, template_id: str, talent_id: str, enrollment_id: str | None, modality: str, kind: str,
                  model_name: str, model_version: str, vector: np.ndarray, created_at: datetime) -> None:  # fmt: skip
        dek = await self.data_key(talent_id, create=True)
        assert dek is not None
        await self._conn.execute(
            "INSERT INTO templates (template_id, talent_id, enrollment_id, modality, kind, model_name, model_version, sealed, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            template_id, talent_id, enrollment_id, modality, kind, model_name, model_version,
            seal(dek, vector, template_id), created_at,
        )  # fmt: skip

    async def for_talent(self, talent_id: str, modality: str | None = None, kind: str | None = None) -> list[StoredTemplate]:
        dek = await self.data_key(talent_id, create=False)
        if dek is None:
            return []
        rows = await self._conn.fetch(
            "SELECT * FROM templates WHERE talent_id = $1 AND ($2::text IS NULL OR modality = $2) "
            "AND ($3::text IS NULL OR kind = $3) ORDER BY template_id",
            talent_id, modality, kind,
        )  # fmt: skip
        return [_stored(r, open_sealed(dek, r["sealed"], r["template_id"])) for r in rows]

    async def delete(self, talent_id: str, *, enrollment_ids: list[str] | None = None, kind: str | None = None,
                     modality: str | None = None) -> int:  # fmt: skip
        status = await self._conn.execute(
            "DELETE FROM templates WHERE talent_id = $1 AND ($2::text[] IS NULL OR enrollment_id = ANY($2)) "
            "AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR modality = $4)",
            talent_id, enrollment_ids, kind, modality,
        )  # fmt: skip
        return int(status.split()[-1])

    async def shred(self, talent_id: str) -> bool:
        """Destroy the talent's data key: every template sealed under it is unreadable for good."""
        status = await self._conn.execute("DELETE FROM talent_data_keys WHERE talent_id = $1", talent_id)
        return status.endswith("1")


def _stored(row: asyncpg.Record, vector: np.ndarray) -> StoredTemplate:
    return StoredTemplate(row["template_id"], row["talent_id"], row["enrollment_id"], row["modality"], row["kind"],
                          row["model_name"], row["model_version"], vector)  # fmt: skip
