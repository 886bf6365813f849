"""Wiring of the verification service: the worker pool, the 1:N index (loaded from and following
Postgres), the consent client, the signing keyring."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

import asyncpg
from google.longrunning import operations_pb2_grpc
from pydantic import AliasChoices, Field
from qdrant_client import QdrantClient

from likeness.verification.v1 import verification_pb2_grpc
from likeness_biometrics import BioConfig
from likeness_common import metrics
from likeness_common.app import ServiceApp
from likeness_common.bootstrap import PerCall, bind
from likeness_common.credentials import PostgresAuthenticator
from likeness_common.crypto import Kek
from likeness_common.db import Migrations
from likeness_common.grpc_server import GrpcServer, ServiceBinding
from likeness_common.provenance import Embedder
from likeness_common.settings import ServiceSettings, SettingsConfigDict
from likeness_common.signing import SigningKeyring
from likeness_common.tls import ClientTls

from . import SERVICE_NAME
from .adapters.consent_client import ConsentClient
from .adapters.engine import WorkerPoolExtractor
from .adapters.index import DEFAULT_NPROBE, IndexFollower, IndexSearcher, LikenessIndex, TemplateLoader, load_cohort
from .adapters.index_cluster import ClusterFollower
from .adapters.operations import PostgresOperations
from .adapters.postgres import PostgresVerificationUnitOfWork
from .domain.calibration import ImpostorTail, PopulationRule
from .domain.model import Modality, Thresholds
from .service_layer import handlers
from .service_layer import operations as lro_handlers
from .service_layer.handlers import SyncBudget
from .service_layer.operations import OperationPolicy, OperationRunner, verify_runner
from .service_layer.ports import C2paTrust
from .servicer import Limits, OperationsServicer, VerificationServicer

MIGRATIONS = Migrations("verification", Path(__file__).parent / "migrations")
OPERATIONS_SERVICE = "google.longrunning.Operations"
_DEFAULT = Thresholds()
# Normalized (z) thresholds of a speaker's mean, from bench/calibration's two disjoint splits over
# clean and platform-transformed speech (README, Calibration): no impostor clip reaches 4.1.
_NORM_MATCH, _NORM_REVIEW = 4.1, 2.4


class VerificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LIKENESS_VERIFICATION_", extra="ignore", populate_by_name=True)

    consent_target: str = Field("127.0.0.1:50052", description="host:port of the consent service.")
    workers: int = Field(2, ge=1, le=64, description="Face worker processes (80-105 MiB each); a video's frames are spread over them.")
    voice_workers: int = Field(1, ge=1, le=16, description="Voice worker processes (Resemblyzer's encoder on numpy, 45-65 MiB each).")
    video_fps: float = Field(1.0, gt=0, le=30, description="Video grid samples per second (plus shot cuts; see Verify coverage).")
    video_max_gap_s: float = Field(1.0, gt=0, description="Longest stretch of a clip without a covered sample for coverage to be complete.")
    index_ivf_min_rows: int = Field(
        200_000, ge=10_000, description="Templates of one modality from which the 1:N index searches through a faiss IVF (below: exact scan)."
    )
    face_nprobe: int = Field(DEFAULT_NPROBE[Modality.FACE], ge=1, description="IVF cells probed per face search (recall against speed; "
                                                                                "see README, 1:N search).")  # fmt: skip
    voice_nprobe: int = Field(DEFAULT_NPROBE[Modality.VOICE], ge=1, description="IVF cells probed per voice search.")
    index_engine: Literal["embedded", "qdrant"] = Field(
        "embedded", description="Where the 1:N index's templates live: `embedded` (each replica's memory, filled from Postgres) or "
                                "`qdrant` (a Qdrant cluster every replica shares; one elected replica writes it).",
    )  # fmt: skip
    qdrant_url: str = Field("", description="With index_engine=qdrant: the cluster's REST URL, e.g. http://qdrant:6333.")
    qdrant_api_key_file: Path | None = Field(None, description="With index_engine=qdrant: a file holding the cluster's API key.")
    qdrant_collection_prefix: str = Field("likeness", pattern=r"^[a-z][a-z0-9_]{0,31}$", description="Collections are <prefix>_<key id>_<digest>_face|voice.")
    qdrant_shards: int = Field(1, ge=1, le=1024, description="Shards of a collection the writer creates.")
    qdrant_replication_factor: int = Field(1, ge=1, le=16, description="Copies of each shard in the cluster (production: 2 or more).")
    qdrant_int8: bool = Field(False, description="Collections the writer creates keep an int8 copy of the vectors in RAM for the graph search "
                                                 "and the float32 originals on disk for the exact re-score (see deploy/README.md, capacity).")
    qdrant_hnsw_ef: int = Field(256, ge=16, le=65_536, description="The graph's search breadth (hnsw_ef) per query; measure on the "
                                                                   "deployment's shard size (bench/engines --efs, README Index engines).")
    index_poll_seconds: float = Field(1.0, gt=0, description="Fallback poll of the index's follower (a NOTIFY from enrollment is the fast path).")
    index_max_staleness_seconds: float = Field(
        5.0, gt=0, description="Verify is refused (UNAVAILABLE) once the index has not caught up with Postgres for this long."
    )
    max_media_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="Media in one Verify request (larger: VerifyStream).")
    max_stream_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="Media assembled from one VerifyStream.")
    sync_video_seconds: float = Field(120.0, gt=0, description="Longest video (or animation) Verify analyses; longer: StartVerifyOperation.")
    sync_audio_seconds: float = Field(600.0, gt=0, description="Longest audio-only clip Verify analyses; longer: StartVerifyOperation.")
    operation_max_bytes: int = Field(256 * 1024 * 1024, ge=1024, description="Media uploaded to one StartVerifyOperation.")
    operation_max_seconds: float = Field(3600.0, gt=0, description="Longest clip a long-running operation analyses (MEDIA_TOO_LONG past it).")
    operation_retention_hours: float = Field(168.0, gt=0, description="How long an ended operation stays readable (its verification stays).")
    operation_lease_seconds: float = Field(30.0, ge=3, description="A replica that stops renewing an operation's lease loses it to another after this.")
    operation_max_attempts: int = Field(3, ge=1, description="Replica stops an operation survives before it fails (ANALYSIS_INTERRUPTED).")
    face_match: float = Field(_DEFAULT.face_match, ge=0, le=1, description="Face score (1 - dlib distance) for a match.")
    face_review: float = Field(_DEFAULT.face_review, ge=0, le=1, description="Face score from which a face is REVIEW evidence.")
    voice_match: float = Field(_DEFAULT.voice_match, ge=-1, le=1, description="Voice cosine for a match.")
    voice_review: float = Field(_DEFAULT.voice_review, ge=-1, le=1, description="Voice cosine from which a voice is REVIEW evidence.")
    voice_window_match: float = Field(_DEFAULT.voice_window_match, ge=-1, le=1, description="Cosine of one ~2 s speech window for a match.")
    voice_window_review: float = Field(_DEFAULT.voice_window_review, ge=-1, le=1, description="Cosine of one speech window for REVIEW evidence.")
    poor_audio_snr_db: float = Field(_DEFAULT.poor_audio_snr_db, description="Speech under this SNR (dB) is too degraded to judge: REVIEW.")
    poor_audio_high_band: float = Field(_DEFAULT.poor_audio_high_band, ge=0, le=1,
                                        description="Speech with less of its energy above 3.6 kHz (telephone band) is too degraded: REVIEW.")  # fmt: skip
    voice_cohort_file: Path | None = Field(
        None, description="Score normalization (S-norm) of a speaker's mean against this cohort: a .npy array of voice embeddings of "
                          "people not enrolled (`likeness cohort build`). Unset: raw cosine thresholds.",
    )  # fmt: skip
    voice_norm_match: float = Field(_NORM_MATCH, description="With a cohort: normalized score of a speaker's mean for a match.")
    voice_norm_review: float = Field(_NORM_REVIEW, description="With a cohort: normalized score from which a speaker's mean is REVIEW evidence.")
    thresholds_reference_templates: int = Field(
        100, ge=1, description="Templates per modality the configured thresholds hold for; past it each is raised so that the expected "
                               "number of strangers' templates reaching it per probe stays the same (README, Thresholds and the population).",
    )  # fmt: skip
    face_impostor_mean: float = Field(0.16, description="Impostor model: mean face score (1 - dlib distance) of a stranger's template.")
    face_impostor_sd: float = Field(0.075, gt=0, description="Impostor model: its standard deviation.")
    voice_impostor_mean: float = Field(0.58, description="Impostor model: mean raw voice cosine of a stranger's template.")
    voice_impostor_sd: float = Field(0.076, gt=0, description="Impostor model: its standard deviation.")
    voice_norm_impostor_sd: float = Field(1.0, gt=0, description="Impostor model: the spread of a stranger's S-norm z (mean 0).")
    voice_mean_confirm_speech_s: float = Field(_DEFAULT.voice_mean_confirm_speech_s, ge=0,
                                               description="A speaker over less speech (seconds) is REVIEW evidence at most.")
    voice_window_confirm_speech_s: float = Field(_DEFAULT.voice_window_confirm_speech_s, ge=0,
                                                 description="A speech window over less speech (seconds) is REVIEW evidence at most.")
    c2pa_cert_chain_file: Path | None = Field(
        None, description="PEM: the C2PA signing certificate and its intermediates (leaf first), for Verify's embed_c2pa. Unset: refused.")
    c2pa_key_file: Path | None = Field(None, description="PEM (PKCS#8): the C2PA signing certificate's P-256 private key.")
    c2pa_trust_anchor_file: Path | None = Field(
        None, description="PEM: the root of the C2PA chain, published by GetC2paTrust (and `likeness keys export`) as the trust anchor.")
    require_identity_verified: bool = Field(
        False, validation_alias=AliasChoices("LIKENESS_VERIFY_REQUIRE_IDENTITY_VERIFIED", "LIKENESS_VERIFICATION_REQUIRE_IDENTITY_VERIFIED"),
        description="An ALLOW that rests on the grant of a talent no operator has identity-verified becomes REVIEW.",
    )  # fmt: skip

    def population_rule(self) -> PopulationRule:
        return PopulationRule(self.thresholds_reference_templates, ImpostorTail(self.face_impostor_mean, self.face_impostor_sd),
                              ImpostorTail(self.voice_impostor_mean, self.voice_impostor_sd), ImpostorTail(0.0, self.voice_norm_impostor_sd))  # fmt: skip

    def thresholds(self) -> Thresholds:
        normalized = self.voice_cohort_file is not None
        return Thresholds(self.face_match, self.face_review, self.voice_match, self.voice_review, self.voice_window_match,
                          self.voice_window_review, self.poor_audio_snr_db, self.poor_audio_high_band,
                          voice_norm_match=self.voice_norm_match if normalized else None,
                          voice_norm_review=self.voice_norm_review if normalized else None,
                          voice_mean_confirm_speech_s=self.voice_mean_confirm_speech_s,
                          voice_window_confirm_speech_s=self.voice_window_confirm_speech_s)  # fmt: skip


@dataclass
class VerificationApp(ServiceApp):
    extractor: WorkerPoolExtractor | None = None
    index: LikenessIndex | None = None
    follower: IndexFollower | ClusterFollower | None = None
    consent: ConsentClient | None = None
    keyring: SigningKeyring | None = None
    runner: OperationRunner | None = None
    _unwatch_index: Callable[[], None] | None = field(default=None, init=False)

    async def on_start(self) -> None:
        await self.extractor.warm_up()
        await self.keyring.ensure_key()
        await self.follower.start()
        self._unwatch_index = metrics.watch_index(self.index.sizes)
        self.runner.start()

    async def on_stop(self) -> None:
        await self.runner.stop()
        if self._unwatch_index is not None:
            self._unwatch_index()
        await self.follower.stop()
        await self.consent.close()
        self.extractor.close()


def followed_index(pool: asyncpg.Pool, dsn: str, kek: Kek, models: dict[str, str], settings: VerificationSettings,
                   qdrant: QdrantClient | None = None) -> tuple[LikenessIndex, TemplateLoader, IndexFollower | ClusterFollower]:  # fmt: skip
    """The 1:N index as these settings configure it, loaded from and following Postgres: the
    verification service's own, and the enrollment service's replica for its duplicate-likeness
    check (one configuration, so both search alike). `models`: modality -> "name/version".
    `qdrant`: the cluster's client (default: made from the settings; tests pass a local one)."""
    nprobe = {Modality.FACE: settings.face_nprobe, Modality.VOICE: settings.voice_nprobe}
    cohort = load_cohort(settings.voice_cohort_file) if settings.voice_cohort_file else None
    review = settings.thresholds().voice_norm_review
    if settings.index_engine == "embedded":
        index = LikenessIndex(models, settings.index_ivf_min_rows, nprobe, cohort, review)
        loader = TemplateLoader(pool, kek, index)
        return index, loader, IndexFollower(pool, dsn, loader, settings.index_poll_seconds, settings.index_max_staleness_seconds)
    index = LikenessIndex(models, voice_norm=cohort, voice_norm_review=review, engines={})  # attached by the follower's start
    loader = TemplateLoader(pool, kek, index)
    follower = ClusterFollower(pool, dsn, kek, loader, index, qdrant or qdrant_client(settings), settings.qdrant_collection_prefix,
                               settings.qdrant_shards, settings.qdrant_replication_factor, settings.qdrant_int8,
                               settings.index_poll_seconds, settings.index_max_staleness_seconds, settings.qdrant_hnsw_ef)  # fmt: skip
    return index, loader, follower


