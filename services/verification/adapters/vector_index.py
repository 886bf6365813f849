"""The in-process 1:N index: every enrolled template of one modality in one float32 matrix. Small
indexes are searched exactly with one matrix product per batch of probes (BLAS), in blocks so memory
stays bounded; from `ivf_min_rows` live rows on, a faiss inverted-file index (IVF) over the same rows
proposes candidates and the matrix re-scores them exactly.

Why IVF above 200k rows: the exact scan costs O(rows x dim) per probe, ~12 ms (face, 128-d) and
~24 ms (voice, 256-d) p50 for one probe at 1M on 2 cores: over the 10 ms p99 target. An IVF
(L2 for EUCLIDEAN, inner product for COSINE; `nlist` ~ 4 sqrt(rows) cells, k-means on a sample of
the live rows) scans only the `nprobe` cells nearest the probe: well under a millisecond per probe
at 1M (bench/verify prints both, with recall@1 on planted matches). The cells hold the rows as
float16 (IndexIVFScalarQuantizer QT_fp16, not residuals): a scan is bound by memory bandwidth, and
half the bytes halved its time at 1M voices (bench/engines --ivf-codecs) and faiss's copy of the
rows. What it returns is a candidate set: `range_search` with the bound widened by the most float16
can move a value (each component is rounded to within 2^-11 of itself, so an inner product moves by
at most 2^-11 |p| |x| and a distance by at most 2^-11 |x|; `_Ivf.slack`) plus a little for faiss's
float arithmetic; then each candidate is re-scored exactly from the float32 matrix, filtered on
`alive` and on the bound, so every value reported is exact, and the float16 rounding can cost no
candidate; what IVF can miss is a template whose cell was not probed. The
service's `nprobe` per modality (settings face_nprobe, voice_nprobe) was picked by measurement on
random isotropic vectors (the hardest case for IVF: no cluster structure), as recall@1 against the
exact search at the match thresholds; bench/verify prints both. Adds after training go
straight into the IVF (`add_with_ids`, ids = row numbers in the matrix); removals only clear
`alive` (dead candidates are filtered; the rows leave the IVF at the next rebuild). The IVF is
rebuilt (retrained on the live rows) when the rows have doubled since it was trained, and by
`_compact`. Below `ivf_min_rows` the index stays exact, adds and removes are O(1) and there is
nothing to train.

Concurrency: searches run in worker threads; one writer at a time (the service serializes writes
and runs them in a thread too, so growing or compacting 1M rows, or training the IVF, never stalls
the event loop). A search works on one immutable snapshot (`_State`) taken at its start; writers
append rows past the snapshot's row count, or swap in a new state, and never change rows a snapshot
can see except the `alive` flag (a removal is visible to searches that start after it). The IVF
belongs to the state it was built for, so a snapshot's IVF ids are always its own row numbers: a
rebuild (doubling, compaction) builds a new faiss index off to the side and swaps it in with the new
state. One faiss index is shared by the states between two rebuilds, and faiss does not allow an add
concurrent with a search, so each `_Ivf` holds a plain `threading.Lock` around faiss `add_with_ids`
and `range_search` (searches serialize on it; each holds it for well under a millisecond). Ids the
IVF holds past a snapshot's row count (added after the snapshot) are ignored by that search.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..domain.calibration import CohortNorm


class Metric(str, enum.Enum):
    """EUCLIDEAN: dlib face encodings (lower is closer). COSINE: voice embeddings (higher is closer)."""

    EUCLIDEAN = "euclidean"
    COSINE = "cosine"


@dataclass(frozen=True)
class Affine:
    """A per-owner, per-probe affine rescoring of COSINE values applied inside the scan:
    `value * (b_owner + b_probe) - (a_owner + a_probe)`, kept when at least `at_least` (voice S-norm
    is one, verification.domain.calibration). `floor`: a raw cosine under which no owner can reach
    `at_least` (the IVF's candidate radius). Owners without a row in `owner_ab` (added after the
    caller read it) or with NaN are skipped."""

    owner_ab: np.ndarray | Callable[[], np.ndarray]  # (talent codes, 2): a, b per owner; a getter is read after the rows' snapshot
    probe_ab: np.ndarray  # (probes, 2)
    at_least: float
    floor: float

    def resolved(self) -> Affine:
        """The owner table read now (call it after the rows' snapshot), with one NaN row past its
        end that every owner code it does not know is mapped to."""
        table = self.owner_ab() if callable(self.owner_ab) else self.owner_ab
        return dataclasses.replace(self, owner_ab=np.vstack([table, np.full((1, 2), np.nan)]))

    def rescore(self, values: np.ndarray, owners: np.ndarray, probes: np.ndarray) -> np.ndarray:
        """`values` of `owners` against `probes` (probe indexes; shapes broadcast: a block of rows
        against every probe, or one candidate per entry), rescored; NaN for unknown owners."""
        ab = self.owner_ab[np.minimum(owners, len(self.owner_ab) - 1)]
        return CohortNorm.normalize_ab(values, (ab[..., 0], ab[..., 1]), (self.probe_ab[probes, 0], self.probe_ab[probes, 1]))


@dataclass(frozen=True)
class Hit:
    probe: int  # index into the probes searched
    talent_id: str
    value: float  # the metric's own value: a distance (EUCLIDEAN) or a cosine (COSINE); rescored by `search_normalized`
    raw: float | None = None  # `search_normalized`: the raw cosine behind `value`


FP16_ROUNDING = 2.0**-11  # float16's unit roundoff: |fp16(v) - v| <= 2^-11 |v| (and under 2^-25 near zero)


class _Ivf:
    """A faiss IVF over rows of one matrix (ids = row numbers), the rows stored as float16 (or as
    they are, with `fp16=False`), with the lock that keeps faiss adds and searches apart."""

    def __init__(self, index, vectors: np.ndarray, rows: np.ndarray, trained_rows: int, fp16: bool) -> None:
        self.fp16 = fp16
        self.max_norm = 0.0  # the longest row added: bounds what float16 can move a value (`slack`)
        self._index = index
        self._lock = threading.Lock()
        for start in range(0, len(rows), 262_144):  # bounded copies of the matrix
            chunk = rows[start : start + 262_144]
            self._add(np.ascontiguousarray(vectors[chunk]), chunk.astype(np.int64))
        self.trained_rows = trained_rows  # live rows when the cells were trained (retrain at 2x)

    @staticmethod
    def _new(quantizer, dim: int, nlist: int, metric, fp16: bool):
        import faiss  # imported lazily: only indexes past `ivf_min_rows` need it

        if not fp16:
            return faiss.IndexIVFFlat(quantizer, dim, nlist, metric)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_fp16, metric)
        index.by_residual = False  # the rows themselves, so `slack` bounds the rounding
        return index

    @classmethod
    def trained(cls, vectors: np.ndarray, rows: np.ndarray, metric: Metric, nprobe: int, seed: int = 0, fp16: bool = True) -> _Ivf:
        """New cells (k-means on a sample of `rows`), then every row added."""
        import faiss

        dim = vectors.shape[1]
        nlist = max(1, min(int(4 * math.sqrt(len(rows))), len(rows) // 39))  # faiss wants >= 39 points per cell
        if metric is Metric.EUCLIDEAN:
            quantizer, faiss_metric = faiss.IndexFlatL2(dim), faiss.METRIC_L2
        else:
            quantizer, faiss_metric = faiss.IndexFlatIP(dim), faiss.METRIC_INNER_PRODUCT
        index = cls._new(quantizer, dim, nlist, faiss_metric, fp16)
        index.cp.niter = 10
        index.cp.seed = seed
        # 40 points per cell (faiss asks for at least 39): enough for candidate generation (recall is
        # measured, not assumed), and training stays seconds at 1M rows.
        sample = rows
        if len(rows) > 40 * nlist:
            sample = np.sort(np.random.default_rng(seed).choice(rows, 40 * nlist, replace=False))
        index.cp.max_points_per_centroid = 40
        index.train(np.ascontiguousarray(vectors[sample]))
        index.nprobe = min(nprobe, nlist)
        return cls(index, vectors, rows, len(rows), fp16)

    def refilled(self, vectors: np.ndarray, rows: np.ndarray) -> _Ivf:
        """The same cells (no k-means) over other rows: for compaction, where row numbers change
        but the data's distribution does not."""
        import faiss

        old = self._index
        index = self._new(faiss.clone_index(old.quantizer), old.d, old.nlist, old.metric_type, self.fp16)
        if not index.is_trained:  # float16 "trains" nothing; the quantizer is trained, so no k-means either
            index.train(np.ascontiguousarray(vectors[rows[: old.nlist]]))
        index.nprobe = old.nprobe
        return _Ivf(index, vectors, rows, self.trained_rows, self.fp16)

    def slack(self, probe_norm: float, euclidean: bool) -> float:
        """The most the stored rows' float16 rounding can move a value faiss compares with the
        radius: a distance by 2^-11 |x|, an inner product by 2^-11 |p| |x| (0 when stored as float32)."""
        if not self.fp16:
            return 0.0
        return FP16_ROUNDING * self.max_norm * (1.0 if euclidean else probe_norm)

    def _add(self, block: np.ndarray, ids: np.ndarray) -> None:
        if len(block):
            self.max_norm = max(self.max_norm, float(np.sqrt(np.einsum("ij,ij->i", block, block).max())))
        self._index.add_with_ids(block, ids)

    def add(self, block: np.ndarray, start: int) -> None:
        ids = np.arange(start, start + len(block), dtype=np.int64)
        with self._lock:
            self._add(np.ascontiguousarray(block, np.float32), ids)

    def candidates(self, probes: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """(probe, row) pairs that faiss finds within `radius` (its own units: squared L2 or inner product)."""
        with self._lock:
            lims, _, ids = self._index.range_search(np.ascontiguousarray(probes), radius)
        p = np.repeat(np.arange(len(probes)), np.diff(lims).astype(np.int64))
        return p, ids


@dataclass(frozen=True)
class _State:
    vectors: np.ndarray  # capacity x dim
    sq_norms: np.ndarray  # capacity (EUCLIDEAN only)
    owners: np.ndarray  # capacity int32: talent code
    alive: np.ndarray  # capacity bool
    rows: int  # rows in use (alive or not)
    ivf: _Ivf | None = None  # candidates for rows [0, rows) once the index is past `ivf_min_rows`


class ModalityIndex:
    def __init__(
        self, dim: int, metric: Metric, capacity: int = 1024, block_rows: int = 65_536,
        ivf_min_rows: int = 200_000, nprobe: int = 32, ivf_fp16: bool = True,
    ) -> None:  # fmt: skip
        """`ivf_fp16=False` keeps the IVF's copy of the rows as float32 (bench/engines compares the two)."""
        self.dim, self.metric, self._block = dim, metric, block_rows
        self.ivf_min_rows, self.nprobe, self.ivf_fp16 = ivf_min_rows, nprobe, ivf_fp16
        self._state = _State(
            np.zeros((capacity, dim), np.float32), np.zeros(capacity, np.float32),
            np.zeros(capacity, np.int32), np.zeros(capacity, bool), 0,
        )  # fmt: skip
        self._codes: dict[str, int] = {}
        self._talents: list[str] = []
        self._rows_of: dict[int, list[int]] = {}
        self._ids_of: dict[int, frozenset[str]] = {}  # talent code -> the stored templates its rows came from
        # (a, b) S-norm constants by talent code (NaN: none), replaced whole when it grows: a search
        # reads it after its rows' snapshot (see replace).
        self._ab = np.full((0, 2), np.nan, np.float64)
        self._dead = 0
        self._bulk = False

    # ------------------------------------------------------------------ writes (one writer at a time)

    def replace(self, talent_id: str, vectors: list[np.ndarray], template_ids: Sequence[str] = (),
                ab: tuple[float, float] | None = None) -> None:  # fmt: skip
        """The talent's templates become exactly `vectors` (an empty list removes the talent), stored
        templates `template_ids` (one per vector); `ab`: the talent's S-norm constants, which
        `search_normalized` rescores its rows with."""
        if len(template_ids) not in (0, len(vectors)):
            raise ValueError(f"{len(template_ids)} template ids for {len(vectors)} vectors")
        self.remove(talent_id)
        if not vectors:
            return
        block = np.asarray(np.stack(vectors), np.float32)
        if block.shape[1] != self.dim:
            raise ValueError(f"expected {self.dim}-d vectors, got {block.shape[1]}-d")
        code = self._code(talent_id)
        # A talent's constants are written before its rows and outlive them (NaN after a removal),
        # so a search that finds its rows finds its constants (searches read a snapshot of the rows).
        self._set_ab(code, ab if ab is not None else (np.nan, np.nan))
        self._ids_of[code] = frozenset(template_ids)
        s = self._ensure_capacity(len(block))
        start, end = s.rows, s.rows + len(block)
        s.vectors[start:end] = block
        s.sq_norms[start:end] = np.einsum("ij,ij->i", block, block)
        s.owners[start:end] = code
        s.alive[start:end] = True
        self._rows_of[code] = list(range(start, end))
        try:
            ivf = self._ivf_after_add(s, block, start, end)
        except BaseException:  # e.g. faiss refused to train: the rows never become visible
            s.alive[start:end] = False
            del self._rows_of[code]
            raise
        self._state = dataclasses.replace(s, rows=end, ivf=ivf)

    def _ivf_after_add(self, s: _State, block: np.ndarray, start: int, end: int) -> _Ivf | None:
        ivf = s.ivf
        if self._bulk:
            ivf = None  # exact until end_bulk() builds the IVF once
        elif ivf is not None:
            if end >= 2 * ivf.trained_rows:  # doubled since training: retrain on the live rows
                ivf = self._build_ivf(s.vectors, s.alive, end)
            else:
                ivf.add(block, start)
        elif end - self._dead >= self.ivf_min_rows:
            ivf = self._build_ivf(s.vectors, s.alive, end)
        return ivf

    def _set_ab(self, code: int, ab: tuple[float, float]) -> None:
        table = self._ab
        if code >= len(table):
            table = np.full((max(64, 2 * code + 2), 2), np.nan, np.float64)
            table[: len(self._ab)] = self._ab
        table[code] = ab
        self._ab = table

    def remove(self, talent_id: str) -> None:
        code = self._codes.get(talent_id)
        if code is not None:
            self._ids_of.pop(code, None)
        rows = self._rows_of.pop(code, None) if code is not None else None
        if not rows:
            return
        self._state.alive[rows] = False
        self._dead += len(rows)
        if self._dead > 1024 and self._dead > self._state.rows // 4:
            self._compact()

    def begin_bulk(self) -> None:
        """Many writes in a row (the start-up load): searches stay exact meanwhile, and the IVF is
        trained once by `end_bulk` instead of at every doubling on the way up."""
        self._bulk = True

    def end_bulk(self) -> None:
        self._bulk = False
        s = self._state
        self._state = dataclasses.replace(s, ivf=self._build_ivf(s.vectors, s.alive, s.rows))

    def _code(self, talent_id: str) -> int:
        code = self._codes.get(talent_id)
        if code is None:
            code = self._codes[talent_id] = len(self._talents)
            self._talents.append(talent_id)
        return code

    def _build_ivf(self, vectors: np.ndarray, alive: np.ndarray, rows: int, reuse: _Ivf | None = None) -> _Ivf | None:
        """An IVF over the live rows, if there are enough: `reuse`'s cells when given, else trained anew."""
        live = np.flatnonzero(alive[:rows])
        if len(live) < self.ivf_min_rows:
            return None
        if reuse is not None:
            return reuse.refilled(vectors, live)
        return _Ivf.trained(vectors, live, self.metric, self.nprobe, fp16=self.ivf_fp16)

    def _ensure_capacity(self, extra: int) -> _State:
        s = self._state
        if s.rows + extra <= len(s.vectors):
            return s
        capacity = max(2 * len(s.vectors), s.rows + extra)
        grown = _State(
            _grow(s.vectors, capacity), _grow(s.sq_norms, capacity), _grow(s.owners, capacity), _grow(s.alive, capacity),
            s.rows, s.ivf,
        )  # fmt: skip
        self._state = grown
        return grown

    def _compact(self) -> None:
        s = self._state
        keep = np.flatnonzero(s.alive[: s.rows])
        capacity = max(1024, 2 * len(keep))
        vectors, alive = _grow(s.vectors[keep], capacity), _grow(s.alive[keep], capacity)
        # Row numbers change: a new IVF, on the old one's cells (compaction does not move the data).
        ivf = None if self._bulk else self._build_ivf(vectors, alive, len(keep), reuse=s.ivf)
        compact = _State(
            vectors, _grow(s.sq_norms[keep], capacity), _grow(s.owners[keep], capacity), alive, len(keep), ivf,
        )  # fmt: skip
        self._rows_of = {}
        for row, code in enumerate(compact.owners[: len(keep)].tolist()):
            self._rows_of.setdefault(code, []).append(row)
        self._dead = 0
        self._state = compact

    # ------------------------------------------------------------------ reads (any thread)

    @property
    def templates(self) -> int:
        s = self._state
        return int(s.alive[: s.rows].sum())

    @property
    def talent_count(self) -> int:
        return len(self._rows_of)

    def talents(self) -> set[str]:
        return {self._talents[c] for c in self._rows_of}

    def has(self, talent_id: str) -> bool:
        code = self._codes.get(talent_id)
        return code is not None and code in self._rows_of

    def template_ids(self, talent_ids: Iterable[str]) -> dict[str, frozenset[str]]:
        """The stored templates each of these talents' rows came from (talents with none left out)."""
        out = {}
        for talent_id in talent_ids:
            code = self._codes.get(talent_id)
            if code is not None and code in self._rows_of:
                out[talent_id] = self._ids_of.get(code, frozenset())
        return out

    def ab_of(self, talent_id: str) -> tuple[float, float] | None:
        """The talent's S-norm constants (None: not indexed, or indexed without)."""
        code = self._codes.get(talent_id)
        if code is None or code not in self._rows_of or np.isnan(self._ab[code, 0]):
            return None
        return float(self._ab[code, 0]), float(self._ab[code, 1])

    def vectors_of(self, talent_id: str) -> np.ndarray:
        """The talent's templates (a copy; empty when it has none)."""
        code = self._codes.get(talent_id)
        rows = self._rows_of.get(code, []) if code is not None else []
        return self._state.vectors[rows].copy() if rows else np.zeros((0, self.dim), np.float32)

    @property
    def approximate(self) -> bool:
        """True while searches go through the IVF (candidates re-scored exactly)."""
        return self._state.ivf is not None

    def search(self, probes: np.ndarray, bound: float, *, exact: bool = False) -> list[Hit]:
        """For each probe, every talent with a template within `bound` (distance <= bound for
        EUCLIDEAN, cosine >= bound for COSINE), with that talent's best value. Exact below
        `ivf_min_rows` or with `exact`; otherwise exact over the candidates the IVF finds (see the
        module docstring)."""
        p, owner, value, _ = self._search(probes, bound, exact, None)
        euclidean = self.metric is Metric.EUCLIDEAN
        hits = [Hit(int(i), self._talents[int(o)], float(v)) for i, o, v in zip(p, owner, value, strict=True)]
        return sorted(hits, key=lambda h: (h.probe, h.value if euclidean else -h.value))

    def search_normalized(self, probes: np.ndarray, probe_ab: np.ndarray, at_least: float, floor: float, *,
                          exact: bool = False) -> list[Hit]:  # fmt: skip
        """COSINE only: every (probe, talent) whose best S-norm rescored value (the talent's `ab`
        from `replace`, the probe's row of `probe_ab`) reaches `at_least`, with the raw cosine behind
        it. The exact scan rescores every row in its block (no raw floor to tune); the IVF proposes
        candidates at the raw `floor`, under which no talent can reach `at_least`."""
        assert self.metric is Metric.COSINE
        affine = Affine(lambda: self._ab, np.asarray(probe_ab, np.float64), at_least, floor)
        p, owner, value, raw = self._search(probes, floor, exact, affine)
        return [Hit(int(i), self._talents[int(o)], float(v), float(r)) for i, o, v, r in zip(p, owner, value, raw, strict=True)]

    def _search(self, probes: np.ndarray, bound: float, exact: bool, affine: Affine | None):
        probes = np.atleast_2d(np.asarray(probes, np.float32))
        s = self._state  # one snapshot for the whole search
        if affine is not None:  # after the snapshot: the table knows every owner the rows hold
            affine = affine.resolved()
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32))
        if s.rows == 0 or len(probes) == 0:
            return empty
        if s.ivf is not None and not exact:
            p, owner, value = self._search_ivf(s, probes, bound)
            raw = value
            if affine is not None:
                value = affine.rescore(raw, owner, p)
                keep = value >= affine.at_least
                p, owner, value, raw = p[keep], owner[keep], value[keep], raw[keep]
        else:
            p, owner, value, raw = self._search_exact(s, probes, bound, affine)
        if not len(p):
            return empty
        euclidean = self.metric is Metric.EUCLIDEAN
        # Best value per (probe, talent), vectorized: lookalike-rich data makes many hits.
        order = np.lexsort((value if euclidean else -value, owner, p))
        p, owner, value, raw = p[order], owner[order], value[order], raw[order]
        first = np.ones(len(p), bool)
        first[1:] = (p[1:] != p[:-1]) | (owner[1:] != owner[:-1])
        p, owner, value, raw = p[first], owner[first], value[first], raw[first]
        if euclidean:
            value = raw = np.sqrt(np.maximum(value, 0.0))
        return p, owner, value, raw

    def _search_exact(self, s: _State, probes: np.ndarray, bound: float, affine: Affine | None = None):
        """(probe, owner, value, raw) for every live row within the bound (or, with `affine`, whose
        rescored value reaches its `at_least`); EUCLIDEAN values squared."""
        euclidean = self.metric is Metric.EUCLIDEAN
        probe_sq = np.einsum("ij,ij->i", probes, probes)
        found_probes, found_owners, found_values, found_raw = [], [], [], []
        every_probe = np.arange(len(probes))[:, None]
        for start in range(0, s.rows, self._block):
            end = min(start + self._block, s.rows)
            dots = probes @ s.vectors[start:end].T  # probes x block
            if euclidean:
                # |p - x|^2 = |p|^2 + |x|^2 - 2 p.x, compared squared: no sqrt over the block.
                values = probe_sq[:, None] + s.sq_norms[start:end][None, :] - 2.0 * dots
                found = (values <= bound * bound) & s.alive[start:end][None, :]
            elif affine is not None:
                values = affine.rescore(dots, s.owners[start:end], every_probe)
                found = (values >= affine.at_least) & s.alive[start:end][None, :]
            else:
                values = dots
                found = (values >= bound) & s.alive[start:end][None, :]
            p, col = np.nonzero(found)
            found_probes.append(p)
            found_owners.append(s.owners[start + col])
            found_values.append(values[p, col])
            found_raw.append(dots[p, col])
        return tuple(np.concatenate(a) for a in (found_probes, found_owners, found_values, found_raw))

    def _search_ivf(self, s: _State, probes: np.ndarray, bound: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The IVF's candidates within the bound (with slack), re-scored exactly from the matrix."""
        euclidean = self.metric is Metric.EUCLIDEAN
        assert s.ivf is not None
        # faiss range_search is strict (< radius for L2, > radius for IP), computes in its own float
        # order and on float16 rows: widen the radius by float16's most (`slack`) and a little more,
        # the exact re-score below applies the true bound.
        slack = s.ivf.slack(float(np.sqrt(np.einsum("ij,ij->i", probes, probes).max())), euclidean) + 1e-3
        radius = (bound + slack) ** 2 if euclidean else bound - slack
        p, rows = s.ivf.candidates(probes, radius)
        keep = rows < s.rows  # ids added after this snapshot
        p, rows = p[keep], rows[keep]
        keep = s.alive[rows]
        p, rows = p[keep], rows[keep]
        if euclidean:
            diff = s.vectors[rows] - probes[p]
            values = np.einsum("ij,ij->i", diff, diff)
            keep = values <= bound * bound
        else:
            values = np.einsum("ij,ij->i", s.vectors[rows], probes[p])
            keep = values >= bound
        return p[keep], s.owners[rows[keep]], values[keep]


def _grow(array: np.ndarray, capacity: int) -> np.ndarray:
    out = np.zeros((capacity, *array.shape[1:]), array.dtype)
    out[: len(array)] = array
    return out
