"""Domain errors that carry their gRPC status code and a machine-readable reason.

Modelled on googleapis/python-api-core's exceptions.py, but free of any grpc import so domain code
can raise them. The RPC interceptor (`likeness_common.interceptors`) turns each into a
`google.rpc.Status` with one `ErrorInfo(reason, domain, metadata)` and, for invalid arguments, a
`BadRequest` listing the field violations. The message is shown to callers: never put SQL, stack
traces, secrets or media in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .ids import is_id


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class LikenessError(Exception):
    """Base class. `code` is a gRPC status code name; `reason` is UPPER_SNAKE_CASE."""

    code: str = "INTERNAL"
    reason: str = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
        violations: Sequence[FieldViolation] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        self.metadata = dict(metadata or {})
        self.violations = tuple(violations)


class InvalidArgument(LikenessError):
    code = "INVALID_ARGUMENT"
    reason = "INVALID_ARGUMENT"


class Unauthenticated(LikenessError):
    code = "UNAUTHENTICATED"
    reason = "UNAUTHENTICATED"


class PermissionDenied(LikenessError):
    code = "PERMISSION_DENIED"
    reason = "PERMISSION_DENIED"


class NotFound(LikenessError):
    code = "NOT_FOUND"
    reason = "NOT_FOUND"


class AlreadyExists(LikenessError):
    code = "ALREADY_EXISTS"
    reason = "ALREADY_EXISTS"


class FailedPrecondition(LikenessError):
    code = "FAILED_PRECONDITION"
    reason = "FAILED_PRECONDITION"


class ResourceExhausted(LikenessError):
    code = "RESOURCE_EXHAUSTED"
    reason = "RESOURCE_EXHAUSTED"


class RateLimited(ResourceExhausted):
    """Too many calls from one caller: retry after `retry_delay` seconds (sent as google.rpc.RetryInfo)."""

    reason = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_delay: float) -> None:
        super().__init__(message, metadata={"retry_delay_ms": str(max(1, round(retry_delay * 1000)))})
        self.retry_delay = retry_delay


class Unavailable(LikenessError):
    code = "UNAVAILABLE"
    reason = "UNAVAILABLE"


def require(violations: list[FieldViolation], message: str = "invalid request") -> None:
    """Raise InvalidArgument listing every violation, if there are any."""
    if violations:
        detail = "; ".join(f"{v.field}: {v.description}" for v in violations)
        raise InvalidArgument(f"{message}: {detail}", violations=violations)


def check_id(field: str, value: str, prefix: str, violations: list[FieldViolation]) -> None:
    """An id of the kind `prefix` (`tal`, `agc`, ...), the same rule in every service."""
    if not is_id(value, prefix):
        violations.append(FieldViolation(field, f"must be a {prefix}_ id"))


def check_request_id(request_id: str, violations: list[FieldViolation]) -> None:
    """`request_id` (idempotency key) rules, the same on every mutating RPC."""
    if len(request_id) > 128 or not request_id.isprintable():
        violations.append(FieldViolation("request_id", "must be printable and at most 128 characters"))