def qdrant_client(settings: VerificationSettings) -> QdrantClient:
    if not settings.qdrant_url:
        raise ValueError("LIKENESS_VERIFICATION_INDEX_ENGINE=qdrant needs LIKENESS_VERIFICATION_QDRANT_URL")
    key = settings.qdrant_api_key_file
    if key is not None and not key.is_file():
        raise FileNotFoundError(f"{key}: no such file (LIKENESS_VERIFICATION_QDRANT_API_KEY_FILE)")
    return QdrantClient(url=settings.qdrant_url, api_key=key.read_text().strip() if key else None, timeout=10)


def c2pa_embedder(settings: VerificationSettings) -> Embedder | None:
    """The C2PA signer for embed_c2pa, or None (embedding refused): both files or neither."""
    chain, key = settings.c2pa_cert_chain_file, settings.c2pa_key_file
    if (chain is None) != (key is None):
        raise ValueError("set both LIKENESS_VERIFICATION_C2PA_CERT_CHAIN_FILE and LIKENESS_VERIFICATION_C2PA_KEY_FILE, or neither")
    return Embedder.from_files(chain, key) if chain and key else None


def c2pa_trust(settings: VerificationSettings, embedder: Embedder | None) -> C2paTrust:
    """What GetC2paTrust publishes: the chain the embedder signs with, and the root when the
    deployment names it."""
    if embedder is None:
        return C2paTrust()
    anchor = settings.c2pa_trust_anchor_file
    if anchor is not None and not anchor.is_file():
        raise FileNotFoundError(f"{anchor}: no such file (LIKENESS_VERIFICATION_C2PA_TRUST_ANCHOR_FILE, the C2PA root; see deploy/README.md)")
    return C2paTrust(anchor.read_text() if anchor else "", embedder.chain_pem.decode())


