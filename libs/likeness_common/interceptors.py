"""The one server interceptor every service installs.

For each RPC of ours (not grpc.health / reflection) it, in this order:
1. binds `method`, `peer` and the request's `request_id` to the structlog context,
2. authenticates the `authorization: Bearer <api key>` metadata (except public methods) and
   makes the principal available through `current_principal()`; then takes a token from the
   caller's rate-limit bucket (`ratelimit.RateLimiter`: per principal, or per peer host for calls
   without a valid key): an empty bucket is RESOURCE_EXHAUSTED with reason RATE_LIMITED and a
   `google.rpc.RetryInfo`,
3. maps exceptions to statuses: `LikenessError` -> its code with a `google.rpc.Status` carrying
   `ErrorInfo` (and `BadRequest` for field violations); a lost database -> UNAVAILABLE;
   anything else -> INTERNAL with a generic message (the exception is logged, never sent),
4. logs one line per RPC with the final code and the duration, and records both in the
   Prometheus metrics (`metrics.observe_rpc`: labels are the method and code only).
One interceptor rather than three keeps that order explicit and gives one log line with the
code the caller actually saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from typing import Any, Protocol

import asyncpg
import grpc
import structlog
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from . import metrics
from .errors import InvalidArgument, LikenessError, RateLimited, Unauthenticated, Unavailable
from .principal import Principal
from .ratelimit import RateLimiter

log = structlog.get_logger("likeness.rpc")

_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)  # monotonic

ERROR_DOMAIN = "likeness.registry"


class Authenticator(Protocol):
    async def authenticate(self, api_key: str) -> Principal: ...


def current_principal() -> Principal:
    """The authenticated caller of the RPC being served."""
    principal = _principal.get()
    if principal is None:
        raise Unauthenticated("this method needs an API key")
    return principal


def time_left(default: float) -> float:
    """Seconds a call made while serving an RPC may take: `default`, or less when the RPC being
    served has a deadline that comes sooner (calls between services inherit their caller's deadline)."""
    deadline = _deadline.get()
    return default if deadline is None else min(default, deadline - time.monotonic())


def _api_key_from(metadata: Any) -> str | None:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
        if key == "x-api-key" and isinstance(value, str):
            return value.strip()
    return None


def _request_id(request: Any) -> str:
    """`request_id` at the top of the request, or in its `parameters` (Verify)."""
    value = getattr(request, "request_id", "") or getattr(getattr(request, "parameters", None), "request_id", "")
    return value if isinstance(value, str) else ""


def caller_api_key(context: grpc.aio.ServicerContext) -> str:
    """The API key the caller authenticated with, to call another service on its behalf."""
    return _api_key_from(context.invocation_metadata()) or ""


def _is_database_unavailable(exc: BaseException) -> bool:
    return isinstance(
        exc,
        (
            OSError,
            asyncpg.PostgresConnectionError,
            asyncpg.CannotConnectNowError,
            asyncpg.ConnectionDoesNotExistError,
            asyncpg.InterfaceError,
            # A pooled connection broken mid-operation by a restart: "cannot switch to state N;
            # another operation is in progress" (seen in tests/faults/test_postgres_restart.py).
            asyncpg.InternalClientError,
            asyncpg.AdminShutdownError,
            asyncpg.TooManyConnectionsError,
        ),
    )


def to_status(error: LikenessError) -> grpc.Status:
    details = []
    info = error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata)
    packed = any_pb2.Any()
    packed.Pack(info)
    details.append(packed)
    if error.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in error.violations
            ]
        )
        packed = any_pb2.Any()
        packed.Pack(bad)
        details.append(packed)
    if isinstance(error, RateLimited):
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(max(1_000_000, round(error.retry_delay * 1e9)))
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        details.append(packed)
    status = status_pb2.Status(code=grpc.StatusCode[error.code].value[0], message=error.message, details=details)
    return rpc_status.to_status(status)


def _peer_host(peer: str) -> str:
    """"ipv4:10.0.0.7:5123" -> "ipv4:10.0.0.7": a client cannot get a fresh bucket per connection."""
    if peer.startswith(("ipv4:", "ipv6:")):
        return peer.rpartition(":")[0]
    return peer


class _Undecodable:
    """A request message that did not parse: the RPC answers INVALID_ARGUMENT instead of the UNKNOWN
    that grpc answers when a deserializer raises."""


