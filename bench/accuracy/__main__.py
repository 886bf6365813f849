"""bench/accuracy: how often the verification service's OWN rule, at the DEPLOYED thresholds, finds
the right enrolled person in real photos and speech, and stays quiet on people not enrolled.

    .venv/bin/python bench/accuracy [--data ../shared/data] [--face-only | --voice-only] [--json] [--workers 2]

The rule is the service's code, through bench/robustness/harness.py: enrollment keeps one template
per accepted sample (`enroll_face_image`, `enroll_voice_clips`); the verification service's
WorkerPoolExtractor makes the probes (every face found; every speaker's mean embedding and every
~2 s speech window); `LikenessIndex.search_sync` searches them at the handler's floor and
`best_matches(hits, Thresholds())` decides per talent: a confirmed match is MATCH, one in the
review band REVIEW. Thresholds are `Thresholds()`'s defaults, as deployed.

Data (dataset.py): faces: 6 identities enrolled from 1-2 photos; every other photo of them is a
genuine probe, each face of the group photos a probe of its own (one face there is of someone not
enrolled). Voices: 10 LibriSpeech test-other readers enrolled from 4 utterances, their other 6
utterances genuine probes, the 251 train-clean-100 readers impostor probes.

Printed per modality: the HEADLINE, the deployed rule's outcomes (genuine: MATCH / REVIEW /
NO_MATCH of the right talent, rank-1, FNMR = not MATCH, wrong talents confirmed or in review;
impostor: false MATCH, REVIEW), every rate as k/n with a one-sided 95 % Clopper-Pearson upper bound;
the probes decided otherwise; the score distributions the rule compares (best template per
talent; voice: speaker means and single windows apart); then, INFORMATIVE ONLY, an equal-error
rate and a one-threshold sweep over those scores. The data set is small: read the bounds, and the
whole as a sanity check, not as a certification.
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
if str(ROOT) not in sys.path:  # run as a script: `bench` imports from the repository root
    sys.path.insert(0, str(ROOT))

from bench.accuracy import dataset, tables  # noqa: E402
from bench.accuracy.trials import ClipRun, TrialBench  # noqa: E402
from bench.host import machine  # noqa: E402
from bench.robustness import harness  # noqa: E402
from bench.robustness.__main__ import quiet_threads  # noqa: E402
from bench.robustness.report import thresholds_line  # noqa: E402
from likeness_devstack import SHARED_DATA  # noqa: E402
from verification.domain.model import Modality  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ measuring


def enroll(registry: harness.Registry, args: argparse.Namespace) -> None:
    """Faces and / or voices, one template per accepted sample (harness.Registry)."""
    if not args.voice_only:
        for talent, samples in dataset.face_enrollment(args.data).items():
            registry.enroll_faces(talent, samples)
    if not args.face_only:
        for talent, samples in dataset.voice_enrollment(args.data).items():
            registry.enroll_voices(talent, samples)


def inconsistent(registry: harness.Registry, modality: Modality) -> list[dict]:
    """Talents whose accepted samples the enrollment service would refuse as one request
    (check_*_consistency, as services/enrollment: samples that do not look like the same person)."""
    from likeness_biometrics import check_face_consistency, check_voice_consistency

    check = check_face_consistency if modality is Modality.FACE else check_voice_consistency
    out = []
    for talent, templates in registry.templates.items():
        vectors = templates.get(modality, [])
        report = check(vectors) if len(vectors) > 1 else None
        if report is not None and report.outliers:
            out.append({"talent": talent, "outliers": list(report.outliers), "scores": list(report.scores)})
    return out


def enrollment_rule(data: Path) -> list[dict]:
    """The enrollment rule (enroll_face_image) on every photo not used to enroll: its rejections."""
    from likeness_biometrics import BiometricError
    from likeness_biometrics.worker import enroll_face_image

    rejected = []
    for path in dataset.other_photos(data):
        try:
            enroll_face_image(path.read_bytes())
        except BiometricError as error:
            rejected.append({"photo": f"{path.parent.name}/{path.name}", "reason": error.reason})
    return rejected


async def extract(bench: TrialBench, items: list, title: str) -> tuple[list[ClipRun], float]:
    t = time.perf_counter()
    runs = await bench.run(items, title)
    return runs, time.perf_counter() - t


def _enrolled(registry: harness.Registry, modality: Modality) -> dict:
    return dict(zip(("talents", "templates"), registry.count(modality), strict=True))


def swept(sets: dict[str, list[float]], points: list[float], match: float, review: float) -> dict:
    """INFORMATIVE ONLY: the equal error rate and a one-threshold sweep over one kind of score
    (impostor: every (probe unit, wrong talent) pair), the deployed thresholds marked."""
    impostor = sets["impostor_enrolled"] + sets["impostor_not_enrolled"]
    marks = {round(match, 3): "MATCH", round(review, 3): "REVIEW floor"}
    return {"operating_points": tables.operating_points(sets["genuine"], impostor),
            "sweep": tables.sweep(sets["genuine"], impostor, points, marks)}  # fmt: skip


async def face_section(bench: TrialBench, args: argparse.Namespace) -> dict:
    from likeness_biometrics import FACE_MODEL

    runs, wall = await extract(bench, dataset.face_cases(args.data), "face clips")
    trials = [t for r in runs for t in r.trials]
    sets = tables.score_sets(trials, "face")
    th = harness.THRESHOLDS
    return {
        "model": f"{FACE_MODEL.name} (face_recognition_models {FACE_MODEL.version})",
        "enrolled": _enrolled(bench.registry, Modality.FACE),
        "inconsistent_enrollments": inconsistent(bench.registry, Modality.FACE),
        "genuine": tables.genuine_rows(trials, "all genuine probes"),
        "impostor": tables.impostor_rows(trials),
        "exceptions": tables.exception_rows(trials, ("face",)),
        "scores": [
            tables.distribution("genuine: the right talent", sets["genuine"]),
            tables.distribution("impostor: each other enrolled talent", sets["impostor_enrolled"]),
            tables.distribution("impostor: a face not enrolled, each talent", sets["impostor_not_enrolled"]),
        ],
        "informative": swept(sets, [0.30 + 0.05 * k for k in range(8)], th.face_match, th.face_review),
        "enrollment_rule_rejections": enrollment_rule(args.data),
        "timing": tables.timing(runs, wall, args.workers),
        "notes": [n for r in runs for n in r.notes],
    }


async def voice_section(bench: TrialBench, args: argparse.Namespace) -> dict:
    from likeness_biometrics import VOICE_MODEL

    runs, wall = await extract(bench, [(c, None) for c in dataset.voice_cases(args.data)], "voice clips")
    trials = [t for r in runs for t in r.trials]
    th = harness.THRESHOLDS
    means, windows = tables.score_sets(trials, "mean"), tables.score_sets(trials, "window")
    every_window = [s for t in tables.genuine(trials) for s in t.windows]
    return {
        "model": f"{VOICE_MODEL.name} {VOICE_MODEL.version}",
        "enrolled": _enrolled(bench.registry, Modality.VOICE),
        "inconsistent_enrollments": inconsistent(bench.registry, Modality.VOICE),
        "genuine": tables.genuine_rows(trials),
        "impostor": tables.impostor_rows(trials),
        "exceptions": tables.exception_rows(trials, ("mean", "window")),
        "scores": [
            tables.distribution("speaker mean, genuine: the right talent", means["genuine"]),
            tables.distribution("speaker mean, impostor: each other enrolled reader", means["impostor_enrolled"]),
            tables.distribution("speaker mean, impostor: train-clean-100, each talent", means["impostor_not_enrolled"]),
            tables.distribution("single window, genuine: every window, the right talent", every_window),
            tables.distribution("single window, genuine: best window per clip", windows["genuine"]),
            tables.distribution("single window, impostor: each other enrolled reader", windows["impostor_enrolled"]),
            tables.distribution("single window, impostor: train-clean-100, each talent", windows["impostor_not_enrolled"]),
        ],
        "informative": {
            "mean": swept(means, [0.70 + 0.02 * k for k in range(10)], th.voice_match, th.voice_review),
            "window": swept(windows, [0.76 + 0.02 * k for k in range(9)], th.voice_window_match, th.voice_window_review),
        },
        "timing": tables.timing(runs, wall, args.workers),
        "notes": [n for r in runs for n in r.notes],
    }


async def run(args: argparse.Namespace) -> dict:
    registry = harness.Registry()
    t = time.perf_counter()
    enroll(registry, args)
    log(f"enrolled in {time.perf_counter() - t:.1f} s")
    doc: dict = {"enrollment_rejected": [list(r) for r in registry.rejected]}
    bench = TrialBench(registry, workers=args.workers)
    try:
        await bench.warm_up()
        if not args.voice_only:
            doc["face"] = await face_section(bench, args)
        if not args.face_only:
            doc["voice"] = await voice_section(bench, args)
    finally:
        bench.close()
    return doc


# ------------------------------------------------------------------ printing


HEADLINE = "DEPLOYED RULE (headline)"
INFORMATIVE = "INFORMATIVE ONLY, not the deployed rule"


def print_header(doc: dict) -> None:
    m = doc["machine"]
    print(f"# bench/accuracy  {doc['date']}  wall {doc['wall_s']:.0f} s")
    print(f"{m['cpu']}, {m['cores']} cores, python {m['python']}, load {m['load_1min']} at start.")
    print(f"Rule: the verification service's own (bench/robustness/harness.py), {thresholds_line()}, from Thresholds().")
    print("Enrollment: one template per accepted sample. Probes: WorkerPoolExtractor. Search: LikenessIndex.search_sync at the")
    print("handler's floor. Decision per talent: best_matches(hits, Thresholds()); confirmed = MATCH, review band = REVIEW.")
    print("Rates: k/n = x% (<= one-sided 95% Clopper-Pearson upper bound). Small data: a sanity check, not a certification.")
    for sample, reason in doc["enrollment_rejected"]:
        print(f"! enrollment rejected {sample}: {reason}")


def print_common(section: dict, kinds: tuple[str, ...]) -> None:
    """Enrollment, the deployed rule's tables and the probes decided otherwise."""
    e = section["enrolled"]
    print(f"enrolled: {e['talents']} talents, {e['templates']} templates (one per accepted sample)")
    for bad in section["inconsistent_enrollments"]:
        print(
            f"! the enrollment service would refuse {bad['talent']}'s samples as inconsistent: {bad['outliers']}, {bad['scores']}"
        )
    for note in section["notes"]:
        print(f"! {note}")
    print(f"\n{HEADLINE}: genuine probes (the right talent must be confirmed)\n")
    print(tables.render(section["genuine"], tables.GENUINE_COLUMNS))
    print(f"\n{HEADLINE}: impostor probes (nobody enrolled may be confirmed)\n")
    columns = tables.IMPOSTOR_COLUMNS if "window" in kinds else tables.FACE_IMPOSTOR_COLUMNS
    print(tables.render(section["impostor"], columns))
    print("\nprobes decided otherwise (genuine: not MATCH, or a wrong talent confirmed / in review; impostor: not NO_MATCH):\n")
    rows = section["exceptions"]
    print(tables.render(rows, tables.exception_columns(kinds)) if rows else "  none")


