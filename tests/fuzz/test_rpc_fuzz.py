"""Hostile input over every RPC of every service (issue 7).

The RPCs are enumerated from the generated descriptors, so a new RPC is fuzzed without a change
here. Requests are built from each request message's descriptor (random, huge and truncated
fields, unknown enum numbers, out-of-range timestamps, NaN/inf, ids that exist mixed with ids that
do not), sent as raw bytes through a generic call (so random and truncated serializations go
through the same path), by authenticated callers (an operator, an agency holding a mandate, a
platform, the talent with an identity-verified credential of their own) so the fuzzing reaches
past authentication. For every example:

- the status is OK or one of the clear refusals in `CLEAR` (never INTERNAL or UNKNOWN),
- a refused call changed no row of any table (the outbox included): nothing half-written. Each
  table is compared by content (a checksum of its rows), not by count: an UPDATE or a DELETE plus
  an INSERT changes the checksum too (see `World.checksums` for what background work is set aside),
- the service still answers its health check with SERVING.

Hypothesis runs derandomized (the same examples in CI every time) without a deadline.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likeness.consent.v1 import consent_pb2
from likeness.enrollment.v1 import enrollment_pb2
from likeness.registry.v1 import registry_pb2
from likeness.verification.v1 import verification_pb2
from likeness_common import credentials, metrics
from likeness_common.principal import PrincipalKind
from tests.conftest import bearer, unique
from tests.fuzz.hostile_media import hostile_media, real_files

CLEAR = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.ALREADY_EXISTS,
}
MODULES = {"registry": registry_pb2, "consent": consent_pb2, "enrollment": enrollment_pb2, "verification": verification_pb2}
BIG = [("grpc.max_send_message_length", 128 << 20), ("grpc.max_receive_message_length", 128 << 20)]
# Media RPCs cost real decoding and detection: fewer examples there keep the suite within ~2 minutes.
HEAVY = {"Verify", "VerifyStream", "EnrollFace", "EnrollVoice"}
# Hypothesis runs in a worker thread while the event loop's libraries (aiokafka, asyncpg) use the
# `random` module: its warning about random state changing during generation is about them, not us.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
FUZZ = settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
FUZZ_HEAVY = settings(FUZZ, max_examples=20)


@dataclass(frozen=True)
class Rpc:
    service: str
    method: MethodDescriptor

    @property
    def path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def streaming(self) -> bool:
        return self.method.client_streaming

    def __str__(self) -> str:
        return f"{self.method.containing_service.name}.{self.method.name}"


RPCS = [
    Rpc(name, method)
    for name, module in MODULES.items()
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]


# When a server answers a client stream early (a refusal after the first message) while a large
# message is still being written, grpc's asyncio client reports its failed write as INTERNAL "Internal
# error from Core" instead of the status the server sent. The server's own record (the interceptor's
# grpc_server_handled counter, in this process) tells what it answered; that is what is judged then.
CLIENT_WRITE_FAILED = "Internal error from Core"
# Every answer the fuzzer saw, by RPC and code: the last test checks the fuzzing got past the front door.
ANSWERS: dict[str, Counter[str]] = defaultdict(Counter)


def served(rpc: Rpc) -> dict[str, float]:
    """How many calls of the RPC the server completed, by status code (from its Prometheus counter)."""
    service, name = rpc.method.containing_service.full_name, rpc.method.name
    counts: dict[str, float] = {}
    for family in metrics.RPC_HANDLED.collect():
        for sample in family.samples:
            labels = sample.labels
            if sample.name.endswith("_total") and labels["grpc_service"] == service and labels["grpc_method"] == name:
                counts[labels["grpc_code"]] = sample.value
    return counts


async def server_answer(rpc: Rpc, before: dict[str, float], wait: float = 2.0) -> str | None:
    """The status code the server recorded for the call made since `before` (None if none within `wait`)."""
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        now = served(rpc)
        grown = [code for code, value in now.items() if value > before.get(code, 0)]
        if grown or asyncio.get_running_loop().time() > deadline:
            return grown[0] if grown else None
        await asyncio.sleep(0.005)


def message_class(descriptor: Descriptor) -> type:
    return message_factory.GetMessageClass(descriptor)


# ------------------------------------------------------------------------------------ the world


# Columns that work in the background writes to rows an earlier call committed, whatever the call
# under test does: a relay (the dev stack's, or one a fault test left running) stamps `published_at`
# on outbox rows it publishes. Left out of the checksums; every other column of every table is in.
BACKGROUND_COLUMNS = {"outbox": {"published_at"}}
# Verify operations run on after StartVerifyOperation answered (claim, lease renewals, progress, then
# the verification, its audit entry and outbox event, and the sealed media deleted): a check waits
# until none is queued or running before it takes the "before" checksums.
SETTLE_TIMEOUT_S = 120.0


@dataclass
class World:
    channels: dict[str, grpc.aio.Channel]
    keys: dict[str, str]  # caller -> API key (RotateApiKey of one's own key replaces it)
    ids: list[str]  # ids that exist: talent, grant, verification, victims' agency/platform/mandate
    pool: object
    tables: dict[str, str] = field(default_factory=dict)  # table -> the row expression its checksum hashes

    @classmethod
    async def row_expressions(cls, pool) -> dict[str, str]:
        """Per table of the public schema: the whole row (`t`), or ROW(every column but the background ones)."""
        rows = await pool.fetch(
            """SELECT table_name, array_agg(column_name::text ORDER BY ordinal_position) AS columns
                 FROM information_schema.columns c
                 JOIN pg_tables p ON p.schemaname = c.table_schema AND p.tablename = c.table_name
                WHERE c.table_schema = 'public' GROUP BY table_name ORDER BY table_name"""
        )
        expressions = {}
        for row in rows:
            skipped = BACKGROUND_COLUMNS.get(row["table_name"], set())
            kept = [f't."{c}"' for c in row["columns"] if c not in skipped]
            expressions[row["table_name"]] = f"ROW({', '.join(kept)})" if skipped else "t"
        return expressions

    async def checksums(self, conn=None) -> dict[str, str]:
        """Per table, md5 over the sorted md5s of its rows' text: equal iff the same rows (in any
        physical order) with the same content; row hashes keep the aggregate small for wide rows."""
        sql = "SELECT " + ", ".join(
            f"(SELECT md5(coalesce(string_agg(h, '' ORDER BY h), '')) FROM (SELECT md5(({expr})::text) AS h FROM \"{table}\" t) s)"
            f' AS "{table}"'
            for table, expr in self.tables.items()
        )
        return dict(await (conn or self.pool).fetchrow(sql))

    async def settled(self) -> None:
        """No Verify operation queued or running: nothing an earlier call started still writes."""
        deadline = asyncio.get_running_loop().time() + SETTLE_TIMEOUT_S
        while await self.pool.fetchval("SELECT count(*) FROM verify_operations WHERE state IN ('QUEUED', 'RUNNING')"):
            assert asyncio.get_running_loop().time() < deadline, f"Verify operations still running after {SETTLE_TIMEOUT_S:.0f}s"
            await asyncio.sleep(0.02)

    async def serving(self, service: str) -> bool:
        stub = health_pb2_grpc.HealthStub(self.channels[service])
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    async def invoke(self, rpc: Rpc, payload, caller: str) -> tuple[grpc.StatusCode, bytes | str]:
        channel = self.channels[rpc.service]
        metadata = bearer(self.keys[caller])
        try:
            if rpc.streaming:
                opened = channel.stream_stream if rpc.method.server_streaming else channel.stream_unary
                reply = await self._stream(opened(rpc.path)(metadata=metadata, timeout=120), payload)
            else:
                reply = await channel.unary_unary(rpc.path)(payload, metadata=metadata, timeout=120)
        except grpc.aio.AioRpcError as error:
            return error.code(), (error.details() or "")[:300]
        return grpc.StatusCode.OK, reply

    @staticmethod
    async def _stream(call, parts: list[bytes]) -> bytes:
        """Write the parts one by one: a server may answer (and end the call) before the last one,
        and the status it answered with is what counts, not the client's failed write."""
        try:
            for part in parts:
                await call.write(part)
            await call.done_writing()
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):  # (the latter: "RPC already finished")
            pass
        if isinstance(call, grpc.aio.StreamStreamCall):  # a server stream: its messages, then its status
            return b"".join([message async for message in call])
        return await call

    async def check(self, rpc: Rpc, payload, caller: str) -> grpc.StatusCode:
        """One call with every promise of the module docstring asserted."""
        await self.settled()
        before, served_before = await self.checksums(), served(rpc)
        code, reply = await self.invoke(rpc, payload, caller)
        server_code = await server_answer(rpc, served_before)
        if server_code is not None:  # None: grpc itself refused the call before our code saw it
            assert server_code == "OK" or grpc.StatusCode[server_code] in CLEAR, (
                f"{rpc} as {caller}: the server answered {server_code}"
            )
        if rpc.streaming and code == grpc.StatusCode.INTERNAL and reply == CLIENT_WRITE_FAILED and server_code:
            code = grpc.StatusCode[server_code]  # see CLIENT_WRITE_FAILED
        assert code == grpc.StatusCode.OK or code in CLEAR, f"{rpc} as {caller}: {code.name} {reply!r:.300}"
        ANSWERS[str(rpc)][code.name] += 1
        if code != grpc.StatusCode.OK:
            after = await self.checksums()
            changed = sorted(table for table in before if after.get(table) != before[table])
            assert not changed, f"{rpc} was refused ({code.name}) but rows changed in {', '.join(changed)}"
        elif rpc.method.name == "RotateApiKey":
            request = registry_pb2.RotateApiKeyRequest.FromString(payload)
            if not request.principal_id:  # the caller's own key was replaced
                self.keys[caller] = registry_pb2.RotateApiKeyResponse.FromString(reply).api_key
        assert await self.serving(rpc.service), f"{rpc.service} stopped serving after {rpc}"
        return code


