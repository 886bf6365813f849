"""What the handlers need from the world: the four services' gRPC APIs (the calls the console
makes, each with the signed-in user's own key as metadata and a deadline), and the session store
web/ keeps sessions in. Implemented by adapters.backends.GrpcBackends and adapters.sessions, and
by the fakes in tests/unit."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.verification.v1 import verification_pb2 as vpb

from ..domain.model import Session

Metadata = list[tuple[str, str]]


class Registry(Protocol):
    def WhoAmI(self, request: rpb.WhoAmIRequest, *, metadata: Metadata, timeout: float) -> Awaitable[rpb.WhoAmIResponse]: ...
    def GetAgency(self, request: rpb.GetAgencyRequest, *, metadata: Metadata, timeout: float) -> Awaitable[rpb.GetAgencyResponse]: ...
    def GetTalent(self, request: rpb.GetTalentRequest, *, metadata: Metadata, timeout: float) -> Awaitable[rpb.GetTalentResponse]: ...
    def ListTalent(self, request: rpb.ListTalentRequest, *, metadata: Metadata, timeout: float) -> Awaitable[rpb.ListTalentResponse]: ...
    def RegisterTalent(
        self, request: rpb.RegisterTalentRequest, *, metadata: Metadata, timeout: float
    ) -> Awaitable[rpb.RegisterTalentResponse]: ...
    def ListMandates(self, request: rpb.ListMandatesRequest, *, metadata: Metadata, timeout: float) -> Awaitable[rpb.ListMandatesResponse]: ...


class Consent(Protocol):
    def ListGrants(self, request: cpb.ListGrantsRequest, *, metadata: Metadata, timeout: float) -> Awaitable[cpb.ListGrantsResponse]: ...
    def GetGrant(self, request: cpb.GetGrantRequest, *, metadata: Metadata, timeout: float) -> Awaitable[cpb.GetGrantResponse]: ...
    def CreateGrant(self, request: cpb.CreateGrantRequest, *, metadata: Metadata, timeout: float) -> Awaitable[cpb.CreateGrantResponse]: ...
    def RevokeGrant(self, request: cpb.RevokeGrantRequest, *, metadata: Metadata, timeout: float) -> Awaitable[cpb.RevokeGrantResponse]: ...
    def VerifyAuditLog(
        self, request: cpb.VerifyAuditLogRequest, *, metadata: Metadata, timeout: float
    ) -> Awaitable[cpb.VerifyAuditLogResponse]: ...


class Enrollment(Protocol):
    def GetEnrollmentStatus(
        self, request: epb.GetEnrollmentStatusRequest, *, metadata: Metadata, timeout: float
    ) -> Awaitable[epb.GetEnrollmentStatusResponse]: ...
    def ListDisputes(self, request: epb.ListDisputesRequest, *, metadata: Metadata, timeout: float) -> Awaitable[epb.ListDisputesResponse]: ...
    def EnrollFace(self, request: epb.EnrollFaceRequest, *, metadata: Metadata, timeout: float) -> Awaitable[epb.EnrollFaceResponse]: ...
    def EnrollVoice(self, request: epb.EnrollVoiceRequest, *, metadata: Metadata, timeout: float) -> Awaitable[epb.EnrollVoiceResponse]: ...


class Verification(Protocol):
    def ListVerifications(
        self, request: vpb.ListVerificationsRequest, *, metadata: Metadata, timeout: float
    ) -> Awaitable[vpb.ListVerificationsResponse]: ...
    def GetReceipt(self, request: vpb.GetReceiptRequest, *, metadata: Metadata, timeout: float) -> Awaitable[vpb.GetReceiptResponse]: ...


class Backends(Protocol):
    """The services the console asks, one stub each (errors arrive as grpc.RpcError)."""

    registry: Registry
    consent: Consent
    enrollment: Enrollment
    verification: Verification


class Upload(Protocol):
    """A file from the enrollment form (web/ hands starlette's UploadFile)."""

    filename: str | None
    content_type: str | None

    async def read(self) -> bytes: ...


class Sessions(Protocol):
    """Sessions by the id in the browser's cookie (adapters.sessions keeps them in memory)."""

    def get(self, session_id: str | None) -> Session | None: ...
    def new(self, session: Session | None = None) -> tuple[str, Session]:
        """A fresh id for `session` (or a new anonymous one)."""
    def drop(self, session_id: str | None) -> None: ...
