"""bench/engines: the 1:N template index, engine against engine, on the same synthetic templates and probes
(issue 16, first step: measurements only; nothing in the services changes).

    .venv/bin/python bench/engines [--sizes 100000] [--json] [--full-grid] [--no-quantization] [--search-budget 1.5]
                                   [--grid 32,200] [--sets face-like,voice-like] [--nprobe-sweep 16,32,64,128,256]

`--nprobe-sweep` measures only the embedded engine (ModalityIndex: the exact scan, then its IVF at each
nprobe, with 16-probe batches and write latency), no Qdrant: the service's default engine at 1M.

Sets (5 templates per talent, bench/verify's PER_TALENT; one set per size):
  face-like   128-d, Euclidean, norms ~N(1.42, 0.05). A talent is a common direction + one of 20 groups + its
              own part; a template adds a noise of gamma-distributed size. Pairs of templates: impostor
              distance mean ~0.81 sd ~0.07, genuine ~0.30 sd ~0.12 (printed per run). dlib on the repository's
              22 faces of 6 people (shared/data/faces): norms 1.42, impostor 0.84 sd 0.075 (min 0.66), genuine
              0.28 sd 0.12. Bound: bench/verify's FACE_BOUND (distance 0.6, the service's review floor).
  voice-like  256-d, cosine, unit vectors, the same construction (bench/verify's voice-like vectors for
              normalization, plus per-template noise): impostor cosine mean ~0.58 sd ~0.07, p99.9 ~0.84, genuine
              ~0.89 (Resemblyzer on 250 LibriSpeech readers: 0.58 / 0.076 / 0.82). Bound: VOICE_BOUND (cosine 0.75).
  isotropic   128-d random unit vectors x N(1, 0.05) norms, Euclidean, FACE_BOUND: bench/verify's FACE set, no
              cluster structure (the hard case for graph and cell indexes alike).
Recall probes (1,000 per set): noisy copies of random indexed templates right at the match threshold
(bench/verify's `near` with THRESHOLD_NOISE: face distance 0.5, voice cosine 0.84). Latency probes: 64 single
probes, even ones a noisy copy at the typical distance (TYPICAL_NOISE), odd ones a stranger (a fresh talent
from the set's generator; a random vector for the isotropic set).

Engines:
  ModalityIndex exact   the service's in-process matrix scan (verification.adapters.vector_index).
  ModalityIndex IVF     the same index with its faiss IVF on, rows as float16 (the service switches it on from
                        index_ivf_min_rows = 200,000 live rows; here `ivf_min_rows` is lowered to the set's size
                        when that is smaller), nprobe the service's (face 128, voice 256); candidates from a range
                        search at the bound, re-scored exactly.
  qdrant-edge HNSW      Qdrant's embedded engine (qdrant-edge-py 0.9.0, beta: pinned in requirements/bench.txt),
                        one shard per set in a temporary directory (deleted after), default WAL, vectors in RAM,
                        Euclid / Cosine distance, the optimizer told to index every segment (indexing_threshold
                        1 KB) into one segment (default_segment_number 1), full_scan_threshold 10 KB so the HNSW
                        graph is always used. Build = create + upsert (numpy rows, 2,000 points per update) +
                        optimize (the HNSW graph, on every core). A search asks for the top 10 points and this
                        bench re-scores them exactly against the set's matrix and applies the bound, as the service
                        re-scores candidates before its threshold. Grid: m 16/32 x ef_construct 100/200, hnsw_ef
                        64/128/256, in order of build cost; the default run stops at the first build whose some
                        hnsw_ef reaches recall@1 >= 0.995 with 10 candidates on both clustered sets (--full-grid
                        runs all four). Then, at the chosen setting, the same with scalar int8 quantization (Qdrant's
                        default quantization search parameters; the originals stay in RAM).
recall@1: bench/verify's `recall_at_1` on every engine: the share of recall probes (those the exact scan finds
a talent within the bound for) whose best talent, after the exact re-score, equals the exact scan's best talent.
"top-10" re-scores the 10 candidates Qdrant returns, "top-1" only its first; ModalityIndex re-scores every
candidate within the bound. The exact scan (ModalityIndex, exact=True) is the reference.
Memory: process RSS delta (VmRSS) across the build, after gc and glibc malloc_trim, with the set's own matrix
already allocated; Qdrant's also includes the file pages of its shard that are mapped and resident, and its
shard's size on disk is printed beside. Latency: bench/verify's `timed_searches` (one probe per search, warm,
up to --search-budget seconds), including, for Qdrant, the Python call and the re-score.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import gc
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:  # run as a script: `bench` imports from the repository root
    sys.path.insert(0, str(ROOT))
from bench.host import load_average, pct  # noqa: E402
from bench.verify.__main__ import (  # noqa: E402
    FACE_BOUND,
    IVF_MIN_ROWS,
    NPROBE,
    PER_TALENT,
    THRESHOLD_NOISE,
    TYPICAL_NOISE,
    VOICE_BOUND,
    machine,
    mib,
    near,
    recall_at_1,
    rss_kib,
    timed_searches,
    unit,
)
from verification.adapters.vector_index import Hit, Metric, ModalityIndex  # noqa: E402

GRID = [(16, 100), (16, 200), (32, 100), (32, 200)]  # (m, ef_construct), cheapest build first
EFS = (64, 128, 256)
TARGET = 0.995
CANDIDATES = 10
RECALL_PROBES = 1000
QDRANT_EDGE = "qdrant-edge-py 0.9.0"


# ------------------------------------------------------------------------------------------ sets


@dataclass
class Set:
    name: str
    modality: str  # FACE / VOICE: bench/verify's noise and nprobe per modality
    metric: Metric
    bound: float
    data: np.ndarray
    recall_probes: np.ndarray
    singles: list[np.ndarray]
    spread: dict
    clustered: bool
    _exact: list[Hit] | None = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        return self.data.shape[1]

    @property
    def ids(self) -> list[str]:
        return [f"tal_{i:08d}" for i in range(len(self.data) // PER_TALENT)]


def clustered(rng: np.random.Generator, talents: int, dim: int, groups: int, group_weight: float, own: float,
              noise: float, face: bool) -> tuple[np.ndarray, Callable[[int], np.ndarray]]:  # fmt: skip
    """Templates of `talents` people (PER_TALENT each, rows in talent order) and a generator of fresh
    people's templates (strangers). A person: a direction every template shares, one of `groups`
    directions, and their own; a template: the person plus noise of gamma-distributed size (some
    near-duplicates, some far: genuine spread); unit length, then face-like norms."""
    common, group_dirs = unit(rng, 1, dim)[0], unit(rng, groups, dim)

    def people(n: int) -> np.ndarray:
        c = common + group_weight * group_dirs[rng.integers(0, groups, n)] + own * unit(rng, n, dim)
        return c / np.linalg.norm(c, axis=1, keepdims=True)

    def templates(centres: np.ndarray) -> np.ndarray:
        x = centres + noise * rng.gamma(3.0, 1 / 3.0, (len(centres), 1)).astype(np.float32) * unit(rng, len(centres), dim)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        if face:
            x *= rng.normal(1.42, 0.05, (len(x), 1)).astype(np.float32)
        return x.astype(np.float32)

    return templates(np.repeat(people(talents), PER_TALENT, axis=0)), lambda n: templates(people(n))


def spread(data: np.ndarray, metric: Metric, bound: float, rng: np.random.Generator, pairs: int = 100_000) -> dict:
    """Impostor (different talents) and genuine (same talent) pair statistics, as distance or cosine."""

    def value(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (
            np.linalg.norm(data[a] - data[b], axis=1) if metric is Metric.EUCLIDEAN else np.einsum("ij,ij->i", data[a], data[b])
        )

    a, b = rng.integers(0, len(data), pairs), rng.integers(0, len(data), pairs)
    keep = a // PER_TALENT != b // PER_TALENT
    imp = value(a[keep], b[keep])
    first = rng.integers(0, len(data) // PER_TALENT, pairs // 4) * PER_TALENT
    gen = value(first, first + 1)
    return {"impostor_mean": float(imp.mean()), "impostor_sd": float(imp.std()), "impostor_p0.1": float(np.percentile(imp, 0.1)),
            "impostor_p99.9": float(np.percentile(imp, 99.9)),
            "impostor_within_bound": float(np.mean(imp <= bound if metric is Metric.EUCLIDEAN else imp >= bound)),
            "genuine_mean": float(gen.mean()), "genuine_sd": float(gen.std())}  # fmt: skip


def make_sets(size: int, seed: int, only: set[str] | None = None) -> list[Set]:
    """The three sets (or those named in `only`: the sets before the last one named are still
    generated, so a set is the same whichever others are kept; none after it is)."""
    rng = np.random.default_rng(seed)
    talents = size // PER_TALENT
    out = []
    for name, modality, dim, metric, bound, params in (
        ("face-like", "FACE", 128, Metric.EUCLIDEAN, FACE_BOUND, (20, 0.25, 0.33, 0.14, True)),
        ("voice-like", "VOICE", 256, Metric.COSINE, VOICE_BOUND, (20, 0.55, 0.5, 0.33, False)),
        ("isotropic", "FACE", 128, Metric.EUCLIDEAN, FACE_BOUND, None),
    ):
        cosine = metric is Metric.COSINE
        if params:
            data, strangers = clustered(rng, talents, dim, *params)
        else:  # bench/verify's FACE set
            data = unit(rng, talents * PER_TALENT, dim)
            data *= rng.normal(1.0, 0.05, (len(data), 1)).astype(np.float32)

            def strangers(n: int, dim: int = dim) -> np.ndarray:
                return unit(rng, n, dim)

        recall_probes = near(rng, data[rng.integers(0, len(data), RECALL_PROBES)], THRESHOLD_NOISE[modality], normalize=cosine)
        singles = []
        for i in range(64):
            if i % 2 == 0:
                singles.append(near(rng, data[rng.integers(0, len(data), 1)], TYPICAL_NOISE[modality], normalize=cosine))
            else:
                singles.append(strangers(1))
        out.append(Set(name, modality, metric, bound, data, recall_probes.astype(np.float32),
                       [s.astype(np.float32) for s in singles], spread(data, metric, bound, rng), params is not None))  # fmt: skip
        if only is not None and only <= {s.name for s in out}:
            break
    return [s for s in out if only is None or s.name in only]


# --------------------------------------------------------------------------------------- helpers


def settle() -> None:
    """Free what can be freed before an RSS reading: Python garbage, and glibc's free lists."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def dir_bytes(path: Path) -> int:
    """Blocks allocated (Qdrant preallocates sparse 32 MiB files: their apparent size says little)."""
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def exact_reference(s: Set, exact: ModalityIndex) -> list[Hit]:
    """The exact scan's answer for the set's recall probes, computed once per set."""
    if s._exact is None:
        s._exact = exact.search(s.recall_probes, s.bound, exact=True)
    return s._exact


