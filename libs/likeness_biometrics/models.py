"""Model identity and the (lazy, once per process) model loaders.

Templates must be stored with `ModelInfo.name`/`version`: embeddings of different models (or model
versions) are not comparable. Heavy imports (dlib) happen only inside the loaders, so importing
this package costs a few milliseconds and no model memory: the gRPC process
can import the result types while only the worker processes load models.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ModelFormatError


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
# Resemblyzer's GE2E speaker encoder (pretrained.pt bundled in the resemblyzer 0.1.4 wheel, converted
# at setup to safetensors by scripts/convert_voice_weights.py: voice_weights_path()).
VOICE_MODEL = ModelInfo(
    modality="voice",
    name="resemblyzer-ge2e",
    version="0.1.4",
    dimension=256,
    metric="cosine",
)

# SHA-256 of every weight file a worker loads, checked before use (ModelFormatError otherwise): a
# changed file would silently make new templates incomparable with the stored ones. The loaders run
# once per process, so each file is hashed once per process: ~25 ms for the three (37 MB) on the
# 2-core EPYC VM, against ~650 ms to load the face models.
VOICE_WEIGHTS_FILE = f"{VOICE_MODEL.name}-{VOICE_MODEL.version}.safetensors"
WEIGHTS_SHA256 = {
    "shape_predictor_5_face_landmarks.dat": "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    "dlib_face_recognition_resnet_model_v1.dat": "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    VOICE_WEIGHTS_FILE: "295f10c3f630fc245efb3015bbf6461ff706d7ea0435a05a406ca3451b4b0bb1",
}
# Where the converted voice weights are, if not at voice_weights_path()'s default.
VOICE_WEIGHTS_ENV = "LIKENESS_VOICE_WEIGHTS"

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


def read_pinned(path: Path | str, sha256: str) -> bytes:
    """The file's bytes, once their SHA-256 equals the pinned one (ModelFormatError otherwise)."""
    data = Path(path).read_bytes()
    found = hashlib.sha256(data).hexdigest()
    if found != sha256:
        raise ModelFormatError(f"{path}: SHA-256 {found}, expected {sha256} (not the weights this package was pinned to)")
    return data


def load_face_models() -> FaceModels:
    global _face
    with _lock:
        if _face is None:
            import dlib

            from .face_net import FaceNet

            _check_version("face-recognition-models", FACE_MODEL.version)
            d = face_models_dir()
            landmarks, resnet = (d / name for name in ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat"))
            for path in (landmarks, resnet):
                read_pinned(path, WEIGHTS_SHA256[path.name])
            _face = FaceModels(
                detector=dlib.get_frontal_face_detector(),
                shape_predictor=dlib.shape_predictor(str(landmarks)),
                encoder=FaceNet(resnet),
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


def voice_weights_path() -> Path:
    """The GE2E weights as safetensors: $LIKENESS_VOICE_WEIGHTS, else <environment>/share/likeness/
    resemblyzer-ge2e-0.1.4.safetensors (sys.prefix: .venv here, /venv in the image), which `make
    setup` and the Dockerfile write from resemblyzer's pretrained.pt with scripts/convert_voice_weights.py
    (torch reads the pickle there, once; the workers have no torch)."""
    named = os.environ.get(VOICE_WEIGHTS_ENV)
    return Path(named) if named else Path(sys.prefix) / "share" / "likeness" / VOICE_WEIGHTS_FILE


def load_voice_encoder() -> Any:
    """The GE2E encoder (voice_net.VoiceNet: resemblyzer's weights, evaluated with numpy)."""
    global _voice
    with _lock:
        if _voice is None:
            from .voice_net import VoiceNet

            _check_version("resemblyzer", VOICE_MODEL.version)
            path = voice_weights_path()
            if not path.is_file():
                raise RuntimeError(f"{path} not found: run `make setup` (or scripts/convert_voice_weights.py {path})")
            _voice = VoiceNet(path)
        return _voice
