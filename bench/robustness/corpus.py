"""The offline corpus, built in memory in each run from ../shared/data (nothing is written to the
repository): who is enrolled, and the genuine and impostor probe clips with their transforms.

Faces: Obama (2 photos) and Biden (1 photo) are enrolled. Genuine: their other photos and the
group photos (one case per enrolled person in it), face swaps of a held-out photo of theirs onto
other people's photos (the impostor photos, and each other's) and onto every frame of the
Hamilton clip. Impostors: the photos of Lin-Manuel Miranda, Alex Lacamoire, Kit Harington and
Rose Leslie (never enrolled), kit_with_rose.jpg, and the Hamilton clip itself (Miranda).

Voices: the 10 LibriSpeech test-other readers enrolled from their first 3 utterances (genuine: the
other 7) and a Piper TTS voice enrolled from 3 sentences (genuine: the other sentences). Impostors:
the 251 train-clean-100 readers, one utterance each. "cameo": 2.5 s of a genuine clip spliced into
an impostor's narration (0.5 s of silence either side), the case the single-window thresholds are for.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import SHARED_DATA as DATA
from tests.mediakit import encode_video, still, wav

from . import faceswap, transforms, tts
from .harness import Case, Modality

FACES = DATA / "faces"
LIBRI = DATA / "voices" / "librispeech"
HAMILTON = FACES / "video" / "short_hamilton_clip.mp4"

FACE_ENROLL = {"obama": ["obama.jpg", "obama2.jpg"], "biden": ["biden.jpg"]}
GENUINE_PHOTOS = [("obama", n) for n in ("obama3.jpg", "obama4.jpg", "obama-240p.jpg", "obama-480p.jpg", "obama-720p.jpg",
                                          "obama_small.jpg", "obama_partial_face.jpg", "obama_partial_face2.jpg")] + [("biden", "biden2.jpg")]  # fmt: skip
GROUP_PHOTOS = {"two_people.jpg": ["obama", "biden"], "obama_and_biden.jpg": ["obama", "biden"]}
IMPOSTOR_PHOTOS = ["lin_manuel_miranda/lin1.png", "alex_lacamoire/alex1.png", "alex_lacamoire/alex2.jpg", "alex_lacamoire/alex3.jpg",
                   "kit_harington/john1.jpeg", "kit_harington/john2.jpeg", "kit_harington/johnsnow_test1.jpg",
                   "rose_leslie/rose1.jpg", "rose_leslie/rose2.jpg"]  # fmt: skip
# Held-out photos whose face is swapped in, and the extra targets that are enrolled people.
SWAP_SOURCES = {"biden": ["biden/biden2.jpg"], "obama": ["obama/obama3.jpg", "obama/obama4.jpg"]}
SWAP_CROSS_TARGETS = {"biden": ["obama/obama3.jpg", "obama/obama4.jpg", "obama/obama-720p.jpg"], "obama": ["biden/biden2.jpg"]}
VIDEO_SOURCES = {"biden": "biden/biden2.jpg", "obama": "obama/obama4.jpg"}
WARPS = ("mesh", "similarity")
VOICE_ENROLL = 3
PIPER = "piper-joe"
CAMEO_AT_S, CAMEO_S, GAP_S = 4.0, 2.5, 0.5


@dataclass(frozen=True)
class Plan:
    """How much of the corpus to build (--quick takes a slice of everything)."""

    quick: bool
    cohort: bool = False  # speakers' means normalized against the even train-clean-100 readers

    def take(self, items: list, quick_items: int) -> list:
        return items[:quick_items] if self.quick else items


# ------------------------------------------------------------------ faces


@cache
def rgb(rel: str) -> np.ndarray:
    return np.asarray(Image.open(FACES / rel).convert("RGB"))


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def face_enrollment() -> dict[str, dict[str, bytes]]:
    return {talent: {n: (FACES / talent / n).read_bytes() for n in names} for talent, names in FACE_ENROLL.items()}


def picture_cases(
    source: str, label: str, original: Callable[[], bytes], expected: str | None, present: tuple[str, ...] = ()
) -> list[Case]:
    """The picture as it is, and after each platform transform."""
    cases = [Case(Modality.FACE, source, "original", label, original, expected, present=present)]
    for name in transforms.PICTURE:
        make = lambda name=name: transforms.image_variant(decode(original()), name)  # noqa: E731
        cases.append(Case(Modality.FACE, source, name, label, make, expected, present=present))
    return cases


def photo_cases(plan: Plan) -> list[Case]:
    """Genuine and impostor photos, untouched and transformed."""
    cases = []
    for talent, name in plan.take(GENUINE_PHOTOS, 3):
        cases += picture_cases("photo", f"{talent}/{name}", (FACES / talent / name).read_bytes, talent)
    for name, people in plan.take(list(GROUP_PHOTOS.items()), 1):
        for talent in people:
            cases += picture_cases(
                "group photo", f"{name} ({talent})", (FACES / "group" / name).read_bytes, talent, tuple(people)
            )
    impostors = plan.take(IMPOSTOR_PHOTOS, 3) + ([] if plan.quick else ["group/kit_with_rose.jpg"])
    for rel in impostors:
        cases += picture_cases("photo", rel, (FACES / rel).read_bytes, None)
    return cases


def swap_pairs(plan: Plan) -> list[tuple[str, str, str]]:
    """(talent, source photo, target photo) for every photo swap."""
    if plan.quick:
        return [("biden", "biden/biden2.jpg", "lin_manuel_miranda/lin1.png"), ("biden", "biden/biden2.jpg", "obama/obama4.jpg"),
                ("obama", "obama/obama4.jpg", "alex_lacamoire/alex2.jpg")]  # fmt: skip
    return [
        (t, s, target)
        for t, sources in SWAP_SOURCES.items()
        for s in sources
        for target in IMPOSTOR_PHOTOS + SWAP_CROSS_TARGETS[t]
    ]


def swap_photo_cases(plan: Plan, log: Callable[[str], None]) -> list[Case]:
    """Every swap in both styles (made now, kept as JPEG), untouched and transformed."""
    cases = []
    pairs = swap_pairs(plan)
    for warp in WARPS:
        for talent, src, target in pairs:
            data = still(faceswap.swap_photo(rgb(src), rgb(target), warp), "JPEG", quality=92)
            label = f"{Path(src).name} -> {Path(target).name}"
            cases += picture_cases(f"swap-{warp} photo", label, lambda data=data: data, talent)
    log(f"face swaps: {len(pairs) * len(WARPS)} photos")
    return cases


def video_cases(plan: Plan, log: Callable[[str], None]) -> list[Case]:
    """The Hamilton clip (impostor: Lin-Manuel Miranda) and swaps of Biden / Obama onto every frame
    where dlib finds the face (H.264 CRF 18, its sound kept), untouched and transformed."""
    frames, fps, audio = faceswap.video_frames(HAMILTON.read_bytes())
    if plan.quick:  # 4 s from 2.5 s, where the face is on screen
        first, last = int(2.5 * fps), int(6.5 * fps)
        frames, audio = frames[first:last], audio[int(2.5 * 16000) : int(6.5 * 16000)] if audio is not None else None
    marks = faceswap.frame_landmarks(frames)
    log(f"hamilton clip: {len(frames)} frames, a face in {sum(m is not None for m in marks)}")
    original = HAMILTON.read_bytes() if not plan.quick else encode_video(frames, fps=fps, audio=audio, options={"crf": "18"})
    cases = _video_variants("video", "short_hamilton_clip.mp4", original, None, plan)
    sources = list(VIDEO_SOURCES.items())[:1] if plan.quick else list(VIDEO_SOURCES.items())
    for warp in WARPS[1:] if plan.quick else WARPS:
        for talent, src in sources:
            swapped = encode_video(
                faceswap.swap_frames(rgb(src), frames, marks, warp), fps=fps, audio=audio, options={"crf": "18"}
            )
            cases += _video_variants(f"swap-{warp} video", f"{Path(src).name} -> hamilton", swapped, talent, plan)
    return cases


def _video_variants(source: str, label: str, data: bytes, expected: str | None, plan: Plan) -> list[Case]:
    names = ["h264 crf38", "mirror"] if plan.quick else list(transforms.PICTURE)
    cases = [Case(Modality.FACE, source, "original", label, lambda: data, expected)]
    for name in names:
        cases.append(Case(Modality.FACE, source, name, label, lambda name=name: _video_variant(data, name), expected))
    return cases


def _video_variant(data: bytes, name: str) -> bytes:
    frames, fps, audio = faceswap.video_frames(data)
    return transforms.video_variant(frames, fps, audio, name)


# ------------------------------------------------------------------ voices


def libri_speakers() -> list[Path]:
    return sorted(p for p in (LIBRI / "test-other").iterdir() if p.is_dir())


def voice_enrollment(piper: list[np.ndarray]) -> dict[str, dict[str, bytes]]:
    """Each LibriSpeech reader's first 3 utterances, and the first 3 Piper sentences."""
    out = {f"libri-{d.name}": {f.name: f.read_bytes() for f in sorted(d.glob("*.flac"))[:VOICE_ENROLL]} for d in libri_speakers()}
    out[PIPER] = {f"sentence{k}.wav": wav(x) for k, x in enumerate(piper[: tts.ENROLL])}
    return out