def latency(index, s: Set, budget_s: float) -> dict:
    times, hits = timed_searches(index, s.singles, s.bound, budget_s, 2000)
    return {"p50_ms": statistics.median(times), "p99_ms": pct(times, 99), "reps": len(times), "hits": hits}


# ------------------------------------------------------------------------------------ ModalityIndex


def bench_modality(s: Set, ivf: bool, budget_s: float, exact_index: ModalityIndex | None = None,
                   fp16: bool = True) -> tuple[dict, ModalityIndex]:  # fmt: skip
    """Built as the service's start-up load builds it (bench/verify's bench_index): one `replace`
    per talent between begin_bulk and end_bulk (the IVF, if any, trained once at the end); `fp16`:
    the IVF's rows as float16 (the service's) or float32."""
    settle()
    rss0 = rss_kib()
    min_rows = min(IVF_MIN_ROWS, len(s.data)) if ivf else 1 << 62
    index = ModalityIndex(s.dim, s.metric, ivf_min_rows=min_rows, nprobe=NPROBE[s.modality], ivf_fp16=fp16)
    started = time.perf_counter()
    index.begin_bulk()
    for i, talent_id in enumerate(s.ids):
        index.replace(talent_id, list(s.data[i * PER_TALENT : (i + 1) * PER_TALENT]))
    index.end_bulk()
    build = time.perf_counter() - started
    settle()
    rss = (rss_kib() - rss0) * 1024
    st = index._state  # noqa: SLF001 - what the index holds
    own = st.vectors.nbytes + st.sq_norms.nbytes + st.owners.nbytes + st.alive.nbytes
    if st.ivf is not None:
        faiss_index = st.ivf._index  # noqa: SLF001
        own += faiss_index.ntotal * (faiss_index.code_size + 8)  # a copy of each vector (float16 or 32) and its id
        settings = f"IVF {'fp16' if fp16 else 'float32'}, nlist {faiss_index.nlist}, nprobe {faiss_index.nprobe}"
        if IVF_MIN_ROWS > len(s.data):
            settings += f" (forced: the service switches at {IVF_MIN_ROWS:,})"
    else:
        settings = "exact scan"
    wrapped = _WithReference(index, s, exact_index or index)
    recall = recall_at_1(wrapped, s.recall_probes, s.bound)
    lat = latency(index, s, budget_s)
    row = {"set": s.name, "engine": "ModalityIndex " + ("IVF" if ivf else "exact"), "settings": settings,
           "build_s": build, "rss_delta_bytes": rss, "own_bytes": own, "own_label": "arrays" + (" + faiss" if ivf else ""),
           "recall_top10": recall, "recall_top1": recall, **{f"search_{k}": v for k, v in lat.items()}}  # fmt: skip
    return row, index