@pytest.fixture(scope="module")
async def world(stack, pool, channel, registry_target, consent_app, enrollment_app, verification_app):
    """A fuzzing operator, agency (with a mandate over a talent that has a grant) and platform; plus
    victims (an agency, a platform, a mandate) whose ids the fuzzer may revoke, rotate or end."""
    from likeness.registry.v1 import registry_pb2_grpc

    reg = registry_pb2_grpc.RegistryServiceStub(channel)
    op = bearer(stack.operator_key)

    async def agency() -> registry_pb2.RegisterAgencyResponse:
        return await reg.RegisterAgency(
            registry_pb2.RegisterAgencyRequest(request_id=str(uuid.uuid4()), display_name=unique("fz")), metadata=op
        )

    async def platform() -> registry_pb2.RegisterPlatformResponse:
        return await reg.RegisterPlatform(
            registry_pb2.RegisterPlatformRequest(request_id=str(uuid.uuid4()), display_name=unique("fz")), metadata=op
        )

    fuzz_agency, fuzz_platform, victim_agency, victim_platform = (
        await agency(),
        await platform(),
        await agency(),
        await platform(),
    )
    async with pool.acquire() as conn, conn.transaction():
        operator_key = await credentials.issue_api_key(conn, PrincipalKind.OPERATOR, "opr_fuzz")
    talent = await reg.RegisterTalent(
        registry_pb2.RegisterTalentRequest(request_id=str(uuid.uuid4()), display_name="Fuzz Talent"),
        metadata=bearer(fuzz_agency.api_key),
    )
    victim = await reg.RegisterTalent(
        registry_pb2.RegisterTalentRequest(request_id=str(uuid.uuid4()), display_name="Victim"),
        metadata=bearer(victim_agency.api_key),
    )
    channels = {
        "registry": grpc.aio.insecure_channel(registry_target, options=BIG),
        "consent": grpc.aio.insecure_channel(consent_app.target, options=BIG),
        "enrollment": grpc.aio.insecure_channel(enrollment_app.target, options=BIG),
        "verification": grpc.aio.insecure_channel(verification_app.target, options=BIG),
    }
    from likeness.consent.v1 import consent_pb2_grpc
    from likeness.verification.v1 import verification_pb2_grpc

    grant = await consent_pb2_grpc.ConsentServiceStub(channels["consent"]).CreateGrant(
        consent_pb2.CreateGrantRequest(
            request_id=str(uuid.uuid4()),
            grant=consent_pb2.Grant(
                talent_id=talent.talent.talent_id, platform_id=fuzz_platform.platform.platform_id,
                modalities=[enrollment_pb2.MODALITY_FACE], purposes=[consent_pb2.PURPOSE_ADVERTISING], worldwide=True,
            ),
        ),
        metadata=bearer(fuzz_agency.api_key),
    )  # fmt: skip
    verification = await verification_pb2_grpc.VerificationServiceStub(channels["verification"]).Verify(
        verification_pb2.VerifyRequest(
            parameters=verification_pb2.VerifyParameters(request_id=str(uuid.uuid4()), purpose=consent_pb2.PURPOSE_ADVERTISING, territory="US"),
            media=next(iter(real_files().values()), b""),
        ),
        metadata=bearer(fuzz_platform.api_key),
    )  # fmt: skip
    own = await reg.IssueTalentCredential(registry_pb2.IssueTalentCredentialRequest(
        request_id=str(uuid.uuid4()), talent_id=talent.talent.talent_id, identity_verified=True), metadata=op)  # fmt: skip
    invitation = await reg.CreateTalentInvitation(registry_pb2.CreateTalentInvitationRequest(
        request_id=str(uuid.uuid4()), talent_id=talent.talent.talent_id), metadata=bearer(fuzz_agency.api_key))  # fmt: skip
    ids = [
        talent.talent.talent_id, grant.grant.grant_id, verification.verification.verification_id,
        victim_agency.agency.agency_id, victim_platform.platform.platform_id, victim.mandate.mandate_id,
        fuzz_platform.platform.platform_id, victim.talent.talent_id, talent.mandate.mandate_id, invitation.invitation_code,
    ]  # fmt: skip
    keys = {"operator": operator_key, "agency": fuzz_agency.api_key, "platform": fuzz_platform.api_key, "talent": own.api_key}
    yield World(channels, keys, ids, pool, await World.row_expressions(pool))
    for ch in channels.values():
        await ch.close()


