"""Consent decisions come from the consent service over gRPC, asked with the calling platform's own
credential: the consent service enforces that a platform checks only its own uses, and
verification holds no credential of its own that could check for anyone.

Deadlines and retries: a check made while serving a Verify gets what is left of the Verify's own
deadline (at most `timeout_seconds`), so a hung consent replica never holds a Verify past it; the
channel's service config retries CheckConsent (idempotent) on UNAVAILABLE with backoff, within that
deadline (gRPC's retry policy: a replica restarting or refusing during a roll-out is retried, not
surfaced)."""

from __future__ import annotations

import json

import grpc

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.consent.v1 import consent_pb2_grpc
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness_common.errors import InvalidArgument, LikenessError, NotFound, PermissionDenied, Unauthenticated, Unavailable
from likeness_common.interceptors import time_left
from likeness_common.proto import enum_name, enum_value
from likeness_common.tls import ClientTls, aio_channel

from ..domain.model import ConsentVerdict, Modality

RETRY_POLICY = {
    "maxAttempts": 3, "initialBackoff": "0.05s", "maxBackoff": "0.5s", "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}  # fmt: skip
SERVICE_CONFIG = json.dumps(
    {"methodConfig": [{"name": [{"service": "likeness.consent.v1.ConsentService", "method": "CheckConsent"}], "retryPolicy": RETRY_POLICY}]}
)


class ConsentClient:
    def __init__(self, target: str, tls: ClientTls | None = None, timeout_seconds: float = 5.0) -> None:
        options = [("grpc.enable_retries", 1), ("grpc.service_config", SERVICE_CONFIG)]
        self._channel = aio_channel(target, tls, options)
        self._stub = consent_pb2_grpc.ConsentServiceStub(self._channel)
        self._timeout = timeout_seconds

    def for_caller(self, api_key: str) -> CallerConsent:
        return CallerConsent(self._stub, [("authorization", f"Bearer {api_key}")], self._timeout)

    async def close(self) -> None:
        await self._channel.close()


class CallerConsent:
    def __init__(self, stub: consent_pb2_grpc.ConsentServiceStub, metadata: list[tuple[str, str]], timeout: float) -> None:
        self._stub, self._metadata, self._timeout = stub, metadata, timeout

    async def check(self, talent_id: str, modality: Modality, purpose: str, custom_purpose: str, territory: str,
                    at_least_as_fresh: str) -> tuple[ConsentVerdict, str]:  # fmt: skip
        request = cpb.CheckConsentRequest(
            talent_id=talent_id, modality=enum_value(epb.Modality, modality.value, "MODALITY_"),
            purpose=enum_value(cpb.Purpose, purpose, "PURPOSE_"), custom_purpose=custom_purpose, territory=territory,
            at_least_as_fresh=at_least_as_fresh,
        )  # fmt: skip
        try:
            resp = await self._stub.CheckConsent(request, metadata=self._metadata, timeout=max(time_left(self._timeout), 0.001))
        except grpc.aio.AioRpcError as error:
            raise _as_domain_error(error) from None
        denial = enum_name(cpb.DenialReason, resp.reason, "DENIAL_REASON_") if resp.reason else ""
        verdict = ConsentVerdict(resp.allowed, tuple(resp.grant_ids), denial, resp.detail,
                                 tuple((c.kind, c.value) for c in resp.conditions))  # fmt: skip
        return verdict, resp.consistency_token


_PASSED_ON = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.NOT_FOUND: NotFound,
}


def _as_domain_error(error: grpc.aio.AioRpcError) -> LikenessError:
    """The consent service's refusal, passed on to the platform; anything else is an outage."""
    kind = _PASSED_ON.get(error.code())
    if kind is not None:
        return kind(f"consent service: {error.details()}")
    return Unavailable(f"the consent service did not answer ({error.code().name})", reason="CONSENT_UNAVAILABLE")
