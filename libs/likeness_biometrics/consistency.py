"""Do the samples of one enrollment show the same person?

Reference: the existing centroid when one is given (re-enrollment, adding samples), else the
medoid of the new samples (the sample closest to all others: robust to a minority of wrong ones).
Each sample is scored against the reference and flagged when it disagrees: face, Euclidean
distance > max_distance; voice, cosine < min_cosine. With exactly two samples and no centroid
there is no majority, so both are flagged when they disagree. The centroid of the samples that
agree is returned for storage (face: the mean; voice: the re-normalised mean).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .config import BioConfig

_DEFAULT = BioConfig()


@dataclass(frozen=True)
class ConsistencyReport:
    outliers: tuple[int, ...]  # indexes into the given samples that disagree
    scores: tuple[float, ...]  # per sample: distance (face) or cosine (voice) to the reference
    reference: str  # "centroid" | "medoid" | "single"
    reference_index: int | None  # the medoid's index
    threshold: float
    metric: str  # "euclidean" | "cosine"
    centroid: np.ndarray | None  # of the consistent samples (None if none)

    @property
    def consistent(self) -> bool:
        return not self.outliers


def _matrix(samples: Sequence[np.ndarray]) -> np.ndarray:
    m = np.asarray([np.asarray(s, np.float64).reshape(-1) for s in samples])
    if m.ndim != 2 or len(m) == 0:
        raise ValueError("need at least one embedding")
    return m


def _unit(m: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.where(n > 0, n, 1.0)


def face_centroid(encodings: Sequence[np.ndarray]) -> np.ndarray:
    return _matrix(encodings).mean(axis=0).astype(np.float32)


def voice_centroid(embeddings: Sequence[np.ndarray]) -> np.ndarray:
    return _unit(_unit(_matrix(embeddings)).mean(axis=0)).astype(np.float32)


def _check(
    m: np.ndarray,
    existing: np.ndarray | None,
    metric: str,
    threshold: float,
) -> ConsistencyReport:
    n = len(m)
    if metric == "euclidean":
        pair = np.linalg.norm(m[:, None, :] - m[None, :, :], axis=-1)
        bad = lambda s: s > threshold  # noqa: E731
        closeness = -pair  # higher is closer
    else:
        m = _unit(m)
        pair = m @ m.T
        bad = lambda s: s < threshold  # noqa: E731
        closeness = pair
    medoid: int | None = None
    if existing is not None:
        ref = np.asarray(existing, np.float64).reshape(-1)
        if metric == "euclidean":
            scores = np.linalg.norm(m - ref, axis=1)
        else:
            scores = m @ _unit(ref)
        reference = "centroid"
        flags = bad(scores)
    elif n == 1:
        scores = np.zeros(1) if metric == "euclidean" else np.ones(1)
        reference, flags = "single", np.zeros(1, bool)
    else:
        medoid = int(np.argmax(closeness.sum(axis=1)))
        scores = pair[medoid].copy()
        reference = "medoid"
        flags = bad(scores)
        if n == 2 and flags.any():
            flags[:] = True  # no majority to say which one is wrong
    keep = ~flags
    if keep.any():
        centroid = m[keep].mean(axis=0)
        if metric == "cosine":
            centroid = _unit(centroid)
        centroid = centroid.astype(np.float32)
    else:
        centroid = None
    return ConsistencyReport(
        outliers=tuple(int(i) for i in np.flatnonzero(flags)),
        scores=tuple(round(float(s), 4) for s in scores),
        reference=reference,
        reference_index=medoid,
        threshold=threshold,
        metric=metric,
        centroid=centroid,
    )


def check_face_consistency(
    encodings: Sequence[np.ndarray],
    existing_centroid: np.ndarray | None = None,
    max_distance: float | None = None,
    config: BioConfig = _DEFAULT,
) -> ConsistencyReport:
    threshold = config.face_consistency_distance if max_distance is None else max_distance
    return _check(_matrix(encodings), existing_centroid, "euclidean", threshold)


def check_voice_consistency(
    embeddings: Sequence[np.ndarray],
    existing_centroid: np.ndarray | None = None,
    min_cosine: float | None = None,
    config: BioConfig = _DEFAULT,
) -> ConsistencyReport:
    threshold = config.voice_consistency_cosine if min_cosine is None else min_cosine
    return _check(_matrix(embeddings), existing_centroid, "cosine", threshold)