# ------------------------------------------------------------------------------- the strategies

FIXED_REQUEST_IDS = ["5b7e1c9e-0d1f-4c2a-9a57-3c1f0f3d2a10", "00000000-0000-0000-0000-000000000000"]
ODD_STRINGS = [
    "", "US", "GB", "us", "ZZ", "*", "advertising", "disclosure_label", "AI-generated", "operator", "agency",
    "ct1.0", "ct1.1", "ct1.99999999999999999999999", "ct1.-5", "ct1.", "ct2.7", "not-a-token",
    "lk_0000000000000000.secret", "image/jpeg", "video/mp4", "audio/wav", "text/plain", "\x00", "a\x00b",
    "' OR 1=1 --", "%s%n", "😀" * 30, "\u202e", " ", "tal_", "-1", "9" * 40,
]  # fmt: skip
HUGE_STRING_LENGTHS = [10_000, 1_000_000]
INT32 = st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1, -1, 1000, 2**31 - 1, -(2**31)]))
INT64 = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, -1, 2**63 - 1, -(2**63)]))
UINT32 = st.integers(0, 2**32 - 1)
UINT64 = st.integers(0, 2**64 - 1)
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([math.nan, math.inf, -math.inf, 0.0]))


def strings(ids: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(ids + FIXED_REQUEST_IDS),
        st.sampled_from(ODD_STRINGS),
        st.text(max_size=40),
        st.sampled_from(HUGE_STRING_LENGTHS).map(lambda n: "A" * n),
        st.uuids().map(str),
    )