class _WithReference:
    """An index whose exact=True searches of the recall probes answer from the exact scan computed once."""

    def __init__(self, index, s: Set, exact: ModalityIndex) -> None:
        self.index, self.s, self.exact = index, s, exact

    def search(self, probes: np.ndarray, bound: float, *, exact: bool = False) -> list[Hit]:
        if exact and probes is self.s.recall_probes:
            return exact_reference(self.s, self.exact)
        return self.index.search(probes, bound, exact=exact)


# -------------------------------------------------------------------------------------- qdrant-edge


class EdgeIndex:
    """A qdrant-edge shard over a set's templates (point id = row), searched for the top `k` of
    `limit` candidates, re-scored exactly from the set's matrix and cut at the bound. `search(...,
    exact=True)` is the exact scan's answer (the reference), not Qdrant's."""

    def __init__(self, s: Set, m: int, ef_construct: int, quantized: bool, exact: ModalityIndex) -> None:
        self.s, self.m, self.ef_construct, self.quantized, self.exact = s, m, ef_construct, quantized, exact
        self.ef, self.k = EFS[0], CANDIDATES
        self._memo: dict[tuple[int, int], list[list[int]]] | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="bench-engines-"))
        self.shard = None

    def build(self) -> dict:
        import qdrant_edge as q

        s = self.s
        distance = q.Distance.Euclid if s.metric is Metric.EUCLIDEAN else q.Distance.Cosine
        config = q.EdgeConfig(
            vectors=q.EdgeVectorParams(size=s.dim, distance=distance),
            hnsw_config=q.HnswIndexConfig(m=self.m, ef_construct=self.ef_construct, full_scan_threshold=10),
            quantization_config=q.ScalarQuantizationConfig(q.ScalarType.Int8, quantile=0.99) if self.quantized else None,
            optimizers=q.EdgeOptimizersConfig(indexing_threshold=1, default_segment_number=1),
        )
        settle()
        rss0 = rss_kib()
        started = time.perf_counter()
        self.shard = shard = q.EdgeShard.create(str(self._dir / "shard"), config)
        for start in range(0, len(s.data), 2000):
            rows = range(start, min(start + 2000, len(s.data)))
            shard.update(q.UpdateOperation.upsert_points([q.Point(i, s.data[i]) for i in rows]))
        upserted = time.perf_counter()
        shard.optimize()
        done = time.perf_counter()
        settle()
        info = shard.info()
        return {"build_s": done - started, "upsert_s": upserted - started, "optimize_s": done - upserted,
                "rss_delta_bytes": (rss_kib() - rss0) * 1024, "own_bytes": dir_bytes(self._dir), "own_label": "on disk",
                "segments": info.segments_count, "points": info.points_count, "indexed": info.indexed_vectors_count}  # fmt: skip

    def _query(self, probe: np.ndarray) -> list[int]:
        import qdrant_edge as q

        found = self.shard.query(
            q.QueryRequest(limit=CANDIDATES, query=q.Query.Nearest(probe), params=q.SearchParams(hnsw_ef=self.ef))
        )
        return [int(p.id) for p in found]

    def search(self, probes: np.ndarray, bound: float, *, exact: bool = False) -> list[Hit]:
        if exact:
            return (
                exact_reference(self.s, self.exact)
                if probes is self.s.recall_probes
                else self.exact.search(probes, bound, exact=True)
            )
        s, euclidean = self.s, self.s.metric is Metric.EUCLIDEAN
        if self._memo is not None and (self.ef, id(probes)) in self._memo:
            candidates = self._memo[(self.ef, id(probes))]
        else:
            candidates = [self._query(p) for p in probes]
            if self._memo is not None:
                self._memo[(self.ef, id(probes))] = candidates
        hits = []
        for i, ids in enumerate(candidates):
            rows = np.asarray(ids[: self.k], np.int64)
            if not len(rows):
                continue
            if euclidean:
                values = np.linalg.norm(s.data[rows] - probes[i], axis=1)
                keep = values <= bound
            else:
                values = s.data[rows] @ probes[i]
                keep = values >= bound
            best: dict[int, float] = {}
            for row, v in zip(rows[keep].tolist(), values[keep].tolist(), strict=True):
                t = row // PER_TALENT
                if t not in best or (v < best[t] if euclidean else v > best[t]):
                    best[t] = v
            hits += [Hit(i, f"tal_{t:08d}", v) for t, v in sorted(best.items(), key=lambda tv: tv[1] if euclidean else -tv[1])]
        return hits

    def recall(self, ef: int) -> tuple[float | None, float | None]:
        """recall@1 with the top 10 candidates and with the first only (one query per probe, both read from it)."""
        self.ef, self._memo = ef, {}
        try:
            self.k = CANDIDATES
            top10 = recall_at_1(self, self.s.recall_probes, self.s.bound)
            self.k = 1
            top1 = recall_at_1(self, self.s.recall_probes, self.s.bound)
        finally:
            self.k, self._memo = CANDIDATES, None
        return top10, top1

    def close(self) -> None:
        if self.shard is not None:
            self.shard.close()
            self.shard = None
        shutil.rmtree(self._dir, ignore_errors=True)


