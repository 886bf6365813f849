"""Each clip through the service's own path, with bench/robustness/harness.py's pieces: the
verification service's WorkerPoolExtractor makes the probes (every face of every analysed frame;
every speaker's mean and every ~2 s speech window), `harness.judge` searches the service's
LikenessIndex at the handler's floor and applies `best_matches` at the deployed `Thresholds()`
(the MATCH / REVIEW / NO_MATCH outcome exactly as bench/robustness counts it).

A Trial adds what this bench reports beyond that, from the same service calls: which talent is the
top-scoring confirmed match (rank-1), which wrong talents reach the review band, and every talent's
best-template score per kind of probe (the scores `best_matches` compares, for the distributions;
they never feed the decision)."""

from __future__ import annotations

import asyncio
import math
import sys
import time
from dataclasses import dataclass, field, replace

from bench.robustness import harness
from bench.robustness.harness import _kind as probe_kind  # "face", "mean" (a speaker) or "window"
from verification.domain.model import Match, Modality, Probe, ProbeHit, best_matches

Labels = tuple[str | None, ...]  # a group photo's faces, left to right (None: not enrolled)


@dataclass
class Trial:
    """One probe unit (a clip, or one face of a group photo) and the service's decision on it."""

    case: harness.Case  # source: the category; label: which photo / face / utterance; expected talent
    outcome: str  # MATCH / REVIEW / NO_MATCH for the expected talent; for an impostor the worst found
    wrong_confirmed: list[str]  # other talents with a confirmed match (a false match)
    wrong_review: list[str]  # other talents in the review band
    top: str | None  # the highest-scoring confirmed talent
    window_only: bool  # an impostor's confirmed match came from single windows only
    probes: int  # probes of the judged modality
    scores: dict[str, dict[str, float]]  # probe kind -> talent -> best score over this unit's probes
    windows: list[float] = field(default_factory=list)  # every single window's score vs the expected talent


@dataclass
class ClipRun:
    """One clip's trials and what extracting it took."""

    trials: list[Trial]
    seconds: float  # load + extract + judge, wall (other clips in flight meanwhile)
    audio_s: float
    notes: list[str] = field(default_factory=list)


def judge_trial(case: harness.Case, probes: list[Probe], registry: harness.Registry, coverage=None) -> Trial:
    """The deployed decision on `probes` (harness.judge), and the matches and scores behind it."""
    result = harness.judge(case, probes, registry, coverage)
    mine = [p for p in probes if p.modality is case.modality]
    matches = _matches(mine, case.modality, registry)
    confirmed = [m for m in matches if not m.in_review_band]
    scores, windows = _scores(case, registry.index.search_sync(mine, harness.NO_FLOOR))
    return Trial(
        case=case,
        outcome=result.outcome,
        wrong_confirmed=result.others,  # no `present` people: every confirmed talent but the expected one
        wrong_review=[m.talent_id for m in matches if m.in_review_band and m.talent_id != case.expected],
        top=max(confirmed, key=lambda m: m.score).talent_id if confirmed else None,
        window_only=result.window_only,
        probes=len(mine),
        scores=scores,
        windows=windows,
    )


def _matches(probes: list[Probe], modality: Modality, registry: harness.Registry) -> list[Match]:
    """best_matches at the deployed thresholds over the hits at the handler's floor (as harness.judge)."""
    hits = registry.index.search_sync(probes, registry.thresholds.search_floor())
    return [m for m in best_matches(hits, registry.thresholds) if m.modality is modality]


def _scores(case: harness.Case, hits: list[ProbeHit]) -> tuple[dict[str, dict[str, float]], list[float]]:
    """Per probe kind, each talent's best score over the unit's probes; and each window's score
    against the expected talent."""
    scores: dict[str, dict[str, float]] = {}
    windows = []
    for h in hits:
        best = scores.setdefault(probe_kind(h.probe), {})
        best[h.talent_id] = max(best.get(h.talent_id, -math.inf), h.score)
        if h.probe.window and h.talent_id == case.expected:
            windows.append(h.score)
    return scores, windows


def group_faces(case: harness.Case, probes: list[Probe], labels: Labels) -> tuple[list[tuple[harness.Case, list[Probe]]], str]:
    """A group photo's faces, left to right, each with its own case (expected: its label); none and
    a note when the number of faces found is not the number labelled."""
    faces = sorted((p for p in probes if p.modality is Modality.FACE), key=lambda p: p.location.box[3])
    if len(faces) != len(labels):
        return [], f"{case.label}: {len(faces)} faces found, {len(labels)} labelled: skipped"
    return [
        (replace(case, label=f"{case.label}#{k}", expected=label), [face]) for k, (face, label) in enumerate(zip(faces, labels))
    ], ""


class TrialBench(harness.Bench):
    """harness.Bench (the service's extractor and worker pools, `workers + 1` clips in flight) whose
    run() takes (case, labels) pairs, labels None for a clip judged whole, and gives a ClipRun each."""

    async def run_one(self, item: tuple[harness.Case, Labels | None]) -> ClipRun:  # type: ignore[override]
        case, labels = item
        t = time.perf_counter()
        media = await asyncio.to_thread(case.make)
        extraction = await self.extractor.extract(media)
        units, note = [(case, extraction.probes)], ""
        if labels is not None:
            units, note = group_faces(case, extraction.probes, labels)
            if note:
                print(f"! {note}", file=sys.stderr, flush=True)
        trials = [judge_trial(c, probes, self.registry, extraction.coverage) for c, probes in units]
        return ClipRun(trials, time.perf_counter() - t, extraction.coverage.audio_seconds, [note] if note else [])
