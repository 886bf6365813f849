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
from statistics import NormalDist

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
        return CohortNorm.normalize_ab(raw, (talent.a, talent.b), (probe.a, probe.b))

    @staticmethod
    def normalize_ab(raw: float, talent: tuple[float, float], probe: tuple[float, float]) -> float:
        """`normalize` from each side's (a, b) (Stats.a, Stats.b): what an index stores per talent (scalars, or
        numpy arrays that broadcast: the embedded index rescores a block of rows at once)."""
        return raw * (talent[1] + probe[1]) - (talent[0] + probe[0])

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


# --- thresholds that hold their meaning as the registry grows (issue 18) -------------------------

_NORMAL = NormalDist()


@dataclass(frozen=True)
class ImpostorTail:
    """How a stranger's template scores against a probe, modelled as normal (mean, sd): `p(s)` is
    the chance that one template of someone else scores `s` or more. Face scores (1 - dlib
    distance), raw voice cosines and S-norm z each have their own."""

    mean: float
    sd: float

    def p(self, score: float) -> float:
        return _NORMAL.cdf((self.mean - score) / self.sd)  # the upper tail, without 1 - cdf's rounding

    def score_at(self, p: float) -> float:
        """The score a stranger's template reaches with probability `p` (the inverse of `p`)."""
        return self.mean - self.sd * _NORMAL.inv_cdf(min(max(p, 1e-300), 0.5))


@dataclass(frozen=True)
class PopulationRule:
    """A 1:N search compares a probe with every enrolled template, so the number of strangers who
    reach a fixed threshold grows with the number of templates: at 1M, 0.07 % of dlib impostor
    pairs within the 0.6 review distance is 700 strangers per face. The configured thresholds are
    set for `reference` templates per modality; for a larger population each one is raised to the
    score at which the *expected number of strangers' templates reaching it per probe*,
    `templates x p(score)`, is what it was at the reference: a match, and a REVIEW, then mean the
    same at 10M templates as at 1,000. Never lowered below the configured value."""

    reference: int
    face: ImpostorTail
    voice: ImpostorTail  # raw cosine: a speaker's mean without a cohort, or one window
    voice_norm: ImpostorTail  # S-norm z of a speaker's mean

    def tail(self, face: bool, normalized: bool) -> ImpostorTail:
        return self.face if face else (self.voice_norm if normalized else self.voice)

    def raised(self, level: float, tail: ImpostorTail, templates: int) -> float:
        if templates <= self.reference:
            return level
        return max(level, tail.score_at(tail.p(level) * self.reference / templates))

    @staticmethod
    def expected_impostors(score: float, tail: ImpostorTail, templates: int) -> float:
        """The calibrated meaning of a score: how many strangers' templates among `templates` are
        expected to score at least this against the probe (the receipt's `impostors`)."""
        return templates * tail.p(score)
