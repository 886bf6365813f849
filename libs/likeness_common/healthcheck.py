"""`python -m likeness_common.healthcheck HOST:PORT [SERVICE]`: exit 0 when the gRPC server answers
SERVING on `grpc.health.v1` (container and Kubernetes probes), 1 otherwise."""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from .settings import CommonSettings
from .tls import ClientTls, sync_channel


def check(target: str, service: str = "", timeout: float = 3.0, tls: ClientTls | None = None) -> bool:
    """`tls`: for a server on TLS (default: LIKENESS_TLS_CA_FILE and, for mutual TLS,
    LIKENESS_TLS_CLIENT_CERT_FILE / LIKENESS_TLS_CLIENT_KEY_FILE from the environment)."""
    tls = tls if tls is not None else CommonSettings().client_tls()
    with sync_channel(target, tls) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as error:
            print(f"{target}: {error.code().name}", file=sys.stderr)
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python -m likeness_common.healthcheck HOST:PORT [SERVICE]")
    sys.exit(0 if check(*sys.argv[1:]) else 1)
