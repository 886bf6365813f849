"""Request size limits and per-principal rate limits over real gRPC servers (port 0) and Postgres."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from likeness.registry.v1 import registry_pb2 as pb
from likeness.registry.v1 import registry_pb2_grpc
from tests.conftest import bearer, error_reason, unique
from tests.support import rid


def retry_delay(error: grpc.aio.AioRpcError) -> float | None:
    """The google.rpc.RetryInfo delay of a failed call, in seconds (None when there is none)."""
    status = rpc_status.from_call(error)
    for detail in status.details if status else ():
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.ToNanoseconds() / 1e9
    return None


async def refused(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


@pytest.fixture
async def limited(pool):
    """A registry server of its own with a tiny budget: 3 calls at once, then 5 per second."""
    from registry.bootstrap import RegistrySettings, build_app

    app = build_app(pool, RegistrySettings(port=0, shutdown_grace_seconds=0.2, rate_limit_per_second=5, rate_limit_burst=3))
    port = await app.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield registry_pb2_grpc.RegistryServiceStub(channel)
    await app.stop()


@pytest.fixture
async def agencies(channel, stack):
    stub = registry_pb2_grpc.RegistryServiceStub(channel)
    keys = []
    for _ in range(2):
        resp = await stub.RegisterAgency(pb.RegisterAgencyRequest(request_id=rid(), display_name=unique("rl")), metadata=bearer(stack.operator_key))
        keys.append(bearer(resp.api_key))
    return keys


async def test_principal_over_its_burst_is_refused_with_retry_info_and_recovers(limited, agencies):
    mine, theirs = agencies
    for _ in range(3):
        await limited.WhoAmI(pb.WhoAmIRequest(), metadata=mine)
    error = await refused(limited.WhoAmI(pb.WhoAmIRequest(), metadata=mine))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
    assert error_reason(error) == "RATE_LIMITED"
    delay = retry_delay(error)
    assert delay is not None and 0 < delay <= 0.2 + 1e-6  # 5 tokens/s: the next one within 0.2 s
    # Another principal is not affected by this one's exhaustion.
    for _ in range(3):
        assert (await limited.WhoAmI(pb.WhoAmIRequest(), metadata=theirs)).principal_id
    await asyncio.sleep(delay + 0.02)
    assert (await limited.WhoAmI(pb.WhoAmIRequest(), metadata=mine)).principal_id


async def test_sustained_rate_is_held_to_the_limit(limited, agencies):
    mine, _ = agencies
    granted = 0
    started = time.monotonic()
    while time.monotonic() - started < 1.0:
        try:
            await limited.WhoAmI(pb.WhoAmIRequest(), metadata=mine)
            granted += 1
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            await asyncio.sleep(retry_delay(error) or 0.01)
    elapsed = time.monotonic() - started
    assert granted <= 3 + 5 * elapsed + 1, (granted, elapsed)  # burst + rate x time
    assert granted >= 3 + 5 * 0.8 - 1, (granted, elapsed)  # and waiting RetryInfo's delay is enough to get it


async def test_calls_without_a_valid_key_are_limited_per_peer(limited, agencies):
    for _ in range(3):
        assert (await refused(limited.WhoAmI(pb.WhoAmIRequest()))).code() == grpc.StatusCode.UNAUTHENTICATED
    error = await refused(limited.WhoAmI(pb.WhoAmIRequest(), metadata=bearer("lk_0123456789abcdef.guess")))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and error_reason(error) == "RATE_LIMITED"
    assert retry_delay(error) is not None
    mine, _ = agencies  # a principal's bucket is its own, not the peer's
    assert (await limited.WhoAmI(pb.WhoAmIRequest(), metadata=mine)).principal_id


async def test_oversize_request_is_resource_exhausted(pool, stack):
    from registry.bootstrap import RegistrySettings, build_app

    app = build_app(pool, RegistrySettings(port=0, shutdown_grace_seconds=0.2, max_message_bytes=4096))
    port = await app.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            op = bearer(stack.operator_key)
            error = await refused(stub.RegisterAgency(pb.RegisterAgencyRequest(request_id=rid(), display_name="x" * 5000), metadata=op))
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
            # The server keeps serving, and a request under the limit goes through.
            assert (await stub.WhoAmI(pb.WhoAmIRequest(), metadata=op)).principal_id
    finally:
        await app.stop()


def test_default_limits_are_generous():
    """Defaults must not bite tests or benchmarks: bench/consent drives ~2,500 checks/s from one platform."""
    from likeness_common.settings import ServiceSettings

    settings = ServiceSettings()
    assert settings.rate_limit_per_second >= 5000 and settings.rate_limit_burst >= 2 * settings.rate_limit_per_second
