"""Wiring: the registry's real adapters behind a gRPC server. Used by __main__, dev up and tests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import asyncpg
from pydantic import Field

from likeness.registry.v1 import registry_pb2_grpc
from likeness_common.app import ServiceApp
from likeness_common.bootstrap import PerCall, bind
from likeness_common.credentials import PostgresAuthenticator
from likeness_common.db import Migrations
from likeness_common.grpc_server import GrpcServer, ServiceBinding
from likeness_common.settings import ServiceSettings, SettingsConfigDict

from . import SERVICE_NAME
from .adapters.postgres import PostgresUnitOfWork
from .service_layer import handlers
from .servicer import RegistryServicer

MIGRATIONS = Migrations("registry", Path(__file__).parent / "migrations")


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LIKENESS_REGISTRY_", extra="ignore")

    # How long a talent invitation code can be redeemed (CreateTalentInvitation).
    talent_invitation_ttl_seconds: float = Field(default=7 * 86400, gt=0)


def build_app(pool: asyncpg.Pool, settings: RegistrySettings) -> ServiceApp:
    """The registry's server (nothing runs beside it)."""
    h = bind(handlers, uow=PerCall(lambda: PostgresUnitOfWork(pool)), ttl=timedelta(seconds=settings.talent_invitation_ttl_seconds))
    servicer = RegistryServicer(h)
    binding = ServiceBinding(SERVICE_NAME, servicer, registry_pb2_grpc.add_RegistryServiceServicer_to_server)
    public = {f"/{SERVICE_NAME}/RedeemTalentInvitation"}  # the code is the secret
    return ServiceApp(GrpcServer([binding], settings, PostgresAuthenticator(pool), public))
