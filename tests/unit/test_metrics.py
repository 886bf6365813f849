"""likeness_common.metrics without services: the RPC labels, the index collector on a real
LikenessIndex, the embedding job gauge, and the HTTP endpoint scraped with urllib."""

from __future__ import annotations

import asyncio
import urllib.request

import numpy as np
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from likeness_common import metrics
from verification.adapters.index import DIMS, LikenessIndex
from verification.domain.model import Modality


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def vectors(n: int, dims: int) -> list[np.ndarray]:
    rng = np.random.default_rng(n)
    return [rng.standard_normal(dims).astype(np.float32) for _ in range(n)]


def test_rpc_is_counted_and_timed_by_service_method_and_code():
    labels = {"grpc_service": "likeness.test.v1.TestService", "grpc_method": "Ping", "grpc_code": "NOT_FOUND"}
    count = sample("grpc_server_handled_total", **labels) or 0.0
    timed = sample("grpc_server_handling_seconds_count", **labels) or 0.0
    metrics.observe_rpc("/likeness.test.v1.TestService/Ping", "NOT_FOUND", 0.003)
    metrics.observe_rpc("/likeness.test.v1.TestService/Ping", "NOT_FOUND", 0.2)
    assert sample("grpc_server_handled_total", **labels) == count + 2
    assert sample("grpc_server_handling_seconds_count", **labels) == timed + 2
    assert sample("grpc_server_handling_seconds_bucket", **labels, le="0.005") >= 1
    assert sample("grpc_server_handled_total", **{**labels, "grpc_code": "OK"}) is None


def test_index_sizes_follow_the_index_until_unwatched():
    # Indexes of verification replicas started by other tests in this process are watched too: their
    # templates add up in the same gauge, so count relative to what they report.
    face0, voice0 = (sample("likeness_index_templates", modality=m) or 0.0 for m in ("FACE", "VOICE"))
    index = LikenessIndex({})
    unwatch = metrics.watch_index(index.sizes)
    try:
        index.replace("tal_a", {Modality.FACE: vectors(3, DIMS[Modality.FACE]), Modality.VOICE: vectors(2, DIMS[Modality.VOICE])})
        index.replace("tal_b", {Modality.FACE: vectors(1, DIMS[Modality.FACE])})
        assert sample("likeness_index_templates", modality="FACE") == face0 + 4
        assert sample("likeness_index_templates", modality="VOICE") == voice0 + 2
        index.replace("tal_a", {})  # erased
        assert sample("likeness_index_templates", modality="FACE") == face0 + 1
        assert sample("likeness_index_templates", modality="VOICE") == voice0
    finally:
        unwatch()
    assert (sample("likeness_index_templates", modality="FACE") or 0.0) == face0


async def test_embedding_jobs_count_futures_until_done():
    before = sample("likeness_embedding_jobs", pool="face") or 0.0
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(3)]
    for future in futures:
        metrics.track_job("face", future)
    assert sample("likeness_embedding_jobs", pool="face") == before + 3
    futures[0].set_result(None)
    futures[1].set_exception(RuntimeError("worker died"))
    futures[2].cancel()
    await asyncio.sleep(0)  # done callbacks run on the next loop iteration
    assert sample("likeness_embedding_jobs", pool="face") == before
    futures[1].exception()  # retrieved: no "never retrieved" warning


def test_endpoint_serves_the_registry_on_a_free_port_and_stops():
    assert metrics.serve("127.0.0.1", None, "test") is None
    endpoint = metrics.serve("127.0.0.1", 0, "test")
    try:
        assert endpoint.port > 0 and endpoint.url == f"http://127.0.0.1:{endpoint.port}/metrics"
        metrics.OUTBOX_PUBLISHED.labels("likeness.test.events").inc(5)
        with urllib.request.urlopen(endpoint.url, timeout=5) as response:
            text = response.read().decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        published = {s.labels["topic"]: s.value for s in families["likeness_outbox_published"].samples if s.name.endswith("_total")}
        assert published["likeness.test.events"] == sample("likeness_outbox_published_total", topic="likeness.test.events") >= 5
        assert {"grpc_server_handled", "likeness_relay_leader", "likeness_index_templates", "process_cpu_seconds"} <= set(families)
    finally:
        endpoint.stop()
