"""gRPC server bootstrap shared by every service: grpc.aio, health, reflection, the RPC
interceptor, message size limit, graceful shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from .interceptors import Authenticator, RpcInterceptor
from .ratelimit import RateLimiter
from .settings import ServiceSettings
from .tls import server_credentials

log = structlog.get_logger("likeness.server")


@dataclass(frozen=True)
class ServiceBinding:
    """One servicer and the generated function that registers it."""

    full_name: str  # e.g. "likeness.registry.v1.RegistryService"
    servicer: Any
    add_to_server: Callable[[Any, grpc.aio.Server], None]


class GrpcServer:
    def __init__(
        self,
        bindings: list[ServiceBinding],
        settings: ServiceSettings,
        authenticator: Authenticator,
        public_methods: Collection[str] = (),
    ) -> None:
        self.settings = settings  # the service's own ServiceSettings subclass
        options = [
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        limiter = (
            RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst, max_keys=settings.rate_limit_max_keys)
            if settings.rate_limit_per_second > 0
            else None
        )
        self.server = grpc.aio.server(
            interceptors=[RpcInterceptor(authenticator, public_methods, limiter)], options=options
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        for binding in bindings:
            binding.add_to_server(binding.servicer, self.server)
        self._names = [b.full_name for b in bindings]
        reflection.enable_server_reflection([*self._names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server)
        self.port = 0

    async def start(self) -> int:
        settings = self.settings
        address = f"{settings.host}:{settings.port}"
        if settings.tls_cert_file is not None:
            credentials = server_credentials(settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file)
            self.port = self.server.add_secure_port(address, credentials)
        else:
            self.port = self.server.add_insecure_port(address)
        if self.port == 0:
            raise RuntimeError(f"cannot bind {address}")
        await self.server.start()
        for name in ["", *self._names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        transport = "plaintext" if settings.tls_cert_file is None else "mutual TLS" if settings.tls_client_ca_file else "TLS"
        log.info("grpc server listening", services=self._names, address=f"{settings.host}:{self.port}", transport=transport)
        return self.port

    async def stop(self) -> None:
        for name in ["", *self._names]:
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(self.settings.shutdown_grace_seconds)


async def serve_until_signalled(server: GrpcServer, cleanup: Callable[[], Awaitable[None]] | None = None) -> None:
    """Start, serve until SIGTERM or SIGINT, then drain in-flight RPCs and run `cleanup`."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    await stop.wait()
    log.info("shutting down")
    await server.stop()
    if cleanup is not None:
        await cleanup()
