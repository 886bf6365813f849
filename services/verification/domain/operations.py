"""Long-running Verify operations (AIP-151): states, names and the rules of who sees what. No I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from likeness_common.errors import InvalidArgument
from likeness_common.ids import is_id

NAME_PREFIX = "operations/"


class OperationState(str, enum.Enum):
    QUEUED = "QUEUED"  # uploaded, waiting for a replica
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def done(self) -> bool:
        return self in (OperationState.SUCCEEDED, OperationState.FAILED, OperationState.CANCELLED)


@dataclass(frozen=True)
class OperationError:
    code: str  # a google.rpc.Code name: INVALID_ARGUMENT, CANCELLED, INTERNAL...
    reason: str
    message: str


@dataclass(frozen=True)
class VerifyOperation:
    operation_id: str
    platform_id: str
    request_id: str
    params: dict  # purpose, custom_purpose, territory, content_type, at_least_as_fresh
    media_sha256: str
    media_bytes: int
    media_seconds: float | None
    state: OperationState
    progress: float  # 0..1
    attempts: int
    cancel_requested: bool
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None
    expire_at: datetime | None = None
    verification_id: str = ""
    error: OperationError | None = None
    c2pa_sidecar: bytes | None = None  # SUCCEEDED with embed_c2pa: the registry's manifest for the clip as uploaded

    @property
    def name(self) -> str:
        return NAME_PREFIX + self.operation_id

    @property
    def done(self) -> bool:
        return self.state.done


def operation_id(name: str) -> str:
    """`operations/vop_...` -> `vop_...`; INVALID_ARGUMENT for anything else (never a database lookup)."""
    oid = (name or "").removeprefix(NAME_PREFIX)
    if not name.startswith(NAME_PREFIX) or not is_id(oid, "vop"):
        raise InvalidArgument(f"{name[:60]!r} is not an operation name (operations/vop_...)", reason="BAD_OPERATION_NAME")
    return oid


def interrupted_error(attempts: int) -> OperationError:
    return OperationError("ABORTED", "ANALYSIS_INTERRUPTED",
                          f"the analysis was interrupted {attempts} times (replicas stopped while running it); start it again")  # fmt: skip


CANCELLED = OperationError("CANCELLED", "CANCELLED", "cancelled by the caller")
