"""bench/consent: CheckConsent latency and throughput through gRPC, 10k talent x 5 grants each,
and the staleness of a second replica's view without a consistency token.

    .venv/bin/python bench/consent [--talent 10000] [--seconds 10] [--concurrency 32] [--staleness-samples 200]

Staleness: a revoke is acknowledged by replica A, then replica B is asked without a token, one
check at a time, until it stops allowing; no check in those trials carries a token, so B catches up
only through NOTIFY (see `staleness`). The tokened guarantee is measured in separate trials.

The consent service runs as its own process (as in production); this process is the client.
Grants are bulk-loaded with real Ed25519 signatures (loading is not what is measured).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import grpc

from consent.bootstrap import MIGRATIONS as CONSENT
from consent.domain.model import Grant, Issuer, Modality, Purpose
from likeness.consent.v1 import consent_pb2 as cpb
from likeness.consent.v1 import consent_pb2_grpc
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness_common import credentials
from likeness_common.crypto import load_kek
from likeness_common.db import COMMON, migrate
from likeness_common.ids import new_id
from likeness_common.logging import configure_logging
from likeness_common.principal import PrincipalKind
from likeness_common.signing import SigningKeyring, canonical_json
from likeness_devstack import DevStack
from registry.bootstrap import MIGRATIONS as REGISTRY

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: `bench` imports from the repository root
    sys.path.insert(0, str(ROOT))
from bench.host import load_average, machine, pct  # noqa: E402

PURPOSES = [Purpose.ADVERTISING, Purpose.DUBBING, Purpose.TRAINING, Purpose.EDITORIAL, Purpose.SYNTHETIC_PERFORMANCE]


async def load(dsn: str, kek_file: Path, talent: int) -> tuple[list[str], str, str, str]:
    await migrate(dsn, [COMMON, REGISTRY, CONSENT])
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    keyring = SigningKeyring(pool, load_kek(None, kek_file))
    await keyring.ensure_key()
    now = datetime.now(UTC)
    platform_id = new_id("plt")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO platforms VALUES ($1, 'bench', now())", platform_id)
        platform_key = await credentials.issue_api_key(conn, PrincipalKind.PLATFORM, platform_id)
        operator_key = await credentials.issue_api_key(conn, PrincipalKind.OPERATOR, "opr_bench")
    talent_ids = [new_id("tal") for _ in range(talent)]
    rows = []
    for i, talent_id in enumerate(talent_ids):
        for j, purpose in enumerate(PURPOSES):  # 5 grants: one per purpose, varied scope
            g = Grant(new_id("grt"), talent_id, platform_id if j % 2 == 0 else None,
                      frozenset({Modality.FACE} if j < 3 else {Modality.FACE, Modality.VOICE}), frozenset({purpose}),
                      frozenset(), frozenset({"US", "GB"}) if j != 4 else None, now, None, (), Issuer("operator", "opr_bench"),
                      f"bench-{i}", now)  # fmt: skip
            payload, sig = await keyring.sign(lambda key_id, g=g: canonical_json(g.canonical(key_id)))
            rows.append((g.grant_id, talent_id, g.platform_id, sorted(m.value for m in g.modalities), [purpose.value], [],
                         sorted(g.territories) if g.territories else None, now, None, "[]", "operator", "opr_bench",
                         g.terms_ref, now, None, "", False, sig.key_id, sig.algorithm, payload, sig.signature, 1))  # fmt: skip
    columns = ["grant_id", "talent_id", "platform_id", "modalities", "purposes", "custom_purposes", "territories",
               "not_before", "not_after", "conditions", "issuer_kind", "issuer_id", "terms_ref", "created_at", "revoked_at",
               "revoke_reason", "expiry_announced", "key_id", "algorithm", "canonical_payload", "signature", "revision"]  # fmt: skip
    async with pool.acquire() as conn:
        await conn.execute("SELECT setval('consent_revision', 1)")
        await conn.copy_records_to_table("grants", records=rows, columns=columns)
        await conn.execute("INSERT INTO talent SELECT unnest($1::text[]), 'bench', '', now()", talent_ids)
        # Statistics, as after any bulk load (autovacuum would take up to a minute): without them the
        # view's catch-up query (`revision > $1`) is planned as a parallel bitmap scan of the whole
        # table, ~7 ms per NOTIFY instead of an index scan of ~0.02 ms, and that is what the
        # staleness figures would measure.
        await conn.execute("ANALYZE grants, talent")
    await pool.close()
    return talent_ids, platform_id, platform_key, operator_key


async def measure(target: str, platform_key: str, talent_ids: list[str], seconds: float, concurrency: int) -> dict:
    md = [("authorization", f"Bearer {platform_key}")]
    rng = random.Random(7)
    async with grpc.aio.insecure_channel(target) as channel:
        stub = consent_pb2_grpc.ConsentServiceStub(channel)

        def request() -> cpb.CheckConsentRequest:
            return cpb.CheckConsentRequest(talent_id=rng.choice(talent_ids), modality=epb.MODALITY_FACE,
                                           purpose=rng.choice([cpb.PURPOSE_ADVERTISING, cpb.PURPOSE_DUBBING, cpb.PURPOSE_TRAINING]),
                                           territory=rng.choice(["US", "FR"]))  # fmt: skip

        for _ in range(200):  # warm up
            await stub.CheckConsent(request(), metadata=md)
        sequential, allowed = [], 0
        for _ in range(2000):
            started = time.perf_counter()
            resp = await stub.CheckConsent(request(), metadata=md)
            sequential.append((time.perf_counter() - started) * 1000)
            allowed += resp.allowed
        done, latencies = 0, []
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                started = time.perf_counter()
                await stub.CheckConsent(request(), metadata=md)
                latencies.append((time.perf_counter() - started) * 1000)
                done += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return {"seq_p50": statistics.median(sequential), "seq_p99": pct(sequential, 99), "allowed_share": allowed / 2000,
            "conc_p50": statistics.median(latencies), "conc_p99": pct(latencies, 99), "checks_per_s": done / elapsed}  # fmt: skip


POLL_LIMIT_S = 10.0  # a trial whose replica B never changes its answer within this is counted, not waited for


async def _until(stub, request: cpb.CheckConsentRequest, md, allowed: bool) -> tuple[float, int] | None:
    """Untokened checks on one replica, one at a time, until one answers `allowed`: the time of that
    answer (perf_counter) and how many checks it took; None after POLL_LIMIT_S."""
    deadline, polls = time.perf_counter() + POLL_LIMIT_S, 0
    while True:
        reply = await stub.CheckConsent(request, metadata=md)
        polls += 1
        now = time.perf_counter()
        if reply.allowed == allowed:
            return now, polls
        if now > deadline:
            return None


async def staleness(
    target_a: str, target_b: str, operator_key: str, platform_id: str, talent_ids: list[str], samples: int
) -> dict:
    """Replica B's view without a consistency token, and with one, after writes on replica A.

    Untokened trials (`samples`): create a grant on A; poll B untokened until it ALLOWs (the new
    grant's visibility lag); revoke on A; from the revoke's acknowledgement, poll B untokened (one
    check at a time) until the first non-ALLOW. No check in these trials carries a token, so nothing
    forces B to catch up: what is measured is NOTIFY delivery plus B's catch-up (the clock stops at
    the reply of the first non-ALLOW check, so the resolution is one CheckConsent round trip).
    Tokened trials (`samples` more, separate, so they cannot shorten the untokened ones): the same
    grant, B shown to ALLOW it untokened, revoke on A, then one check on B with the revoke's token
    at once; it must not ALLOW.
    """
    md = [("authorization", f"Bearer {operator_key}")]
    lag_ms, visible_ms, first_poll_fresh, polls_total, timeouts, tokened_stale, tokened_trials = [], [], 0, 0, 0, 0, 0
    async with grpc.aio.insecure_channel(target_a) as ca, grpc.aio.insecure_channel(target_b) as cb:
        a, b = consent_pb2_grpc.ConsentServiceStub(ca), consent_pb2_grpc.ConsentServiceStub(cb)

        async def granted_and_seen_on_b(talent_id: str) -> tuple[cpb.CreateGrantResponse, cpb.CheckConsentRequest, float | None]:
            # VOICE + DUBBING in JP: none of the bulk-loaded grants allows it, so B's answer is this grant's.
            grant = cpb.Grant(talent_id=talent_id, platform_id=platform_id, modalities=[epb.MODALITY_VOICE],
                              purposes=[cpb.PURPOSE_DUBBING], worldwide=True)  # fmt: skip
            created = await a.CreateGrant(cpb.CreateGrantRequest(request_id=str(uuid.uuid4()), grant=grant), metadata=md)
            acked = time.perf_counter()
            check = cpb.CheckConsentRequest(talent_id=talent_id, platform_id=platform_id, modality=epb.MODALITY_VOICE,
                                            purpose=cpb.PURPOSE_DUBBING, territory="JP")  # fmt: skip
            seen = await _until(b, check, md, allowed=True)
            return created, check, (seen[0] - acked) * 1000 if seen else None

        async def revoke(created: cpb.CreateGrantResponse) -> cpb.RevokeGrantResponse:
            request = cpb.RevokeGrantRequest(request_id=str(uuid.uuid4()), grant_id=created.grant.grant_id, reason="bench")
            return await a.RevokeGrant(request, metadata=md)

        for i in range(samples):  # untokened only
            created, check, visible = await granted_and_seen_on_b(talent_ids[i % len(talent_ids)])
            if visible is None:
                timeouts += 1
                continue
            visible_ms.append(visible)
            await revoke(created)
            acked = time.perf_counter()
            seen = await _until(b, check, md, allowed=False)
            if seen is None:
                timeouts += 1
                continue
            lag_ms.append((seen[0] - acked) * 1000)
            polls_total += seen[1]
            first_poll_fresh += seen[1] == 1
        for i in range(samples):  # tokened: the first check on B after the revoke carries its token
            created, check, visible = await granted_and_seen_on_b(talent_ids[(samples + i) % len(talent_ids)])
            if visible is None:
                timeouts += 1
                continue
            revoked = await revoke(created)
            with_token = cpb.CheckConsentRequest(**{**_fields(check), "at_least_as_fresh": revoked.consistency_token})
            tokened_stale += (await b.CheckConsent(with_token, metadata=md)).allowed
            tokened_trials += 1
    return {"lag_p50": statistics.median(lag_ms), "lag_p99": pct(lag_ms, 99), "lag_max": max(lag_ms), "lag_min": min(lag_ms),
            "lag_trials": len(lag_ms), "first_poll_fresh": first_poll_fresh, "polls_mean": polls_total / len(lag_ms),
            "visible_p50": statistics.median(visible_ms), "visible_p99": pct(visible_ms, 99), "visible_max": max(visible_ms),
            "timeouts": timeouts, "tokened_stale": tokened_stale, "tokened_trials": tokened_trials, "samples": samples}  # fmt: skip


def _fields(message) -> dict:
    return {f.name: v for f, v in message.ListFields()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--talent", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--staleness-samples", type=int, default=200, help="Revokes measured without a token (and as many more with one)."
    )
    parser.add_argument("--json", action="store_true", help="Print the results as one JSON object.")
    args = parser.parse_args()
    configure_logging("WARNING", json=True)
    host = machine()
    host["load_start"] = load_average()
    state = Path(tempfile.mkdtemp(prefix="likeness-bench-"))
    stack = DevStack(state, services={}, relay=False)
    try:
        info = stack.start()
        t0 = time.monotonic()
        talent_ids, platform_id, platform_key, operator_key = asyncio.run(
            load(info["database_url"], Path(stack.env["LIKENESS_KEK_FILE"]), args.talent)
        )
        loaded = time.monotonic() - t0
        t0 = time.monotonic()
        target_a = stack.start_service("consent", "consent")
        target_b = stack.start_service("consent_b", "consent")
        started = time.monotonic() - t0
        result = asyncio.run(measure(target_a, platform_key, talent_ids, args.seconds, args.concurrency))
        stale = asyncio.run(staleness(target_a, target_b, operator_key, platform_id, talent_ids, args.staleness_samples))
    finally:
        stack.stop()
    grants = args.talent * len(PURPOSES)
    host["load_end"] = load_average()
    if args.json:
        print(json.dumps({"machine": host, "talent": args.talent, "grants": grants, **result, **stale}))
        return
    print(f"\nbench/consent  {host['date']}  {host['cpu']} x{host['cores']}, Python {host['python']}, "
          f"load average {host['load_start']:.2f} at start, {host['load_end']:.2f} at end")  # fmt: skip
    print(f"{args.talent:,} talent x {len(PURPOSES)} grants = {grants:,} grants "
          f"(bulk load {loaded:.1f}s; two replicas started with views loaded in {started:.1f}s)\n")  # fmt: skip
    print("| measure | value |\n| --- | --- |")
    print(f"| CheckConsent p50 / p99, one at a time | {result['seq_p50']:.2f} ms / {result['seq_p99']:.2f} ms |")
    print(
        f"| CheckConsent p50 / p99, {args.concurrency} concurrent | {result['conc_p50']:.2f} ms / {result['conc_p99']:.2f} ms |"
    )
    print(f"| checks/s, {args.concurrency} concurrent, {args.seconds:.0f} s | {result['checks_per_s']:,.0f} |")
    print(f"| share of checks allowed | {result['allowed_share']:.0%} |")
    print(f"| replica B staleness without token: revoke acknowledged on A to B's first non-ALLOW, untokened checks only, "
          f"p50 / p99 / max ({stale['lag_trials']} revokes) | {stale['lag_p50']:.1f} ms / {stale['lag_p99']:.1f} ms / {stale['lag_max']:.1f} ms |")  # fmt: skip
    print(f"| ...of those, B already non-ALLOW at the first check after the acknowledgement | {stale['first_poll_fresh']} of "
          f"{stale['lag_trials']} (min {stale['lag_min']:.2f} ms; {stale['polls_mean']:.1f} checks per revoke on average) |")  # fmt: skip
    print(f"| a new grant on A: B's first untokened ALLOW, p50 / p99 / max | "
          f"{stale['visible_p50']:.1f} ms / {stale['visible_p99']:.1f} ms / {stale['visible_max']:.1f} ms |")  # fmt: skip
    print(f"| stale ALLOWs on replica B with the revoke's token (its first check after the revoke) | "
          f"{stale['tokened_stale']} of {stale['tokened_trials']} |")  # fmt: skip
    if stale["timeouts"]:
        print(f"| trials where B did not change its answer within {POLL_LIMIT_S:.0f} s (left out above) | {stale['timeouts']} |")


if __name__ == "__main__":
    main()
