"""A grant whose `not_after` passes during a run never allows after that instant (issue 7).

The consent service judges expiry on its own clock at check time (`not_after` is exclusive), whatever
its cached view or the expiry sweeper (idle in tests) say. Both replicas are hammered with checks
from before the instant to after it; each check is stamped with the time it was sent. The servers
run in this process, so "sent at or after `not_after`" on this clock means the server read its
clock later still: such a check must not allow. Checks sent before the instant that came back
ALLOW, and EXPIRED denials after it, show the hammering straddled the instant."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import grpc

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.consent.v1 import consent_pb2_grpc
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness_common.proto import ts
from tests.conftest import bearer
from tests.support import agency_platform_and_talent, rid

LEAD_SECONDS = 1.5  # the grant expires this long after it is created
AFTER_SECONDS = 1.0  # and is checked this long past the instant
LOOPS_PER_REPLICA = 4


async def test_a_grant_never_allows_after_its_not_after_instant(stack, channel, consent_app, consent_app_b) -> None:
    agency, platform, talent = await agency_platform_and_talent(channel, stack.operator_key, "Expiring")

    not_after = datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS)
    instant = not_after.timestamp()
    async with grpc.aio.insecure_channel(consent_app.target) as a, grpc.aio.insecure_channel(consent_app_b.target) as b:
        stubs = [consent_pb2_grpc.ConsentServiceStub(a), consent_pb2_grpc.ConsentServiceStub(b)]
        created = await stubs[0].CreateGrant(cpb.CreateGrantRequest(request_id=rid(), grant=cpb.Grant(
            talent_id=talent, platform_id=platform.platform.platform_id, modalities=[epb.MODALITY_FACE],
            purposes=[cpb.PURPOSE_ADVERTISING], worldwide=True, not_after=ts(not_after))), metadata=bearer(agency.api_key))  # fmt: skip
        token = created.consistency_token
        request = cpb.CheckConsentRequest(talent_id=talent, modality=epb.MODALITY_FACE, purpose=cpb.PURPOSE_ADVERTISING,
                                          territory="US", at_least_as_fresh=token)  # fmt: skip
        results: list[tuple[float, bool, int]] = []  # (sent at, allowed, reason)

        async def hammer(stub) -> None:
            while (sent := time.time()) < instant + AFTER_SECONDS:
                reply = await stub.CheckConsent(request, metadata=bearer(platform.api_key))
                results.append((sent, reply.allowed, reply.reason))

        await asyncio.gather(*(hammer(stub) for stub in stubs for _ in range(LOOPS_PER_REPLICA)))

    late_allows = [sent - instant for sent, allowed, _ in results if allowed and sent >= instant]
    before = [allowed for sent, allowed, _ in results if sent < instant - 0.05]
    after = [reason for sent, allowed, reason in results if sent >= instant]
    last_allow = max((sent for sent, allowed, _ in results if allowed), default=float("-inf"))
    print(f"\n{len(results)} checks; last ALLOW sent {(instant - last_allow) * 1000:.2f} ms before not_after; "
          f"{len(after)} checks after it, {len(late_allows)} allowed")  # fmt: skip
    assert late_allows == [], f"{len(late_allows)} checks sent after not_after were allowed (first {min(late_allows):.4f} s late)"
    assert before and all(before), "checks before the instant should allow"
    assert len(after) > 50 and set(after) == {cpb.DENIAL_REASON_EXPIRED}, set(after)