def bench_edge(s: Set, m: int, ef_construct: int, efs: tuple[int, ...], quantized: bool, exact: ModalityIndex,
               budget_s: float) -> list[dict]:  # fmt: skip
    """One build, then recall and latency at each hnsw_ef."""
    index = EdgeIndex(s, m, ef_construct, quantized, exact)
    try:
        built = index.build()
        rows = []
        for ef in efs:
            top10, top1 = index.recall(ef)
            index.ef = ef
            lat = latency(index, s, budget_s)
            rows.append({"set": s.name, "engine": "qdrant-edge HNSW" + (" int8" if quantized else ""),
                         "settings": f"m {m}, ef_construct {ef_construct}, hnsw_ef {ef}" + (", scalar int8" if quantized else ""),
                         "m": m, "ef_construct": ef_construct, "hnsw_ef": ef, "quantized": quantized, **built,
                         "recall_top10": top10, "recall_top1": top1, **{f"search_{k}": v for k, v in lat.items()}})  # fmt: skip
        return rows
    finally:
        index.close()
        del index
        settle()


# ------------------------------------------------------------------------------------ IVF nprobe sweep


def at_population(s: Set, templates: int, seed: int) -> Set:
    """The set as the service searches it at `templates`: its review bound raised by the service's
    default PopulationRule, and recall probes placed at the raised match threshold (a distance for
    Euclidean sets, a cosine for cosine ones; `near` puts a probe at distance `noise`, or at cosine
    1 / sqrt(1 + noise^2) once normalized)."""
    from verification.bootstrap import VerificationSettings

    settings = VerificationSettings()
    rule = settings.population_rule()
    if s.metric is Metric.EUCLIDEAN:
        bound = 1.0 - rule.raised(1.0 - s.bound, rule.face, templates)
        noise = 1.0 - rule.raised(settings.face_match, rule.face, templates)
    else:
        bound = rule.raised(s.bound, rule.voice, templates)
        noise = math.sqrt(1.0 / rule.raised(settings.voice_match, rule.voice, templates) ** 2 - 1.0)
    rng = np.random.default_rng(seed)
    probes = near(rng, s.data[rng.integers(0, len(s.data), RECALL_PROBES)], noise, normalize=s.metric is Metric.COSINE)
    return dataclasses.replace(s, bound=bound, recall_probes=probes.astype(np.float32))


