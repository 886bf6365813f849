"""Prometheus endpoints of real processes, scraped over HTTP: RPC counts and latencies by method
and code from the shared interceptor, the relay's backlog / lag / published / leader metrics, and
`likeness dev up` publishing where every process's metrics are, and the verification index size."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import duration_pb2
from prometheus_client.parser import text_string_to_metric_families

from likeness.enrollment.v1 import enrollment_pb2 as epb
from likeness.enrollment.v1 import enrollment_pb2_grpc
from likeness.events.v1 import events_pb2
from likeness.registry.v1 import registry_pb2 as pb
from likeness.registry.v1 import registry_pb2_grpc
from likeness_common import metrics, topics
from likeness_common.app import ServiceApp
from likeness_common.events import new_event
from likeness_common.outbox import append_events
from likeness_common.proto import ts
from likeness_devstack import DevStack, free_port
from tests.conftest import bearer, shared_data, unique
from tests.support import relay_process
from verification.domain.model import Modality

REGISTRY_SERVICE = "likeness.registry.v1.RegistryService"
Samples = dict[tuple[str, frozenset], float]


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


async def scrape(url: str) -> Samples:
    """Every sample of the endpoint, keyed by (sample name, labels)."""
    text = await asyncio.to_thread(_fetch, url)
    return {
        (s.name, frozenset(s.labels.items())): s.value for family in text_string_to_metric_families(text) for s in family.samples
    }


async def scrape_when_up(url: str, timeout: float = 30.0) -> Samples:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await scrape(url)
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def rpc_deltas(before: Samples, after: Samples, sample: str) -> dict[tuple[str, str], float]:
    """(method, code) -> increase of `sample` for the registry service's methods."""
    deltas = {}
    for (name, labels), value in after.items():
        labels = dict(labels)
        if name == sample and labels.get("grpc_service") == REGISTRY_SERVICE:
            increase = value - before.get((name, frozenset(labels.items())), 0.0)
            if increase:
                deltas[(labels["grpc_method"], labels["grpc_code"])] = increase
    return deltas


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@pytest.fixture
async def registry_app(pool) -> AsyncIterator[ServiceApp]:
    """The registry as `python -m registry` runs it (a ServiceApp), with /metrics on a free port."""
    from registry.bootstrap import RegistrySettings, build_app

    app = build_app(pool, RegistrySettings(port=0, metrics_port=0, shutdown_grace_seconds=0.5))
    await app.start()
    yield app
    await app.stop()


async def test_rpcs_are_counted_and_timed_by_method_and_code(stack, registry_app):
    url = registry_app.metrics_endpoint.url
    async with grpc.aio.insecure_channel(f"127.0.0.1:{registry_app.server.port}") as channel:
        stub = registry_pb2_grpc.RegistryServiceStub(channel)
        op = bearer(stack.operator_key)
        before = await scrape(url)
        for _ in range(3):
            await stub.RegisterAgency(pb.RegisterAgencyRequest(request_id=str(uuid.uuid4()), display_name=unique("m")), metadata=op)
        await stub.WhoAmI(pb.WhoAmIRequest(), metadata=op)
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stub.GetAgency(pb.GetAgencyRequest(agency_id=f"agy_{uuid.uuid4().hex}"), metadata=op)
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await stub.ListTalent(pb.ListTalentRequest())
        after = await scrape(url)

    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    expected = {
        ("RegisterAgency", "OK"): 3,
        ("WhoAmI", "OK"): 1,
        ("GetAgency", missing.value.code().name): 1,
        ("ListTalent", "UNAUTHENTICATED"): 1,
    }
    assert missing.value.code() != grpc.StatusCode.OK
    assert rpc_deltas(before, after, "grpc_server_handled_total") == expected
    assert rpc_deltas(before, after, "grpc_server_handling_seconds_count") == expected
    # Bounded labels: methods and codes only, never an id.
    rpc_labels = {frozenset(dict(labels)) for name, labels in after if name.startswith("grpc_server_")}
    assert rpc_labels <= {frozenset({"grpc_service", "grpc_method", "grpc_code"}), frozenset({"grpc_service", "grpc_method", "grpc_code", "le"})}
    assert not any("agy_" in v or "tal_" in v for _, labels in after for _, v in labels)
    timed = {"grpc_service": REGISTRY_SERVICE, "grpc_method": "RegisterAgency", "grpc_code": "OK"}
    assert value(after, "grpc_server_handling_seconds_sum", **timed) > (value(before, "grpc_server_handling_seconds_sum", **timed) or 0.0)


async def _append(pool, key: str, n: int) -> None:
    events = [new_event(events_pb2.TalentRegistered(talent_id=key, display_name=f"e{i}"), talent_id=key, aggregate_id=key) for i in range(n)]
    async with pool.acquire() as conn, conn.transaction():
        await append_events(conn, topics.REGISTRY.name, events)


