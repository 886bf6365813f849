"""The service's decision, reproduced with the service's own code.

- Enrollment: `enroll_face_image` / `enroll_voice_clips` (likeness_biometrics.worker); each
  accepted sample is one template, as the enrollment service stores them (no centroid).
- Extraction: the verification service's `WorkerPoolExtractor` (face and voice worker pools, a
  video split into time ranges over the face workers), which turns every face into a FACE probe,
  every speaker into a VOICE probe and every speech window into a VOICE probe with window=True.
- Search: `LikenessIndex.search_sync(probes, floor)` with the handler's floor (the lower of the
  two review thresholds per modality).
- Decision: `best_matches(hits, Thresholds())` at the deployed (default) thresholds.

On top of that, every probe is also scored against every talent (the same index searched with no
floor) for the score distributions; those scores never feed the decision."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from verification.adapters.engine import WorkerPoolExtractor
from verification.adapters.index import LikenessIndex
from verification.domain.calibration import CohortNorm
from verification.domain.model import Coverage, Match, Modality, Probe, ProbeHit, Thresholds, best_matches

MATCH, REVIEW, NO_MATCH = "MATCH", "REVIEW", "NO_MATCH"
THRESHOLDS = Thresholds()  # deployed
NO_FLOOR = {Modality.FACE: -1e9, Modality.VOICE: -2.0}


class Registry:
    """The enrolled talents' templates in the service's 1:N index."""

    def __init__(self, voice_norm: CohortNorm | None = None, thresholds: Thresholds = THRESHOLDS) -> None:
        """`voice_norm`: speakers' means normalized against this cohort (then `thresholds` must
        carry the normalized pair), as the service does with LIKENESS_VERIFICATION_VOICE_COHORT_FILE."""
        from likeness_biometrics import FACE_MODEL, VOICE_MODEL

        self.thresholds = thresholds
        self.index = LikenessIndex(
            {"FACE": f"{FACE_MODEL.name}/{FACE_MODEL.version}", "VOICE": f"{VOICE_MODEL.name}/{VOICE_MODEL.version}"},
            voice_norm=voice_norm, voice_norm_review=thresholds.voice_norm_review if voice_norm else None,
        )
        self.templates: dict[str, dict[Modality, list[np.ndarray]]] = {}
        self.rejected: list[tuple[str, str]] = []  # (talent / sample, reason)

    def _add(self, talent: str, modality: Modality, vectors: list[np.ndarray]) -> None:
        mine = self.templates.setdefault(talent, {})
        mine.setdefault(modality, []).extend(vectors)
        self.index.replace(talent, mine)

    def enroll_faces(self, talent: str, samples: dict[str, bytes]) -> None:
        """One FACE template per accepted photo (a rejected one is recorded, not raised)."""
        from likeness_biometrics import BiometricError
        from likeness_biometrics.worker import enroll_face_image

        vectors = []
        for name, data in samples.items():
            try:
                vectors.append(enroll_face_image(data).encoding)
            except BiometricError as error:
                self.rejected.append((f"{talent}/{name}", str(error)))
        self._add(talent, Modality.FACE, vectors)

    def enroll_voices(self, talent: str, samples: dict[str, bytes]) -> None:
        """One VOICE template per accepted clip (the clips embedded as one batch, as the service does)."""
        from likeness_biometrics.worker import enroll_voice_clips

        vectors = []
        for name, result in zip(samples, enroll_voice_clips(list(samples.values())), strict=True):
            if isinstance(result, Exception):
                self.rejected.append((f"{talent}/{name}", str(result)))
            else:
                vectors.append(result.embedding)
        self._add(talent, Modality.VOICE, vectors)

    def count(self, modality: Modality) -> tuple[int, int]:
        """(talents, templates) enrolled for `modality`."""
        rows = [len(t.get(modality, [])) for t in self.templates.values()]
        return sum(1 for r in rows if r), sum(rows)


@dataclass(frozen=True)
class Case:
    """One probe clip: what it is made of, and who must (or must not) be found in it."""

    modality: Modality  # the modality judged (a video's sound is searched too, but not counted here)
    source: str  # how the base media was made: "photo", "swap-mesh photo", "LibriSpeech", ...
    transform: str  # "original" or a transforms.PICTURE / AUDIO name, or "cameo"
    label: str  # which sample: "biden2.jpg -> lin1.png"
    make: Callable[[], bytes]  # the media, built when the case runs (keeps memory flat)
    expected: str | None  # the talent that must be found (genuine), None for an impostor
    span: tuple[float, float] | None = None  # where the genuine speech is (a cameo), seconds
    present: tuple[str, ...] = ()  # other enrolled people really in the clip (a group photo): not counted as "others"

    @property
    def family(self) -> str:
        return f"{self.source} · {self.transform}"


@dataclass
class Result:
    case: Case
    outcome: str  # MATCH / REVIEW / NO_MATCH for the expected talent; for an impostor, the worst found
    others: list[str]  # other talents with a confirmed match in the judged modality (not `present`)
    window_only: bool  # an impostor's confirmed match came from single windows only
    probes: int = 0  # faces (all frames) or voice probes (speakers and windows) found in the clip
    poor_audio: bool = False  # the clip's speech was too degraded to judge: REVIEW (POOR_AUDIO) at best
    expected_scores: dict[str, list[float]] = field(default_factory=dict)  # "face"/"mean"/"window" -> scores vs expected
    best_scores: dict[str, list[float]] = field(default_factory=dict)  # same kinds, best talent of each probe
    seconds: float = 0.0


def _kind(p: Probe) -> str:
    if p.modality is Modality.FACE:
        return "face"
    return "window" if p.window else "mean"


def judge(case: Case, probes: list[Probe], registry: Registry, coverage: Coverage | None = None) -> Result:
    """The deployed decision for one clip, and the scores behind it. With the clip's `coverage`,
    speech too degraded or too short for the voice model (Thresholds.poor_audio / short_speech)
    turns a NO_MATCH into the REVIEW the service answers (domain.model.decide)."""
    t = registry.thresholds
    poor = coverage is not None and unjudgeable(t, coverage)
    probes = [p for p in probes if p.modality is case.modality]
    hits, matches = deployed(registry.index, t, probes, case.modality)
    outcome = clip_outcome(matches, case.expected, poor)
    if case.expected is not None:
        others = [m.talent_id for m in matches if m.talent_id not in (case.expected, *case.present) and not m.in_review_band]
        window_only = False
    else:
        others = [m.talent_id for m in matches if not m.in_review_band]
        means_only = best_matches([h for h in hits if not h.probe.window], t)
        window_only = bool(others) and not any(not m.in_review_band for m in means_only)
    result = Result(case, outcome, others, window_only, len(probes), poor_audio=poor)
    _collect_scores(result, registry.index.search_sync(probes, NO_FLOOR))
    return result


def deployed(index: LikenessIndex, thresholds: Thresholds, probes: list[Probe], modality: Modality) -> tuple[list[ProbeHit], list[Match]]:
    """The service's search (at the handler's floor, and its z floor for speakers' means where the
    index normalizes) and its best match per talent, in `modality`."""
    hits = index.search_sync(probes, thresholds.search_floor(), thresholds.voice_norm_review)
    return hits, [m for m in best_matches(hits, thresholds) if m.modality is modality]


def unjudgeable(thresholds: Thresholds, coverage: Coverage) -> bool:
    """Speech the service answers REVIEW for whatever it matched (POOR_AUDIO, SHORT_SPEECH)."""
    return thresholds.poor_audio(coverage) or thresholds.short_speech(coverage)


def clip_outcome(matches: list[Match], expected: str | None, poor_audio: bool = False) -> str:
    """One clip's outcome: for a genuine clip, how its `expected` talent was found; for an impostor
    (None), the worst anyone was found. Speech too degraded to judge turns NO_MATCH into REVIEW."""
    if expected is not None:
        mine = [m for m in matches if m.talent_id == expected]
        outcome = NO_MATCH if not mine else REVIEW if mine[0].in_review_band else MATCH
    else:
        outcome = MATCH if any(not m.in_review_band for m in matches) else REVIEW if matches else NO_MATCH
    return REVIEW if poor_audio and outcome == NO_MATCH else outcome


def _collect_scores(result: Result, hits: list[ProbeHit]) -> None:
    """Per probe: its score against the expected talent (genuine speech only, for a cameo) and its
    best score against anyone."""
    case = result.case
    best: dict[int, tuple[Probe, float]] = {}
    expected: dict[int, tuple[Probe, float]] = {}
    for h in hits:
        key = id(h.probe)
        if key not in best or h.score > best[key][1]:
            best[key] = (h.probe, h.score)
        if h.talent_id == case.expected:
            expected[key] = (h.probe, h.score)
    for probe, score in best.values():
        result.best_scores.setdefault(_kind(probe), []).append(score)
    for probe, score in expected.values():
        if case.span is None or _inside(probe, case.span):
            result.expected_scores.setdefault(_kind(probe), []).append(score)


def _inside(probe: Probe, span: tuple[float, float]) -> bool:
    """A window at least half inside `span`; a speaker's mean counts when it overlaps it."""
    loc = probe.location
    overlap = min(loc.end_s, span[1]) - max(loc.start_s, span[0])
    if probe.window:
        return overlap >= 0.5 * (loc.end_s - loc.start_s)
    return overlap > 0