def load_audio(path: Path) -> np.ndarray:
    from likeness_biometrics import decode_audio

    return decode_audio(path.read_bytes()).samples


def crowd() -> list[Path]:
    """The train-clean-100 readers (one utterance each), sorted by file name."""
    return sorted((LIBRI / "train-clean-100").glob("*.flac"), key=lambda p: p.name)


def impostor_files(plan: Plan) -> list[Path]:
    """The readers not enrolled; with a cohort (plan.cohort) only the odd positions: the even ones
    are the cohort, never probed (as bench/calibration)."""
    files = crowd()[1::2] if plan.cohort else crowd()
    return files[::12][:20] if plan.quick else files


def genuine_voices(plan: Plan, piper: list[np.ndarray]) -> list[tuple[str, str, str, Callable[[], np.ndarray]]]:
    """(source, label, talent, samples) for every genuine voice clip."""
    held = []
    for d in libri_speakers():
        for f in plan.take(sorted(d.glob("*.flac"))[VOICE_ENROLL:], 1):
            held.append(("LibriSpeech", f.name, f"libri-{d.name}", lambda f=f: load_audio(f)))
    for k, x in plan.take(list(enumerate(piper))[tts.ENROLL :], 3):
        held.append(("Piper TTS", f"sentence{k}", PIPER, lambda x=x: x))
    return held


