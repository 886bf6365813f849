"""Prometheus metrics of every process: the metric objects and the `/metrics` HTTP endpoint.

One process-wide registry (prometheus_client's default), so the shared RPC interceptor, the
outbox relay and the verification adapters record into the same place and one endpoint per
process exposes them all, with the client's process and Python metrics.

Labels stay bounded: gRPC service, method and status code (methods come from the registered
servicers only), outbox topic, modality, worker pool. Never a talent, request or principal id.

The endpoint is prometheus_client's WSGI server on a daemon thread: a scrape never runs on the
event loop. `metrics_port` convention (ServiceSettings, RelaySettings): unset = no endpoint,
0 = a free port (logged), N = port N.
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

import structlog
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = structlog.get_logger("likeness.metrics")

# Seconds; from sub-millisecond cached reads to a long video verified in the worker pool.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# --- RPCs (recorded by interceptors.RpcInterceptor; names follow go-grpc-prometheus) -----------
RPC_HANDLED = Counter(
    "grpc_server_handled",
    "RPCs completed on the server, by method and the status code the caller saw.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
RPC_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time from the start of an RPC to its response or error, by method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
    buckets=LATENCY_BUCKETS,
)


def observe_rpc(method: str, code: str, seconds: float) -> None:
    """`method` is the gRPC path, "/likeness.registry.v1.RegistryService/RegisterTalent"."""
    service, _, name = method.lstrip("/").rpartition("/")
    RPC_HANDLED.labels(service, name, code).inc()
    RPC_SECONDS.labels(service, name, code).observe(seconds)


# --- outbox relay (recorded by outbox.OutboxRelay) ---------------------------------------------
OUTBOX_BACKLOG = Gauge(
    "likeness_outbox_backlog_rows", "Outbox rows not yet published, as the leading relay last counted them."
)
OUTBOX_OLDEST_SECONDS = Gauge(
    "likeness_outbox_oldest_unpublished_seconds", "Age of the oldest unpublished outbox row (0 when none), seen by the leader."
)
OUTBOX_PUBLISH_LAG = Histogram(
    "likeness_outbox_publish_lag_seconds",
    "From the writing transaction (outbox created_at) to the row marked published after every broker ack.",
    buckets=LATENCY_BUCKETS,
)
OUTBOX_PUBLISHED = Counter("likeness_outbox_published", "Outbox rows published to the broker by this relay.", ["topic"])
RELAY_LEADER = Gauge("likeness_relay_leader", "1 while this relay holds the leader lock, else 0.")
RELAY_MARKER_MISSING = Gauge(
    "likeness_relay_marker_missing",
    "1 while the relay's marker topic is missing from a broker that held it (lost state, retention or ACL change); "
    "on a production broker the relay only reports this and keeps publishing.",
)

# --- read models that fail closed (freshness.Freshness: the consent view, the 1:N index) --------
READ_MODEL_AGE = Gauge(
    "likeness_read_model_age_seconds",
    "Seconds since the state a cached read model reflects was read from Postgres; past its bound it refuses to answer.",
    ["view"],
)
STALE_REFUSALS = Counter(
    "likeness_stale_refusals", "Requests refused with UNAVAILABLE because a read model was older than its bound.", ["view"]
)

# --- verification ------------------------------------------------------------------------------
EMBEDDING_JOBS = Gauge(
    "likeness_embedding_jobs",
    "Extraction jobs submitted to a worker pool and not finished (queued + running).",
    ["pool"],
)
EMBEDDING_WORKERS = Gauge("likeness_embedding_workers", "Worker processes of each extraction pool.", ["pool"])


def track_job(pool: str, future) -> None:
    """Count `future` (from `loop.run_in_executor`) in EMBEDDING_JOBS until it is done."""
    gauge = EMBEDDING_JOBS.labels(pool)
    gauge.inc()
    future.add_done_callback(lambda _: gauge.dec())


class _IndexSizes(Collector):
    """`likeness_index_templates{modality}`, read from the watched indexes at scrape time, so the
    index code stays free of metrics. One index per process in production; indexes sharing a
    process (test replicas) add up."""

    def __init__(self) -> None:
        self._sources: list[Callable[[], Mapping[str, int]]] = []
        self._lock = threading.Lock()

    def watch(self, sizes: Callable[[], Mapping[str, int]]) -> Callable[[], None]:
        with self._lock:
            self._sources.append(sizes)

        def unwatch() -> None:
            with self._lock:
                if sizes in self._sources:
                    self._sources.remove(sizes)

        return unwatch

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            sources = list(self._sources)
        totals: Tally[str] = Tally()
        for sizes in sources:
            totals.update(sizes())
        family = GaugeMetricFamily("likeness_index_templates", "Templates in the 1:N index, by modality.", labels=["modality"])
        for modality, count in sorted(totals.items()):
            family.add_metric([modality], count)
        yield family


_INDEX_SIZES = _IndexSizes()
REGISTRY.register(_INDEX_SIZES)


def watch_index(sizes: Callable[[], Mapping[str, int]]) -> Callable[[], None]:
    """Report `sizes()` ({modality: templates}) as `likeness_index_templates`; returns `unwatch`."""
    return _INDEX_SIZES.watch(sizes)


# --- the HTTP endpoint -------------------------------------------------------------------------
@dataclass
class MetricsEndpoint:
    host: str
    port: int
    _server: WSGIServer

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def stop(self) -> None:
        """Blocks up to half a second (the server's poll interval): call it in a thread."""
        self._server.shutdown()
        self._server.server_close()


def serve(host: str, port: int | None, process: str) -> MetricsEndpoint | None:
    """Start `/metrics` on host:port (0: a free port) and log where; None when `port` is None."""
    if port is None:
        return None
    server, _thread = start_http_server(port, host)
    endpoint = MetricsEndpoint(host, server.server_port, server)
    log.info("metrics listening", process=process, address=endpoint.url)
    return endpoint
