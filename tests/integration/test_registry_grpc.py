"""The registry over real gRPC (port 0) and Postgres: authentication, authorization, bad input,
idempotency, pagination, health and reflection."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from likeness.registry.v1 import registry_pb2 as pb
from likeness.registry.v1 import registry_pb2_grpc
from tests.conftest import bearer, unique
from tests.support import rid


@pytest.fixture
def stub(channel) -> registry_pb2_grpc.RegistryServiceStub:
    return registry_pb2_grpc.RegistryServiceStub(channel)


@pytest.fixture
def op(stack):
    return bearer(stack.operator_key)


async def expect(code: grpc.StatusCode, call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    return caught.value


def error_info(error: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(error)
    info = error_details_pb2.ErrorInfo()
    assert status is not None and status.details[0].Unpack(info)
    return info


async def agency(stub, op) -> tuple[str, list]:
    resp = await stub.RegisterAgency(pb.RegisterAgencyRequest(request_id=rid(), display_name=unique("agency")), metadata=op)
    return resp.agency.agency_id, bearer(resp.api_key)


async def test_missing_or_wrong_key_is_unauthenticated(stub, op):
    req = pb.ListTalentRequest()
    err = await expect(grpc.StatusCode.UNAUTHENTICATED, stub.ListTalent(req))
    assert error_info(err).reason == "MISSING_API_KEY"
    err = await expect(grpc.StatusCode.UNAUTHENTICATED, stub.ListTalent(req, metadata=bearer("lk_0123456789abcdef.wrong")))
    assert error_info(err).reason == "UNKNOWN_API_KEY"
    await expect(grpc.StatusCode.UNAUTHENTICATED, stub.ListTalent(req, metadata=bearer("garbage")))
    await expect(grpc.StatusCode.UNAUTHENTICATED, stub.ListTalent(req, metadata=[("authorization", "Basic abc")]))
    _, agency_md = await agency(stub, op)
    good_key = agency_md[0][1].removeprefix("Bearer ")
    tampered = good_key[:-1] + ("A" if good_key[-1] != "A" else "B")
    await expect(grpc.StatusCode.UNAUTHENTICATED, stub.ListTalent(req, metadata=bearer(tampered)))


async def test_agency_cannot_read_or_change_another_agencys_talent(stub, op):
    _, mine = await agency(stub, op)
    _, theirs = await agency(stub, op)
    created = await stub.RegisterTalent(pb.RegisterTalentRequest(request_id=rid(), display_name="Jane"), metadata=mine)
    talent_id, mandate_id = created.talent.talent_id, created.mandate.mandate_id
    assert created.mandate.state == pb.MANDATE_STATE_ACTIVE
    assert (await stub.GetTalent(pb.GetTalentRequest(talent_id=talent_id), metadata=mine)).talent.display_name == "Jane"
    await expect(grpc.StatusCode.PERMISSION_DENIED, stub.GetTalent(pb.GetTalentRequest(talent_id=talent_id), metadata=theirs))
    await expect(
        grpc.StatusCode.PERMISSION_DENIED,
        stub.EndMandate(pb.EndMandateRequest(request_id=rid(), mandate_id=mandate_id), metadata=theirs),
    )
    listed = await stub.ListTalent(pb.ListTalentRequest(), metadata=theirs)
    assert talent_id not in {t.talent_id for t in listed.talent}
    # A talent that does not exist looks the same to an agency as one it does not represent.
    await expect(
        grpc.StatusCode.PERMISSION_DENIED,
        stub.GetTalent(pb.GetTalentRequest(talent_id="tal_01M88J602BD7QVZB8KK88Q3310"), metadata=theirs),
    )


async def test_platform_key_cannot_register_or_list_talent(stub, op):
    resp = await stub.RegisterPlatform(pb.RegisterPlatformRequest(request_id=rid(), display_name="ClipTok"), metadata=op)
    platform = bearer(resp.api_key)
    await expect(
        grpc.StatusCode.PERMISSION_DENIED,
        stub.RegisterTalent(pb.RegisterTalentRequest(request_id=rid(), display_name="X"), metadata=platform),
    )
    await expect(grpc.StatusCode.PERMISSION_DENIED, stub.ListTalent(pb.ListTalentRequest(), metadata=platform))
    await expect(
        grpc.StatusCode.PERMISSION_DENIED,
        stub.RegisterAgency(pb.RegisterAgencyRequest(request_id=rid(), display_name="X"), metadata=platform),
    )
    me = await stub.WhoAmI(pb.WhoAmIRequest(), metadata=platform)
    assert (me.kind, me.principal_id) == (pb.PRINCIPAL_KIND_PLATFORM, resp.platform.platform_id)


@pytest.mark.parametrize(
    ("name", "field"),
    [("", "display_name"), ("   ", "display_name"), ("x" * 201, "display_name"), ("a\x00b", "display_name")],
)
async def test_bad_names_are_invalid_argument_with_field_violations(stub, op, name, field):
    err = await expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        stub.RegisterAgency(pb.RegisterAgencyRequest(request_id=rid(), display_name=name), metadata=op),
    )
    bad = error_details_pb2.BadRequest()
    assert rpc_status.from_call(err).details[1].Unpack(bad)
    assert [v.field for v in bad.field_violations] == [field]


async def test_wrong_ids_and_over_long_fields(stub, op):
    for talent_id in ["", "nope", "agc_01M88J602BD7QVZB8KK88Q3310", "tal_" + "Z" * 300]:
        await expect(grpc.StatusCode.INVALID_ARGUMENT, stub.GetTalent(pb.GetTalentRequest(talent_id=talent_id), metadata=op))
    await expect(grpc.StatusCode.NOT_FOUND, stub.GetTalent(pb.GetTalentRequest(talent_id="tal_01M88J602BD7QVZB8KK88Q3310"), metadata=op))
    await expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        stub.RegisterTalent(pb.RegisterTalentRequest(request_id="r" * 500, display_name="Jane"), metadata=op),
    )
    await expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        stub.RegisterTalent(pb.RegisterTalentRequest(request_id=rid(), display_name="Jane", external_ref="x" * 1000), metadata=op),
    )
    await expect(grpc.StatusCode.INVALID_ARGUMENT, stub.ListTalent(pb.ListTalentRequest(page_size=-1), metadata=op))
    await expect(grpc.StatusCode.INVALID_ARGUMENT, stub.ListTalent(pb.ListTalentRequest(page_token="%%%"), metadata=op))


async def test_repeated_request_id_returns_first_result_no_duplicate_row_or_event(stub, op, pool):
    _, md = await agency(stub, op)
    request = pb.RegisterTalentRequest(request_id=rid(), display_name=unique("twice"))
    first, second = await stub.RegisterTalent(request, metadata=md), await stub.RegisterTalent(request, metadata=md)
    assert first.talent.talent_id == second.talent.talent_id
    assert first.mandate.mandate_id == second.mandate.mandate_id
    assert await pool.fetchval("SELECT count(*) FROM talent WHERE display_name = $1", request.display_name) == 1
    events = await pool.fetch("SELECT event_type FROM outbox WHERE message_key = $1", first.talent.talent_id)
    assert sorted(r["event_type"] for r in events) == ["MandateGranted", "TalentRegistered"]


async def test_pagination_walks_every_talent_once(stub, op):
    _, md = await agency(stub, op)
    created = set()
    for i in range(7):
        resp = await stub.RegisterTalent(pb.RegisterTalentRequest(request_id=rid(), display_name=f"T{i}"), metadata=md)
        created.add(resp.talent.talent_id)
    seen, token, pages = [], "", 0
    while True:
        page = await stub.ListTalent(pb.ListTalentRequest(page_size=3, page_token=token), metadata=md)
        seen += [t.talent_id for t in page.talent]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(created) and len(seen) == len(set(seen)) and pages == 3


async def test_revoked_and_rotated_keys(stub, op):
    agency_id, md = await agency(stub, op)
    rotated = await stub.RotateApiKey(pb.RotateApiKeyRequest(request_id=rid()), metadata=md)
    await expect(grpc.StatusCode.UNAUTHENTICATED, stub.WhoAmI(pb.WhoAmIRequest(), metadata=md))
    new_md = bearer(rotated.api_key)
    assert (await stub.WhoAmI(pb.WhoAmIRequest(), metadata=new_md)).principal_id == agency_id
    revoked = await stub.RevokeApiKeys(pb.RevokeApiKeysRequest(request_id=rid(), principal_id=agency_id), metadata=op)
    assert revoked.revoked_count == 1
    err = await expect(grpc.StatusCode.UNAUTHENTICATED, stub.WhoAmI(pb.WhoAmIRequest(), metadata=new_md))
    assert error_info(err).reason == "API_KEY_REVOKED"


async def test_health_and_reflection(channel):
    health = health_pb2_grpc.HealthStub(channel)
    for service in ["", "likeness.registry.v1.RegistryService"]:
        resp = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def ask():
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    async for answer in reflection.ServerReflectionInfo(ask()):
        names = {s.name for s in answer.list_services_response.service}
        assert "likeness.registry.v1.RegistryService" in names and "grpc.health.v1.Health" in names
        break
    else:
        pytest.fail("no reflection answer")
