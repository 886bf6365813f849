"""Key-encryption key (KEK) and AES-256-GCM wrapping.

The KEK comes from configuration (`LIKENESS_KEK`, base64 of 32 bytes, or `LIKENESS_KEK_FILE`),
never from the database. It wraps secrets stored in Postgres (signing keys here; per-talent data
keys in enrollment). A wrapped blob is `kek_id (8 bytes) || nonce (12) || ciphertext+tag`, so a
rotated KEK can tell which key wrapped what. `aad` binds a blob to its row (its id): a blob copied
to another row does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import FailedPrecondition

_NONCE = 12
_KID = 8


@dataclass(frozen=True)
class Kek:
    """The current KEK wraps; it and the `previous` ones unwrap (during a rotation, see rotate_kek)."""

    key: bytes
    previous: tuple[Kek, ...] = ()

    @property
    def kek_id(self) -> bytes:
        return hashlib.sha256(b"likeness-kek-id" + self.key).digest()[:_KID]

    def wrap(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return self.kek_id + nonce + AESGCM(self.key).encrypt(nonce, plaintext, aad)

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        for kek in (self, *self.previous):
            if blob[:_KID] == kek.kek_id:
                nonce, body = blob[_KID : _KID + _NONCE], blob[_KID + _NONCE :]
                return AESGCM(kek.key).decrypt(nonce, body, aad)
        raise FailedPrecondition("data was wrapped by another key-encryption key", reason="UNKNOWN_KEK")

    def wrapped_by_current(self, blob: bytes) -> bool:
        return blob[:_KID] == self.kek_id


def new_kek_b64() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def load_kek(value: str | None, file: Path | None, previous_file: Path | None = None) -> Kek:
    if file is not None:
        value = file.read_text().strip()
    if not value:
        raise RuntimeError("no key-encryption key: set LIKENESS_KEK (base64 of 32 bytes) or LIKENESS_KEK_FILE")
    previous = (_decode(previous_file.read_text().strip()),) if previous_file is not None else ()
    return Kek(_decode(value), tuple(Kek(k) for k in previous))


def _decode(value: str) -> bytes:
    key = base64.b64decode(value)
    if len(key) != 32:
        raise RuntimeError("the key-encryption key must be 32 bytes (base64)")
    return key
