"""Ports several services' use cases share (typing only; the adapters live beside them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .signing import Signature


class IdempotencyStore(Protocol):
    """`request_id` results, stored in the transaction of the change (see idempotency.py)."""

    async def recall(self, principal_id: str, operation: str, request_id: str, parameters: Any) -> dict | None: ...
    async def remember(self, principal_id: str, operation: str, request_id: str, parameters: Any, result: dict) -> None: ...


class Signer(Protocol):
    async def sign(self, build: Callable[[str], bytes]) -> tuple[bytes, Signature]:
        """Sign build(key_id) with the current key; return the payload and signature."""
