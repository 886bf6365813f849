"""bench/consent: CheckConsent latency and throughput through gRPC, 10k talent x 5 grants each,
and the staleness of a second replica's view without a consistency token.

    .venv/bin/python bench/consent [--talent 10000] [--seconds 10] [--concurrency 32]

The consent service runs as its own process (as in production); this process is the client.
Grants are bulk-loaded with real Ed25519 signatures (loading is not what is measured).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
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
from likeness_common.devstack import DevStack
from likeness_common.ids import new_id
from likeness_common.logging import configure_logging
from likeness_common.principal import PrincipalKind
from likeness_common.signing import SigningKeyring, canonical_json
from registry.bootstrap import MIGRATIONS as REGISTRY

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
    await pool.close()
    return talent_ids, platform_id, platform_key, operator_key


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] if len(values) > 10 else max(values)


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


async def staleness(target_a: str, target_b: str, operator_key: str, platform_id: str, talent_ids: list[str], samples: int) -> dict:
    """Revoke on A; poll B without a token until it stops allowing. Also: B with the token."""
    md = [("authorization", f"Bearer {operator_key}")]
    lag_ms, tokened_stale = [], 0
    async with grpc.aio.insecure_channel(target_a) as ca, grpc.aio.insecure_channel(target_b) as cb:
        a, b = consent_pb2_grpc.ConsentServiceStub(ca), consent_pb2_grpc.ConsentServiceStub(cb)
        for talent_id in talent_ids[:samples]:
            grant = cpb.Grant(talent_id=talent_id, platform_id=platform_id, modalities=[epb.MODALITY_VOICE],
                              purposes=[cpb.PURPOSE_DUBBING], worldwide=True)  # fmt: skip
            created = await a.CreateGrant(cpb.CreateGrantRequest(request_id=str(uuid.uuid4()), grant=grant), metadata=md)
            check = cpb.CheckConsentRequest(talent_id=talent_id, platform_id=platform_id, modality=epb.MODALITY_VOICE,
                                            purpose=cpb.PURPOSE_DUBBING, territory="JP")  # fmt: skip
            await b.CheckConsent(cpb.CheckConsentRequest(**{**_fields(check), "at_least_as_fresh": created.consistency_token}), metadata=md)
            revoked = await a.RevokeGrant(cpb.RevokeGrantRequest(request_id=str(uuid.uuid4()), grant_id=created.grant.grant_id), metadata=md)
            acked = time.perf_counter()
            with_token = await b.CheckConsent(cpb.CheckConsentRequest(**{**_fields(check), "at_least_as_fresh": revoked.consistency_token}), metadata=md)
            tokened_stale += with_token.allowed
            while (await b.CheckConsent(check, metadata=md)).allowed:
                pass
            lag_ms.append((time.perf_counter() - acked) * 1000)
    return {"lag_p50": statistics.median(lag_ms), "lag_p99": pct(lag_ms, 99), "lag_max": max(lag_ms), "tokened_stale": tokened_stale, "samples": samples}


def _fields(message) -> dict:
    return {f.name: v for f, v in message.ListFields()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--talent", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--staleness-samples", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="Print the results as one JSON object.")
    args = parser.parse_args()
    configure_logging("WARNING", json=True)
    state = Path(tempfile.mkdtemp(prefix="likeness-bench-"))
    stack = DevStack(state, services={}, relay=False)
    try:
        info = stack.start()
        t0 = time.monotonic()
        talent_ids, platform_id, platform_key, operator_key = asyncio.run(load(info["database_url"], Path(stack.env["LIKENESS_KEK_FILE"]), args.talent))
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
    if args.json:
        print(json.dumps({"talent": args.talent, "grants": grants, **result, **stale}))
        return
    print(f"\nbench/consent  {datetime.now(UTC):%Y-%m-%d}  {args.talent:,} talent x {len(PURPOSES)} grants = {grants:,} grants "
          f"(bulk load {loaded:.1f}s; two replicas started with views loaded in {started:.1f}s)\n")  # fmt: skip
    print("| measure | value |\n| --- | --- |")
    print(f"| CheckConsent p50 / p99, one at a time | {result['seq_p50']:.2f} ms / {result['seq_p99']:.2f} ms |")
    print(f"| CheckConsent p50 / p99, {args.concurrency} concurrent | {result['conc_p50']:.2f} ms / {result['conc_p99']:.2f} ms |")
    print(f"| checks/s, {args.concurrency} concurrent, {args.seconds:.0f} s | {result['checks_per_s']:,.0f} |")
    print(f"| share of checks allowed | {result['allowed_share']:.0%} |")
    print(f"| replica B staleness without token after a revoke on A, p50 / p99 / max ({stale['samples']} revokes) | "
          f"{stale['lag_p50']:.1f} ms / {stale['lag_p99']:.1f} ms / {stale['lag_max']:.1f} ms |")  # fmt: skip
    print(f"| stale ALLOWs on replica B with the revoke's token | {stale['tokened_stale']} of {stale['samples']} |")


if __name__ == "__main__":
    main()
