"""Settings of the agency console (prefix `LIKENESS_CONSOLE_`) and its gRPC backends."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from pydantic import Field
from pydantic_settings import BaseSettings

from likeness.consent.v1 import consent_pb2_grpc
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.registry.v1 import registry_pb2_grpc
from likeness.verification.v1 import verification_pb2_grpc
from likeness_common.settings import SettingsConfigDict
from likeness_common.tls import ClientTls, aio_channel


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


@dataclass
class Backends:
    """One channel per service, shared by every session; each call carries the session's own key."""

    registry: registry_pb2_grpc.RegistryServiceStub
    consent: consent_pb2_grpc.ConsentServiceStub
    enrollment: enrollment_pb2_grpc.EnrollmentServiceStub
    verification: verification_pb2_grpc.VerificationServiceStub
    channels: list[grpc.aio.Channel]

    @classmethod
    def connect(cls, settings: ConsoleSettings, tls: ClientTls | None = None) -> Backends:
        """Call inside the running event loop. `tls`: how to reach services that serve TLS
        (LIKENESS_TLS_CA_FILE and, for mutual TLS, the client certificate; see CommonSettings)."""
        limit = settings.max_upload_bytes + (1 << 20)
        options = [("grpc.max_send_message_length", limit), ("grpc.max_receive_message_length", 64 << 20)]
        targets = (settings.registry_target, settings.consent_target, settings.enrollment_target, settings.verification_target)
        channels = [aio_channel(t, tls, options) for t in targets]
        return cls(
            registry_pb2_grpc.RegistryServiceStub(channels[0]),
            consent_pb2_grpc.ConsentServiceStub(channels[1]),
            enrollment_pb2_grpc.EnrollmentServiceStub(channels[2]),
            verification_pb2_grpc.VerificationServiceStub(channels[3]),
            channels,
        )

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
