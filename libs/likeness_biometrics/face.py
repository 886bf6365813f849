"""Face detection and 128-d encodings with dlib, called directly.

Detector: dlib's HOG frontal face detector, no upsampling by default (upsampling finds false faces
in badges and patches, and the smallest face it finds without it is ~73 px). Alignment: the
5-landmark shape predictor; encoding: dlib_face_recognition_resnet_model_v1, both from the
face_recognition_models wheel, the ResNet evaluated with numpy (face_net.py: dlib's own weights,
the same numbers ~6x faster than the BLAS-less dlib wheel). This is what
face_recognition.face_encodings(model="small") does, minus that package (its import sets PIL's
LOAD_TRUNCATED_IMAGES globally, loads a CNN detector we do not use, and needs the source-built
`dlib` distribution rather than `dlib-bin`).

Distance: Euclidean between encodings; same person ~0.3-0.45, different people ~0.65-0.9 on the
test photos; the usual tolerance is 0.6 (see bench/accuracy).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import BioConfig
from .errors import Reason, SampleRejected
from .face_net import CHIP_PADDING, CHIP_SIZE
from .models import FACE_MODEL, FaceModels, load_face_models

_DEFAULT = BioConfig()


@dataclass(frozen=True)
class FaceBox:
    """Pixel box in the analysed image, clipped to it: [left, right) x [top, bottom)."""

    top: int
    right: int
    bottom: int
    left: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)


@dataclass(frozen=True)
class DetectedFace:
    box: FaceBox
    encoding: np.ndarray  # (128,) float32
    detection_score: float  # HOG SVM margin; > 0 detected, ~2 is a clear frontal face
    quality: float  # 0..1, see face_quality
    quality_factors: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FaceEnrollmentResult:
    encoding: np.ndarray  # (128,) float32
    box: FaceBox
    quality: float
    quality_factors: dict[str, float]
    detection_score: float
    faces_detected: int  # including smaller background faces that were ignored
    image_width: int  # of the analysed (possibly downscaled) image
    image_height: int
    model_name: str = FACE_MODEL.name
    model_version: str = FACE_MODEL.version


def face_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64)))


def face_distances(known: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """Distances of `probe` (128,) to each row of `known` (N, 128)."""
    known = np.asarray(known, np.float64).reshape(-1, FACE_MODEL.dimension)
    return np.linalg.norm(known - np.asarray(probe, np.float64), axis=1)


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB array, got shape {rgb.shape}")
    if rgb.dtype != np.uint8 or not rgb.flags.c_contiguous:
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    return rgb


def _detect(models: FaceModels, rgb: np.ndarray, upsample: int):
    rects, scores, _kinds = models.detector.run(rgb, upsample, 0.0)
    return list(zip(rects, scores))


def _clip_box(rect, h: int, w: int) -> FaceBox:
    return FaceBox(
        top=max(0, rect.top()),
        right=min(w, rect.right() + 1),
        bottom=min(h, rect.bottom() + 1),
        left=max(0, rect.left()),
    )


def face_quality(rgb: np.ndarray, rect, shape, score: float) -> tuple[float, dict[str, float]]:
    """Quality in [0, 1]: the product of factors, each in [0, 1]:
    size (face side / 160 px), in_frame (share of the detector box inside the image),
    sharpness (variance of a Laplacian of the grey face crop), exposure (mean and spread of
    brightness), frontal (nose position between the eyes, from the 5 landmarks) and
    detection (HOG margin / 1.0)."""
    h, w = rgb.shape[:2]
    side = float(min(rect.width(), rect.height()))
    box = _clip_box(rect, h, w)
    full = max(1.0, float(rect.width() * rect.height()))
    in_frame = box.area / full
    crop = rgb[box.top : box.bottom, box.left : box.right].astype(np.float32)
    grey = crop @ np.array([0.299, 0.587, 0.114], np.float32) if crop.size else np.zeros((1, 1))
    if grey.shape[0] >= 3 and grey.shape[1] >= 3:
        lap = grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] - 4 * grey[1:-1, 1:-1]
        # Normalise for size: a bigger crop of the same face has smoother neighbours.
        sharp_raw = float(lap.var()) * (side / 150.0) ** 2
    else:
        sharp_raw = 0.0
    mean = float(grey.mean())
    spread = float(grey.std())
    exposure = min(1.0, max(0.0, 1.0 - abs(mean - 128.0) / 110.0) * 1.6) * min(1.0, spread / 25.0)
    # 5-point model: 0,1 = right eye corners, 2,3 = left eye corners, 4 = bottom of the nose.
    pts = np.array([[shape.part(i).x, shape.part(i).y] for i in range(shape.num_parts)], np.float64)
    eye_a = pts[0:2].mean(axis=0)
    eye_b = pts[2:4].mean(axis=0)
    nose = pts[4]
    inter = float(np.linalg.norm(eye_a - eye_b))
    if inter > 1e-6:
        axis = (eye_b - eye_a) / inter
        # Nose offset along the eye axis from the eye midpoint, as a share of the eye distance:
        # 0 frontal, ~0.5 at a strong profile.
        yaw = abs(float(np.dot(nose - (eye_a + eye_b) / 2, axis))) / inter
        frontal = min(1.0, max(0.0, 1.0 - max(0.0, yaw - 0.08) / 0.4))
    else:
        frontal = 0.0
    factors = {
        "size": min(1.0, side / 160.0),
        "in_frame": round(in_frame, 4),
        "sharpness": min(1.0, sharp_raw / 60.0),
        "exposure": exposure,
        "frontal": frontal,
        "detection": min(1.0, max(0.0, score) / 1.0),
    }
    factors = {k: round(float(v), 4) for k, v in factors.items()}
    quality = float(np.prod(list(factors.values())))
    return round(quality, 4), factors


def _encode(models: FaceModels, rgb: np.ndarray, shapes: list) -> list[np.ndarray]:
    if not shapes:
        return []
    import dlib

    chips = np.stack([dlib.get_face_chip(rgb, s, size=CHIP_SIZE, padding=CHIP_PADDING) for s in shapes])
    return list(models.encoder(chips))


def faces_in_frame(
    rgb: np.ndarray, config: BioConfig = _DEFAULT, models: FaceModels | None = None, min_face_px: float | None = None
) -> list[DetectedFace]:
    """Every face found (largest first), each with its encoding: for verification.

    With `min_face_px`, BlazeFace proposals down to that width, each confirmed by dlib's HOG
    detector on a rescaled crop (blaze.py: small faces); without, dlib's HOG detector on the
    picture as it is (faces from ~73 px)."""
    models = models or load_face_models()
    rgb = _as_rgb(rgb)
    h, w = rgb.shape[:2]
    if min_face_px is not None:
        from .blaze import confirm, load_blaze

        found = confirm(models.detector, rgb, load_blaze(config.detector_threads).detect(rgb, min_face_px))
    else:
        found = _detect(models, rgb, config.face_upsample)
    found.sort(key=lambda rs: rs[0].width() * rs[0].height(), reverse=True)
    shapes = [models.shape_predictor(rgb, r) for r, _ in found]
    encodings = _encode(models, rgb, shapes)
    faces = []
    for (rect, score), shape, enc in zip(found, shapes, encodings):
        quality, factors = face_quality(rgb, rect, shape, score)
        faces.append(DetectedFace(_clip_box(rect, h, w), enc, round(float(score), 4), quality, factors))
    return faces


def analyze_enrollment_image(
    rgb: np.ndarray, config: BioConfig = _DEFAULT, models: FaceModels | None = None
) -> FaceEnrollmentResult:
    """One dominant face, large enough: its encoding, box and quality.

    Raises SampleRejected with reason NO_FACE, FACE_TOO_SMALL (the face box's shorter side is
    under config.min_face_px, or a face shows up only when the image is upsampled) or
    MULTIPLE_FACES (the second-largest face has >= config.multiple_faces_area_ratio of the
    largest one's area)."""
    models = models or load_face_models()
    rgb = _as_rgb(rgb)
    h, w = rgb.shape[:2]
    found = _detect(models, rgb, config.face_upsample)
    if not found:
        # Tell "too small" from "none": faces under ~73 px appear only on an upsampled image.
        if config.face_upsample == 0 and max(h, w) <= 2048 and _detect(models, rgb, 1):
            raise SampleRejected(
                "the face is too small; use a closer photo",
                reason=Reason.FACE_TOO_SMALL,
                metadata={"min_face_px": str(config.min_face_px)},
            )
        raise SampleRejected("no face found in the image", reason=Reason.NO_FACE)
    found.sort(key=lambda rs: rs[0].width() * rs[0].height(), reverse=True)
    rect, score = found[0]
    area = float(rect.width() * rect.height())
    if len(found) > 1:
        second = float(found[1][0].width() * found[1][0].height())
        if second >= config.multiple_faces_area_ratio * area:
            raise SampleRejected(
                f"{len(found)} faces of similar size; enroll with photos showing only the talent",
                reason=Reason.MULTIPLE_FACES,
                metadata={"faces": str(len(found))},
            )
    side = min(rect.width(), rect.height())
    if side < config.min_face_px:
        raise SampleRejected(
            f"the face is {side} px, at least {config.min_face_px} px are needed; use a closer or larger photo",
            reason=Reason.FACE_TOO_SMALL,
            metadata={"face_px": str(side), "min_face_px": str(config.min_face_px)},
        )
    shape = models.shape_predictor(rgb, rect)
    (encoding,) = _encode(models, rgb, [shape])
    quality, factors = face_quality(rgb, rect, shape, score)
    return FaceEnrollmentResult(
        encoding=encoding,
        box=_clip_box(rect, h, w),
        quality=quality,
        quality_factors=factors,
        detection_score=round(float(score), 4),
        faces_detected=len(found),
        image_width=w,
        image_height=h,
    )
