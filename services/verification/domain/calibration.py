"""Voice score normalization against an impostor cohort (symmetric S-norm, issue 18).

A raw cosine means different things for different voices: a talent whose voice sits in a crowded
region of the embedding space scores high against strangers, one who stands alone scores low
against everyone. S-norm measures each side against a cohort of voices known to be nobody
enrolled: a template's (talent's) scores against the cohort give (mean_t, std_t), the probe's give
(mean_p, std_p), and

    z = ((raw - mean_t) / std_t + (raw - mean_p) / std_p) / 2

is "how many cohort standard deviations above a stranger", the same for every talent. Stats are
pooled over the whole cohort (S-norm, not the top-k of AS-norm): bench/accuracy measured both on
a disjoint LibriSpeech split and top-k brought nothing over the whole cohort at this cohort size,
while making thresholds depend on the cohort's size.

Pure numpy: no I/O. The cohort is an (n, 256) array of unit-norm embeddings of recordings of
people who are not enrolled (`likeness cohort build`); the index computes each talent's stats when
its templates change and each probe's at search time (one (256,) x (256, n) product).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

MIN_STD = 1e-3  # a degenerate cohort (all one voice) must not divide by zero


def cohort_name(array: np.ndarray) -> str:
    """A cohort's content hash: what receipts record as "VOICE_COHORT"."""
    return "sha256:" + hashlib.sha256(np.ascontiguousarray(array, np.float32).tobytes()).hexdigest()[:16]


@dataclass(frozen=True)
class Stats:
    mean: float
    std: float

    @property
    def a(self) -> float:  # z = (raw * (b_t + b_p)) - (a_t + a_p), with a = mean / 2 std, b = 1 / 2 std
        return self.mean / (2 * self.std)

    @property
    def b(self) -> float:
        return 1.0 / (2 * self.std)


class CohortNorm:
    def __init__(self, cohort: np.ndarray, name: str = "") -> None:
        cohort = np.asarray(cohort, np.float32)
        if cohort.ndim != 2 or len(cohort) < 20:
            raise ValueError(f"a score-normalization cohort needs at least 20 embeddings, got shape {cohort.shape}")
        self.cohort = cohort / np.linalg.norm(cohort, axis=1, keepdims=True)
        self.name = name  # what the receipt records: the cohort file's content hash

    @property
    def size(self) -> int:
        return len(self.cohort)

    def stats(self, vectors: np.ndarray) -> Stats:
        """Pooled over every (vector, cohort member) score: a talent's templates, or one probe."""
        scores = np.atleast_2d(np.asarray(vectors, np.float32)) @ self.cohort.T
        return Stats(float(scores.mean()), max(float(scores.std()), MIN_STD))

    @staticmethod
    def normalize(raw: float, talent: Stats, probe: Stats) -> float:
        return raw * (talent.b + probe.b) - (talent.a + probe.a)

    @staticmethod
    def raw_needed(z: float, talent: Stats, probe: Stats) -> float:
        """The raw score at which `normalize` reaches `z` (normalize is increasing in raw)."""
        return (z + talent.a + probe.a) / (talent.b + probe.b)


@dataclass
class Bounds:
    """The extremes of every indexed talent's (a, b): `floor` gives, for a probe, a raw score no
    talent can reach `z` below, whatever its stats, so a search at that floor misses no talent
    that normalizes to `z` or more. Kept conservative: a removed talent never tightens them."""

    min_a: float = float("inf")
    max_b: float = 0.0

    def include(self, s: Stats) -> None:
        self.min_a, self.max_b = min(self.min_a, s.a), max(self.max_b, s.b)

    def floor(self, z: float, probe: Stats) -> float:
        if self.max_b == 0.0:  # no talent indexed: nothing to find
            return 1.0
        numerator = z + self.min_a + probe.a
        # raw_needed = numerator / (b_t + b_p) is smallest with the smallest a_t and, for a positive
        # numerator, the largest b_t; a non-positive one would mean any raw score can reach z.
        return numerator / (self.max_b + probe.b) if numerator > 0 else -1.0
