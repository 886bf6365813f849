"""bench/load: sustained mixed traffic on the whole embedded stack (issue 7).

    .venv/bin/python bench/load [--seconds 60] [--quick] [--json]

`DevStack` starts Postgres, Tansu, registry, consent, enrollment, verification and the outbox relay,
each a child process; this process is the client. An agency enrolls Obama (two photos) and registers
50 more talent, each with a standing advertising grant for one platform. Then, for `--seconds`
(60; --quick 10), at the same time:

- CheckConsent: 4 loops, a random talent of the 51 (about 5 in 6 allowed),
- Verify: 2 loops, a still image of Obama (obama_small.jpg; ALLOW under his standing grant),
- CreateGrant then RevokeGrant: 1 loop, a custom-purpose grant on a random talent, revoked at once.

Wrong decisions: a CheckConsent whose answer differs from the standing grants; a Verify of Obama's
photo that is not ALLOW; a CreateGrant whose grant does not echo the request's terms in state ACTIVE,
or whose consistency token does not make a check of that custom use ALLOW by that grant; a
RevokeGrant whose grant is not that grant in state REVOKED with the reason given, or whose token does
not make the same check DENY with reason REVOKED. The two judging checks per pair carry the write's
token, run in the grant loop (so they slow it a little) and are not counted in the table.

Reported: calls, achieved RPS, p50/p99 per RPC, errors (goal 0) and wrong decisions; the RSS of every
service process (with its worker processes) after the warm-up and after the run (growth beyond 10%
flagged); the outbox backlog when traffic stops and the time until the relay has drained it (goal
within 5 s). The machine is shared: the 1-minute load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import grpc
from google.protobuf import duration_pb2

from likeness.consent.v1 import consent_pb2 as cpb
from likeness.consent.v1 import consent_pb2_grpc
from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.registry.v1 import registry_pb2 as rpb
from likeness.registry.v1 import registry_pb2_grpc
from likeness.verification.v1 import verification_pb2 as vpb
from likeness.verification.v1 import verification_pb2_grpc
from likeness_common.logging import configure_logging
from likeness_common.proto import ts
from likeness_devstack import SHARED_DATA, DevStack

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: `bench` imports from the repository root
    sys.path.insert(0, str(ROOT))
from bench.host import load_average, machine, pct  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent.parent
FACES = SHARED_DATA / "faces"
BIG = [("grpc.max_send_message_length", 64 << 20), ("grpc.max_receive_message_length", 64 << 20)]
OTHER_TALENT = 50
LOOPS = {"CheckConsent": 4, "Verify": 2, "CreateGrant+RevokeGrant": 1}
RSS_GROWTH_FLAG = 0.10
DRAIN_GOAL_S = 5.0


def rid() -> str:
    return str(uuid.uuid4())


def bearer(key: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {key}")]


def tree_rss_kib(pid: int) -> int:
    """RSS of a process and all its descendants (a service's worker processes count as its own)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return total


async def setup(info: dict) -> dict:
    """The agency, Obama enrolled, 50 more talent, one platform, a standing grant per talent; returns
    once a Verify of the still image ALLOWs (the index has caught up through Kafka)."""
    services, op = info["services"], bearer(info["operator_api_key"])
    notice = epb.BiometricNotice(purpose_text="Protect my likeness", retention=duration_pb2.Duration(seconds=365 * 86400),
                                 accept_time=ts(datetime.now(UTC)), notice_version="2026-11")  # fmt: skip
    async with (grpc.aio.insecure_channel(info["target"]) as rch, grpc.aio.insecure_channel(services["enrollment"], options=BIG) as ech,
                grpc.aio.insecure_channel(services["consent"]) as cch, grpc.aio.insecure_channel(services["verification"], options=BIG) as vch):  # fmt: skip
        reg, consent = registry_pb2_grpc.RegistryServiceStub(rch), consent_pb2_grpc.ConsentServiceStub(cch)
        agency = await reg.RegisterAgency(rpb.RegisterAgencyRequest(request_id=rid(), display_name="load agency"), metadata=op)
        plat = await reg.RegisterPlatform(
            rpb.RegisterPlatformRequest(request_id=rid(), display_name="load platform"), metadata=op
        )
        md = bearer(agency.api_key)
        talent = []
        for i in range(OTHER_TALENT + 1):
            reply = await reg.RegisterTalent(rpb.RegisterTalentRequest(request_id=rid(), display_name=f"talent {i}"), metadata=md)
            talent.append(reply.talent.talent_id)
        obama = talent[0]
        images = [epb.MediaSample(filename=n, content=(FACES / "obama" / n).read_bytes()) for n in ("obama.jpg", "obama2.jpg")]
        await enrollment_pb2_grpc.EnrollmentServiceStub(ech).EnrollFace(
            epb.EnrollFaceRequest(request_id=rid(), talent_id=obama, notice=notice, images=images), metadata=md
        )
        token = ""
        for i, talent_id in enumerate(talent):
            if i % 6 == 5:  # some talent without a grant: denials are part of the traffic
                continue
            grant = cpb.Grant(talent_id=talent_id, platform_id=plat.platform.platform_id, modalities=[epb.MODALITY_FACE],
                              purposes=[cpb.PURPOSE_ADVERTISING], worldwide=True)  # fmt: skip
            token = (
                await consent.CreateGrant(cpb.CreateGrantRequest(request_id=rid(), grant=grant), metadata=md)
            ).consistency_token
        photo = (FACES / "obama" / "obama_small.jpg").read_bytes()
        verify = verification_pb2_grpc.VerificationServiceStub(vch)
        deadline = time.monotonic() + 120
        while True:  # also the warm-up: both face workers have run once
            params = vpb.VerifyParameters(
                request_id=rid(), purpose=cpb.PURPOSE_ADVERTISING, territory="US", at_least_as_fresh=token
            )
            reply = await verify.Verify(vpb.VerifyRequest(parameters=params, media=photo), metadata=bearer(plat.api_key))
            if reply.verification.decision == vpb.DECISION_ALLOW:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("Obama's enrollment never reached the verification index")
            await asyncio.sleep(0.2)
        await asyncio.gather(*(verify.Verify(vpb.VerifyRequest(parameters=vpb.VerifyParameters(
            request_id=rid(), purpose=cpb.PURPOSE_ADVERTISING, territory="US"), media=photo), metadata=bearer(plat.api_key)) for _ in range(4)))  # fmt: skip
    return {"agency": md, "platform": bearer(plat.api_key), "platform_id": plat.platform.platform_id, "talent": talent, "photo": photo,
            "granted": {t for i, t in enumerate(talent) if i % 6 != 5}}  # fmt: skip


async def traffic(info: dict, scene: dict, seconds: float) -> dict:
    services = info["services"]
    latencies: dict[str, list[float]] = {name: [] for name in ("CheckConsent", "Verify", "CreateGrant", "RevokeGrant")}
    errors: dict[str, dict[str, int]] = {name: {} for name in latencies}
    wrong = {name: 0 for name in latencies}  # every RPC is judged (see the module docstring)
    wrong_examples: dict[str, list[str]] = {name: [] for name in latencies}
    rng = random.Random(7)

    async def timed(name: str, call):
        started = time.perf_counter()
        try:
            reply = await call
        except grpc.aio.AioRpcError as error:
            errors[name][error.code().name] = errors[name].get(error.code().name, 0) + 1
            return None
        latencies[name].append(time.perf_counter() - started)
        return reply

    async with (
        grpc.aio.insecure_channel(services["consent"]) as cch,
        grpc.aio.insecure_channel(services["verification"], options=BIG) as vch,
    ):
        consent, verify = consent_pb2_grpc.ConsentServiceStub(cch), verification_pb2_grpc.VerificationServiceStub(vch)
        end = time.monotonic() + seconds

        async def checks() -> None:
            while time.monotonic() < end:
                talent_id = rng.choice(scene["talent"])
                request = cpb.CheckConsentRequest(
                    talent_id=talent_id, modality=epb.MODALITY_FACE, purpose=cpb.PURPOSE_ADVERTISING, territory="US"
                )
                reply = await timed("CheckConsent", consent.CheckConsent(request, metadata=scene["platform"]))
                if reply is not None and reply.allowed != (talent_id in scene["granted"]):
                    wrong["CheckConsent"] += 1

        async def verifies() -> None:
            while time.monotonic() < end:
                params = vpb.VerifyParameters(request_id=rid(), purpose=cpb.PURPOSE_ADVERTISING, territory="US")
                reply = await timed(
                    "Verify",
                    verify.Verify(vpb.VerifyRequest(parameters=params, media=scene["photo"]), metadata=scene["platform"]),
                )
                if reply is not None and reply.verification.decision != vpb.DECISION_ALLOW:
                    wrong["Verify"] += 1

        def judged_wrong(name: str, reply, check: cpb.CheckConsentResponse | None) -> None:
            if len(wrong_examples[name]) < 5:  # what was wrong, for the report
                g = reply.grant
                answer = "error" if check is None else (f"ALLOWED by {','.join(check.grant_ids)}" if check.allowed
                                                        else f"{cpb.DenialReason.Name(check.reason)} {check.detail}")  # fmt: skip
                wrong_examples[name].append(f"{g.grant_id} state {cpb.GrantState.Name(g.state)}, token {reply.consistency_token}, "
                                            f"not_before {g.not_before.ToJsonString()}; tokened check: {answer}")  # fmt: skip

        async def judged_check(created_or_revoked, custom_purpose: str) -> cpb.CheckConsentResponse | None:
            """A tokened check of the grant's own use (not timed, not in the table): what the write decided."""
            request = cpb.CheckConsentRequest(
                talent_id=created_or_revoked.grant.talent_id, modality=epb.MODALITY_FACE, purpose=cpb.PURPOSE_CUSTOM,
                custom_purpose=custom_purpose, territory="US", at_least_as_fresh=created_or_revoked.consistency_token,
            )  # fmt: skip
            try:
                return await consent.CheckConsent(request, metadata=scene["platform"])
            except grpc.aio.AioRpcError:
                return None

        async def grants_and_revokes() -> None:
            while time.monotonic() < end:
                custom = f"load {uuid.uuid4().hex[:8]}"
                grant = cpb.Grant(talent_id=rng.choice(scene["talent"]), platform_id=scene["platform_id"], modalities=[epb.MODALITY_FACE],
                                  purposes=[cpb.PURPOSE_CUSTOM], custom_purposes=[custom], worldwide=True)  # fmt: skip
                created = await timed(
                    "CreateGrant",
                    consent.CreateGrant(cpb.CreateGrantRequest(request_id=rid(), grant=grant), metadata=scene["agency"]),
                )
                if created is None:
                    continue
                g = created.grant
                echoed = (g.grant_id.startswith("grt_") and g.state == cpb.GRANT_STATE_ACTIVE and g.talent_id == grant.talent_id
                          and g.platform_id == grant.platform_id and list(g.modalities) == list(grant.modalities)
                          and list(g.purposes) == list(grant.purposes) and list(g.custom_purposes) == [custom]
                          and g.worldwide and not g.territories and created.consistency_token)  # fmt: skip
                check = await judged_check(created, custom)
                if not (echoed and check is not None and check.allowed and g.grant_id in check.grant_ids):
                    wrong["CreateGrant"] += 1
                    judged_wrong("CreateGrant", created, check)
                request = cpb.RevokeGrantRequest(request_id=rid(), grant_id=g.grant_id, reason="load test")
                revoked = await timed("RevokeGrant", consent.RevokeGrant(request, metadata=scene["agency"]))
                if revoked is None:
                    continue
                r = revoked.grant
                check = await judged_check(revoked, custom)
                if not (r.grant_id == g.grant_id and r.state == cpb.GRANT_STATE_REVOKED and r.revoke_reason == "load test"
                        and check is not None and not check.allowed and check.reason == cpb.DENIAL_REASON_REVOKED):  # fmt: skip
                    wrong["RevokeGrant"] += 1
                    judged_wrong("RevokeGrant", revoked, check)

        started = time.monotonic()
        loops = (
            [checks] * LOOPS["CheckConsent"]
            + [verifies] * LOOPS["Verify"]
            + [grants_and_revokes] * LOOPS["CreateGrant+RevokeGrant"]
        )
        await asyncio.gather(*(loop() for loop in loops))
        elapsed = time.monotonic() - started
    per_rpc = {
        name: {"calls": len(values), "rps": len(values) / elapsed, "p50_ms": pct(values, 50) * 1000, "p99_ms": pct(values, 99) * 1000,
               "errors": sum(errors[name].values()), "error_codes": errors[name], "wrong_decisions": wrong[name],
               "wrong_examples": wrong_examples[name]}
        for name, values in latencies.items()
    }  # fmt: skip
    return {"elapsed_s": elapsed, "rpcs": per_rpc}


async def drain(database_url: str, timeout: float = 60.0) -> dict:
    """The outbox rows not yet published when traffic stops, and how long the relay takes to publish them."""
    conn = await asyncpg.connect(database_url)
    try:
        started = time.monotonic()
        backlog = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        left = backlog
        while left and time.monotonic() - started < timeout:
            await asyncio.sleep(0.05)
            left = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        total = await conn.fetchval("SELECT count(*) FROM outbox")
        return {"backlog_at_stop": backlog, "left": left, "drain_s": time.monotonic() - started, "outbox_rows": total}
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, help="Length of the mixed traffic (default 60; --quick 10).")
    parser.add_argument("--quick", action="store_true", help="10 s of traffic.")
    parser.add_argument("--keep", action="store_true", help="Keep the stack's state directory (logs) after the run.")
    parser.add_argument("--json", action="store_true", help="Print the results as one JSON object.")
    args = parser.parse_args()
    seconds = args.seconds or (10.0 if args.quick else 60.0)
    configure_logging("WARNING", json=True)
    host = machine()
    host["load_start"] = load_average()
    state = Path(tempfile.mkdtemp(prefix="likeness-bench-load-"))
    stack = DevStack(state)
    ok = False
    try:
        info = stack.start()
        scene = asyncio.run(setup(info))
        pids = {name: pid for name, pid in info["pids"].items() if name in (*info["services"], "relay")}
        rss_before = {name: tree_rss_kib(pid) for name, pid in pids.items()}
        result = asyncio.run(traffic(info, scene, seconds))
        outbox = asyncio.run(drain(info["database_url"]))
        rss_after = {name: tree_rss_kib(pid) for name, pid in pids.items()}
        ok = True
    finally:
        stack.stop()
        if ok and not args.keep:
            shutil.rmtree(state, ignore_errors=True)
        else:
            print(f"bench/load: the stack's logs are in {state / 'logs'}", file=sys.stderr)
    host["load_end"] = load_average()
    rss = {name: {"before_kib": rss_before[name], "after_kib": rss_after[name],
                  "growth": (rss_after[name] - rss_before[name]) / rss_before[name] if rss_before[name] else 0.0} for name in pids}  # fmt: skip
    report = {"machine": host, "seconds": seconds, "loops": LOOPS, **result, "rss": rss, "outbox": outbox}
    if args.json:
        print(json.dumps(report))
        return
    print(f"\nbench/load  {host['date']}  {host['cpu']} x{host['cores']}, Python {host['python']}, "
          f"load average {host['load_start']:.2f} at start, {host['load_end']:.2f} at end")  # fmt: skip
    print(
        f"{result['elapsed_s']:.0f} s of mixed traffic; concurrent loops: "
        + ", ".join(f"{k} x{v}" for k, v in LOOPS.items())
        + "\n"
    )
    print("| RPC | calls | RPS | p50 | p99 | errors | wrong decisions |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in result["rpcs"].items():
        codes = f" ({', '.join(f'{c} {n}' for c, n in r['error_codes'].items())})" if r["error_codes"] else ""
        print(
            f"| {name} | {r['calls']:,} | {r['rps']:,.1f} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms | {r['errors']}{codes} | {r['wrong_decisions']} |"
        )
    for name, r in result["rpcs"].items():
        for example in r["wrong_examples"]:
            print(f"  wrong {name}: {example}")
    print("\n| process (with its workers) | RSS after warm-up | RSS after the run | growth |\n| --- | ---: | ---: | ---: |")
    for name, r in rss.items():
        flag = " **> 10%**" if r["growth"] > RSS_GROWTH_FLAG else ""
        print(f"| {name} | {r['before_kib'] / 1024:,.0f} MiB | {r['after_kib'] / 1024:,.0f} MiB | {r['growth']:+.1%}{flag} |")
    verdict = "goal met" if outbox["left"] == 0 and outbox["drain_s"] <= DRAIN_GOAL_S else "**goal missed**"
    print(f"\nOutbox: {outbox['backlog_at_stop']} unpublished rows when traffic stopped, {outbox['left']} left after "
          f"{outbox['drain_s']:.2f} s ({verdict}: drained within {DRAIN_GOAL_S:.0f} s); {outbox['outbox_rows']:,} rows in all.")  # fmt: skip


if __name__ == "__main__":
    main()