def run_nprobe_sweep(size: int, seed: int, nprobes: list[int], budget_s: float, log, only: set[str] | None = None,
                     population: bool = False, codecs: tuple[str, ...] = ("fp16",)) -> dict:  # fmt: skip
    """The embedded engine alone (no Qdrant): per set, the exact scan and one IVF build per codec
    (the IVF's copy of the rows as "fp16", the service's, or "float32"), then at each nprobe
    recall@1 at threshold, 1-probe and 16-probe search latency; plus the write latency of one talent
    (re-enrol: `replace` with new templates, then `remove`) on the trained IVF."""
    t0 = time.perf_counter()
    rows = []
    for s in make_sets(size, seed, only):
        if population:  # the review floor the service searches with at this size
            s = at_population(s, size, seed)
            log(f"{size:,} {s.name}: bound raised for {size:,} templates: {s.bound:.3f}")
        exact_row, exact = bench_modality(s, False, budget_s)
        rows.append({**exact_row, "nprobe": None, "bound": s.bound})
        for codec in codecs:
            ivf_row, index = bench_modality(s, True, budget_s, exact, fp16=codec == "fp16")
            log(f"{size:,} {s.name}: exact + IVF {codec} built ({time.perf_counter() - t0:.0f} s)")
            faiss_index = index._state.ivf._index  # noqa: SLF001
            batches = [np.concatenate(s.singles[i : i + 16]) for i in range(0, 64, 16)]
            for nprobe in nprobes:
                faiss_index.nprobe = min(nprobe, faiss_index.nlist)
                recall = recall_at_1(_WithReference(index, s, exact), s.recall_probes, s.bound)
                one = latency(index, s, budget_s)
                times, _ = timed_searches(index, batches, s.bound, budget_s, 500)
                rows.append({**ivf_row, "settings": f"IVF {codec}, nlist {faiss_index.nlist}, nprobe {faiss_index.nprobe}", "nprobe": nprobe,
                             "recall_top10": recall, "recall_top1": recall, **{f"search_{k}": v for k, v in one.items()},
                             "search16_p50_ms": statistics.median(times), "search16_p99_ms": pct(times, 99)})  # fmt: skip
                log(f"{size:,} {s.name}: nprobe {nprobe}: recall {fmt_recall(recall)}, p99 {one['p99_ms']:.2f} ms ({time.perf_counter() - t0:.0f} s)")
            writes = {"replace": [], "remove": []}
            rng = np.random.default_rng(seed)
            for i in rng.integers(0, len(s.ids), 50):
                talent, templates = s.ids[i], list(s.data[i * PER_TALENT : (i + 1) * PER_TALENT])
                started = time.perf_counter()
                index.replace(talent, templates[::-1])
                writes["replace"].append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                index.remove(talent)
                writes["remove"].append((time.perf_counter() - started) * 1000)
                index.replace(talent, templates)
            rows[-1] |= {f"{k}_p50_ms": statistics.median(v) for k, v in writes.items()} | {f"{k}_p99_ms": pct(v, 99) for k, v in writes.items()}
            del index
            settle()
        del exact
        settle()
    return {"templates": size, "rows": rows, "took_s": time.perf_counter() - t0, "population": population}


