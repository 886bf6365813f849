"""Resource ids: a type prefix, then a millisecond timestamp and randomness in Crockford base32.

`tal_01JD3...`: sorts by creation time (keyset pagination orders by id), is unguessable, and says
what it names. Domain-safe: no I/O imports.
"""

from __future__ import annotations

import re
import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BODY = 26  # 10 chars of time + 16 of randomness (80 bits)


def _b32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_id(prefix: str) -> str:
    return f"{prefix}_{_b32(int(time.time() * 1000), 10)}{_b32(secrets.randbits(80), 16)}"


def is_id(value: str, prefix: str) -> bool:
    return re.fullmatch(rf"{prefix}_[{_ALPHABET}]{{{_BODY}}}", value) is not None
