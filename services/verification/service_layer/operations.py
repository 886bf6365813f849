"""Long-running Verify (AIP-151): start, read, cancel and delete operations, and the runner that
analyses them in the background on whichever replica claims them.

An operation's run is an ordinary Verify (handlers.verify, the same receipt and the same
VerificationDecided event) without the synchronous budget, its idempotency keyed by the operation,
so a run interrupted after it stored its verification finds that verification when it is resumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog

from likeness_common.errors import InvalidArgument, LikenessError, NotFound
from likeness_common.ids import new_id
from likeness_common.ports import Signer
from likeness_common.principal import Principal, PrincipalKind

from ..domain import commands
from ..domain.calibration import PopulationRule
from ..domain.model import Thresholds
from ..domain.operations import OperationError, OperationState, VerifyOperation, operation_id
from . import handlers
from .handlers import require_platform
from .ports import ClipSigner, ConsentChecker, Extractor, Searcher, StoredVerification, VerificationUnitOfWork

log = structlog.get_logger("likeness.verification.operations")


class Operations(Protocol):
    async def create(self, op: VerifyOperation, media: bytes, api_key: str) -> tuple[VerifyOperation, bool]: ...
    async def get(self, operation_id: str) -> VerifyOperation | None: ...
    async def list(self, platform_id: str, after: str, limit: int) -> list[VerifyOperation]: ...
    async def request_cancel(self, operation_id: str, retention: timedelta) -> None: ...
    async def delete(self, operation_id: str) -> None: ...
    async def claim(self, owner: str, lease: timedelta, max_attempts: int): ...
    async def renew(self, operation_id: str, owner: str, lease: timedelta, progress: float) -> tuple[bool, bool]: ...
    async def finish(self, operation_id: str, owner: str, state: OperationState, verification_id: str = "",
                     error: OperationError | None = None, retention: timedelta | None = None,
                     c2pa_sidecar: bytes | None = None) -> bool: ...  # fmt: skip
    async def sweep(self) -> int: ...


@dataclass(frozen=True)
class OperationPolicy:
    max_bytes: int  # media in one operation
    max_seconds: float  # media length (a documented MEDIA_TOO_LONG past it)
    retention: timedelta = timedelta(days=7)  # an ended operation's record (the verification is kept)
    lease: timedelta = timedelta(seconds=30)  # a replica that stops renewing loses the operation after this
    max_attempts: int = 3
    poll_seconds: float = 2.0


_PARAMS = ("purpose", "custom_purpose", "territory", "content_type", "at_least_as_fresh", "embed_c2pa")


async def start(cmd: commands.Verify, actor: Principal, api_key: str, operations: Operations, extractor: Extractor,
                policy: OperationPolicy) -> VerifyOperation:  # fmt: skip
    """Store the upload as a queued operation (idempotent by request_id) and return it at once."""
    require_platform(actor)
    cmd.validate(policy.max_bytes)
    if not cmd.request_id:
        raise InvalidArgument("a long-running operation needs a request_id (it is how a retry finds it)", reason="REQUEST_ID_REQUIRED")
    media_type = handlers.sniffed_type(cmd, extractor)  # before storing anything
    duration = await extractor.duration(cmd.media, media_type=media_type)
    if duration.seconds is not None and duration.seconds > policy.max_seconds:
        raise InvalidArgument(f"media is {duration.seconds:.0f} s long, the limit is {policy.max_seconds:.0f} s", reason="MEDIA_TOO_LONG",
                              metadata={"seconds": f"{duration.seconds:.1f}", "limit": f"{policy.max_seconds:.0f}"})  # fmt: skip
    params = {k: v for k, v in asdict(cmd).items() if k in _PARAMS}
    now = datetime.now(UTC)
    op = VerifyOperation(
        operation_id=new_id("vop"), platform_id=actor.principal_id, request_id=cmd.request_id, params=params,
        media_sha256=hashlib.sha256(cmd.media).hexdigest(), media_bytes=len(cmd.media), media_seconds=duration.seconds,
        state=OperationState.QUEUED, progress=0.0, attempts=0, cancel_requested=False, created_at=now, updated_at=now,
    )  # fmt: skip
    stored, created = await operations.create(op, cmd.media, api_key)
    if not created and (stored.media_sha256 != op.media_sha256 or stored.params != params):
        raise InvalidArgument("this request_id was used for another upload", reason="REQUEST_ID_REUSED")
    return stored


async def get(name: str, actor: Principal, operations: Operations) -> VerifyOperation:
    """Only the platform that started an operation sees it (others get NOT_FOUND, never a hint)."""
    require_platform(actor)
    op = await operations.get(operation_id(name))
    if op is None or op.platform_id != actor.principal_id:
        raise NotFound(f"operation {name} not found")
    return op


async def cancel(name: str, actor: Principal, operations: Operations, policy: OperationPolicy) -> VerifyOperation:
    op = await get(name, actor, operations)
    if not op.done:
        await operations.request_cancel(op.operation_id, policy.retention)
    return await get(name, actor, operations)


async def delete(name: str, actor: Principal, operations: Operations) -> None:
    """Forget the operation record (AIP-151: it no longer interests the caller); a running one is
    cancelled first. The verification it made, if any, stays."""
    op = await get(name, actor, operations)
    if not op.done:
        raise InvalidArgument("cancel the operation, or wait for it to end, before deleting it", reason="OPERATION_RUNNING")
    await operations.delete(op.operation_id)


async def list_operations(actor: Principal, operations: Operations, after: str, limit: int) -> list[VerifyOperation]:
    require_platform(actor)
    return await operations.list(actor.principal_id, after, limit)


RunVerify = Callable[[VerifyOperation, str, bytes, Callable[[int, int], None]], Awaitable[tuple[StoredVerification, bytes | None]]]


def verify_runner(uow: Callable[[], VerificationUnitOfWork], extractor: Extractor, searcher: Searcher,
                  consent_for: Callable[[str], ConsentChecker], signer: Signer, thresholds: Thresholds,
                  policy: OperationPolicy, *, require_identity_verified: bool = False,
                  clip_signer: ClipSigner | None = None, population_rule: PopulationRule | None = None) -> RunVerify:  # fmt: skip
    """An operation's analysis: a Verify for the platform that started it, asking consent with that
    platform's own key (a revoked key fails the operation), without the synchronous budget; with
    embed_c2pa, the registry's C2PA manifest for the clip as uploaded (a sidecar: the operation
    keeps no media, and a sidecar is a few KiB whatever the clip's size)."""

    async def run(op: VerifyOperation, api_key: str, media: bytes, progress: Callable[[int, int], None]) -> tuple[StoredVerification, bytes | None]:
        p = op.params
        cmd = commands.Verify(request_id=op.request_id, media=media, content_type=p["content_type"], purpose=p["purpose"],
                              custom_purpose=p["custom_purpose"], territory=p["territory"], at_least_as_fresh=p["at_least_as_fresh"],
                              embed_c2pa=p.get("embed_c2pa", False))  # fmt: skip
        # The receipt carries the platform's request_id; a resumed run finds the verification an
        # interrupted one stored under the operation's own idempotency key.
        stored = await handlers.verify(
            cmd, Principal(PrincipalKind.PLATFORM, op.platform_id), uow(), extractor, searcher, consent_for(api_key), signer, thresholds,
            max_bytes=policy.max_bytes, progress=progress, operation=f"{handlers.LONG_RUNNING}/{op.operation_id}",
            require_identity_verified=require_identity_verified, population_rule=population_rule,
        )  # fmt: skip
        if not cmd.embed_c2pa:
            return stored, None
        handlers.require_c2pa(clip_signer)  # started on a replica with a chain, run on one without: the operation fails
        return stored, (await handlers.signed_clip(media, stored, clip_signer, embed=False)).content

    return run