def print_sweep(r: dict) -> None:
    bounds = ", ".join(f"{row['set']} {row['bound']:.3f}" for row in r["rows"] if "bound" in row)
    print(f"\n{r['templates']:,} templates per set, embedded engine (ModalityIndex) only; bounds "
          f"{'raised for the population' if r['population'] else 'as configured'}: {bounds}; {r['took_s']:.0f} s\n")
    print("| set | engine | settings | build | RSS delta (own bytes) | 1 probe p50 / p99 | 16 probes p50 / p99 | hits | recall@1 at threshold |")
    print("| --- | --- | --- | ---: | --- | --- | --- | ---: | --- |")
    for row in r["rows"]:
        batch = f"{row['search16_p50_ms']:.2f} / {row['search16_p99_ms']:.2f} ms" if "search16_p50_ms" in row else "-"
        print(f"| {row['set']} | {row['engine']} | {row['settings']} | {row['build_s']:.1f} s | {mib(row['rss_delta_bytes'])} "
              f"({mib(row['own_bytes'])} {row['own_label']}) | {row['search_p50_ms']:.2f} / {row['search_p99_ms']:.2f} ms | {batch} "
              f"| {row['search_hits']:.1f} | {fmt_recall(row['recall_top10'])} |")  # fmt: skip
    writes = [row for row in r["rows"] if "replace_p50_ms" in row]
    if writes:
        print("\nWrites on the trained IVF (one talent, 5 templates; 50 each): re-enrol (`replace`) and `remove`, p50 / p99:\n")
        for row in writes:
            print(f"- {row['set']} ({row['settings'].split(',')[0]}): replace {row['replace_p50_ms']:.2f} / {row['replace_p99_ms']:.2f} ms, "
                  f"remove {row['remove_p50_ms']:.3f} / {row['remove_p99_ms']:.3f} ms")  # fmt: skip


# ------------------------------------------------------------------------------------------- run