def media_strategy() -> st.SearchStrategy[bytes]:
    hostile = hostile_media()
    real = real_files()
    return st.one_of(
        st.binary(max_size=4096),
        st.sampled_from(sorted(hostile)).map(hostile.__getitem__),
        st.sampled_from(sorted(real)).map(real.__getitem__),
        st.sampled_from(sorted(real)).flatmap(lambda name: st.integers(0, len(real[name])).map(lambda n: real[name][:n])),
    )


def timestamps(cls: type) -> st.SearchStrategy:
    """Within range near now, or out of the range a Timestamp/Duration may hold."""
    seconds = st.one_of(
        st.integers(1_600_000_000, 2_000_000_000), st.integers(-100, 100),
        st.sampled_from([-62135596801, 253402300800, 2**63 - 1, -(2**63), 315576000001]), INT64,
    )  # fmt: skip
    nanos = st.one_of(st.just(0), st.integers(-(2**31), 2**31 - 1), st.sampled_from([-1, 10**9, 999_999_999]))
    return st.builds(lambda s, n: cls(seconds=s, nanos=n), seconds, nanos)


MEDIA_FIELDS = {"media", "content", "chunk"}
HUGE = -1


def scalar(fd: FieldDescriptor, ids: list[str]) -> st.SearchStrategy:
    t = fd.type
    if t == FieldDescriptor.TYPE_STRING:
        return strings(ids)
    if t == FieldDescriptor.TYPE_BYTES:
        return media_strategy() if fd.name in MEDIA_FIELDS else st.binary(max_size=512)
    if t == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if t == FieldDescriptor.TYPE_ENUM:  # known values, unknown numbers, negative numbers
        known = [v.number for v in fd.enum_type.values]
        return st.one_of(st.sampled_from(known), st.integers(-(2**31), 2**31 - 1), st.integers(-3, 50))
    if t in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return FLOATS
    if t in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32):
        return INT32
    if t in (FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64):
        return INT64
    if t in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return UINT32
    return UINT64


