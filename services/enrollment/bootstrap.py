"""Wiring of the enrollment service: Postgres adapters, the biometric worker pool, the retention
sweeper, and the 1:N index replica the duplicate-likeness search runs on (adapters/likeness.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from pydantic import Field

from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness_common.app import Periodic, ServiceApp
from likeness_common.bootstrap import PerCall, bind
from likeness_common.credentials import PostgresAuthenticator
from likeness_common.crypto import Kek
from likeness_common.db import Migrations
from likeness_common.grpc_server import GrpcServer, ServiceBinding
from likeness_common.settings import ServiceSettings, SettingsConfigDict
from verification.adapters.index import IndexFollower, LikenessIndex
from verification.bootstrap import VerificationSettings, followed_index

from . import SERVICE_NAME
from .adapters.engine import WorkerPoolEngine
from .adapters.likeness import IndexLikenessSearch
from .adapters.postgres import PostgresEnrollmentUnitOfWork
from .domain.model import Modality
from .service_layer import handlers
from .servicer import EnrollmentServicer

MIGRATIONS = Migrations("enrollment", Path(__file__).parent / "migrations")


class EnrollmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LIKENESS_ENROLLMENT_", extra="ignore")

    workers: int = Field(1, ge=1, le=64, description="Embedding worker processes (each loads dlib and Resemblyzer once).")
    max_samples: int = Field(20, ge=1, le=200, description="Images or clips per enrollment request.")
    retention_sweep_seconds: float = Field(60.0, gt=0, description="How often enrollments past retain_until are erased.")


@dataclass
class EnrollmentApp(ServiceApp):
    engine: WorkerPoolEngine | None = None
    index: LikenessIndex | None = None
    follower: IndexFollower | None = None

    async def on_start(self) -> None:
        await self.engine.warm_up()  # the first request then pays no model loading
        await self.follower.start()

    async def on_stop(self) -> None:
        await self.follower.stop()
        self.engine.close()


async def _sweep(uow: Callable[[], PostgresEnrollmentUnitOfWork], engine: WorkerPoolEngine) -> int:
    return await handlers.sweep_retention(uow(), {m: engine.model(m) for m in Modality})


def build_app(pool: asyncpg.Pool, dsn: str, kek: Kek, settings: EnrollmentSettings, engine: WorkerPoolEngine | None = None,
              verification: VerificationSettings | None = None) -> EnrollmentApp:  # fmt: skip
    """The duplicate-likeness search uses Verify's thresholds and index settings: `verification`
    (default: read from the same LIKENESS_VERIFICATION_* environment as the verification service)."""
    engine = engine or WorkerPoolEngine(settings.workers)
    verification = verification or VerificationSettings()

    def uow() -> PostgresEnrollmentUnitOfWork:
        return PostgresEnrollmentUnitOfWork(pool, kek)

    index, _loader, follower = followed_index(pool, dsn, kek, {m.value: "/".join(engine.model(m)) for m in Modality}, verification)
    likeness = IndexLikenessSearch(index, follower, verification.thresholds(), verification.population_rule())
    h = bind(handlers, uow=PerCall(uow), engine=engine, likeness=likeness, max_samples=settings.max_samples,
             engine_models={m: engine.model(m) for m in Modality})  # fmt: skip
    servicer = EnrollmentServicer(h)
    binding = ServiceBinding(SERVICE_NAME, servicer, enrollment_pb2_grpc.add_EnrollmentServiceServicer_to_server)
    server = GrpcServer([binding], settings, PostgresAuthenticator(pool))
    sweeper = Periodic("retention-sweep", settings.retention_sweep_seconds, lambda: _sweep(uow, engine))
    return EnrollmentApp(server, [sweeper], engine=engine, index=index, follower=follower)
