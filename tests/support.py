"""Helpers several test modules share: relay processes, outbox drain, topic reads, gRPC refusals,
real photos, the 1:N index catching up."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
import uuid
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import duration_pb2

from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.registry.v1 import registry_pb2_grpc
from likeness_common import kafka
from likeness_common.proto import ts
from likeness_devstack import Child
from tests.conftest import bearer, error_reason, shared_data, unique

NOTICE = epb.BiometricNotice(purpose_text="Protect my likeness", retention=duration_pb2.Duration(seconds=30 * 86400),
                             accept_time=ts(datetime.now(UTC)), notice_version="2026-11")  # fmt: skip
BIG = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]


def rid() -> str:
    return str(uuid.uuid4())


async def expect(code: grpc.StatusCode, call, reason: str | None = None) -> grpc.aio.AioRpcError:
    """Await the call, which must fail with `code` (and ErrorInfo `reason`, when given)."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, (caught.value.code(), caught.value.details())
    if reason is not None:
        assert error_reason(caught.value) == reason, (error_reason(caught.value), caught.value.details())
    return caught.value


def face(*parts: str) -> epb.MediaSample:
    """A photo from ../shared/data/faces (see its NOTICE)."""
    return epb.MediaSample(filename=parts[-1], content=shared_data("faces", *parts).read_bytes())


async def wait_indexed(app, talent_id: str, timeout: float = 45.0) -> None:
    """Until the verification replica's 1:N index holds the talent's face."""
    from verification.domain.model import Modality

    deadline = asyncio.get_running_loop().time() + timeout
    while not app.index.contains(talent_id, Modality.FACE):
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{talent_id} not indexed after {timeout}s")
        await asyncio.sleep(0.05)


def relay_process(stack, name: str) -> Child:
    return Child(name, [sys.executable, "-m", "likeness_common.relay"], stack.state_dir / "logs" / f"{name}.log", env=stack.env())


def module_relay(name: str):
    """A module-scoped fixture running a relay process, for modules whose events must reach Kafka
    (the verification index follows enrollment events): `relay = module_relay("relay-x")`."""

    @pytest.fixture(scope="module")
    async def relay(stack):
        process = relay_process(stack, name)
        process.start()
        yield process
        process.stop()

    return relay


async def wait_drained(pool, keys: list[str], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = await pool.fetchval(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL AND message_key = ANY($1::text[])", keys
        )
        if left == 0:
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"outbox not drained within {timeout}s ({left} rows left)")


async def consume(bootstrap: str, topic: str, keys: set[str], want: set[str], timeout: float = 60.0) -> list:
    """Every record of `topic` whose key is in `keys`, from the beginning, until all `want` event
    ids have been seen (or the timeout)."""
    consumer = kafka.consumer(bootstrap, topic)
    await consumer.start()
    records, seen = [], set()
    deadline = time.monotonic() + timeout
    try:
        while not want <= seen and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            for part in batch.values():
                for record in part:
                    if record.key.decode() in keys:
                        records.append(record)
                        seen.add(dict(record.headers)["event_id"].decode())
    finally:
        await consumer.stop()
    return records


async def agency_platform_and_talent(channel, operator_key: str, talent_name: str) -> tuple:
    """A new agency, a new platform (both registered by the operator) and a talent the agency
    registers (its mandate comes with it): (RegisterAgencyResponse, RegisterPlatformResponse, talent id)."""
    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    op = bearer(operator_key)
    agency = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=str(uuid.uuid4()), display_name=unique("ag")), metadata=op)
    platform = await reg.RegisterPlatform(rpb.RegisterPlatformRequest(request_id=str(uuid.uuid4()), display_name=unique("pl")), metadata=op)
    registered = await reg.RegisterTalent(
        rpb.RegisterTalentRequest(request_id=str(uuid.uuid4()), display_name=talent_name), metadata=bearer(agency.api_key)
    )
    return agency, platform, registered.talent.talent_id


def foreign_signed(media: bytes, media_type: str, chain) -> bytes:  # chain: likeness_common.provenance.Chain
    """Media signed by someone else's C2PA tool, declaring it AI-generated and reserving AI training."""
    import c2pa

    from likeness_common.provenance import TRAINED_ALGORITHMIC_MEDIA

    manifest = {
        "claim_generator_info": [{"name": "some-generator", "version": "2.1"}],
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}]}},
            {"label": "cawg.training-mining", "data": {"entries": {"cawg.ai_generative_training": {"use": "notAllowed"}}}},
        ],
    }  # fmt: skip
    info = c2pa.C2paSignerInfo(alg=b"es256", sign_cert=chain.chain_pem, private_key=chain.key_pem, ta_url=None)
    with c2pa.Builder.from_json(json.dumps(manifest)) as builder, c2pa.Signer.from_info(info) as signer:
        out = io.BytesIO()
        builder.sign(signer, media_type, io.BytesIO(media), out)
    return out.getvalue()