def run_size(size: int, seed: int, budget_s: float, full_grid: bool, quantization: bool, log, grid: list[tuple[int, int]] = GRID,
             only: set[str] | None = None, population: bool = False, efs: tuple[int, ...] = EFS) -> dict:  # fmt: skip
    t0 = time.perf_counter()
    sets = make_sets(size, seed, only)
    if population:  # the review floor the service searches with at this size, probes at the raised match threshold
        sets = [at_population(s, size, seed) for s in sets]
    log(f"{size:,}: sets made in {time.perf_counter() - t0:.1f} s")
    main_rows, grid_rows, exact = [], [], {}
    for s in sets:
        row, exact[s.name] = bench_modality(s, False, budget_s)
        main_rows.append(row)
        row, ivf = bench_modality(s, True, budget_s, exact[s.name])
        main_rows.append(row)
        del ivf
        settle()
        log(f"{size:,} {s.name}: ModalityIndex done ({time.perf_counter() - t0:.0f} s)")
    chosen = None
    for m, efc in grid:
        step = {}
        for s in sets:
            step[s.name] = bench_edge(s, m, efc, efs, False, exact[s.name], budget_s / 2)
            grid_rows += step[s.name]
            log(
                f"{size:,} {s.name}: qdrant m {m} ef_construct {efc}: build {step[s.name][0]['build_s']:.1f} s, recall top-10 "
                + ", ".join(f"ef {r['hnsw_ef']} {r['recall_top10']:.4f}" for r in step[s.name])
                + f" ({time.perf_counter() - t0:.0f} s)"
            )
        passing = [ef for ef in efs if all(r["recall_top10"] is not None and r["recall_top10"] >= TARGET
                                           for s in sets if s.clustered for r in step[s.name] if r["hnsw_ef"] == ef)]  # fmt: skip
        if passing and chosen is None:
            chosen = {"m": m, "ef_construct": efc, "hnsw_ef": min(passing), "reached": True}
            if not full_grid:
                break
    if chosen is None:  # nothing reached the target: report the most expensive setting tried, marked
        m, efc = grid[-1] if full_grid else (m, efc)
        chosen = {"m": m, "ef_construct": efc, "hnsw_ef": efs[-1], "reached": False}
    for s in sets:
        pick = next(r for r in grid_rows if r["set"] == s.name and r["m"] == chosen["m"] and r["ef_construct"] == chosen["ef_construct"]
                    and r["hnsw_ef"] == chosen["hnsw_ef"])  # fmt: skip
        main_rows.append({**pick, "chosen": True})
        if quantization:
            main_rows += bench_edge(s, chosen["m"], chosen["ef_construct"], (chosen["hnsw_ef"],), True, exact[s.name], budget_s)
            log(f"{size:,} {s.name}: qdrant int8 done ({time.perf_counter() - t0:.0f} s)")
    order = {s.name: i for i, s in enumerate(sets)}
    main_rows.sort(key=lambda r: order[r["set"]])  # stable: engines in the order run
    return {"templates": size, "talents": size // PER_TALENT, "sets": {s.name: {"dim": s.dim, "metric": s.metric.value, "bound": s.bound, "clustered": s.clustered,
            "spread": s.spread} for s in sets}, "rows": main_rows, "grid": grid_rows, "chosen": chosen,
            "took_s": time.perf_counter() - t0, "population": population}  # fmt: skip


