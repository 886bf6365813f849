"""The in-process 1:N index: every enrolled template of one modality in one float32 matrix, searched
exactly with one matrix product per batch of probes (BLAS), in blocks so memory stays bounded.

Why exact and not ANN: at 1M face templates a blocked scan of a batch of probes takes tens of
milliseconds (bench/verify prints it), the index is always exact, adds and removes are O(1), and
there is no graph to rebuild. See README, "1:N search".

Concurrency: searches run in worker threads; one writer at a time (the service serializes writes
and runs them in a thread too, so growing or compacting 1M rows never stalls the event loop). A
search works on one immutable snapshot (`_State`) taken at its start; writers append rows past the
snapshot's row count, or swap in a new state, and never change rows a snapshot can see except the
`alive` flag (a removal is visible to searches that start after it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np


class Metric(str, enum.Enum):
    """EUCLIDEAN: dlib face encodings (lower is closer). COSINE: voice embeddings (higher is closer)."""

    EUCLIDEAN = "euclidean"
    COSINE = "cosine"


@dataclass(frozen=True)
class Hit:
    probe: int  # index into the probes searched
    talent_id: str
    value: float  # the metric's own value: a distance (EUCLIDEAN) or a cosine (COSINE)


@dataclass(frozen=True)
class _State:
    vectors: np.ndarray  # capacity x dim
    sq_norms: np.ndarray  # capacity (EUCLIDEAN only)
    owners: np.ndarray  # capacity int32: talent code
    alive: np.ndarray  # capacity bool
    rows: int  # rows in use (alive or not)


class ModalityIndex:
    def __init__(self, dim: int, metric: Metric, capacity: int = 1024, block_rows: int = 65_536) -> None:
        self.dim, self.metric, self._block = dim, metric, block_rows
        self._state = _State(
            np.zeros((capacity, dim), np.float32), np.zeros(capacity, np.float32),
            np.zeros(capacity, np.int32), np.zeros(capacity, bool), 0,
        )  # fmt: skip
        self._codes: dict[str, int] = {}
        self._talents: list[str] = []
        self._rows_of: dict[int, list[int]] = {}
        self._dead = 0

    # ------------------------------------------------------------------ writes (event loop only)

    def replace(self, talent_id: str, vectors: list[np.ndarray]) -> None:
        """The talent's templates become exactly `vectors` (an empty list removes the talent)."""
        self.remove(talent_id)
        if not vectors:
            return
        block = np.asarray(np.stack(vectors), np.float32)
        if block.shape[1] != self.dim:
            raise ValueError(f"expected {self.dim}-d vectors, got {block.shape[1]}-d")
        code = self._code(talent_id)
        s = self._ensure_capacity(len(block))
        start, end = s.rows, s.rows + len(block)
        s.vectors[start:end] = block
        s.sq_norms[start:end] = np.einsum("ij,ij->i", block, block)
        s.owners[start:end] = code
        s.alive[start:end] = True
        self._rows_of[code] = list(range(start, end))
        self._state = _State(s.vectors, s.sq_norms, s.owners, s.alive, end)

    def remove(self, talent_id: str) -> None:
        code = self._codes.get(talent_id)
        rows = self._rows_of.pop(code, None) if code is not None else None
        if not rows:
            return
        self._state.alive[rows] = False
        self._dead += len(rows)
        if self._dead > 1024 and self._dead > self._state.rows // 4:
            self._compact()

    def _code(self, talent_id: str) -> int:
        code = self._codes.get(talent_id)
        if code is None:
            code = self._codes[talent_id] = len(self._talents)
            self._talents.append(talent_id)
        return code

    def _ensure_capacity(self, extra: int) -> _State:
        s = self._state
        if s.rows + extra <= len(s.vectors):
            return s
        capacity = max(2 * len(s.vectors), s.rows + extra)
        grown = _State(
            _grow(s.vectors, capacity), _grow(s.sq_norms, capacity), _grow(s.owners, capacity), _grow(s.alive, capacity), s.rows
        )  # fmt: skip
        self._state = grown
        return grown

    def _compact(self) -> None:
        s = self._state
        keep = np.flatnonzero(s.alive[: s.rows])
        capacity = max(1024, 2 * len(keep))
        compact = _State(
            _grow(s.vectors[keep], capacity), _grow(s.sq_norms[keep], capacity), _grow(s.owners[keep], capacity),
            _grow(s.alive[keep], capacity), len(keep),
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

    def search(self, probes: np.ndarray, bound: float) -> list[Hit]:
        """For each probe, every talent with a template within `bound` (distance <= bound for
        EUCLIDEAN, cosine >= bound for COSINE), with that talent's best value."""
        probes = np.atleast_2d(np.asarray(probes, np.float32))
        s = self._state  # one snapshot for the whole search
        if s.rows == 0 or len(probes) == 0:
            return []
        euclidean = self.metric is Metric.EUCLIDEAN
        probe_sq = np.einsum("ij,ij->i", probes, probes)
        found_probes, found_owners, found_values = [], [], []
        for start in range(0, s.rows, self._block):
            end = min(start + self._block, s.rows)
            dots = probes @ s.vectors[start:end].T  # probes x block
            if euclidean:
                # |p - x|^2 = |p|^2 + |x|^2 - 2 p.x, compared squared: no sqrt over the block.
                values = probe_sq[:, None] + s.sq_norms[start:end][None, :] - 2.0 * dots
                found = (values <= bound * bound) & s.alive[start:end][None, :]
            else:
                values = dots
                found = (values >= bound) & s.alive[start:end][None, :]
            p, col = np.nonzero(found)
            found_probes.append(p)
            found_owners.append(s.owners[start + col])
            found_values.append(values[p, col])
        p, owner, value = (np.concatenate(a) for a in (found_probes, found_owners, found_values))
        if not len(p):
            return []
        # Best value per (probe, talent), vectorized: lookalike-rich data makes many hits.
        order = np.lexsort((value if euclidean else -value, owner, p))
        p, owner, value = p[order], owner[order], value[order]
        first = np.ones(len(p), bool)
        first[1:] = (p[1:] != p[:-1]) | (owner[1:] != owner[:-1])
        p, owner, value = p[first], owner[first], value[first]
        if euclidean:
            value = np.sqrt(np.maximum(value, 0.0))
        hits = [Hit(int(i), self._talents[int(o)], float(v)) for i, o, v in zip(p, owner, value, strict=True)]
        return sorted(hits, key=lambda h: (h.probe, h.value if euclidean else -h.value))


def _grow(array: np.ndarray, capacity: int) -> np.ndarray:
    out = np.zeros((capacity, *array.shape[1:]), array.dtype)
    out[: len(array)] = array
    return out