def messages(descriptor: Descriptor, ids: list[str], depth: int = 0) -> st.SearchStrategy:
    cls = message_class(descriptor)
    if descriptor.full_name in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
        return timestamps(cls)

    @st.composite
    def build(draw: Callable) -> object:
        message = cls()
        for fd in descriptor.fields:
            if not draw(st.booleans()):  # about half the fields stay unset
                continue
            is_message = fd.type == FieldDescriptor.TYPE_MESSAGE
            if is_message and depth >= 3:
                continue
            values = messages(fd.message_type, ids, depth + 1) if is_message else scalar(fd, ids)
            if fd.is_repeated:
                container = getattr(message, fd.name)
                count = draw(st.one_of(st.integers(0, 3), st.just(HUGE)))
                if count == HUGE and is_message:  # many empty elements (above any per-request limit)
                    for _ in range(200):
                        container.add()
                elif count == HUGE:  # many small values (huge ones many times would be gigabytes)
                    small = {
                        FieldDescriptor.TYPE_STRING: st.sampled_from(ids + ODD_STRINGS),
                        FieldDescriptor.TYPE_BYTES: st.binary(max_size=8),
                    }
                    container.extend([draw(small.get(fd.type, values))] * 5_000)
                else:
                    for _ in range(count):
                        container.add().CopyFrom(draw(values)) if is_message else container.append(draw(values))
            elif is_message:
                getattr(message, fd.name).CopyFrom(draw(values))
            else:
                setattr(message, fd.name, draw(values))
        return message

    return build()


def stream_parts(descriptor: Descriptor, ids: list[str]) -> st.SearchStrategy[list[bytes]]:
    """A client stream: parameter messages and chunks in any order and number (or none)."""
    return st.lists(messages(descriptor, ids), max_size=5).map(lambda parts: [p.SerializeToString() for p in parts])


def truncated(data: bytes) -> st.SearchStrategy[bytes]:
    return st.integers(0, max(len(data) - 1, 0)).map(lambda n: data[:n])


CALLERS = st.sampled_from(["operator", "agency", "platform", "talent"])


async def run_examples(profile: settings, world: World, rpc: Rpc, payloads: st.SearchStrategy) -> None:
    """Hypothesis drives a synchronous test in a worker thread; each example runs on this event loop
    (where the servers and the channels live)."""
    loop = asyncio.get_running_loop()

    @profile
    @given(payload=payloads, caller=CALLERS)
    def example(payload, caller: str) -> None:
        asyncio.run_coroutine_threadsafe(world.check(rpc, payload, caller), loop).result()

    await asyncio.to_thread(example)


