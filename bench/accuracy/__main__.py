"""Accuracy and speed of the biometric pipeline on the real media in ../shared/data.

    .venv/bin/python bench/accuracy [--data ../shared/data] [--face-only | --voice-only]

Face: each identity in faces/ is enrolled from one or two photos (centroid of the encodings);
every other photo of an identity, and each face of the group photos (labelled by hand, left to
right), is a probe. Voice: the 10 LibriSpeech test-other speakers are enrolled from 4 utterances
each (centroid); their other 6 utterances are genuine probes, and the 251 train-clean-100
speakers (one utterance each) are distractors that must not match anyone.

Scores: face = Euclidean distance (lower is closer); voice = cosine (higher is closer).
Printed per modality: rank-1 identification, false-match and false-non-match rates at the
configured threshold, genuine/impostor score distributions, a recommended threshold (equal error
rate, and the best one with no false match on this data) and a REVIEW band.
The data set is small: read the numbers as a sanity check, not as a certification.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "libs"))

from likeness_biometrics import (  # noqa: E402
    FACE_MODEL,
    VOICE_MODEL,
    BioConfig,
    SampleRejected,
    analyze_enrollment_clip,
    analyze_enrollment_image,
    check_face_consistency,
    check_voice_consistency,
    decode_audio,
    decode_image,
    face_centroid,
    faces_in_frame,
    voice_centroid,
)
from likeness_biometrics.models import load_face_models, load_voice_encoder  # noqa: E402
from likeness_biometrics.voice import embed_speech  # noqa: E402

FACE_ENROLL = {
    "obama": ["obama.jpg", "obama2.jpg"],
    "biden": ["biden.jpg"],
    "kit_harington": ["john1.jpeg", "john2.jpeg"],
    "rose_leslie": ["rose1.jpg"],
    "alex_lacamoire": ["alex1.png", "alex2.jpg"],
    "lin_manuel_miranda": ["lin1.png"],
}
# Group photos: identities of the detected faces from left to right (None: not enrolled).
GROUP_LABELS = {
    "two_people.jpg": ["obama", "biden"],
    "obama_and_biden.jpg": ["biden", "obama", None],
    "kit_with_rose.jpg": ["rose_leslie", "kit_harington"],
}
VOICE_ENROLL_N = 4


def table(rows: list[list[str]], header: list[str]) -> str:
    cols = [header, *rows]
    widths = [max(len(str(r[i])) for r in cols) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def dist(x: list[float]) -> list[str]:
    if not x:
        return ["0", "-", "-", "-", "-"]
    a = np.asarray(x)
    return [
        str(len(a)),
        f"{a.min():.3f}",
        f"{np.median(a):.3f}",
        f"{np.percentile(a, 99):.3f}" if len(a) >= 100 else "-",
        f"{a.max():.3f}",
    ]


def thresholds(genuine: list[float], impostor: list[float], higher_is_closer: bool) -> dict:
    """EER threshold, the most permissive threshold with no false match on this data, and a
    REVIEW band between the closest impostor and the farthest genuine score (+-0.03)."""
    g = np.asarray(genuine)
    i = np.asarray(impostor)
    sign = 1.0 if higher_is_closer else -1.0
    gs, is_ = sign * g, sign * i  # now higher is closer for both
    cands = np.unique(np.concatenate([gs, is_]))
    best, eer = None, 1.0
    for t in cands:
        fnmr = float(np.mean(gs < t))
        fmr = float(np.mean(is_ >= t))
        gap = abs(fnmr - fmr)
        if best is None or gap < best[0]:
            best, eer = (gap, t), (fnmr + fmr) / 2
    eer_t = sign * best[1]
    zero_fm = sign * (float(is_.max()) + 1e-6)  # accept strictly closer than every impostor
    fnmr_at_zero = float(np.mean(gs <= is_.max()))
    lo, hi = sorted([sign * (float(is_.max()) + 0.03), sign * (float(gs.min()) - 0.03)])
    return {
        "eer": eer,
        "eer_t": eer_t,
        "zero_fm_t": zero_fm,
        "fnmr_at_zero_fm": fnmr_at_zero,
        "review": (lo, hi),
        "separable": bool(gs.min() > is_.max()),
    }


def sweep(
    genuine: list[float], impostor: list[float], points: list[float], higher_is_closer: bool
) -> str:
    g = np.asarray(genuine)
    i = np.asarray(impostor)
    rows = []
    for t in points:
        fnmr = np.mean(g < t) if higher_is_closer else np.mean(g > t)
        fmr = np.mean(i >= t) if higher_is_closer else np.mean(i <= t)
        rows.append([f"{t:.2f}", f"{fmr:.2%}", f"{fnmr:.1%}"])
    return table(rows, ["threshold", "FMR", "FNMR"])


def face_bench(data: Path, config: BioConfig) -> None:
    faces_dir = data / "faces"
    models = load_face_models()
    timings: list[
        tuple[float, float, float, int]
    ] = []  # decode, detect+encode ms, megapixels, faces

    def load(path: Path):
        t0 = time.perf_counter()
        image = decode_image(path.read_bytes(), config)
        t1 = time.perf_counter()
        return image, (t1 - t0) * 1000

    enrolled: dict[str, np.ndarray] = {}
    rejected: list[list[str]] = []
    enroll_rows = []
    for ident, names in FACE_ENROLL.items():
        encs = []
        for name in names:
            image, dec_ms = load(faces_dir / ident / name)
            t = time.perf_counter()
            try:
                r = analyze_enrollment_image(image.rgb, config, models)
            except SampleRejected as exc:
                rejected.append([f"{ident}/{name}", exc.reason])
                continue
            timings.append(
                (
                    dec_ms,
                    (time.perf_counter() - t) * 1000,
                    image.rgb.shape[0] * image.rgb.shape[1] / 1e6,
                    1,
                )
            )
            encs.append(r.encoding)
            enroll_rows.append([f"{ident}/{name}", f"{r.box.width}px", f"{r.quality:.2f}"])
        if encs:
            if len(encs) > 1:
                c = check_face_consistency(encs, config=config)
                assert c.consistent, (ident, c)
            enrolled[ident] = face_centroid(encs)
    idents = list(enrolled)
    centroids = np.stack([enrolled[i] for i in idents]).astype(np.float64)

    # Enrollment-rule checks on every non-enrollment photo (what the service would say).
    for ident_dir in sorted(
        p for p in faces_dir.iterdir() if p.is_dir() and p.name not in ("video",)
    ):
        for path in sorted(ident_dir.iterdir()):
            if path.name in FACE_ENROLL.get(ident_dir.name, []):
                continue
            image, _ = load(path)
            try:
                analyze_enrollment_image(image.rgb, config, models)
            except SampleRejected as exc:
                rejected.append([f"{ident_dir.name}/{path.name}", exc.reason])

    probes: list[tuple[str, str | None, np.ndarray]] = []  # (source, label, encoding)
    for ident in FACE_ENROLL:
        for path in sorted((faces_dir / ident).iterdir()):
            if path.name in FACE_ENROLL[ident]:
                continue
            image, dec_ms = load(path)
            t = time.perf_counter()
            faces = faces_in_frame(image.rgb, config, models)
            timings.append(
                (
                    dec_ms,
                    (time.perf_counter() - t) * 1000,
                    image.rgb.shape[0] * image.rgb.shape[1] / 1e6,
                    len(faces),
                )
            )
            if not faces:
                probes.append((f"{ident}/{path.name}", ident, None))
                continue
            probes.append((f"{ident}/{path.name}", ident, faces[0].encoding))  # largest face
    for name, labels in GROUP_LABELS.items():
        image, dec_ms = load(faces_dir / "group" / name)
        t = time.perf_counter()
        faces = faces_in_frame(image.rgb, config, models)
        timings.append(
            (
                dec_ms,
                (time.perf_counter() - t) * 1000,
                image.rgb.shape[0] * image.rgb.shape[1] / 1e6,
                len(faces),
            )
        )
        faces = sorted(faces, key=lambda f: f.box.left)
        if len(faces) != len(labels):
            print(f"! {name}: {len(faces)} faces detected, {len(labels)} labelled")
            continue
        for k, (f, label) in enumerate(zip(faces, labels)):
            probes.append((f"group/{name}#{k}", label, f.encoding))

    genuine, impostor, rank1, n_known, missed = [], [], 0, 0, 0
    open_ok = 0
    unknown_fm = 0
    n_unknown = 0
    t = config.face_match_distance
    for src, label, enc in probes:
        if enc is None:
            missed += 1
            n_known += 1
            continue
        d = np.linalg.norm(centroids - enc, axis=1)
        best = int(np.argmin(d))
        if label in enrolled:
            n_known += 1
            k = idents.index(label)
            genuine.append(float(d[k]))
            impostor.extend(float(x) for j, x in enumerate(d) if j != k)
            rank1 += best == k
            open_ok += best == k and d[best] <= t
        else:
            n_unknown += 1
            impostor.extend(float(x) for x in d)
            unknown_fm += d[best] <= t
    fmr = float(np.mean(np.asarray(impostor) <= t))
    fnmr = float(np.mean(np.asarray(genuine) > t)) if genuine else 0.0
    th = thresholds(genuine, impostor, higher_is_closer=False)

    print(
        f"== FACE  {FACE_MODEL.name} / face_recognition_models {FACE_MODEL.version}; HOG, upsample={config.face_upsample}, max side {config.max_image_side}px"
    )
    print(
        f"enrolled identities: {len(enrolled)} (centroid of {sum(len(v) for v in FACE_ENROLL.values())} photos); probes: {n_known} of enrolled people ({sum(1 for p in probes if p[0].startswith('group'))} from group photos), {n_unknown} unknown face(s)"
    )
    print()
    print(
        table(
            [
                [
                    "rank-1 identification (closed set)",
                    f"{rank1}/{n_known} = {rank1 / max(1, n_known):.1%}",
                ],
                [
                    f"rank-1 and distance <= {t}",
                    f"{open_ok}/{n_known} = {open_ok / max(1, n_known):.1%}",
                ],
                ["probes with no face detected", str(missed)],
                [
                    f"false-match rate @ {t} (probe x other centroid)",
                    f"{int(round(fmr * len(impostor)))}/{len(impostor)} = {fmr:.2%}",
                ],
                [
                    f"false-non-match rate @ {t}",
                    f"{int(round(fnmr * len(genuine)))}/{len(genuine)} = {fnmr:.1%}",
                ],
                [f"unknown faces matched to someone @ {t}", f"{unknown_fm}/{n_unknown}"],
            ],
            ["metric", "value"],
        )
    )
    print()
    print(
        table(
            [["genuine", *dist(genuine)], ["impostor", *dist(impostor)]],
            ["distance", "n", "min", "median", "p99", "max"],
        )
    )
    print()
    lo, hi = th["review"]
    print(
        f"separable on this data: {th['separable']}; EER ~{th['eer']:.1%} at {th['eer_t']:.3f}; "
        f"no false match below {th['zero_fm_t']:.3f} (FNMR there {th['fnmr_at_zero_fm']:.1%})"
    )
    print(
        f"recommended: threshold {t} (configured); from this data MATCH <= {lo:.2f} < REVIEW <= {hi:.2f} < NO_MATCH"
    )
    print()
    print(
        sweep(genuine, impostor, [0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70], higher_is_closer=False)
    )
    print()
    print("enrollment-rule outcomes (rejections):")
    print(table(rejected, ["photo", "reason"]) if rejected else "  none")
    print()
    dec = np.array([x[0] for x in timings])
    enc_ms = np.array([x[1] for x in timings])
    per_face = np.array([x[1] / max(1, x[3]) for x in timings])
    print(
        table(
            [
                ["decode (JPEG/PNG -> RGB <= 1024px)", f"{np.median(dec):.0f}", f"{dec.max():.0f}"],
                ["detect + encode, per image", f"{np.median(enc_ms):.0f}", f"{enc_ms.max():.0f}"],
                [
                    "detect + encode, per face",
                    f"{np.median(per_face):.0f}",
                    f"{per_face.max():.0f}",
                ],
            ],
            ["timing (ms, 1 thread)", "median", "max"],
        )
    )
    print()


def voice_bench(data: Path, config: BioConfig) -> None:
    base = data / "voices" / "librispeech"
    encoder = load_voice_encoder()
    encoder.embed_utterance(np.zeros(16000, np.float32) + 1e-3)  # warm-up
    test_dirs = sorted(p for p in (base / "test-other").iterdir() if p.is_dir())
    audio_s = 0.0
    embed_s = 0.0
    decode_s = 0.0

    def embed(path: Path, enroll: bool):
        nonlocal audio_s, embed_s, decode_s
        t0 = time.perf_counter()
        samples = decode_audio(path.read_bytes(), config).samples
        t1 = time.perf_counter()
        if enroll:
            e = analyze_enrollment_clip(samples, config, encoder).embedding
        else:
            e = embed_speech(samples, config, encoder)
        t2 = time.perf_counter()
        decode_s += t1 - t0
        embed_s += t2 - t1
        audio_s += len(samples) / 16000
        return e

    centroids, names, probes, clip_embs = [], [], [], {}
    for d in test_dirs:
        files = sorted(d.glob("*.flac"))
        embs = [embed(f, True) for f in files]
        clip_embs[d.name] = embs
        c = check_voice_consistency(embs[:VOICE_ENROLL_N], config=config)
        centroids.append(voice_centroid(embs[:VOICE_ENROLL_N]))
        names.append(d.name)
        probes.extend((d.name, e) for e in embs[VOICE_ENROLL_N:])
        if not c.consistent:
            print(
                f"! speaker {d.name}: enrollment clips {c.outliers} flagged inconsistent (cos {c.scores})"
            )
    C = np.stack(centroids).astype(np.float64)
    distractors = []
    seen = set()
    for f in sorted((base / "train-clean-100").rglob("*.flac")):  # <speaker>-<chapter>-<utt>.flac
        speaker = f.name.split("-")[0]
        if speaker not in seen:
            seen.add(speaker)
            distractors.append(embed(f, False))

    genuine, impostor, rank1 = [], [], 0
    t = config.voice_match_cosine
    for name, e in probes:
        s = C @ e
        k = names.index(name)
        genuine.append(float(s[k]))
        impostor.extend(float(x) for j, x in enumerate(s) if j != k)
        rank1 += int(np.argmax(s)) == k
    distractor_scores = []
    distractor_fm = 0
    for e in distractors:
        s = C @ e
        distractor_scores.extend(float(x) for x in s)
        distractor_fm += float(s.max()) >= t
    all_imp = impostor + distractor_scores
    fmr = float(np.mean(np.asarray(all_imp) >= t))
    fnmr = float(np.mean(np.asarray(genuine) < t))
    th = thresholds(genuine, all_imp, higher_is_closer=True)

    # Clip vs clip (what the consistency check compares)
    pair_g, pair_i = [], []
    keys = list(clip_embs)
    for a, ka in enumerate(keys):
        for b, kb in enumerate(keys):
            for x, ea in enumerate(clip_embs[ka]):
                for y, eb in enumerate(clip_embs[kb]):
                    if (a, x) < (b, y):
                        (pair_g if ka == kb else pair_i).append(float(ea @ eb))

    print(
        f"== VOICE  {VOICE_MODEL.name} {VOICE_MODEL.version}; webrtcvad mode {config.vad_aggressiveness}"
    )
    print(
        f"enrolled speakers: {len(names)} (centroid of {VOICE_ENROLL_N} utterances each); genuine probes: {len(probes)}; "
        f"distractor speakers: {len(distractors)} (train-clean-100, 1 utterance each)"
    )
    print()
    print(
        table(
            [
                [
                    "rank-1 identification (10 speakers)",
                    f"{rank1}/{len(probes)} = {rank1 / len(probes):.1%}",
                ],
                [
                    f"false-match rate @ {t} (all impostor comparisons)",
                    f"{int(round(fmr * len(all_imp)))}/{len(all_imp)} = {fmr:.2%}",
                ],
                [
                    f"distractors matching any speaker @ {t}",
                    f"{distractor_fm}/{len(distractors)} = {distractor_fm / len(distractors):.1%}",
                ],
                [
                    f"false-non-match rate @ {t}",
                    f"{int(round(fnmr * len(genuine)))}/{len(genuine)} = {fnmr:.1%}",
                ],
            ],
            ["metric", "value"],
        )
    )
    print()
    print(
        table(
            [
                ["genuine (probe vs own centroid)", *dist(genuine)],
                ["impostor: other enrolled speakers", *dist(impostor)],
                ["impostor: 251 distractors", *dist(distractor_scores)],
                ["clip vs clip, same speaker", *dist(pair_g)],
                ["clip vs clip, different speakers", *dist(pair_i)],
            ],
            ["cosine", "n", "min", "median", "p99", "max"],
        )
    )
    print()
    lo, hi = th["review"]
    print(
        f"separable on this data: {th['separable']}; EER ~{th['eer']:.2%} at {th['eer_t']:.3f}; "
        f"no false match at >= {th['zero_fm_t']:.3f} (FNMR there {th['fnmr_at_zero_fm']:.1%})"
    )
    print(
        f"recommended: threshold {th['eer_t']:.2f} (EER; configured {t}); from this data NO_MATCH < {lo:.2f} <= REVIEW < {hi:.2f} <= MATCH"
    )
    print()
    print(
        sweep(
            genuine,
            all_imp,
            [0.70, 0.74, 0.76, 0.78, 0.80, 0.82, 0.84, 0.86, 0.88],
            higher_is_closer=True,
        )
    )
    pg = np.asarray(pair_g)
    pi = np.asarray(pair_i)
    ct = config.voice_consistency_cosine
    print(
        f"consistency check @ {ct} (clip vs clip): same-speaker pairs flagged {np.mean(pg < ct):.1%}, "
        f"different-speaker pairs passed {np.mean(pi >= ct):.1%}"
    )
    print()
    print(
        table(
            [
                ["decode (FLAC -> 16 kHz mono)", f"{decode_s / audio_s * 1000:.2f}"],
                ["VAD + embed", f"{embed_s / audio_s * 1000:.2f}"],
            ],
            ["timing per second of audio (ms, 1 thread)", "ms"],
        )
    )
    print(
        f"({audio_s:.0f} s of audio in {len(probes) + len(names) * VOICE_ENROLL_N + len(distractors)} files)"
    )
    print()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--face-only", action="store_true")
    ap.add_argument("--voice-only", action="store_true")
    args = ap.parse_args()
    if not args.data.is_dir():
        sys.exit(f"no test media at {args.data} (expected ../shared/data beside the repo)")
    config = BioConfig()
    print(
        f"# bench/accuracy  {datetime.date.today()}  {platform.machine()}  {os.cpu_count()} cores  "
        f"python {platform.python_version()}"
    )
    print()
    if not args.voice_only:
        face_bench(args.data, config)
    if not args.face_only:
        voice_bench(args.data, config)


if __name__ == "__main__":
    main()
