"""bench/robustness: does the registry still find a real person's face or voice in generated and
platform-transformed media, and does it stay quiet on people who are not enrolled?

    .venv/bin/python bench/robustness [--quick] [--json] [--workers 2]

Every probe goes through the service's own path (harness.py): the verification service's
WorkerPoolExtractor makes the probes, the service's LikenessIndex searches them with the handler's
floor, and `best_matches` at the deployed `Thresholds()` decides. A genuine clip is MATCH when the
right talent gets a confirmed match, REVIEW when it only reaches the review band, NO_MATCH
otherwise; FNMR counts everything but MATCH. An impostor clip is a false match when any enrolled
talent is confirmed in the judged modality.

The corpus (corpus.py) is generated in the run from ../shared/data, in memory: face swaps
(faceswap.py), a Piper TTS voice (tts.py), platform transforms of pictures and sound
(transforms.py). --quick takes a slice of everything (a smoke run, under 2 minutes here).
Rates are printed as counts with a one-sided 95 % Clopper-Pearson upper bound: the sets are small,
read the bounds, not the point estimates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script: `tests` and `bench` import from the repository root
    sys.path.insert(0, str(ROOT))

from bench.host import machine  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def quiet_threads() -> None:
    """One thread for numpy and OpenCV in this process (the worker pools do the heavy lifting)."""
    import cv2

    from likeness_biometrics.models import set_single_thread

    set_single_thread()
    cv2.setNumThreads(1)


def enroll(registry, piper) -> None:
    """Faces: Obama and Biden; voices: 10 LibriSpeech readers and the Piper voice (corpus.py)."""
    from bench.robustness import corpus

    for talent, samples in corpus.face_enrollment().items():
        registry.enroll_faces(talent, samples)
    for talent, samples in corpus.voice_enrollment(piper).items():
        registry.enroll_voices(talent, samples)


def voice_cohort(corpus) -> tuple:
    """(cohort, thresholds) as the dev stack runs with LIKENESS_VERIFICATION_VOICE_COHORT_FILE: the
    even train-clean-100 readers (devstack.dev_cohort_files) embedded as `likeness cohort build`
    does, and the deployed thresholds with the normalized pair in force."""
    from likeness_biometrics.cohort import embed_recordings
    from likeness_devstack import dev_cohort_files
    from verification.bootstrap import VerificationSettings
    from verification.domain.calibration import CohortNorm, cohort_name

    cohort, _ = embed_recordings(dev_cohort_files(corpus.LIBRI / "train-clean-100"))
    log(f"cohort: {len(cohort)} voices, {cohort_name(cohort)}")
    thresholds = VerificationSettings(voice_cohort_file=Path("cohort.npy")).thresholds()  # (the file is only named, not read)
    return CohortNorm(cohort, cohort_name(cohort)), thresholds


async def run(args: argparse.Namespace) -> dict:
    from bench.robustness import corpus, harness, report, tts

    plan = corpus.Plan(args.quick, args.cohort)
    t = time.perf_counter()
    piper = [tts.say(s) for s in tts.SENTENCES[: 6 if args.quick else None]]
    log(f"piper: {len(piper)} sentences in {time.perf_counter() - t:.1f} s")
    registry = harness.Registry(*voice_cohort(corpus) if args.cohort else ())
    enroll(registry, piper)
    bench = harness.Bench(registry, workers=args.workers)
    try:
        await bench.warm_up()
        face_cases = corpus.photo_cases(plan) + corpus.swap_photo_cases(plan, log) + corpus.video_cases(plan, log)
        faces = await bench.run(face_cases, "face clips")
        voices = await bench.run(corpus.voice_cases(plan, piper), "voice clips")
    finally:
        bench.close()
    genuine_scores, impostor_scores = report.voice_score_rows(voices)
    return {
        "thresholds_line": report.thresholds_line(registry.thresholds),
        "cohort": args.cohort,
        "enrolled": {m.value: dict(zip(("talents", "templates"), registry.count(m), strict=True)) for m in harness.Modality},
        "enrollment_rejected": registry.rejected,
        "face_genuine": report.genuine_rows(faces),
        "face_impostor": report.impostor_rows(faces),
        "voice_genuine": report.genuine_rows(voices),
        "voice_impostor": report.impostor_rows(voices),
        "voice_scores_genuine": genuine_scores,
        "voice_scores_impostor": impostor_scores,
        "window_sweep": report.window_sweep(voices, [0.75 + 0.01 * k for k in range(18)]),
    }


def print_markdown(doc: dict) -> None:
    from bench.robustness import report as r

    m = doc["machine"]
    print(f"# bench/robustness{' --quick' if doc['quick'] else ''}  {doc['date']}  wall {doc['wall_s']:.0f} s")
    print(f"\n{m['cpu']}, {m['cores']} cores, python {m['python']}, load {m['load_1min']} at start. {doc['thresholds_line']}.")
    e = doc["enrolled"]
    print(f"Enrolled: FACE {e['FACE']['talents']} talents / {e['FACE']['templates']} templates, "
          f"VOICE {e['VOICE']['talents']} talents / {e['VOICE']['templates']} templates (one per accepted sample).")  # fmt: skip
    for sample, reason in doc["enrollment_rejected"]:
        print(f"- enrollment rejected {sample}: {reason}")
    sections = [
        (
            "Face, genuine clips (the right talent must be confirmed; swaps: the swapped-in identity)",
            "face_genuine",
            r.GENUINE_COLUMNS,
        ),
        ("Face, impostor clips (nobody enrolled may be confirmed)", "face_impostor", r.FACE_IMPOSTOR_COLUMNS),
        ("Voice, genuine clips", "voice_genuine", r.GENUINE_COLUMNS),
        (
            "Voice, impostor clips (LibriSpeech train-clean-100 readers, one utterance each, not enrolled)",
            "voice_impostor",
            r.IMPOSTOR_COLUMNS,
        ),
        (
            "Voice scores, genuine (to the right talent's nearest template: cosine; a speaker's mean in z with --cohort)",
            "voice_scores_genuine",
            r.GENUINE_SCORE_COLUMNS,
        ),
        (
            "Voice scores, impostor (to the nearest template of any talent: cosine; a speaker's mean in z with --cohort)",
            "voice_scores_impostor",
            r.IMPOSTOR_SCORE_COLUMNS,
        ),
        ("Single-window threshold sweep (all voice families pooled)", "window_sweep", r.SWEEP_COLUMNS),
    ]
    for title, key, columns in sections:
        print(f"\n## {title}\n")
        print(r.markdown(doc[key], columns))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a slice of the corpus: a smoke run")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of Markdown")
    ap.add_argument("--cohort", action="store_true", help="normalize speakers' means against the even train-clean-100 readers (S-norm)")
    ap.add_argument(
        "--workers", type=int, default=2, help="face and voice worker processes each (the service runs 2 face, 1 voice)"
    )
    args = ap.parse_args()
    from bench.robustness.corpus import DATA

    if not DATA.is_dir():
        sys.exit(f"no test media at {DATA} (../shared/data beside the repository)")
    quiet_threads()
    started, t = datetime.now(UTC), time.perf_counter()
    host = machine()
    doc = asyncio.run(run(args))
    doc = {
        "machine": host,
        "date": f"{started:%Y-%m-%d %H:%M} UTC",
        "quick": args.quick,
        "wall_s": round(time.perf_counter() - t, 1),
        **doc,
    }
    if args.json:
        print(json.dumps(doc))
    else:
        print_markdown(doc)


if __name__ == "__main__":
    main()
