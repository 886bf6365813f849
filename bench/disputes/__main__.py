"""Would enrolling one record after another open a likeness dispute? Counted over every pair of
enrollments made from ../shared/data, with the enrollment service's own rule: each sample of the
later enrollment searched against the earlier one's templates, a dispute when the best score
reaches Verify's match threshold (face 0.50 = 1 - dlib distance, voice cosine 0.84).

Enrollments (each sample through the service's enrollment functions, `enroll_face_image` and
`enroll_voice_clips`, as the enrollment workers call them):
- faces: every photo in faces/<identity>/ (group photos, misc and video aside) is a one-photo
  enrollment of that identity;
- voices: each LibriSpeech test-other reader enrolled twice (utterances 1-4 and 5-8), each
  train-clean-100 reader once (its one utterance).
Pairs of enrollments of different identities should open no dispute (printed: count, rate and
its one-sided 95 % Clopper-Pearson upper bound); pairs of the same identity should (the
detection rate, with the lowest same-identity score).

    .venv/bin/python bench/disputes [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
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
from bench.robustness.harness import upper95  # noqa: E402
from likeness_devstack import SHARED_DATA  # noqa: E402
from verification.domain.model import Thresholds  # noqa: E402

DATA = SHARED_DATA
NOT_IDENTITIES = {"group", "misc", "video"}


@dataclass
class Enrollment:
    identity: str
    label: str
    vectors: np.ndarray  # one row per accepted sample


def face_enrollments(rejected: list[str]) -> list[Enrollment]:
    from likeness_biometrics import BiometricError
    from likeness_biometrics.worker import enroll_face_image

    out = []
    for folder in sorted(p for p in (DATA / "faces").iterdir() if p.is_dir() and p.name not in NOT_IDENTITIES):
        for photo in sorted(folder.iterdir()):
            try:
                vector = enroll_face_image(photo.read_bytes()).encoding
            except BiometricError as error:
                rejected.append(f"faces/{folder.name}/{photo.name}: {error}")
                continue
            out.append(Enrollment(folder.name, f"{folder.name}/{photo.name}", np.asarray([vector], np.float32)))
    return out


def voice_enrollments(rejected: list[str]) -> list[Enrollment]:
    from likeness_biometrics.worker import enroll_voice_clips

    libri = DATA / "voices" / "librispeech"
    groups: list[tuple[str, str, list[Path]]] = []
    for reader in sorted(p for p in (libri / "test-other").iterdir() if p.is_dir()):
        files = sorted(reader.glob("*.flac"))
        groups += [(reader.name, f"test-other/{reader.name} utterances 1-4", files[:4]),
                   (reader.name, f"test-other/{reader.name} utterances 5-8", files[4:8])]  # fmt: skip
    for flac in sorted((libri / "train-clean-100").rglob("*.flac")):
        groups.append((flac.name.split("-")[0], f"train-clean-100/{flac.name}", [flac]))
    out = []
    for identity, label, files in groups:
        vectors = []
        for f, result in zip(files, enroll_voice_clips([f.read_bytes() for f in files]), strict=True):
            if isinstance(result, Exception):
                rejected.append(f"{label} {f.name}: {result}")
            else:
                vectors.append(result.embedding)
        if vectors:
            out.append(Enrollment(identity, label, np.asarray(vectors, np.float32)))
    return out


def pair_scores(enrollments: list[Enrollment], face: bool, norm=None) -> tuple[list[float], list[float], list[tuple[float, str, str]]]:
    """(distinct-identity best scores, same-identity best scores, the highest distinct pairs).
    With `norm` (voice): each sample of one enrollment scored against the other's templates by
    S-norm, as the enrollment service's check does with a cohort configured."""
    distinct, same, worst = [], [], []
    stats = {id(e): (norm.stats(e.vectors), [norm.stats(v) for v in e.vectors]) for e in enrollments} if norm else {}
    for a, b in itertools.combinations(enrollments, 2):
        if face:
            d = np.linalg.norm(a.vectors[:, None, :] - b.vectors[None, :, :], axis=2)
            score = float(1.0 - d.min())
        elif norm is not None:  # the later enrollment's samples (a) searched against b's templates
            raw = (a.vectors @ b.vectors.T).max(axis=1)
            score = max(norm.normalize(float(r), stats[id(b)][0], ps) for r, ps in zip(raw, stats[id(a)][1], strict=True))
        else:
            score = float((a.vectors @ b.vectors.T).max())
        if a.identity == b.identity:
            same.append(score)
        else:
            distinct.append(score)
            worst.append((score, a.label, b.label))
    return distinct, same, sorted(worst, reverse=True)[:3]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if not DATA.exists():
        raise SystemExit(f"the bench reads {DATA} (../shared/data beside the project)")
    from likeness_biometrics.models import set_single_thread

    set_single_thread()
    host, started = machine(), time.monotonic()
    t = Thresholds()
    rejected: list[str] = []
    rows = []
    voices = voice_enrollments(rejected)
    # S-norm (issue 18): the cohort is the train-clean-100 readers at even positions, as bench/calibration;
    # the normalized row counts pairs among the other enrollments only (a cohort voice is never enrolled).
    from verification.bootstrap import VerificationSettings
    from verification.domain.calibration import CohortNorm

    cohort_labels = {f"train-clean-100/{f.name}" for f in sorted((DATA / "voices" / "librispeech" / "train-clean-100").rglob("*.flac"),
                                                                  key=lambda f: f.name)[0::2]}  # fmt: skip
    norm = CohortNorm(np.concatenate([e.vectors for e in voices if e.label in cohort_labels]))
    outside = [e for e in voices if e.label not in cohort_labels]
    z_match = VerificationSettings().voice_norm_match
    for modality, enrollments, face, threshold, scoring in (
        ("face", face_enrollments(rejected), True, t.face_match, None),
        ("voice", voices, False, t.voice_match, None),
        ("voice, cohort half excluded, raw", outside, False, t.voice_match, None),
        ("voice, cohort half excluded, S-norm", outside, False, z_match, norm),
    ):
        distinct, same, worst = pair_scores(enrollments, face, scoring)
        false_disputes = sum(s >= threshold for s in distinct)
        found = sum(s >= threshold for s in same)
        rows.append({
            "modality": modality, "threshold": threshold, "enrollments": len(enrollments),
            "identities": len({e.identity for e in enrollments}),
            "distinct_pairs": len(distinct), "false_disputes": false_disputes, "false_upper95": upper95(false_disputes, len(distinct)),
            "highest_distinct": max(distinct), "worst_pairs": worst,
            "same_pairs": len(same), "disputes_found": found, "lowest_same": min(same) if same else None,
        })  # fmt: skip
    host["load_end"] = load_average()
    print(f"\nbench/disputes  {host['date']}  {host['cpu']} x{host['cores']}, Python {host['python']}, "
          f"load average {host['load_1min']:.2f} at start, {host['load_end']:.2f} at end; {time.monotonic() - started:.0f} s\n")
    print("| modality (threshold) | enrollments (identities) | pairs of distinct identities | disputes opened | rate (95 % upper) "
          "| highest score | same-identity pairs | disputes opened | lowest score |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        lowest = f"{r['lowest_same']:.3f}" if r["lowest_same"] is not None else "-"
        print(f"| {r['modality']} ({r['threshold']:.2f}) | {r['enrollments']} ({r['identities']}) | {r['distinct_pairs']:,} | "
              f"{r['false_disputes']} | {r['false_disputes'] / r['distinct_pairs']:.4%} ({r['false_upper95']:.3%}) | "
              f"{r['highest_distinct']:.3f} | {r['same_pairs']} | {r['disputes_found']} | {lowest} |")  # fmt: skip
    for r in rows:
        print(f"\n{r['modality']}: closest distinct pairs " + "; ".join(f"{s:.3f} {a} ~ {b}" for s, a, b in r["worst_pairs"]))
    if rejected:
        print(f"\n{len(rejected)} sample(s) rejected by enrollment: " + "; ".join(rejected[:8]) + (" ..." if len(rejected) > 8 else ""))
    if args.json:
        args.json.write_text(json.dumps({"machine": host, "rows": rows, "rejected": rejected}, indent=2))


if __name__ == "__main__":
    main()
