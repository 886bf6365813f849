"""Ports several services' use cases share (typing only; the adapters live beside them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, Self

from .signing import Signature


class IdempotencyStore(Protocol):
    """`request_id` results, stored in the transaction of the change (see idempotency.py)."""

    async def recall(self, principal_id: str, operation: str, request_id: str, parameters: Any) -> dict | None: ...
    async def remember(self, principal_id: str, operation: str, request_id: str, parameters: Any, result: dict) -> None: ...


class Signer(Protocol):
    async def sign(self, build: Callable[[str], bytes]) -> tuple[bytes, Signature]:
        """Sign build(key_id) with the current key; return the payload and signature."""


class UnitOfWork(Protocol):
    """One transaction per use case (`async with uow: ... await uow.commit()`): the changes, the
    events emitted (the outbox) and the request_id results become durable together, or none of
    them. Each service's unit of work adds its repositories."""

    idempotency: IdempotencyStore

    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc: object) -> None: ...
    def emit(self, event: Any) -> None: ...
    async def commit(self) -> Any:
        """Make the changes and the emitted events durable together."""