def fmt_recall(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def print_size(r: dict) -> None:
    bounds = (", ".join(f"{name} {s['bound']:.3f}" for name, s in r["sets"].items()) + " (raised for the population)"
              if r.get("population") else f"face distance {FACE_BOUND}, voice cosine {VOICE_BOUND}")  # fmt: skip
    print(f"\n{r['templates']:,} templates per set ({r['talents']:,} talents x {PER_TALENT}); bounds: {bounds}; {r['took_s']:.0f} s\n")
    for name, s in r["sets"].items():
        sp = s["spread"]
        unit_ = "distance" if s["metric"] == "euclidean" else "cosine"
        print(f"- {name}: {s['dim']}-d {s['metric']}; template pairs ({unit_}): impostor mean {sp['impostor_mean']:.3f} sd "
              f"{sp['impostor_sd']:.3f} (p0.1 {sp['impostor_p0.1']:.3f}, p99.9 {sp['impostor_p99.9']:.3f}; within the bound "
              f"{sp['impostor_within_bound']:.3%})" + (f", genuine mean {sp['genuine_mean']:.3f} sd {sp['genuine_sd']:.3f}"
              if s["clustered"] else ", no talent structure"))  # fmt: skip
    c = r["chosen"]
    print(
        f"\nqdrant-edge setting chosen: m {c['m']}, ef_construct {c['ef_construct']}, hnsw_ef {c['hnsw_ef']}"
        + ("" if c["reached"] else f" (NO setting tried reached recall@1 >= {TARGET} on both clustered sets)")
        + "\n"
    )
    print("| set | engine | settings | build | RSS delta (own bytes) | 1 probe p50 / p99 | hits | recall@1 at threshold: "
          f"top-{CANDIDATES} re-scored / top-1 |")  # fmt: skip
    print("| --- | --- | --- | ---: | --- | --- | ---: | --- |")
    for row in r["rows"]:
        own = f"{mib(row['own_bytes'])} {row['own_label']}"
        build = f"{row['build_s']:.1f} s" + (f" ({row['optimize_s']:.1f} s graph)" if "optimize_s" in row else "")
        rec = fmt_recall(row["recall_top10"]) if row["engine"].startswith("Modality") else \
            f"{fmt_recall(row['recall_top10'])} / {fmt_recall(row['recall_top1'])}"  # fmt: skip
        print(f"| {row['set']} | {row['engine']} | {row['settings']} | {build} | {mib(row['rss_delta_bytes'])} ({own}) "
              f"| {row['search_p50_ms']:.2f} / {row['search_p99_ms']:.2f} ms | {row['search_hits']:.1f} | {rec} |")  # fmt: skip
    print(f"\nqdrant-edge grid (recall@1 at threshold with the top {CANDIDATES} re-scored / top 1; 1 probe p50 / p99):\n")
    print("| set | m | ef_construct | build (graph) | hnsw_ef | recall@1 top-10 / top-1 | p50 / p99 |")
    print("| --- | ---: | ---: | ---: | ---: | --- | --- |")
    for g in r["grid"]:
        print(
            f"| {g['set']} | {g['m']} | {g['ef_construct']} | {g['build_s']:.1f} s ({g['optimize_s']:.1f} s) | {g['hnsw_ef']} "
            f"| {fmt_recall(g['recall_top10'])} / {fmt_recall(g['recall_top1'])} | {g['search_p50_ms']:.2f} / {g['search_p99_ms']:.2f} ms |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000", help="Templates per set, comma-separated (default 100000).")
    parser.add_argument(
        "--search-budget", type=float, default=1.5, help="Seconds of latency searches per row (at least 10 searches)."
    )
    parser.add_argument(
        "--full-grid",
        action="store_true",
        help="Build every (m, ef_construct) of the grid, not only up to the first that passes.",
    )
    parser.add_argument("--no-quantization", action="store_true", help="Skip the scalar int8 build at the chosen setting.")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--grid", default="", help="Only these (m, ef_construct) builds, e.g. '32,200' or '16,100;32,200' (default: the grid).")
    parser.add_argument("--sets", default="", help="Only these sets, comma-separated: face-like, voice-like, isotropic (default: all three).")
    parser.add_argument("--nprobe-sweep", default="", help="Comma-separated nprobes: measure only the embedded engine's IVF at each (no Qdrant).")
    parser.add_argument("--efs", default=",".join(map(str, EFS)), help="Qdrant hnsw_ef values to search each graph with (default 64,128,256).")
    parser.add_argument("--ivf-codecs", default="fp16", help="With --nprobe-sweep: the IVF's row copies to build, fp16 (the service's) and/or float32.")
    parser.add_argument("--population-rule", action="store_true",
                        help="Search at the review bound the service raises for the set's size (PopulationRule), recall probes at the raised match threshold.")
    parser.add_argument("--json", action="store_true", help="Print the results as one JSON object.")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    grid = [tuple(int(x) for x in g.split(",")) for g in args.grid.split(";")] if args.grid else GRID
    only = set(args.sets.split(",")) if args.sets else None

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    host = machine()
    t0 = time.monotonic()
    if args.nprobe_sweep:
        nprobes = [int(n) for n in args.nprobe_sweep.split(",")]
        codecs = tuple(args.ivf_codecs.split(","))
        if set(codecs) - {"fp16", "float32"}:
            parser.error("--ivf-codecs: fp16 and/or float32")
        results = [run_nprobe_sweep(n, args.seed + i, nprobes, args.search_budget, log, only, args.population_rule, codecs)
                   for i, n in enumerate(sizes)]  # fmt: skip
        host["load_end"] = load_average()
        if args.json:
            print(json.dumps({"machine": host, "took_s": time.monotonic() - t0, "sizes": results}))
            return
        print(f"\nbench/engines --nprobe-sweep  {host['date']}  {host['cpu']}, {host['cores']} cores, Python {host['python']}, "
              f"numpy {host['numpy']} ({host['blas']}); load average {host['load_start']:.2f} at start, {host['load_end']:.2f} at end; "
              f"{time.monotonic() - t0:.0f} s in all")  # fmt: skip
        for r in results:
            print_sweep(r)
        return
    results = [
        run_size(n, args.seed + i, args.search_budget, args.full_grid, not args.no_quantization, log, grid, only, args.population_rule,
                 tuple(int(e) for e in args.efs.split(",")))
        for i, n in enumerate(sizes)
    ]
    took = time.monotonic() - t0
    host["load_end"] = load_average()
    host["qdrant_edge"] = QDRANT_EDGE
    try:
        import faiss

        host["faiss"] = faiss.__version__
    except ImportError:
        host["faiss"] = "?"
    if args.json:
        print(json.dumps({"machine": host, "took_s": took, "sizes": results}))
        return
    print(f"\nbench/engines  {host['date']}  {host['cpu']}, {host['cores']} cores, Python {host['python']}, numpy {host['numpy']} "
          f"({host['blas']}), faiss-cpu {host['faiss']}, {QDRANT_EDGE}\n"
          f"load average {host['load_start']:.2f} at start, {host['load_end']:.2f} at end; {took:.0f} s in all")  # fmt: skip
    for r in results:
        print_size(r)


if __name__ == "__main__":
    main()
