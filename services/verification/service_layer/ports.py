"""What verification needs from the world."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Self

from likeness_common.ports import IdempotencyStore
from likeness_common.signing import Signature

from ..domain.events import Event
from ..domain.model import ConsentVerdict, Modality, Probe, ProbeHit, VerificationRecord


@dataclass(frozen=True)
class Extraction:
    probes: list[Probe]
    frames: int = 0  # video frames (or 1 image) analysed
    extra: dict[str, Any] = field(default_factory=dict)


class Extractor(Protocol):
    """Decoding, detection and embedding, off the event loop."""

    @property
    def models(self) -> dict[str, str]:
        """Modality name -> "model/version" of the embeddings it makes."""

    def media_type(self, media: bytes) -> str: ...
    async def extract(self, media: bytes) -> Extraction: ...


class Searcher(Protocol):
    """The 1:N index over every enrolled talent."""

    async def search(self, probes: list[Probe], floor: dict[Modality, float]) -> list[ProbeHit]:
        """Every (probe, talent) pair scoring at least floor[modality], with the talent's best score."""


class ConsentChecker(Protocol):
    async def check(self, talent_id: str, modality: Modality, purpose: str, custom_purpose: str, territory: str,
                    at_least_as_fresh: str) -> tuple[ConsentVerdict, str]:  # fmt: skip
        """The consent service's answer for the calling platform, and its consistency token."""


@dataclass(frozen=True)
class StoredVerification:
    record: VerificationRecord
    payload: bytes
    signature: Signature


class Verifications(Protocol):
    async def add(self, stored: StoredVerification) -> None: ...
    async def get(self, verification_id: str) -> StoredVerification | None: ...


class Enrolled(Protocol):
    async def still_enrolled(self, talent_ids: set[str]) -> set[str]:
        """Those of `talent_ids` whose biometrics are not erased (the index may lag an erasure)."""


class VerificationUnitOfWork(Protocol):
    verifications: Verifications
    enrolled: Enrolled
    idempotency: IdempotencyStore

    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc: object) -> None: ...
    def emit(self, event: Event) -> None: ...
    async def commit(self) -> None: ...
