"""Settings of the agency console (prefix `LIKENESS_CONSOLE_`) and wiring: its gRPC backends and
session store behind the web app. Used by __main__ and tests."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings
from starlette.applications import Starlette

from likeness_common.settings import SettingsConfigDict
from likeness_common.tls import ClientTls

from .adapters.backends import GrpcBackends
from .adapters.sessions import SessionStore
from .web.app import Console, create_app


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIKENESS_CONSOLE_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface the HTTP server binds.")
    port: int = Field(8080, ge=0, le=65535, description="HTTP port.")
    registry_target: str = Field("127.0.0.1:50051", description="host:port of the registry service.")
    consent_target: str = Field("127.0.0.1:50052", description="host:port of the consent service.")
    enrollment_target: str = Field("127.0.0.1:50053", description="host:port of the enrollment service.")
    verification_target: str = Field("127.0.0.1:50054", description="host:port of the verification service.")
    tls_cert_file: Path | None = Field(None, description="Serve HTTPS with this certificate chain (PEM); cookies are then Secure.")
    tls_key_file: Path | None = Field(None, description="Private key (PEM) of tls_cert_file.")
    secure_cookies: bool | None = Field(None, description="Force the Secure cookie flag (behind a TLS proxy); unset: when served over TLS.")
    session_idle_seconds: float = Field(1800, gt=0, description="A session unused this long is signed out.")
    max_sessions: int = Field(10_000, ge=1, description="Sessions kept in memory; the least recently used go first.")
    max_upload_bytes: int = Field(48 * 1024 * 1024, ge=1024, description="Largest enrollment upload (all files together).")
    uses_poll_seconds: float = Field(2.0, gt=0, description="How often the Uses page asks for new decisions.")
    rpc_timeout_seconds: float = Field(60.0, gt=0, description="Deadline of every gRPC call to the services.")


def build_app(settings: ConsoleSettings, client_tls: ClientTls | None = None) -> Starlette:
    """The console: sessions in this process's memory, and the services' gRPC stubs, connected when
    the app starts (inside its event loop). `client_tls`: how to reach services that serve TLS
    (LIKENESS_TLS_CA_FILE and, for mutual TLS, the client certificate; see CommonSettings)."""
    console = Console(settings, SessionStore(settings.session_idle_seconds, settings.max_sessions))
    targets = (settings.registry_target, settings.consent_target, settings.enrollment_target, settings.verification_target)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        backends = GrpcBackends.connect(targets, settings.max_upload_bytes, client_tls)
        console.backends = backends
        try:
            yield
        finally:
            await backends.close()

    return create_app(console, lifespan)
