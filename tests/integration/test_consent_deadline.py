"""Verification -> consent: the caller's deadline travels with the check, and an UNAVAILABLE consent
replica is retried. A verification replica talks to a consent "front" on port 0 that forwards to
the real consent service, or hangs, or refuses the first attempt of every check."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from likeness.consent.v1 import consent_pb2_grpc
from likeness.verification.v1 import verification_pb2 as vpb
from likeness.verification.v1 import verification_pb2_grpc
from tests.conftest import start_verification
from tests.integration.verification_world import BIG, face_file, grant, verify_request


class ConsentFront(consent_pb2_grpc.ConsentServiceServicer):
    def __init__(self, real: consent_pb2_grpc.ConsentServiceStub) -> None:
        self.real = real
        self.mode = "forward"  # or "hang", or "refuse-first"
        self.attempts = 0
        self.deadlines: list[float] = []  # the time each check had left when it arrived

    async def CheckConsent(self, request, context):
        self.attempts += 1
        self.deadlines.append(context.time_remaining())
        if self.mode == "hang":
            await asyncio.sleep(3600)
        if self.mode == "refuse-first" and self.attempts % 2 == 1:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "replica restarting")
        return await self.real.CheckConsent(request, metadata=context.invocation_metadata())


@pytest.fixture(scope="module")
async def front(stack, pool, consent_app, world):
    async with grpc.aio.insecure_channel(consent_app.target) as real:
        servicer = ConsentFront(consent_pb2_grpc.ConsentServiceStub(real))
        server = grpc.aio.server()
        consent_pb2_grpc.add_ConsentServiceServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        replica = await start_verification(stack, pool, f"127.0.0.1:{port}", workers=1)
        async with grpc.aio.insecure_channel(replica.target, options=BIG) as ch:
            yield servicer, verification_pb2_grpc.VerificationServiceStub(ch)
        await replica.app.stop()
        await server.stop(0)


async def test_a_hung_consent_replica_never_holds_a_verify_past_its_deadline(world, front):
    servicer, verify = front
    await grant(world, world["ids"]["obama"])
    servicer.mode, servicer.attempts, servicer.deadlines = "hang", 0, []
    started = time.monotonic()
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await verify.Verify(verify_request(face_file("obama", "obama-480p.jpg")), metadata=world["platform"], timeout=4)
    took = time.monotonic() - started
    assert failed.value.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)
    assert took < 4.5
    assert servicer.deadlines and max(servicer.deadlines) < 4.0, servicer.deadlines  # the check inherited the Verify's deadline
    print(f"\nconsent replica hung: Verify (deadline 4 s) failed {failed.value.code().name} after {took:.2f} s; "
          f"the check arrived with {max(servicer.deadlines):.2f} s left")


async def test_an_unavailable_consent_replica_is_retried(world, front):
    servicer, verify = front
    await grant(world, world["ids"]["obama"])
    servicer.mode, servicer.attempts = "refuse-first", 0
    resp = await verify.Verify(verify_request(face_file("obama", "obama-480p.jpg")), metadata=world["platform"], timeout=30)
    assert resp.verification.decision == vpb.DECISION_ALLOW
    assert servicer.attempts == 2  # refused once, retried once
