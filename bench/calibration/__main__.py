"""bench/calibration: the voice rule before and after S-norm (issue 18), in one run, on a disjoint
split, with the service's own code.

    .venv/bin/python bench/calibration [--data ../shared/data] [--json out.json]

- Cohort: the train-clean-100 readers at even positions (sorted by file name), embedded as
  `likeness cohort build` does; never probed.
- Impostors: the readers at odd positions, each utterance through the verification service's
  extractor (every speaker's mean and every ~2 s window), judged against the enrolled talents.
- Genuine: the 10 test-other readers enrolled from their first 3 utterances (the issue's "through
  Verify with 3-utterance enrollment") and, separately, from their first 4 (bench/accuracy's);
  each other utterance of theirs is a genuine probe.
- Rules: RAW = `Thresholds()` as deployed (a speaker's mean at cosine 0.84 / 0.75, a window at
  0.85 / 0.80); NORMALIZED = the same with the index normalizing speakers' means against the cohort
  (`LikenessIndex(voice_norm=...)`, z thresholds from `VerificationSettings`), windows unchanged.
  Per clip: MATCH when the expected talent is confirmed, REVIEW when it is in the band (or the
  speech is POOR_AUDIO), NO_MATCH otherwise; an impostor clip counts as a false match when anyone
  is confirmed. Rates as k/n with a one-sided 95 % Clopper-Pearson upper bound.
Also printed: a sweep of the normalized match threshold (speaker means alone), and the cost of
normalizing (per probe, the cohort stats and the normalization, timed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: `bench` imports from the repository root
    sys.path.insert(0, str(ROOT))
from bench.host import load_average, machine  # noqa: E402
from bench.robustness.harness import MATCH, NO_MATCH, REVIEW, clip_outcome, upper95  # noqa: E402  # noqa: E402
from verification.adapters.engine import WorkerPoolExtractor  # noqa: E402
from verification.adapters.index import LikenessIndex  # noqa: E402
from verification.bootstrap import VerificationSettings  # noqa: E402
from verification.domain.calibration import CohortNorm, cohort_name  # noqa: E402
from verification.domain.model import Modality, Thresholds, best_matches  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def embed(files: list[Path]) -> list[np.ndarray | None]:
    from likeness_biometrics.worker import enroll_voice_clips

    out = []
    for result in enroll_voice_clips([f.read_bytes() for f in files]):
        out.append(None if isinstance(result, Exception) else result.embedding)
    return out


async def extract_all(files: list[Path]) -> dict[Path, tuple[list, object]]:
    extractor = WorkerPoolExtractor(face_workers=1, voice_workers=2)
    await extractor.warm_up()
    gate, out = asyncio.Semaphore(3), {}

    async def one(f: Path) -> None:
        async with gate:
            e = await extractor.extract(f.read_bytes())
            out[f] = ([p for p in e.probes if p.modality is Modality.VOICE], e.coverage)

    try:
        await asyncio.gather(*(one(f) for f in files))
    finally:
        extractor.close()
    return out


def decide(index: LikenessIndex, thresholds: Thresholds, probes: list, coverage, expected: str | None) -> str:
    """As bench/robustness/harness.judge: the deployed decision for one clip, with this index and thresholds."""
    matches = [m for m in best_matches(index.search_sync(probes, thresholds.search_floor()), thresholds) if m.modality is Modality.VOICE]
    return clip_outcome(matches, expected, thresholds.poor_audio(coverage))


def mean_scores(index: LikenessIndex, probes: list, talents: set[str]) -> float:
    """The clip's best speaker-mean score against `talents` (LikenessIndex.best_scores: normalized
    where the index normalizes), no floor."""
    means = [p.vector for p in probes if not p.window]
    if not means:
        return float("-inf")
    return max(index.best_scores(Modality.VOICE, np.asarray(means, np.float32), talents).values(), default=float("-inf"))


def rate(k: int, n: int) -> str:
    return f"{k}/{n} = {k / n:.1%} (≤ {upper95(k, n):.1%})" if n else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--swap", action="store_true", help="cohort from the odd positions, impostors the even ones (the thresholds' check)")
    args = ap.parse_args()
    libri = args.data / "voices" / "librispeech"
    if not libri.is_dir():
        sys.exit(f"no LibriSpeech at {libri}")
    from likeness_biometrics.models import set_single_thread

    set_single_thread()
    host, started = machine(), time.monotonic()
    crowd = sorted((libri / "train-clean-100").rglob("*.flac"), key=lambda p: p.name)
    cohort_files, impostor_files = (crowd[1::2], crowd[0::2]) if args.swap else (crowd[0::2], crowd[1::2])
    readers = {r.name: sorted(r.glob("*.flac")) for r in sorted((libri / "test-other").iterdir()) if r.is_dir()}
    readers = {k: v for k, v in readers.items() if v}

    log(f"embedding the cohort ({len(cohort_files)} readers) and the enrollments")
    cohort = np.asarray([v for v in embed(cohort_files) if v is not None], np.float32)
    norm = CohortNorm(cohort, cohort_name(cohort))
    enrolled = {r: embed(files) for r, files in readers.items()}
    log("extracting probes")
    probes = asyncio.run(extract_all([f for files in readers.values() for f in files] + impostor_files))

    settings = VerificationSettings(voice_cohort_file=Path("cohort.npy"))  # (only for its thresholds)
    raw_t = Thresholds()
    norm_t = replace(raw_t, voice_norm_match=settings.voice_norm_match, voice_norm_review=settings.voice_norm_review)
    rows, sweeps, timing = [], {}, {}
    for k in (3, 4):
        indexes = {"raw": LikenessIndex({}), "normalized": LikenessIndex({}, voice_norm=norm, voice_norm_review=norm_t.voice_norm_review)}
        for index in indexes.values():
            for r, vectors in enrolled.items():
                index.replace(r, {Modality.VOICE: [v for v in vectors[:k] if v is not None]})
        genuine = [(r, f) for r, files in readers.items() for f in files[k:]]
        for name, index in indexes.items():
            t = norm_t if name == "normalized" else raw_t
            g = [decide(index, t, *probes[f], r) for r, f in genuine]
            i = [decide(index, t, *probes[f], None) for f in impostor_files]
            rows.append({"enrollment": f"{k} utterances", "rule": name, "genuine": len(g), "match": g.count(MATCH), "review": g.count(REVIEW),
                         "no_match": g.count(NO_MATCH), "impostors": len(i), "false_match": i.count(MATCH), "impostor_review": i.count(REVIEW)})  # fmt: skip
            if name == "normalized":
                gs = [mean_scores(index, probes[f][0], {r}) for r, f in genuine]
                im = [mean_scores(index, probes[f][0], set(enrolled)) for f in impostor_files]
                sweeps[k] = {"genuine": gs, "impostor": im}
    # Cost: the cohort stats of one probe and one normalization (the index's added work per probe).
    v = next(p for p, _ in probes.values() if p)[0].vector
    t0 = time.perf_counter()
    for _ in range(2000):
        s = norm.stats(v)
    timing["probe_stats_ms"] = (time.perf_counter() - t0) / 2000 * 1000
    timing["cohort"] = {"voices": len(cohort), "name": norm.name}
    host["load_end"] = load_average()

    print(f"\nbench/calibration  {host['date']}  {host['cpu']} x{host['cores']}, load {host['load_1min']:.2f} at start, "
          f"{host['load_end']:.2f} at end; {time.monotonic() - started:.0f} s")
    print(f"cohort: {len(cohort)} train-clean-100 readers ({'odd' if args.swap else 'even'} positions), {norm.name}; impostors: the {len(impostor_files)} others; "
          f"normalized thresholds (speaker means) {norm_t.voice_norm_match} / {norm_t.voice_norm_review}, windows raw "
          f"{raw_t.voice_window_match} / {raw_t.voice_window_review}\n")
    print("| enrollment | rule | genuine clips | MATCH | REVIEW | NO_MATCH | FNMR (not MATCH) | impostor clips | false MATCH | REVIEW |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |")
    for r in rows:
        print(f"| {r['enrollment']} | {r['rule']} | {r['genuine']} | {r['match']} | {r['review']} | {r['no_match']} | "
              f"{rate(r['genuine'] - r['match'], r['genuine'])} | {r['impostors']} | {rate(r['false_match'], r['impostors'])} | "
              f"{r['impostor_review']} |")  # fmt: skip
    for k, s in sweeps.items():
        g, im = np.asarray(s["genuine"]), np.asarray(s["impostor"])
        print(f"\nsweep (informative), {k}-utterance enrollment, speaker means alone, normalized: impostor max {im.max():.2f}, "
              f"genuine min {g.min():.2f}, median {np.median(g):.2f}")
        print("| z | genuine below (FNMR) | impostor at or above (FMR) |\n| ---: | ---: | ---: |")
        for z in (2.4, 2.6, 2.8, 3.0, 3.2, 3.4, 3.5, 3.6, 3.7, 3.8, 3.9, 4.1, 4.3):
            print(f"| {z:.1f} | {(g < z).sum()}/{len(g)} | {(im >= z).sum()}/{len(im)} |")
    print(f"\ncost per probe: cohort stats {timing['probe_stats_ms']:.3f} ms ({len(cohort)} voices)")
    if args.json:
        args.json.write_text(json.dumps({"machine": host, "rows": rows, "timing": timing,
                                         "sweeps": {k: {kk: list(map(float, vv)) for kk, vv in s.items()} for k, s in sweeps.items()}}))  # fmt: skip


if __name__ == "__main__":
    main()
