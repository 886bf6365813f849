"""bench/calibration: the voice rule before and after S-norm (issue 18), in one run, on a disjoint
split, with the service's own code, on clean and platform-transformed speech.

    .venv/bin/python bench/calibration [--data ../shared/data] [--swap] [--clean-only] [--json out.json]

- Cohort: the train-clean-100 readers at even positions (sorted by file name), embedded as
  `likeness cohort build` does; never probed. (--swap: the odd positions.)
- Impostors: the readers at the other positions, each utterance through the verification service's
  extractor (every speaker's mean and every ~2 s window), judged against the enrolled talents.
- Genuine: the 10 test-other readers enrolled from their first 3 utterances (the issue's "through
  Verify with 3-utterance enrollment") and, separately, from their first 4 (bench/accuracy's);
  each other utterance of theirs is a genuine probe.
- Transforms (bench/robustness/transforms.py, unless --clean-only): every genuine and impostor
  utterance also after speed 0.9x / 1.1x, pitch -1 / +1 semitone, pink noise and music at 10 dB SNR
  and a telephone line, grouped into families.
- Rules: RAW = `Thresholds()` as deployed without a cohort (a speaker's mean at cosine 0.84 / 0.75,
  a window at 0.85 / 0.80); NORMALIZED = the same with the index normalizing speakers' means
  against the cohort (`LikenessIndex(voice_norm=...)`, z thresholds from `VerificationSettings`),
  windows unchanged. Both with the duration rule (a speaker over under 2 s of speech, a window
  under 1 s: REVIEW evidence at most; a clip with under 1 s of speech: REVIEW, SHORT_SPEECH).
  Per clip: MATCH when the expected talent is confirmed, REVIEW when it is in the band (or the
  speech is POOR_AUDIO / SHORT_SPEECH), NO_MATCH otherwise; an impostor clip counts as a false
  match when anyone is confirmed. Rates as k/n with a one-sided 95 % Clopper-Pearson upper bound.
Also printed: a sweep of the normalized match threshold (speaker means alone, every family), the
clean genuine misses by speech duration, and the cost of normalizing (per probe, timed).

--faces instead measures face scores by face size: every genuine photo of bench/robustness's
corpus (Obama, Biden held-out photos) and every impostor photo, scaled so the face is 36-160 px wide
on a grey 1920x1080 canvas, found by the service's still-image detector (BlazeFace proposals down
to 40 px, HOG-confirmed) and scored against the enrolled templates: does a small face need its own
threshold?
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: `bench` imports from the repository root
    sys.path.insert(0, str(ROOT))
from bench.host import load_average, machine  # noqa: E402
from bench.robustness.harness import MATCH, NO_MATCH, REVIEW, clip_outcome, deployed, rate, unjudgeable  # noqa: E402
from likeness_biometrics.cohort import embed_recordings  # noqa: E402
from likeness_devstack import SHARED_DATA  # noqa: E402
from verification.adapters.engine import WorkerPoolExtractor  # noqa: E402
from verification.adapters.index import LikenessIndex  # noqa: E402
from verification.bootstrap import VerificationSettings  # noqa: E402
from verification.domain.calibration import CohortNorm, cohort_name  # noqa: E402
from verification.domain.model import Modality, Thresholds  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


FAMILIES = {"original": "clean", "speed 0.9x": "speed ±10 %", "speed 1.1x": "speed ±10 %", "pitch -1 st": "pitch ±1 semitone",
            "pitch +1 st": "pitch ±1 semitone", "noise 10 dB": "noise / music 10 dB", "music 10 dB": "noise / music 10 dB",
            "telephone 8k": "telephone band"}  # fmt: skip


@dataclass(frozen=True)
class Clip:
    path: Path
    transform: str  # "original" or a bench/robustness transforms.AUDIO name
    half: int | None = None  # --crowd: only this half of the recording (crowd.Half)

    @property
    def family(self) -> str:
        return FAMILIES[self.transform]

    def media(self, seed: int) -> bytes:
        if self.transform == "original" and self.half is None:
            return self.path.read_bytes()
        from bench.calibration.crowd import Half
        from bench.robustness.transforms import AUDIO
        from likeness_biometrics import decode_audio
        from tests.mediakit import wav

        samples = decode_audio(self.path.read_bytes()).samples if self.half is None else Half(self.path, self.half).samples()
        return wav(samples if self.transform == "original" else AUDIO[self.transform](samples, seed))


def embed(files: list[Path]) -> list[np.ndarray | None]:
    return embed_bytes([f.read_bytes() for f in files])


def embed_bytes(clips: list[bytes]) -> list[np.ndarray | None]:
    """One template per clip, as enrollment makes it (None: the clip was refused)."""
    from likeness_biometrics.worker import enroll_voice_clips

    return [None if isinstance(result, Exception) else result.embedding for result in enroll_voice_clips(clips)]


async def extract_all(clips: list[Clip]) -> dict[Clip, tuple[list, object]]:
    extractor = WorkerPoolExtractor(face_workers=1, voice_workers=2)
    await extractor.warm_up()
    gate, out = asyncio.Semaphore(3), {}

    async def one(n: int, clip: Clip) -> None:
        async with gate:
            e = await extractor.extract(await asyncio.to_thread(clip.media, n))
            out[clip] = ([p for p in e.probes if p.modality is Modality.VOICE], e.coverage)
            if len(out) % 250 == 0:
                log(f"  {len(out)}/{len(clips)} clips")

    try:
        await asyncio.gather(*(one(n, c) for n, c in enumerate(clips)))
    finally:
        extractor.close()
    return out


def decide(index: LikenessIndex, thresholds: Thresholds, probes: list, coverage, expected: str | None) -> str:
    """As bench/robustness/harness.judge: the deployed decision for one clip, with this index and thresholds."""
    _, matches = deployed(index, thresholds, probes, Modality.VOICE)
    return clip_outcome(matches, expected, unjudgeable(thresholds, coverage))


def mean_scores(index: LikenessIndex, probes: list, talents: set[str]) -> float:
    """The clip's best speaker-mean score against `talents` (LikenessIndex.best_scores: normalized
    where the index normalizes), no floor."""
    means = [p.vector for p in probes if not p.window]
    if not means:
        return float("-inf")
    return max(index.best_scores(Modality.VOICE, np.asarray(means, np.float32), talents).values(), default=float("-inf"))


def tally(rule: str, enrollment: str, family: str, g: list[str], i: list[str]) -> dict:
    return {"enrollment": enrollment, "rule": rule, "family": family, "genuine": len(g), "match": g.count(MATCH), "review": g.count(REVIEW),
            "no_match": g.count(NO_MATCH), "impostors": len(i), "false_match": i.count(MATCH), "impostor_review": i.count(REVIEW)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=SHARED_DATA)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--swap", action="store_true", help="cohort from the odd positions, impostors the even ones (the thresholds' check)")
    ap.add_argument("--clean-only", action="store_true", help="no platform transforms (a quicker run)")
    ap.add_argument("--faces", action="store_true", help="face scores by face size instead (see above)")
    ap.add_argument("--crowd", action="store_true", help="also enrol the impostor half and judge every (clip, other talent) pair (bench/calibration/crowd.py)")
    args = ap.parse_args()
    if args.faces:
        faces_by_size()
        return
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
    transforms = ["original"] if args.clean_only else list(FAMILIES)

    log(f"embedding the cohort ({len(cohort_files)} readers) and the enrollments")
    cohort = embed_recordings(cohort_files)[0]
    norm = CohortNorm(cohort, cohort_name(cohort))
    settings = VerificationSettings(voice_cohort_file=Path("cohort.npy"))  # (only for its thresholds)
    raw_t = Thresholds()
    norm_t = settings.thresholds()  # the deployed ones, with the normalized pair in force
    if args.crowd:
        crowd_bench(args, host, started, readers, impostor_files, norm, transforms, raw_t, norm_t, settings.population_rule())
        return
    enrolled = {r: embed(files) for r, files in readers.items()}
    probe_files = [f for files in readers.values() for f in files[3:]] + impostor_files
    clips = [Clip(f, t) for f in probe_files for t in transforms]
    log(f"extracting {len(clips)} clips")
    probes = asyncio.run(extract_all(clips))

    rows, sweeps, by_duration, timing = [], {}, [], {}
    for k in (3, 4):
        indexes = {"raw": LikenessIndex({}), "normalized": LikenessIndex({}, voice_norm=norm, voice_norm_review=norm_t.voice_norm_review)}
        for index in indexes.values():
            for r, vectors in enrolled.items():
                index.replace(r, {Modality.VOICE: [v for v in vectors[:k] if v is not None]})
        genuine = [(r, f) for r, files in readers.items() for f in files[k:]]
        for name, index in indexes.items():
            t = norm_t if name == "normalized" else raw_t
            for family in dict.fromkeys(FAMILIES[x] for x in transforms):
                if k == 4 and family != "clean":
                    continue
                mine = [x for x in transforms if FAMILIES[x] == family]
                g = [decide(index, t, *probes[Clip(f, x)], r) for r, f in genuine for x in mine]
                i = [decide(index, t, *probes[Clip(f, x)], None) for f in impostor_files for x in mine]
                rows.append(tally(name, f"{k} utterances", family, g, i))
            if k == 3 and name == "normalized":
                for r, f in genuine:
                    probes_f, coverage = probes[Clip(f, "original")]
                    by_duration.append((coverage.speech_seconds, decide(index, t, probes_f, coverage, r)))
                sweeps = {
                    "genuine": {fam: [mean_scores(index, probes[Clip(f, x)][0], {r}) for r, f in genuine for x in transforms if FAMILIES[x] == fam]
                                for fam in dict.fromkeys(FAMILIES[x] for x in transforms)},
                    "impostor": [mean_scores(index, probes[Clip(f, x)][0], set(enrolled)) for f in impostor_files for x in transforms],
                }  # fmt: skip
    # Cost: the cohort stats of one probe and one normalization (the index's added work per probe).
    v = next(p for p, _ in probes.values() if p)[0].vector
    t0 = time.perf_counter()
    for _ in range(2000):
        norm.stats(v)
    timing["probe_stats_ms"] = (time.perf_counter() - t0) / 2000 * 1000
    timing["cohort"] = {"voices": len(cohort), "name": norm.name}
    host["load_end"] = load_average()
    report(args, host, started, norm, raw_t, norm_t, len(impostor_files), rows, sweeps, by_duration, timing)


def crowd_bench(args, host, started, readers, impostor_files, norm, transforms, raw_t, norm_t, rule) -> None:  # noqa: PLR0913
    from bench.calibration import crowd

    out = crowd.run(readers, impostor_files, norm, raw_t, norm_t, rule, transforms, FAMILIES, extract_all, embed_bytes, log)
    host["load_end"] = load_average()
    print(f"\nbench/calibration --crowd  {host['date']}  {host['cpu']} x{host['cores']}, load {host['load_1min']:.2f} at start, "
          f"{host['load_end']:.2f} at end; {time.monotonic() - started:.0f} s; cohort: {norm.size} train-clean-100 readers "
          f"({'odd' if args.swap else 'even'} positions), {norm.name}")  # fmt: skip
    crowd.report(out)
    crowd.report_sweep(out)
    if args.json:
        args.json.write_text(json.dumps({"machine": host, "crowd": crowd.as_json(out)}))


def faces_by_size() -> None:
    from PIL import Image

    from bench.robustness import corpus
    from likeness_biometrics.config import BioConfig
    from likeness_biometrics.face import faces_in_frame
    from likeness_biometrics.models import set_single_thread
    from likeness_biometrics.worker import enroll_face_image

    set_single_thread()
    host, started = machine(), time.monotonic()
    min_px = BioConfig().still_min_face_px
    enrolled = {t: np.asarray([enroll_face_image(b).encoding for b in s.values()]) for t, s in corpus.face_enrollment().items()}
    photos = [(t, corpus.FACES / t / n) for t, n in corpus.GENUINE_PHOTOS] + [(None, corpus.FACES / r) for r in corpus.IMPOSTOR_PHOTOS]
    widths = (36, 44, 52, 64, 80, 110, 160)
    genuine: dict[int, list[float]] = {w: [] for w in widths}
    impostor: dict[int, list[float]] = {w: [] for w in widths}
    missed: dict[int, int] = dict.fromkeys(widths, 0)
    for who, path in photos:
        rgb = np.asarray(Image.open(path).convert("RGB"))
        found = faces_in_frame(rgb, min_face_px=min_px)
        if not found:
            continue
        face_w = max(f.box.width for f in found)
        for w in widths:
            scale = w / face_w
            if scale > 1.0:  # never upscale: a photo's own face is its largest size
                continue
            small = Image.fromarray(rgb).resize((max(1, int(rgb.shape[1] * scale)), max(1, int(rgb.shape[0] * scale))), Image.Resampling.LANCZOS)
            canvas = np.full((1080, 1920, 3), 127, np.uint8)
            part = np.asarray(small)[:1080, :1920]
            canvas[: part.shape[0], : part.shape[1]] = part
            faces = faces_in_frame(canvas, min_face_px=min_px)
            scores = [{t: float(1 - np.linalg.norm(v - f.encoding, axis=1).min()) for t, v in enrolled.items()} for f in faces]
            if who is not None:
                mine = [s[who] for s in scores]
                if mine:
                    genuine[w].append(max(mine))
                else:
                    missed[w] += 1
            else:
                impostor[w].extend(max(s.values()) for s in scores)
    t = Thresholds()
    print(f"\nbench/calibration --faces  {host['date']}  {host['cpu']} x{host['cores']}, load {host['load_1min']:.2f}; "
          f"{time.monotonic() - started:.0f} s; face thresholds {t.face_match} / {t.face_review} (1 - dlib distance)\n")
    print("| face width (px) | genuine faces | not found | genuine min / median | below match | impostor faces | impostor max | at or above review |")
    print("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    for w in widths:
        g, i = np.asarray(genuine[w]), np.asarray(impostor[w])
        gtxt = f"{g.min():.3f} / {np.median(g):.3f}" if len(g) else "-"
        print(f"| {w} | {len(g)} | {missed[w]} | {gtxt} | {(g < t.face_match).sum()} | {len(i)} | "
              f"{i.max() if len(i) else float('nan'):.3f} | {(i >= t.face_review).sum()} |")


def report(args, host, started, norm, raw_t, norm_t, impostors, rows, sweeps, by_duration, timing) -> None:  # noqa: PLR0913
    print(f"\nbench/calibration  {host['date']}  {host['cpu']} x{host['cores']}, load {host['load_1min']:.2f} at start, "
          f"{host['load_end']:.2f} at end; {time.monotonic() - started:.0f} s")
    print(f"cohort: {norm.size} train-clean-100 readers ({'odd' if args.swap else 'even'} positions), {norm.name}; impostors: the {impostors} others; "
          f"normalized thresholds (speaker means) {norm_t.voice_norm_match} / {norm_t.voice_norm_review}, windows raw "
          f"{raw_t.voice_window_match} / {raw_t.voice_window_review}; duration rule: a speaker under {raw_t.voice_mean_confirm_speech_s:g} s, "
          f"a window under {raw_t.voice_window_confirm_speech_s:g} s of speech is REVIEW evidence at most\n")
    print("| enrollment | family | rule | genuine clips | MATCH | REVIEW | NO_MATCH | FNMR (not MATCH) | impostor clips | false MATCH | REVIEW |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |")
    for r in rows:
        print(f"| {r['enrollment']} | {r['family']} | {r['rule']} | {r['genuine']} | {r['match']} | {r['review']} | {r['no_match']} | "
              f"{rate(r['genuine'] - r['match'], r['genuine'])} | {r['impostors']} | {rate(r['false_match'], r['impostors'])} | "
              f"{r['impostor_review']} |")  # fmt: skip
    print("\nclean genuine clips by speech duration (normalized rule, 3-utterance enrollment):")
    print("| speech | clips | MATCH | REVIEW | NO_MATCH | FNMR |\n| --- | ---: | ---: | ---: | ---: | --- |")
    for low, high in ((0, 2), (2, 3), (3, 5), (5, 1e9)):
        o = [x for s, x in by_duration if low <= s < high]
        label = f"{low}-{high} s" if high < 1e9 else f"{low} s and more"
        print(f"| {label} | {len(o)} | {o.count(MATCH)} | {o.count(REVIEW)} | {o.count(NO_MATCH)} | {rate(len(o) - o.count(MATCH), len(o))} |")
    if sweeps:
        im = np.asarray(sweeps["impostor"])
        print(f"\nsweep (informative), 3-utterance enrollment, speaker means alone, normalized; impostors pooled over every family "
              f"(max z {im.max():.2f}); genuine per family (share below z):")
        fams = list(sweeps["genuine"])
        print("| z | impostor clips at or above | " + " | ".join(f"{f} below" for f in fams) + " |")
        print("| ---: | ---: | " + " | ".join("---:" for _ in fams) + " |")
        for z in (2.2, 2.4, 2.6, 3.0, 3.4, 3.7, 3.9, 4.0, 4.1, 4.2, 4.4):
            g = [np.asarray(sweeps["genuine"][f]) for f in fams]
            print(f"| {z:.1f} | {(im >= z).sum()}/{len(im)} | " + " | ".join(f"{(x < z).sum()}/{len(x)}" for x in g) + " |")
    print(f"\ncost per probe: cohort stats {timing['probe_stats_ms']:.3f} ms ({norm.size} voices)")
    if args.json:
        args.json.write_text(json.dumps({"machine": host, "rows": rows, "timing": timing, "by_duration": by_duration,
                                         "sweeps": {"impostor": list(map(float, sweeps.get("impostor", []))),
                                                    "genuine": {k: list(map(float, v)) for k, v in sweeps.get("genuine", {}).items()}}}))  # fmt: skip


if __name__ == "__main__":
    main()
