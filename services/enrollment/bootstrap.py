"""Wiring of the enrollment service: Postgres adapters, the biometric worker pool, the retention sweeper."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog
from pydantic import Field

from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness_common.credentials import PostgresAuthenticator
from likeness_common.crypto import Kek
from likeness_common.db import Migrations
from likeness_common.grpc_server import GrpcServer, ServiceBinding
from likeness_common.settings import ServiceSettings, SettingsConfigDict

from . import SERVICE_NAME
from .adapters.engine import WorkerPoolEngine
from .adapters.postgres import PostgresEnrollmentUnitOfWork
from .domain.model import Modality
from .service_layer import handlers
from .servicer import EnrollmentServicer

MIGRATIONS = Migrations("enrollment", Path(__file__).parent / "migrations")
log = structlog.get_logger("likeness.enrollment")


class EnrollmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LIKENESS_ENROLLMENT_", extra="ignore")

    workers: int = Field(1, ge=1, le=64, description="Embedding worker processes (each loads dlib and Resemblyzer once).")
    max_samples: int = Field(20, ge=1, le=200, description="Images or clips per enrollment request.")
    retention_sweep_seconds: float = Field(60.0, gt=0, description="How often enrollments past retain_until are erased.")


@dataclass
class EnrollmentApp:
    server: GrpcServer
    engine: WorkerPoolEngine
    settings: EnrollmentSettings
    uow: Callable[[], PostgresEnrollmentUnitOfWork]
    sweeper: asyncio.Task | None = None

    async def start_background(self) -> None:
        self.sweeper = asyncio.create_task(self._sweep())

    async def stop_background(self) -> None:
        if self.sweeper:
            self.sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.sweeper
        self.engine.close()

    async def start(self) -> int:
        await self.start_background()
        return await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()
        await self.stop_background()

    async def sweep_once(self) -> int:
        models = {m: self.engine.model(m) for m in Modality}
        return await handlers.sweep_retention(self.uow(), models)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.settings.retention_sweep_seconds)
            try:
                if erased := await self.sweep_once():
                    log.info("enrollments past retention erased", count=erased)
            except Exception as error:  # keep sweeping after a database outage
                log.warning("retention sweep failed", error=repr(error))


def build_app(pool: asyncpg.Pool, kek: Kek, settings: EnrollmentSettings, engine: WorkerPoolEngine | None = None) -> EnrollmentApp:
    engine = engine or WorkerPoolEngine(settings.workers)

    def uow() -> PostgresEnrollmentUnitOfWork:
        return PostgresEnrollmentUnitOfWork(pool, kek)

    servicer = EnrollmentServicer(uow, engine, settings.max_samples)
    binding = ServiceBinding(SERVICE_NAME, servicer, enrollment_pb2_grpc.add_EnrollmentServiceServicer_to_server)
    server = GrpcServer([binding], settings, PostgresAuthenticator(pool))
    return EnrollmentApp(server, engine, settings, uow)