def _lenient(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except DecodeError:
            return _Undecodable()

    return parse


def _reject_undecodable(request: Any) -> None:
    if isinstance(request, _Undecodable):
        raise InvalidArgument("the request is not a valid serialized message", reason="UNDECODABLE_REQUEST")


async def _checked(requests: Any) -> Any:
    async for request in requests:
        _reject_undecodable(request)
        yield request


class RpcInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self, authenticator: Authenticator, public_methods: Collection[str] = (), rate_limiter: RateLimiter | None = None
    ) -> None:
        self._authenticator = authenticator
        self._public = frozenset(public_methods)
        self._limiter = rate_limiter

    def _spend(self, key: str) -> None:
        if self._limiter is not None and (wait := self._limiter.acquire(key)) > 0:
            raise RateLimited(f"too many calls: retry in {wait:.3f} s", retry_delay=wait)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method
        if handler is None or method.startswith("/grpc."):
            return handler
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                return await self._serve(inner, request, _request_id(request), context, method)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, _lenient(handler.request_deserializer), handler.response_serializer
            )
        if handler.stream_unary is not None:
            inner_stream = handler.stream_unary

            async def stream_unary(requests: Any, context: grpc.aio.ServicerContext) -> Any:
                return await self._serve(inner_stream, _checked(requests), "", context, method)

            return grpc.stream_unary_rpc_method_handler(
                stream_unary, _lenient(handler.request_deserializer), handler.response_serializer
            )
        if handler.stream_stream is not None:
            inner_streams = handler.stream_stream

            async def stream_stream(requests: Any, context: grpc.aio.ServicerContext) -> Any:
                async with self._scope(requests, "", context, method):
                    async for response in inner_streams(_checked(requests), context):
                        yield response

            return grpc.stream_stream_rpc_method_handler(
                stream_stream, _lenient(handler.request_deserializer), handler.response_serializer
            )
        raise RuntimeError(f"{method}: a unary-stream RPC, which this interceptor does not authenticate")

    async def _serve(
        self, behavior: Callable[..., Awaitable[Any]], request: Any, request_id: str, context: Any, method: str
    ) -> Any:
        async with self._scope(request, request_id, context, method):
            return await behavior(request, context)

    @contextlib.asynccontextmanager
    async def _scope(self, request: Any, request_id: str, context: Any, method: str) -> AsyncIterator[None]:
        """One call: its caller authenticated (the principal bound for the handler), rate-limited,
        logged and measured; a LikenessError becomes its gRPC status, anything else INTERNAL."""
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(method=method, peer=context.peer(), request_id=request_id or None)
        started = time.perf_counter()
        code = "OK"
        token = None
        remaining = context.time_remaining()
        deadline = _deadline.set(time.monotonic() + remaining if remaining is not None and remaining < 1e6 else None)
        try:
            api_key = _api_key_from(context.invocation_metadata())
            if api_key:
                try:
                    principal = await self._authenticator.authenticate(api_key)
                except Unauthenticated:
                    self._spend(f"peer {_peer_host(context.peer())}")  # key guessing counts against the peer
                    raise
                self._spend(f"principal {principal.principal_id}")
                token = _principal.set(principal)
                structlog.contextvars.bind_contextvars(principal=principal.principal_id)
            else:
                self._spend(f"peer {_peer_host(context.peer())}")
                if method not in self._public:
                    raise Unauthenticated("missing API key: send `authorization: Bearer <key>`", reason="MISSING_API_KEY")
            _reject_undecodable(request)
            yield
        except LikenessError as error:
            code = error.code
            await context.abort_with_status(to_status(error))
        except asyncio.CancelledError:  # the caller went away or its deadline passed
            code = "CANCELLED"
            raise
        except Exception as error:
            if isinstance(error, grpc.aio.AbortError):
                code = context.code().name if context.code() else "ABORTED"
                raise
            if isinstance(error, asyncpg.DataError):  # input validation should have caught it
                code = "INVALID_ARGUMENT"
                log.warning("database rejected a value", error=type(error).__name__)
                await context.abort_with_status(to_status(InvalidArgument("a field holds a value that cannot be stored")))
            if _is_database_unavailable(error):
                code = "UNAVAILABLE"
                log.warning("database unavailable", error=type(error).__name__)
                await context.abort_with_status(to_status(Unavailable("database unavailable, retry later")))
            code = "INTERNAL"
            log.exception("unhandled error")
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
        finally:
            _deadline.reset(deadline)
            if token is not None:
                _principal.reset(token)
            elapsed = time.perf_counter() - started
            metrics.observe_rpc(method, code, elapsed)
            log.info("rpc", code=code, duration_ms=round(elapsed * 1000, 2))
