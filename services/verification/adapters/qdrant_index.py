"""The 1:N index on a Qdrant cluster shared by every replica (`index_engine = qdrant`, issue 16):
the same per-modality engine as `vector_index.ModalityIndex` (replace a talent's templates, search
every probe of a clip against a bound, S-norm rescoring for voice), with the templates held by
Qdrant instead of each replica's memory.

What leaves the service: each template under the deployment's keyed rotation (`KeyedRotation`: a
secret orthogonal matrix per modality, so distances are unchanged and the stored vectors are not
dlib or Resemblyzer templates to anyone holding only Qdrant's storage, snapshots or backups), and a
payload of the talent id, the template id, the modality, the model and, for voice, the talent's two
S-norm constants (`a`, `b`: scalars derived from the cohort, not a template). Point ids are derived
from template ids, so writes are idempotent.

Exactness where it decides: Qdrant's graph proposes candidates (its score threshold a little wider
than the bound, for its float arithmetic and quantization); each candidate is re-scored exactly
from the vector it returns (the original float32, also when the collection keeps an int8 copy for
the graph) against the rotated probe, and only then cut at the bound. A search returns every
talent within the bound, as the embedded index does: a probe whose candidates fill the page is
asked again with a page twice as large, up to `max_candidates`; past that the search is refused
(`INDEX_CANDIDATES_CAPPED`), never answered with a truncated list.

Writes keep a talent visible throughout: the new points are upserted first, then the talent's
other points deleted, so a search in between sees the old or the new templates, never none.
Only one replica writes a collection (the elected writer, see index.ClusterFollower).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Sequence

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from qdrant_client import QdrantClient, models

from likeness_common.errors import Unavailable

from ..domain.calibration import CohortNorm
from .vector_index import Hit, Metric

# Template ids are unique across the registry; a point's id is derived from its template's.
_POINT_NAMESPACE = uuid.UUID("9b6c1f0e-4a7d-5c2b-8e31-6f0d2a9c4b17")
_SLACK = 1e-3  # Qdrant's threshold is widened by this; the exact re-score applies the true bound
_PAGE = 64  # first page of candidates per probe (doubled while a page comes back full)


def point_id(template_id: str) -> str:
    return str(uuid.uuid5(_POINT_NAMESPACE, template_id))


class KeyedRotation:
    """A secret orthogonal transform of one modality's templates: `Q = qr(G)` for a Gaussian `G`
    drawn from a stream keyed by HKDF(key, modality, dim). Distances and cosines are preserved
    (to float rounding, ~1e-6), so search is unchanged; without the key the stored vectors are not
    templates. Obfuscation, not encryption: someone who can also enroll chosen samples and read the
    storage can solve for Q from a few hundred (template, stored vector) pairs.

    The Gaussian draw is made from the PCG64 bit stream (stable across numpy releases by numpy's
    policy) with an explicit Box-Muller, not from `Generator.standard_normal`, whose algorithm numpy
    may change: the same key must give the same matrix on every replica and every release."""

    def __init__(self, key: bytes, modality: str, dim: int) -> None:
        seed = HKDF(hashes.SHA256(), 32, salt=None, info=f"likeness-index-rotation/{modality}/{dim}".encode()).derive(key)
        raw = np.random.PCG64(int.from_bytes(seed, "big")).random_raw(dim * dim + dim * dim % 2)
        uniform = ((raw >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53  # (0, 1), never 0
        u1, u2 = uniform[0::2], uniform[1::2]
        radius = np.sqrt(-2.0 * np.log(u1))
        gaussian = np.concatenate([radius * np.cos(2 * np.pi * u2), radius * np.sin(2 * np.pi * u2)])[: dim * dim]
        q, r = np.linalg.qr(gaussian.reshape(dim, dim))
        self.matrix = q * np.sign(np.diag(r))  # a unique Q for this G (Haar-distributed)
        self.dim = dim

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(np.asarray(vectors, np.float64)) @ self.matrix.T).astype(np.float32)

    def invert(self, vectors: np.ndarray) -> np.ndarray:
        return (np.atleast_2d(np.asarray(vectors, np.float64)) @ self.matrix).astype(np.float32)


class QdrantModalityIndex:
    """One modality's templates in one Qdrant collection. Synchronous (the client's HTTP calls):
    the service calls it from worker threads, as it does the embedded index."""

    def __init__(self, client: QdrantClient, collection: str, modality: str, dim: int, metric: Metric, rotation: KeyedRotation,
                 model: str = "", hnsw_ef: int = 256, max_candidates: int = 4096) -> None:  # fmt: skip
        if rotation.dim != dim:
            raise ValueError(f"a {rotation.dim}-d rotation for a {dim}-d collection")
        self.client, self.collection, self.modality, self.dim, self.metric = client, collection, modality, dim, metric
        self.rotation, self.model, self.hnsw_ef, self.max_candidates = rotation, model, hnsw_ef, max_candidates
        # qdrant-client's local mode (tests) is plain Python dicts: one call at a time. A server
        # needs no lock (it orders a collection's writes and serves searches meanwhile).
        self._local_lock = threading.Lock() if type(getattr(client, "_client", None)).__name__ == "QdrantLocal" else None

    def _call(self, method: str, *args, **kwargs):
        fn = getattr(self.client, method)
        if self._local_lock is None:
            return fn(*args, **kwargs)
        with self._local_lock:
            return fn(*args, **kwargs)

    def ensure_collection(self, shards: int = 1, replication_factor: int = 1, m: int = 32, ef_construct: int = 200,
                          int8: bool = False) -> None:  # fmt: skip
        """Create the collection if it does not exist (the writer does, at start). HNSW m 32,
        ef_construct 200, hnsw_ef 256: the smallest setting bench/engines measured at recall@1 >= 0.995
        on face-like and voice-like sets."""
        if self._call("collection_exists", self.collection):
            return
        distance = models.Distance.EUCLID if self.metric is Metric.EUCLIDEAN else models.Distance.COSINE
        quantization = None
        if int8:
            quantization = models.ScalarQuantization(scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, always_ram=True))
        self._call(
            "create_collection", self.collection, vectors_config=models.VectorParams(size=self.dim, distance=distance, on_disk=int8),
            hnsw_config=models.HnswConfigDiff(m=m, ef_construct=ef_construct), quantization_config=quantization,
            shard_number=shards, replication_factor=replication_factor,
        )  # fmt: skip
        if self._local_lock is None:  # (local mode has no payload indexes and warns)
            for field in ("talent_id", "template_id"):
                self._call("create_payload_index", self.collection, field, models.PayloadSchemaType.KEYWORD)

    # ------------------------------------------------------------------ writes (the elected writer)

    def replace(self, talent_id: str, vectors: list[np.ndarray], template_ids: Sequence[str] = (),
                ab: tuple[float, float] | None = None) -> None:  # fmt: skip
        if len(template_ids) != len(vectors):
            raise ValueError(f"{len(template_ids)} template ids for {len(vectors)} vectors: a cluster index needs every template's id")
        ids = [point_id(t) for t in template_ids]
        if vectors:
            rotated = self.rotation.apply(np.stack(vectors))
            if rotated.shape[1] != self.dim:
                raise ValueError(f"expected {self.dim}-d vectors, got {rotated.shape[1]}-d")
            payload = {"talent_id": talent_id, "modality": self.modality, "model": self.model}
            if ab is not None:
                payload |= {"a": float(ab[0]), "b": float(ab[1])}
            points = [models.PointStruct(id=i, vector=v.tolist(), payload=payload | {"template_id": t})
                      for i, v, t in zip(ids, rotated, template_ids, strict=True)]  # fmt: skip
            self._call("upsert", self.collection, points=points, wait=True)
        others = models.Filter(must=[_talent_is(talent_id)], must_not=[models.HasIdCondition(has_id=ids)] if ids else None)
        self._call("delete", self.collection, points_selector=models.FilterSelector(filter=others), wait=True)

    def remove(self, talent_id: str) -> None:
        self.replace(talent_id, [])

    def begin_bulk(self) -> None:  # the graph is Qdrant's to build: nothing to defer
        pass

    def end_bulk(self) -> None:
        pass

    # ------------------------------------------------------------------ reads (any replica, any thread)

    @property
    def templates(self) -> int:
        return int(self._call("count", self.collection, exact=False).count)

    @property
    def approximate(self) -> bool:
        return True  # candidates from the graph, re-scored exactly

    def _points(self, talent_ids: Iterable[str], with_vectors: bool):
        wanted = sorted(set(talent_ids))
        if not wanted:
            return []
        found, offset = [], None
        while True:
            page, offset = self._call(
                "scroll", self.collection, scroll_filter=models.Filter(must=[models.FieldCondition(key="talent_id", match=models.MatchAny(any=wanted))]),
                limit=1024, offset=offset, with_payload=True, with_vectors=with_vectors,
            )  # fmt: skip
            found += page
            if offset is None:
                return found

    def template_ids(self, talent_ids: Iterable[str]) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for point in self._points(talent_ids, with_vectors=False):
            out.setdefault(point.payload["talent_id"], set()).add(point.payload["template_id"])
        return {t: frozenset(ids) for t, ids in out.items()}

    def has(self, talent_id: str) -> bool:
        return int(self._call("count", self.collection, count_filter=models.Filter(must=[_talent_is(talent_id)]), exact=True).count) > 0

    def vectors_of(self, talent_id: str) -> np.ndarray:
        points = sorted(self._points([talent_id], with_vectors=True), key=lambda p: p.payload["template_id"])
        if not points:
            return np.zeros((0, self.dim), np.float32)
        return self.rotation.invert(np.asarray([p.vector for p in points], np.float32))

    def ab_of(self, talent_id: str) -> tuple[float, float] | None:
        points = self._points([talent_id], with_vectors=False)
        if not points or "a" not in points[0].payload:
            return None
        return float(points[0].payload["a"]), float(points[0].payload["b"])

    def search(self, probes: np.ndarray, bound: float) -> list[Hit]:
        """For each probe, every talent with a template within `bound` (distance <= bound for
        EUCLIDEAN, cosine >= bound for COSINE), with its best exact value."""
        euclidean = self.metric is Metric.EUCLIDEAN
        threshold = bound + _SLACK if euclidean else bound - _SLACK
        best: dict[tuple[int, str], float] = {}
        for p, point, value in self._candidates(probes, threshold):
            if (value <= bound) if euclidean else (value >= bound):
                key = (p, point.payload["talent_id"])
                if key not in best or ((value < best[key]) if euclidean else (value > best[key])):
                    best[key] = value
        hits = [Hit(p, t, v) for (p, t), v in best.items()]
        return sorted(hits, key=lambda h: (h.probe, h.value if euclidean else -h.value, h.talent_id))

    def search_normalized(self, probes: np.ndarray, probe_ab: np.ndarray, at_least: float, floor: float) -> list[Hit]:
        """COSINE: every (probe, talent) whose S-norm rescored value reaches `at_least`; candidates
        at the raw `floor` (no talent reaches `at_least` below it), the talent's constants from the
        payload."""
        assert self.metric is Metric.COSINE
        best: dict[tuple[int, str], tuple[float, float]] = {}
        for p, point, raw in self._candidates(probes, floor - _SLACK):
            if "a" not in point.payload:
                continue  # indexed without constants (no cohort when it was written): not comparable
            z = CohortNorm.normalize_ab(raw, (point.payload["a"], point.payload["b"]), (probe_ab[p, 0], probe_ab[p, 1]))
            key = (p, point.payload["talent_id"])
            if z >= at_least and (key not in best or z > best[key][0]):
                best[key] = (z, raw)
        return sorted((Hit(p, t, z, raw) for (p, t), (z, raw) in best.items()), key=lambda h: (h.probe, -h.value, h.talent_id))

    def _candidates(self, probes: np.ndarray, threshold: float):
        """(probe, point, exact value) for every point Qdrant proposes within `threshold`: pages
        doubled per probe until one comes back short (see the module docstring)."""
        probes = np.atleast_2d(np.asarray(probes, np.float32))
        rotated = self.rotation.apply(probes)
        pending, limit = list(range(len(probes))), _PAGE
        while pending:
            requests = [models.QueryRequest(query=rotated[p].tolist(), limit=limit, score_threshold=threshold, with_payload=True,
                                            with_vector=True, params=models.SearchParams(hnsw_ef=max(self.hnsw_ef, limit)))
                        for p in pending]  # fmt: skip
            answers = self._call("query_batch_points", self.collection, requests=requests)
            full = []
            for p, answer in zip(pending, answers, strict=True):
                if len(answer.points) >= limit:
                    full.append(p)
                    continue
                for point in answer.points:
                    yield p, point, self._exact(rotated[p], np.asarray(point.vector, np.float32))
            if full and limit >= self.max_candidates:
                raise Unavailable(f"more than {self.max_candidates} templates lie within the search bound of one probe; "
                                  "the index refuses to decide on a truncated list", reason="INDEX_CANDIDATES_CAPPED")  # fmt: skip
            pending, limit = full, min(2 * limit, self.max_candidates)

    def _exact(self, probe: np.ndarray, vector: np.ndarray) -> float:
        if self.metric is Metric.EUCLIDEAN:
            return float(np.linalg.norm(probe.astype(np.float64) - vector))
        return float(np.dot(probe.astype(np.float64), vector))


def _talent_is(talent_id: str) -> models.FieldCondition:
    return models.FieldCondition(key="talent_id", match=models.MatchValue(value=talent_id))