# ------------------------------------------------------------------------------------ the tests


def generated(rpc: Rpc, world: World) -> st.SearchStrategy:
    request_type = rpc.method.input_type
    if rpc.streaming:
        return stream_parts(request_type, world.ids)
    return messages(request_type, world.ids).map(lambda m: m.SerializeToString())


@pytest.mark.parametrize("rpc", RPCS, ids=str)
async def test_generated_requests_get_a_clear_status(world: World, rpc: Rpc) -> None:
    """Messages built from the request descriptor, by every kind of caller."""
    profile = FUZZ_HEAVY if rpc.method.name in HEAVY else FUZZ
    await run_examples(profile, world, rpc, generated(rpc, world))


@pytest.mark.parametrize("rpc", RPCS, ids=str)
async def test_random_and_truncated_serializations_get_a_clear_status(world: World, rpc: Rpc) -> None:
    """Whole requests that are random bytes, or a valid serialization cut anywhere, or with bytes flipped."""
    request_type = rpc.method.input_type
    valid = messages(request_type, world.ids).map(lambda m: m.SerializeToString())
    flipped = st.tuples(valid, st.integers(0, 2**16), st.integers(1, 255)).map(
        lambda t: (
            t[0] if not t[0] else t[0][: t[1] % len(t[0])] + bytes([t[0][t[1] % len(t[0])] ^ t[2]]) + t[0][t[1] % len(t[0]) + 1 :]
        )
    )
    raw = st.one_of(st.binary(max_size=2048), valid.flatmap(truncated), flipped)
    payloads = st.lists(raw, max_size=4) if rpc.streaming else raw

    await run_examples(settings(FUZZ, max_examples=20), world, rpc, payloads)


MEDIA_RPCS = [rpc for rpc in RPCS if rpc.method.name in HEAVY]
HOSTILE = sorted(hostile_media())


def media_request(rpc: Rpc, media: bytes, world: World) -> bytes | list[bytes]:
    """A request that is valid except for its media."""
    rid = str(uuid.uuid4())
    if rpc.method.name in ("Verify", "VerifyStream"):
        params = verification_pb2.VerifyParameters(request_id=rid, purpose=consent_pb2.PURPOSE_ADVERTISING, territory="US")
        if rpc.method.name == "Verify":
            return verification_pb2.VerifyRequest(parameters=params, media=media).SerializeToString()
        chunks = [media[i : i + (1 << 20)] for i in range(0, len(media), 1 << 20)]
        parts = [verification_pb2.VerifyStreamRequest(parameters=params)] + [
            verification_pb2.VerifyStreamRequest(chunk=c) for c in chunks
        ]
        return [p.SerializeToString() for p in parts]
    from google.protobuf import duration_pb2, timestamp_pb2

    notice = enrollment_pb2.BiometricNotice(
        purpose_text="fuzz", retention=duration_pb2.Duration(seconds=86400), notice_version="1",
        accept_time=timestamp_pb2.Timestamp(seconds=1_700_000_000),
    )  # fmt: skip
    samples = [enrollment_pb2.MediaSample(filename="hostile", content=media)]
    cls = enrollment_pb2.EnrollFaceRequest if rpc.method.name == "EnrollFace" else enrollment_pb2.EnrollVoiceRequest
    field_name = "images" if rpc.method.name == "EnrollFace" else "clips"
    return cls(request_id=rid, talent_id=world.ids[0], notice=notice, **{field_name: samples}).SerializeToString()


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("rpc", MEDIA_RPCS, ids=str)
async def test_hostile_media_gets_a_clear_status(world: World, rpc: Rpc, name: str) -> None:
    """Each named hostile file through each media RPC, from the caller allowed to make it."""
    caller = "platform" if rpc.service == "verification" else "agency"
    code = await world.check(rpc, media_request(rpc, hostile_media()[name], world), caller)
    # (A header that only declares an hour may be accepted: what is decoded is the second that is there.)
    if name in ("png_bomb_30000x30000", "wav_an_hour_of_silence", "empty"):
        assert code != grpc.StatusCode.OK, f"{name} was accepted by {rpc}"


