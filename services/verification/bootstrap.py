"""Wiring of the verification service: the worker pool, the 1:N index (Postgres + Kafka), the
consent client, the signing keyring."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from pydantic import Field

from likeness.verification.v1 import verification_pb2_grpc
from likeness_biometrics import BioConfig
from likeness_common import metrics
from likeness_common.app import ServiceApp
from likeness_common.credentials import PostgresAuthenticator
from likeness_common.crypto import Kek
from likeness_common.db import Migrations
from likeness_common.grpc_server import GrpcServer, ServiceBinding
from likeness_common.settings import ServiceSettings, SettingsConfigDict
from likeness_common.signing import SigningKeyring
from likeness_common.tls import ClientTls

from . import SERVICE_NAME
from .adapters.consent_client import ConsentClient
from .adapters.engine import WorkerPoolExtractor
from .adapters.index import EnrollmentFollower, LikenessIndex, TemplateLoader
from .adapters.postgres import PostgresVerificationUnitOfWork
from .domain.model import Modality, Thresholds
from .servicer import Limits, VerificationServicer

MIGRATIONS = Migrations("verification", Path(__file__).parent / "migrations")
_DEFAULT = Thresholds()


class VerificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LIKENESS_VERIFICATION_", extra="ignore")

    consent_target: str = Field("127.0.0.1:50052", description="host:port of the consent service.")
    workers: int = Field(2, ge=1, le=64, description="Face worker processes (80-105 MiB each); a video's frames are spread over them.")
    voice_workers: int = Field(1, ge=1, le=16, description="Voice worker processes (Resemblyzer's encoder on numpy, 45-65 MiB each).")
    video_fps: float = Field(1.0, gt=0, le=30, description="Video frames sampled per second (plus the first frame).")
    index_ivf_min_rows: int = Field(
        200_000, ge=10_000, description="Templates of one modality from which the 1:N index searches through a faiss IVF (below: exact scan)."
    )
    face_nprobe: int = Field(128, ge=1, description="IVF cells probed per face search (recall against speed; see README, 1:N search).")
    voice_nprobe: int = Field(256, ge=1, description="IVF cells probed per voice search.")
    max_media_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="Media in one Verify request (larger: VerifyStream).")
    max_stream_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="Media assembled from one VerifyStream.")
    face_match: float = Field(_DEFAULT.face_match, ge=0, le=1, description="Face score (1 - dlib distance) for a match.")
    face_review: float = Field(_DEFAULT.face_review, ge=0, le=1, description="Face score from which a face is REVIEW evidence.")
    voice_match: float = Field(_DEFAULT.voice_match, ge=-1, le=1, description="Voice cosine for a match.")
    voice_review: float = Field(_DEFAULT.voice_review, ge=-1, le=1, description="Voice cosine from which a voice is REVIEW evidence.")

    def thresholds(self) -> Thresholds:
        return Thresholds(self.face_match, self.face_review, self.voice_match, self.voice_review)


@dataclass
class VerificationApp(ServiceApp):
    extractor: WorkerPoolExtractor | None = None
    index: LikenessIndex | None = None
    loader: TemplateLoader | None = None
    follower: EnrollmentFollower | None = None
    consent: ConsentClient | None = None
    keyring: SigningKeyring | None = None
    _unwatch_index: Callable[[], None] | None = field(default=None, init=False)

    async def on_start(self) -> None:
        await self.extractor.warm_up()
        await self.keyring.ensure_key()
        await self.loader.load_all()
        self._unwatch_index = metrics.watch_index(self.index.sizes)
        self.follower.start()

    async def on_stop(self) -> None:
        if self._unwatch_index is not None:
            self._unwatch_index()
        await self.follower.stop()
        await self.consent.close()
        self.extractor.close()


def build_app(
    pool: asyncpg.Pool, kek: Kek, kafka_bootstrap: str, settings: VerificationSettings, extractor: WorkerPoolExtractor | None = None,
    client_tls: ClientTls | None = None,
) -> VerificationApp:
    """`client_tls`: how to reach the consent service when it serves TLS (CommonSettings.client_tls())."""
    thresholds = settings.thresholds()
    if thresholds.face_review > thresholds.face_match or thresholds.voice_review > thresholds.voice_match:
        raise ValueError("a review threshold must not be above its match threshold")
    extractor = extractor or WorkerPoolExtractor(settings.workers, settings.voice_workers, BioConfig(video_fps=settings.video_fps))
    nprobe = {Modality.FACE: settings.face_nprobe, Modality.VOICE: settings.voice_nprobe}
    index = LikenessIndex(extractor.models, settings.index_ivf_min_rows, nprobe)
    loader = TemplateLoader(pool, kek, index)
    follower = EnrollmentFollower(kafka_bootstrap, loader, index)
    consent = ConsentClient(settings.consent_target, client_tls)
    keyring = SigningKeyring(pool, kek)

    def uow() -> PostgresVerificationUnitOfWork:
        return PostgresVerificationUnitOfWork(pool)

    limits = Limits(min(settings.max_media_bytes, settings.max_message_bytes), settings.max_stream_bytes)
    servicer = VerificationServicer(uow, extractor, index, consent, keyring, thresholds, limits)
    binding = ServiceBinding(SERVICE_NAME, servicer, verification_pb2_grpc.add_VerificationServiceServicer_to_server)
    server = GrpcServer([binding], settings, PostgresAuthenticator(pool))
    return VerificationApp(server, extractor=extractor, index=index, loader=loader, follower=follower, consent=consent, keyring=keyring)