class OperationRunner:
    """Claims queued operations (and those whose replica stopped) and runs them, one at a time per
    replica so synchronous Verify calls keep their share of the workers; renews the lease every
    third of it, records progress, and stops when the caller cancels."""

    def __init__(self, operations: Operations, run: RunVerify, policy: OperationPolicy, owner: str | None = None) -> None:
        self._operations, self._run, self._policy = operations, run, policy
        self.owner = owner or new_id("rep")
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.running: str = ""  # the operation this replica is running now (tests, metrics)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="verify-operations")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        last_sweep = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if loop.time() - last_sweep > 60:
                    last_sweep = loop.time()
                    if swept := await self._operations.sweep():
                        log.info("operations_expired", deleted=swept)
                claim = await self._operations.claim(self.owner, self._policy.lease, self._policy.max_attempts)
                if claim is not None:
                    await self._execute(claim)
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: try again at the next poll
                log.exception("operations_poll_failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._policy.poll_seconds)

    async def _execute(self, claim) -> None:
        op: VerifyOperation = claim.operation
        policy, ops = self._policy, self._operations
        self.running = op.operation_id
        done_units = [0, 1]

        def progress(done: int, total: int) -> None:
            done_units[:] = [done, max(1, total)]

        log.info("operation_started", operation_id=op.operation_id, attempt=op.attempts)
        task = asyncio.create_task(self._run(op, claim.api_key, claim.media, progress))
        try:
            while True:
                finished, _ = await asyncio.wait({task}, timeout=policy.lease.total_seconds() / 3)
                if finished:
                    break
                # Progress stops short of 100 % until the decision is stored.
                ours, cancelled = await ops.renew(op.operation_id, self.owner, policy.lease, 0.99 * done_units[0] / done_units[1])
                if not ours or cancelled:
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
                    if cancelled:
                        await ops.finish(op.operation_id, self.owner, OperationState.CANCELLED,
                                         error=OperationError("CANCELLED", "CANCELLED", "cancelled by the caller"), retention=policy.retention)  # fmt: skip
                    log.info("operation_stopped", operation_id=op.operation_id, cancelled=cancelled, lost_lease=not ours)
                    return
            try:
                stored, sidecar = task.result()
            except LikenessError as error:
                await ops.finish(op.operation_id, self.owner, OperationState.FAILED, error=OperationError(error.code, error.reason, str(error)),
                                 retention=policy.retention)  # fmt: skip
                log.info("operation_failed", operation_id=op.operation_id, reason=error.reason)
                return
            except Exception:
                log.exception("operation_crashed", operation_id=op.operation_id)
                await ops.finish(op.operation_id, self.owner, OperationState.FAILED,
                                 error=OperationError("INTERNAL", "INTERNAL", "the analysis failed"), retention=policy.retention)  # fmt: skip
                return
            await ops.finish(op.operation_id, self.owner, OperationState.SUCCEEDED, stored.record.verification_id, retention=policy.retention,
                             c2pa_sidecar=sidecar)  # fmt: skip
            log.info("operation_succeeded", operation_id=op.operation_id, verification_id=stored.record.verification_id)
        finally:
            if not task.done():
                task.cancel()
            self.running = ""