@pytest.mark.parametrize("rpc", MEDIA_RPCS, ids=str)
async def test_requests_over_the_size_limit_are_resource_exhausted(world: World, rpc: Rpc) -> None:
    caller = "platform" if rpc.service == "verification" else "agency"
    payload = media_request(rpc, b"\x00" * (66 << 20), world)
    code = await world.check(rpc, payload, caller)
    assert code in (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INVALID_ARGUMENT), code


# Examples per RPC when the test below runs without the fuzz tests above (selected alone with -k).
OWN_PASS = settings(FUZZ, max_examples=10)


@pytest.fixture(scope="module")
async def answers(world: World) -> dict[str, Counter[str]]:
    """Every answer the fuzzing saw, by RPC: the fuzz tests' above when they ran in this session, and
    for every RPC they did not fuzz (all of them when this test runs alone) a short pass of generated
    requests of its own, through the same checks."""
    for rpc in RPCS:
        if str(rpc) not in ANSWERS:
            await run_examples(OWN_PASS, world, rpc, generated(rpc, world))
    return ANSWERS


async def test_the_fuzzing_reached_past_authentication_and_validation(answers: dict[str, Counter[str]]) -> None:
    """Authenticated callers with ids that exist: every fuzzed RPC got answers other than
    UNAUTHENTICATED, and the run as a whole saw successes and the common refusals."""
    assert {str(rpc) for rpc in RPCS} <= set(answers), sorted({str(rpc) for rpc in RPCS} - set(answers))
    for rpc, codes in answers.items():
        assert set(codes) - {"UNAUTHENTICATED"}, f"{rpc}: only {dict(codes)}"
    seen = Counter()
    for codes in answers.values():
        seen.update(codes)
    assert {"OK", "INVALID_ARGUMENT", "PERMISSION_DENIED", "NOT_FOUND"} <= set(seen), dict(seen)
    assert seen["OK"] >= 20, dict(seen)


async def test_the_checksums_see_a_changed_row_that_a_count_would_miss(world: World) -> None:
    """An UPDATE keeps every count and changes the checksum of its table, and only that one; the
    relay's published_at stamp changes none. (In a transaction that is rolled back.)"""
    await world.settled()
    async with world.pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            before = await world.checksums(conn)
            await conn.execute("UPDATE talent SET display_name = display_name || '.' WHERE talent_id = $1", world.ids[0])
            renamed = await world.checksums(conn)
            await conn.execute("UPDATE outbox SET published_at = now() + interval '1 day'")
            stamped = await world.checksums(conn)
        finally:
            await transaction.rollback()
    assert {t for t in before if renamed[t] != before[t]} == {"talent"}
    assert stamped == renamed
    assert await world.checksums() == before


async def test_a_request_that_does_not_parse_is_invalid_argument(world: World) -> None:
    """Regression: grpc answered UNKNOWN when a request did not deserialize; the shared interceptor
    now turns it into INVALID_ARGUMENT (UNDECODABLE_REQUEST), unary and streaming alike."""
    from grpc_status import rpc_status

    from tests.conftest import error_reason

    for rpc_name, payload in (
        ("RegistryService.GetAgency", b"\xff\xff\xff"),
        ("VerificationService.VerifyStream", [b"\x0a\xff"]),
    ):
        rpc = next(r for r in RPCS if str(r) == rpc_name)
        channel = world.channels[rpc.service]
        call = channel.stream_unary(rpc.path) if rpc.streaming else channel.unary_unary(rpc.path)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await (
                call(iter(payload), metadata=bearer(world.keys["platform"]))
                if rpc.streaming
                else call(payload, metadata=bearer(world.keys["operator"]))
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, rpc_name
        assert error_reason(caught.value) == "UNDECODABLE_REQUEST" and rpc_status.from_call(caught.value) is not None