async def test_relay_reports_backlog_lag_published_events_and_leadership(stack, pool):
    for _ in range(3):
        await _append(pool, f"tal_metrics_{uuid.uuid4().hex}", 7)
    backlog = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    assert backlog >= 21
    port = free_port()
    relay = relay_process(stack, f"relay-metrics-{uuid.uuid4().hex[:6]}")
    relay.env = {**relay.env, "LIKENESS_RELAY_METRICS_PORT": str(port)}
    relay.start()
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        samples = await scrape_when_up(url)
        deadline = time.monotonic() + 60

        def published(samples: Samples) -> dict[str, float]:
            return {dict(labels)["topic"]: v for (name, labels), v in samples.items() if name == "likeness_outbox_published_total"}

        seen_backlog = set()
        while value(samples, "likeness_outbox_backlog_rows") != 0 or sum(published(samples).values()) < backlog:
            assert time.monotonic() < deadline, f"relay never reported a drained outbox: {samples}"
            if value(samples, "likeness_relay_leader") == 1:
                seen_backlog.add(value(samples, "likeness_outbox_backlog_rows"))
            await asyncio.sleep(0.05)
            samples = await scrape(url)
        assert seen_backlog <= {0.0, backlog}  # as a leader it only ever reported the true backlog
        assert value(samples, "likeness_relay_leader") == 1
        left = await pool.fetch("SELECT id, topic, message_key FROM outbox WHERE published_at IS NULL")
        assert not left, left[:3]
        # A fresh process: it published exactly the backlog, each row timed from its transaction.
        assert sum(published(samples).values()) == backlog and published(samples)[topics.REGISTRY.name] >= 21
        assert value(samples, "likeness_outbox_publish_lag_seconds_count") == backlog
        assert value(samples, "likeness_outbox_publish_lag_seconds_sum") > 0
        assert value(samples, "likeness_outbox_oldest_unpublished_seconds") == 0
        assert "metrics listening" in relay.log_path.read_text() and url in relay.log_path.read_text()
    finally:
        relay.stop()


async def test_dev_stack_writes_and_serves_every_process_metrics(stack, monkeypatch):
    monkeypatch.setenv("LIKENESS_DATABASE_URL", stack.dsn)
    monkeypatch.setenv("LIKENESS_KAFKA_BOOTSTRAP", stack.bootstrap)
    monkeypatch.setenv("LIKENESS_KEK_FILE", str(stack.kek_file))
    dev = DevStack(stack.state_dir / f"dev-{uuid.uuid4().hex[:6]}", services={"registry": "registry"})
    try:
        info = await asyncio.to_thread(dev.start)
        written = json.loads(dev.dev_json.read_text())
        assert written["metrics"] == info["metrics"] and set(info["metrics"]) == {"registry", "relay"}
        async with grpc.aio.insecure_channel(info["services"]["registry"]) as channel:
            stub = registry_pb2_grpc.RegistryServiceStub(channel)
            await stub.WhoAmI(pb.WhoAmIRequest(), metadata=bearer(info["operator_api_key"]))
            await stub.WhoAmI(pb.WhoAmIRequest(), metadata=bearer(info["operator_api_key"]))
        registry = await scrape_when_up(info["metrics"]["registry"])
        labels = {"grpc_service": REGISTRY_SERVICE, "grpc_method": "WhoAmI", "grpc_code": "OK"}
        assert value(registry, "grpc_server_handled_total", **labels) == 2  # its own process: exact
        assert value(registry, "grpc_server_handling_seconds_count", **labels) == 2
        relay = await scrape_when_up(info["metrics"]["relay"])
        assert value(relay, "likeness_relay_leader") in (0.0, 1.0)
        registry_log = dev.children["registry"].log_path.read_text()
        assert "metrics listening" in registry_log and info["metrics"]["registry"] in registry_log
    finally:
        await asyncio.to_thread(dev.stop)


async def test_verification_index_gauge_equals_the_enrolled_templates(stack, pool, channel, enrollment_app, verification_app):
    """Enroll a face through the enrollment service; once the relay and Kafka brought it to the
    verification index, the scraped gauge equals the sample templates in Postgres."""
    image = shared_data("faces", "obama", "obama.jpg").read_bytes()
    relay = relay_process(stack, f"relay-index-{uuid.uuid4().hex[:6]}")
    relay.start()
    endpoint = metrics.serve("127.0.0.1", 0, "test")  # the verification app runs in this process
    try:
        reg = registry_pb2_grpc.RegistryServiceStub(channel)
        op = bearer(stack.operator_key)
        agency = await reg.RegisterAgency(pb.RegisterAgencyRequest(request_id=str(uuid.uuid4()), display_name=unique("ag")), metadata=op)
        md = bearer(agency.api_key)
        talent = await reg.RegisterTalent(pb.RegisterTalentRequest(request_id=str(uuid.uuid4()), display_name="Metrics"), metadata=md)
        talent_id = talent.talent.talent_id
        notice = epb.BiometricNotice(purpose_text="metrics", retention=duration_pb2.Duration(seconds=86400),
                                     accept_time=ts(datetime.now(UTC)), notice_version="2026-11")  # fmt: skip
        async with grpc.aio.insecure_channel(enrollment_app.target, options=[("grpc.max_send_message_length", 64 << 20)]) as ech:
            enroll = enrollment_pb2_grpc.EnrollmentServiceStub(ech)
            images = [epb.MediaSample(filename="obama.jpg", content=image)]
            await enroll.EnrollFace(epb.EnrollFaceRequest(request_id=str(uuid.uuid4()), talent_id=talent_id, notice=notice, images=images), metadata=md)
        deadline = time.monotonic() + 60
        while not verification_app.app.index.contains(talent_id, Modality.FACE):
            assert time.monotonic() < deadline, "enrolled face never reached the verification index"
            await asyncio.sleep(0.05)
        samples = await scrape(endpoint.url)
        for modality in ("FACE", "VOICE"):
            stored = await pool.fetchval("SELECT count(*) FROM templates WHERE kind = 'sample' AND modality = $1", modality)
            assert value(samples, "likeness_index_templates", modality=modality) == stored
        assert value(samples, "likeness_index_templates", modality="FACE") >= 1
        assert value(samples, "likeness_embedding_jobs", pool="face") in (None, 0.0)  # nothing in flight now
    finally:
        endpoint.stop()
        relay.stop()
