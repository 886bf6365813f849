"""Who is enrolled and which clips are probed, read in place from ../shared/data (nothing is copied).

Faces: each identity in faces/ enrolled from one or two photos; every other photo of an enrolled
identity is a genuine clip, and each face of the group photos (labelled by hand, left to right) is
a probe of its own (None: a face of someone not enrolled, an impostor probe).
Voices: the 10 LibriSpeech test-other readers enrolled from their first VOICE_ENROLL_N utterances,
their other utterances genuine clips; the 251 train-clean-100 readers (one utterance each, never
enrolled) impostor clips. Media go to the service's functions as the files' own bytes (JPEG, PNG,
FLAC), as a platform would upload them."""

from __future__ import annotations

from pathlib import Path

from bench.robustness.harness import Case, Modality

FACE_ENROLL = {
    "obama": ["obama.jpg", "obama2.jpg"],
    "biden": ["biden.jpg"],
    "kit_harington": ["john1.jpeg", "john2.jpeg"],
    "rose_leslie": ["rose1.jpg"],
    "alex_lacamoire": ["alex1.png", "alex2.jpg"],
    "lin_manuel_miranda": ["lin1.png"],
}
# Group photos: identities of the faces from left to right (None: not enrolled).
GROUP_LABELS = {
    "two_people.jpg": ("obama", "biden"),
    "obama_and_biden.jpg": ("biden", "obama", None),
    "kit_with_rose.jpg": ("rose_leslie", "kit_harington"),
}
VOICE_ENROLL_N = 4

PHOTO, GROUP_FACE = "photo of an enrolled person", "face in a group photo"
HELD_OUT, NOT_ENROLLED = "test-other reader, held-out utterance", "train-clean-100 reader, not enrolled"


def _reader(path: Path):
    return path.read_bytes


def face_enrollment(data: Path) -> dict[str, dict[str, bytes]]:
    """talent -> {photo name: bytes} (one template per accepted photo)."""
    faces = data / "faces"
    return {talent: {n: (faces / talent / n).read_bytes() for n in names} for talent, names in FACE_ENROLL.items()}


def face_cases(data: Path) -> list[tuple[Case, tuple[str | None, ...] | None]]:
    """(case, labels): a photo judged whole (labels None), or a group photo whose faces are judged
    one by one with `labels` left to right."""
    faces = data / "faces"
    out: list[tuple[Case, tuple[str | None, ...] | None]] = []
    for talent, names in FACE_ENROLL.items():
        for path in sorted((faces / talent).iterdir()):
            if path.name not in names:
                out.append((Case(Modality.FACE, PHOTO, "original", f"{talent}/{path.name}", _reader(path), talent), None))
    for name, labels in GROUP_LABELS.items():
        path = faces / "group" / name
        out.append((Case(Modality.FACE, GROUP_FACE, "original", f"group/{name}", _reader(path), None), labels))
    return out


def other_photos(data: Path) -> list[Path]:
    """Every photo not used for enrollment (the enrollment rule is tried on each)."""
    dirs = sorted(p for p in (data / "faces").iterdir() if p.is_dir() and p.name != "video")
    return [p for d in dirs for p in sorted(d.iterdir()) if p.name not in FACE_ENROLL.get(d.name, [])]


def _libri(data: Path) -> Path:
    return data / "voices" / "librispeech"


def readers(data: Path) -> list[Path]:
    return sorted(p for p in (_libri(data) / "test-other").iterdir() if p.is_dir())


def voice_enrollment(data: Path) -> dict[str, dict[str, bytes]]:
    """reader -> {utterance name: FLAC bytes} of its first VOICE_ENROLL_N utterances."""
    return {d.name: {f.name: f.read_bytes() for f in sorted(d.glob("*.flac"))[:VOICE_ENROLL_N]} for d in readers(data)}


def voice_cases(data: Path) -> list[Case]:
    """The enrolled readers' other utterances (genuine), then one utterance per train-clean-100
    reader (impostors; files are <speaker>-<chapter>-<utterance>.flac)."""
    cases = [
        Case(Modality.VOICE, HELD_OUT, "original", f.name, _reader(f), d.name)
        for d in readers(data)
        for f in sorted(d.glob("*.flac"))[VOICE_ENROLL_N:]
    ]
    seen: set[str] = set()
    for f in sorted((_libri(data) / "train-clean-100").rglob("*.flac")):
        speaker = f.name.split("-")[0]
        if speaker not in seen:
            seen.add(speaker)
            cases.append(Case(Modality.VOICE, NOT_ENROLLED, "original", f.name, _reader(f), None))
    return cases
