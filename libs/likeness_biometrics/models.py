"""Model identity and the (lazy, once per process) model loaders.

Templates must be stored with `ModelInfo.name`/`version`: embeddings of different models (or model
versions) are not comparable. Heavy imports (dlib) happen only inside the loaders, so importing
this package costs a few milliseconds and no model memory: the gRPC process
can import the result types while only the worker processes load models.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelInfo:
    modality: str  # "face" | "voice"
    name: str
    version: str
    dimension: int
    metric: str  # "euclidean" (lower is closer) | "cosine" (higher is closer)


# dlib's ResNet from the face_recognition_models 0.3.0 wheel (weights identical since 2017);
# faces found with dlib's HOG frontal detector, aligned with the 5-point shape predictor.
FACE_MODEL = ModelInfo(
    modality="face",
    name="dlib_face_recognition_resnet_model_v1",
    version="0.3.0",
    dimension=128,
    metric="euclidean",
)
# Resemblyzer's GE2E speaker encoder (pretrained.pt bundled in the resemblyzer 0.1.4 wheel).
VOICE_MODEL = ModelInfo(
    modality="voice",
    name="resemblyzer-ge2e",
    version="0.1.4",
    dimension=256,
    metric="cosine",
)

_lock = threading.Lock()
_face: FaceModels | None = None
_voice: Any = None


@dataclass
class FaceModels:
    detector: Any  # dlib.fhog_object_detector
    shape_predictor: Any  # dlib.shape_predictor (5 landmarks)
    encoder: Any  # face_net.FaceNet: dlib's ResNet weights, evaluated with numpy + BLAS


def _package_dir(name: str) -> Path:
    """Where an installed package lives, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{name} is not installed (see scripts/install-bio.sh)")
    return Path(next(iter(spec.submodule_search_locations)))


def face_models_dir() -> Path:
    """Folder of face_recognition_models' .dat files (its __init__ imports pkg_resources, which
    setuptools >= 82 no longer ships, hence no import)."""
    return _package_dir("face_recognition_models") / "models"


def _check_version(dist: str, expected: str) -> None:
    try:
        found = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(f"{dist} is not installed (see scripts/install-bio.sh)") from None
    if found != expected:
        raise RuntimeError(f"{dist} {found} installed, templates are tagged {expected}")


def load_face_models() -> FaceModels:
    global _face
    with _lock:
        if _face is None:
            import dlib

            from .face_net import FaceNet

            _check_version("face-recognition-models", FACE_MODEL.version)
            d = face_models_dir()
            _face = FaceModels(
                detector=dlib.get_frontal_face_detector(),
                shape_predictor=dlib.shape_predictor(str(d / "shape_predictor_5_face_landmarks.dat")),
                encoder=FaceNet(d / "dlib_face_recognition_resnet_model_v1.dat"),
            )
        return _face


def set_single_thread() -> None:
    """One BLAS thread for numpy (both networks run on it): workers run side by side, one per
    core, and more threads were slower here."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)  # numpy's OpenBLAS is loaded already: its env var came too late


def voice_model_path() -> Path:
    """resemblyzer's bundled pretrained.pt, found without importing resemblyzer (which imports
    torch and librosa: ~400 MiB that the numpy network does not need)."""
    return _package_dir("resemblyzer") / "pretrained.pt"


def load_voice_encoder() -> Any:
    """The GE2E encoder (voice_net.VoiceNet: resemblyzer's weights, evaluated with numpy)."""
    global _voice
    with _lock:
        if _voice is None:
            from .voice_net import VoiceNet

            _check_version("resemblyzer", VOICE_MODEL.version)
            _voice = VoiceNet(voice_model_path())
        return _voice
