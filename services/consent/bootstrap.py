"""Wiring of the consent service: Postgres adapters, cached view, signing keyring, expiry sweeper."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from pydantic import Field

from likeness.consent.v1 import consent_pb2_grpc
from likeness_common.app import Periodic, ServiceApp
from likeness_common.bootstrap import PerCall, bind
from likeness_common.credentials import PostgresAuthenticator
from likeness_common.crypto import Kek
from likeness_common.db import Migrations
from likeness_common.grpc_server import GrpcServer, ServiceBinding
from likeness_common.settings import ServiceSettings, SettingsConfigDict
from likeness_common.signing import SigningKeyring

from . import SERVICE_NAME
from .adapters.postgres import CachedConsentView, PostgresConsentUnitOfWork
from .service_layer import handlers
from .servicer import ConsentServicer

MIGRATIONS = Migrations("consent", Path(__file__).parent / "migrations")


class ConsentSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LIKENESS_CONSENT_", extra="ignore")

    view_poll_seconds: float = Field(1.0, gt=0, description="Fallback poll of the cached consent view (NOTIFY is the fast path).")
    view_max_staleness_seconds: float = Field(
        5.0, gt=0, description="Checks are refused (UNAVAILABLE) once the view has not caught up with Postgres for this long."
    )
    expiry_sweep_seconds: float = Field(5.0, gt=0, description="How often ConsentExpired is announced for grants past not_after.")


@dataclass
class ConsentApp(ServiceApp):
    """The server plus what runs beside it: the cached view and the expiry sweeper."""

    view: CachedConsentView | None = None
    keyring: SigningKeyring | None = None

    async def on_start(self) -> None:
        await self.keyring.ensure_key()
        await self.view.start()

    async def on_stop(self) -> None:
        await self.view.stop()


async def _expire(uow: Callable[[], PostgresConsentUnitOfWork]) -> int:
    return len(await handlers.expire_due(uow()))


def build_app(pool: asyncpg.Pool, dsn: str, kek: Kek, settings: ConsentSettings) -> ConsentApp:
    keyring = SigningKeyring(pool, kek)
    view = CachedConsentView(pool, dsn, settings.view_poll_seconds, settings.view_max_staleness_seconds)

    def uow() -> PostgresConsentUnitOfWork:
        return PostgresConsentUnitOfWork(pool)

    h = bind(handlers, uow=PerCall(uow), uow_factory=uow, signer=keyring, reader=view)
    servicer = ConsentServicer(h, view, keyring, pool)
    binding = ServiceBinding(SERVICE_NAME, servicer, consent_pb2_grpc.add_ConsentServiceServicer_to_server)
    public = {f"/{SERVICE_NAME}/GetSigningKeys"}
    server = GrpcServer([binding], settings, PostgresAuthenticator(pool), public)
    sweeper = Periodic("consent-expiry", settings.expiry_sweep_seconds, lambda: _expire(uow))
    return ConsentApp(server, [sweeper], view=view, keyring=keyring)