def build_app(
    pool: asyncpg.Pool, dsn: str, kek: Kek, settings: VerificationSettings, extractor: WorkerPoolExtractor | None = None,
    client_tls: ClientTls | None = None, qdrant: QdrantClient | None = None,
) -> VerificationApp:
    """`dsn`: the index's NOTIFY listener connects with it; `client_tls`: how to reach the consent
    service when it serves TLS (CommonSettings.client_tls()); `qdrant`: see followed_index."""
    thresholds = settings.thresholds()
    if (thresholds.face_review > thresholds.face_match or thresholds.voice_review > thresholds.voice_match
            or thresholds.voice_window_review > thresholds.voice_window_match
            or settings.voice_norm_review > settings.voice_norm_match):  # fmt: skip
        raise ValueError("a review threshold must not be above its match threshold")
    if settings.video_max_gap_s * settings.video_fps < 1 - 1e-9:
        raise ValueError("video_max_gap_s must be at least the grid step 1/video_fps, or no video could be covered completely")
    bio = BioConfig(video_fps=settings.video_fps, video_max_gap_s=settings.video_max_gap_s,
                    max_video_seconds=settings.operation_max_seconds, max_audio_seconds=settings.operation_max_seconds,
                    max_input_bytes=max(settings.operation_max_bytes, settings.max_stream_bytes))  # fmt: skip
    extractor = extractor or WorkerPoolExtractor(settings.workers, settings.voice_workers, bio)
    index, loader, follower = followed_index(pool, dsn, kek, extractor.models, settings, qdrant)
    searcher = IndexSearcher(index, follower, loader)
    consent = ConsentClient(settings.consent_target, client_tls)
    keyring = SigningKeyring(pool, kek)

    def uow() -> PostgresVerificationUnitOfWork:
        return PostgresVerificationUnitOfWork(pool)

    budget = SyncBudget(settings.sync_video_seconds, settings.sync_audio_seconds)
    policy = OperationPolicy(
        max_bytes=settings.operation_max_bytes, max_seconds=settings.operation_max_seconds,
        retention=timedelta(hours=settings.operation_retention_hours), lease=timedelta(seconds=settings.operation_lease_seconds),
        max_attempts=settings.operation_max_attempts,
    )  # fmt: skip
    limits = Limits(min(settings.max_media_bytes, settings.max_message_bytes), settings.max_stream_bytes, settings.max_message_bytes,
                    policy.max_bytes)  # fmt: skip
    operations = PostgresOperations(pool, kek)
    strict = settings.require_identity_verified
    clip_signer = c2pa_embedder(settings)
    population = settings.population_rule()
    run = verify_runner(uow, extractor, searcher, consent.for_caller, keyring, thresholds, policy, require_identity_verified=strict,
                        clip_signer=clip_signer, population_rule=population)  # fmt: skip
    runner = OperationRunner(operations, run, policy)
    h = bind(handlers, uow=PerCall(uow), extractor=extractor, searcher=searcher, signer=keyring, thresholds=thresholds,
             budget=budget, require_identity_verified=strict, clip_signer=clip_signer, population_rule=population)  # fmt: skip
    ops = bind(lro_handlers, operations=operations, extractor=extractor, policy=policy)
    servicer = VerificationServicer(h, ops, consent, limits, runner, c2pa_trust(settings, clip_signer))
    bindings = [
        ServiceBinding(SERVICE_NAME, servicer, verification_pb2_grpc.add_VerificationServiceServicer_to_server),
        ServiceBinding(OPERATIONS_SERVICE, OperationsServicer(h, ops), operations_pb2_grpc.add_OperationsServicer_to_server),
    ]
    server = GrpcServer(bindings, settings, PostgresAuthenticator(pool), {f"/{SERVICE_NAME}/GetC2paTrust"})
    return VerificationApp(server, extractor=extractor, index=index, follower=follower, consent=consent, keyring=keyring,
                           runner=runner)  # fmt: skip