class Bench:
    """Runs cases through the service's extractor, `concurrency` clips in flight."""

    def __init__(self, registry: Registry, workers: int = 2) -> None:
        self.registry = registry
        self.extractor = WorkerPoolExtractor(face_workers=workers, voice_workers=workers)
        self.concurrency = workers + 1

    async def warm_up(self) -> None:
        await self.extractor.warm_up()

    async def probes(self, media: bytes) -> list[Probe]:
        return (await self.extractor.extract(media)).probes

    async def run_one(self, case: Case) -> Result:
        t = time.perf_counter()
        media = await asyncio.to_thread(case.make)
        extraction = await self.extractor.extract(media)
        result = judge(case, extraction.probes, self.registry, extraction.coverage)
        result.seconds = time.perf_counter() - t
        return result

    async def run(self, cases: Sequence[Case], title: str = "", quiet: bool = False) -> list[Result]:
        gate = asyncio.Semaphore(self.concurrency)
        done = 0

        async def one(case: Case) -> Result:
            nonlocal done
            async with gate:
                result = await self.run_one(case)
            done += 1
            if not quiet and (done % 50 == 0 or done == len(cases)):
                print(f"  {title}: {done}/{len(cases)}", file=sys.stderr, flush=True)
            return result

        return list(await asyncio.gather(*(one(c) for c in cases)))

    def close(self) -> None:
        self.extractor.close()


def rate(k: int, n: int, digits: int = 1) -> str:
    """`k/n = share (≤ its 95 % upper bound)`, percentages to `digits` places; "-" for no trials."""
    return f"{k}/{n:,} = {k / n:.{digits}%} (≤ {upper95(k, n):.{digits}%})" if n else "-"


def upper95(k: int, n: int) -> float:
    """One-sided 95 % Clopper-Pearson upper bound of a rate seen k times in n trials."""
    from scipy.stats import beta

    if n == 0:
        return float("nan")
    if k >= n:
        return 1.0
    return float(beta.ppf(0.95, k + 1, n - k))