def print_sweep(title: str, informative: dict) -> None:
    print(f"\n{INFORMATIVE}: {title}")
    print(tables.operating_text(informative["operating_points"]))
    print(tables.render(informative["sweep"], tables.SWEEP_COLUMNS))


def print_face(s: dict) -> None:
    print(f"\n== FACE  {s['model']}; score = 1 - dlib distance")
    print_common(s, ("face",))
    print("\nscores the rule compares (each talent's best template; a photo: its best face)\n")
    print(tables.render(s["scores"], tables.SCORE_COLUMNS))
    print_sweep("one threshold on the face score (impostor: every (probe, wrong talent) pair)", s["informative"])
    print("\nenrollment rule (enroll_face_image) on every photo not used to enroll, rejections:\n")
    rows = s["enrollment_rule_rejections"]
    print(tables.render(rows, {"photo": "photo", "reason": "reason"}) if rows else "  none")
    print(f"\ntiming: {tables.timing_text(s['timing'])}")


def print_voice(s: dict) -> None:
    print(f"\n== VOICE  {s['model']}; score = cosine")
    print_common(s, ("mean", "window"))
    print("\nscores the rule compares (each talent's best template; per clip its best speaker mean / best window)\n")
    print(tables.render(s["scores"], tables.SCORE_COLUMNS))
    print_sweep("one threshold on speaker means alone (impostor: every (clip, wrong talent) pair)", s["informative"]["mean"])
    print_sweep("one threshold on single windows alone (each clip's best window per talent)", s["informative"]["window"])
    print(f"\ntiming: {tables.timing_text(s['timing'])}")


def print_text(doc: dict) -> None:
    print_header(doc)
    if "face" in doc:
        print_face(doc["face"])
    if "voice" in doc:
        print_voice(doc["voice"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=SHARED_DATA, help="the real media (../shared/data)")
    only = ap.add_mutually_exclusive_group()
    only.add_argument("--face-only", action="store_true")
    only.add_argument("--voice-only", action="store_true")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    ap.add_argument(
        "--workers", type=int, default=2, help="face and voice worker processes each (the service runs 2 face, 1 voice)"
    )
    args = ap.parse_args()
    if not args.data.is_dir():
        sys.exit(f"no test media at {args.data} (expected ../shared/data beside the repo)")
    quiet_threads()
    started, t = datetime.now(UTC), time.perf_counter()
    host = machine()
    doc = asyncio.run(run(args))
    doc = {"machine": host, "date": f"{started:%Y-%m-%d %H:%M} UTC", "wall_s": round(time.perf_counter() - t, 1),
           "thresholds": dict(harness.THRESHOLDS.__dict__), **doc}  # fmt: skip
    if args.json:
        print(json.dumps(doc))
    else:
        print_text(doc)


if __name__ == "__main__":
    main()
