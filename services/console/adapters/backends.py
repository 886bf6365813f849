"""The four services' gRPC stubs, one channel each: what service_layer.ports.Backends is made of."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from likeness.consent.v1 import consent_pb2_grpc
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.registry.v1 import registry_pb2_grpc
from likeness.verification.v1 import verification_pb2_grpc
from likeness_common.tls import ClientTls, aio_channel


@dataclass
class GrpcBackends:
    """One channel per service, shared by every session; each call carries the session's own key."""

    registry: registry_pb2_grpc.RegistryServiceStub
    consent: consent_pb2_grpc.ConsentServiceStub
    enrollment: enrollment_pb2_grpc.EnrollmentServiceStub
    verification: verification_pb2_grpc.VerificationServiceStub
    channels: list[grpc.aio.Channel]

    @classmethod
    def connect(cls, targets: tuple[str, str, str, str], max_upload_bytes: int, tls: ClientTls | None = None) -> GrpcBackends:
        """Call inside the running event loop. `targets`: host:port of registry, consent, enrollment
        and verification. `tls`: how to reach services that serve TLS (LIKENESS_TLS_CA_FILE and, for
        mutual TLS, the client certificate; see CommonSettings)."""
        limit = max_upload_bytes + (1 << 20)
        options = [("grpc.max_send_message_length", limit), ("grpc.max_receive_message_length", 64 << 20)]
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