def audio_cases(source: str, label: str, samples: Callable[[], np.ndarray], expected: str | None, seed: int) -> list[Case]:
    """The clip as it is (WAV) and after each audio transform."""
    cases = [Case(Modality.VOICE, source, "original", label, lambda: wav(samples()), expected)]
    for name, fn in transforms.AUDIO.items():
        cases.append(Case(Modality.VOICE, source, name, label, lambda fn=fn: wav(fn(samples(), seed)), expected))
    return cases


def voice_cases(plan: Plan, piper: list[np.ndarray]) -> list[Case]:
    """Genuine clips and impostor utterances, untouched, transformed, and genuine cameos."""
    genuine = genuine_voices(plan, piper)
    impostors = impostor_files(plan)
    cases = []
    for n, (source, label, talent, samples) in enumerate(genuine):
        cases += audio_cases(source, label, samples, talent, seed=n)
        narration = impostors[(7 * n) % len(impostors)]
        span = (CAMEO_AT_S + GAP_S, CAMEO_AT_S + GAP_S + CAMEO_S)
        make = lambda samples=samples, narration=narration: wav(cameo(samples(), load_audio(narration)))  # noqa: E731
        cases.append(Case(Modality.VOICE, source, "cameo", f"{label} in {narration.name}", make, talent, span))
    for n, path in enumerate(impostors):
        cases += audio_cases("LibriSpeech impostor", path.name, lambda path=path: load_audio(path), None, seed=1000 + n)
    return cases


def cameo(genuine: np.ndarray, narration: np.ndarray) -> np.ndarray:
    """CAMEO_S of the genuine clip's speech, level-matched, inside `narration` at CAMEO_AT_S with
    GAP_S of silence either side (a narration shorter than CAMEO_AT_S is padded with silence)."""
    from likeness_biometrics.voice import analyze_audio

    rate = transforms.RATE
    segments = analyze_audio(genuine).segments
    start = max(segments, key=lambda s: s[1] - s[0])[0] if segments else 0.0
    start = min(int(start * rate), max(0, len(genuine) - int(CAMEO_S * rate)))
    piece = genuine[start : start + int(CAMEO_S * rate)]
    piece = np.pad(piece, (0, int(CAMEO_S * rate) - len(piece)))
    level = np.sqrt(np.mean(narration**2)) / max(np.sqrt(np.mean(piece**2)), 1e-6)
    cut = int(CAMEO_AT_S * rate)
    head = np.pad(narration[:cut], (0, max(0, cut - len(narration))))
    gap = np.zeros(int(GAP_S * rate), np.float32)
    return np.concatenate([head, gap, np.clip(piece * level, -1, 1), gap, narration[cut:]]).astype(np.float32)
