"""What verification needs from the world."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from likeness_common.ports import UnitOfWork as BaseUnitOfWork
from likeness_common.provenance import Signed
from likeness_common.signing import Signature

from ..domain.model import ConsentVerdict, Coverage, IncomingProvenance, Modality, Probe, ProbeHit, VerificationRecord


@dataclass(frozen=True)
class Extraction:
    probes: list[Probe]
    coverage: Coverage
    frames: int = 0  # video frames (or 1 image) analysed
    extra: dict[str, Any] = field(default_factory=dict)
    provenance: IncomingProvenance | None = None  # the clip's own C2PA manifest, as read (None: none)


Progress = Callable[[int, int], None]  # (units done, units in all)


@dataclass(frozen=True)
class Duration:
    seconds: float | None  # declared; None for a still image or when the container does not say
    video: bool  # frames to analyse (a video or an animated image), not only sound


class Extractor(Protocol):
    """Decoding, detection and embedding, off the event loop."""

    @property
    def models(self) -> dict[str, str]:
        """Modality name -> "model/version" of the embeddings it makes."""

    def media_type(self, media: bytes) -> str: ...
    async def duration(self, media: bytes, *, media_type: str | None = None) -> Duration:
        """The clip's declared length, from its header."""

    async def extract(self, media: bytes, progress: Progress | None = None, max_seconds: float | None = None, *,
                      media_type: str | None = None) -> Extraction:  # fmt: skip
        """Every probe of the clip and the coverage account; past `max_seconds` of media, MEDIA_TOO_LONG."""


@dataclass(frozen=True)
class C2paTrust:
    """Public: what a validator needs to trust the registry's C2PA manifests (PEM; empty: none)."""

    trust_anchors_pem: str = ""
    signer_chain_pem: str = ""


class ClipSigner(Protocol):
    """Signs the receipt into the clip it judged, embedded or as a sidecar (C2PA:
    likeness_common.provenance.Embedder), off the event loop; raises ValueError when it cannot."""

    async def sign_async(self, media: bytes, media_type: str, receipt_envelope: bytes, *, ai_disclosure: bool = False,
                         embed: bool = True) -> Signed: ...


class Searcher(Protocol):
    """The 1:N index over every enrolled talent."""

    async def search(self, probes: list[Probe], floor: dict[Modality, float], at_least_as_fresh: str = "",
                     norm_review: float | None = None) -> list[ProbeHit]:  # fmt: skip
        """Every (probe, talent) pair scoring at least floor[modality] (a normalized voice score: at
        least `norm_review`, default the index's own), with the talent's best score, on templates
        that are live now, from an index at least as fresh as the consistency token (UNAVAILABLE
        when it cannot be: never a quieter answer from a stale index)."""

    async def population(self) -> dict[Modality, int]:
        """Templates per modality a search compares a probe with (the thresholds rise with it)."""

    @property
    def models(self) -> dict[str, str]:
        """What shapes its scores beyond the embedding models, for the receipt (the voice
        normalization cohort: {"VOICE_COHORT": its content hash}); empty when nothing does."""


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
    async def list(self, *, platform_id: str | None, talent_ids: list[str] | None, after: str, limit: int) -> list[StoredVerification]:
        """Newest first, ids below `after` (ids are time-ordered); only the platform's own (platform_id)
        or only those that matched one of `talent_ids`; None: no such filter."""


class Disputes(Protocol):
    async def open_for(self, talent_ids: set[str]) -> dict[tuple[str, Modality], str]:
        """(talent, modality) -> the id of an open likeness dispute over it (either side)."""


class TalentIdentity(Protocol):
    async def identity_verified(self, talent_ids: set[str]) -> set[str]:
        """Those of the talent whose identity an operator has verified (the registry's record)."""


class Mandates(Protocol):
    async def represented(self, agency_id: str, now: datetime) -> list[str]:
        """The talent the agency holds an active mandate over."""

    async def represents_any(self, agency_id: str, talent_ids: list[str], now: datetime) -> bool:
        """Does the agency hold an active mandate over at least one of these talent?"""


class VerificationUnitOfWork(BaseUnitOfWork, Protocol):
    verifications: Verifications
    mandates: Mandates
    disputes: Disputes
    talent: TalentIdentity

