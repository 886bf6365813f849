"""Face swaps as cheap deepfake tools make them, from dlib's 68 facial landmarks (the shape
predictor shipped in the `face_recognition_models` wheel) on both faces, in two styles:

- "mesh": the source face warped onto the target's landmarks triangle by triangle (one affine map
  per triangle of a Delaunay mesh over the 68 points), inside the hull of the target's landmarks.
  The eyes, nose, mouth and skin are the source's; their proportions and the outline are the
  target's: a weak swap.
- "similarity": the whole source picture rotated, scaled and moved onto the target's landmarks
  (least-squares similarity), inside the hull of the landmarks plus the forehead. The source face
  keeps its own proportions: a strong swap.

Both are blended into the target with OpenCV's Poisson blending (`cv2.seamlessClone`,
NORMAL_CLONE), which takes the target's lighting and skin tone at the seam. The likeness being
used is the source's: the registry should find the SWAPPED-IN identity."""

from __future__ import annotations

from functools import cache

import numpy as np

Frame = np.ndarray  # HxWx3 uint8 RGB
Points = np.ndarray  # 68x2 float32 (x, y)


@cache
def _models():
    import dlib
    import face_recognition_models

    return dlib.get_frontal_face_detector(), dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())


def landmarks(rgb: Frame, upsample: int = 1) -> list[Points]:
    """The 68 landmarks of every face dlib's HOG detector finds (`upsample` pyramid doublings),
    largest face first."""
    import dlib

    detector, predictor = _models()
    rects = sorted(detector(rgb, upsample), key=lambda r: -r.width() * r.height())
    out = []
    for r in rects:
        shape = predictor(rgb, dlib.rectangle(r.left(), r.top(), r.right(), r.bottom()))
        out.append(np.array([(p.x, p.y) for p in shape.parts()], np.float32))
    return out


def main_face(rgb: Frame, upsample: int = 1) -> Points:
    found = landmarks(rgb, upsample)
    if not found:
        raise ValueError("no face found for the swap")
    return found[0]


@cache
def _triangles() -> tuple[tuple[int, int, int], ...]:
    """Delaunay triangles over the 68 landmark indices, computed once on a mean-shaped face (the
    same mesh for every face keeps the triangles consistent between source and target)."""
    import cv2

    from tests.mediakit import face_photo

    rgb, _ = face_photo("obama", "obama.jpg")
    pts = main_face(rgb)
    x, y, w, h = cv2.boundingRect(pts.astype(np.int32))
    subdiv = cv2.Subdiv2D((x - 1, y - 1, w + 2, h + 2))
    for p in pts:
        subdiv.insert((float(p[0]), float(p[1])))
    index = {(round(float(p[0]), 1), round(float(p[1]), 1)): k for k, p in enumerate(pts)}
    tris = []
    for t in subdiv.getTriangleList():
        corners = [(round(float(t[i]), 1), round(float(t[i + 1]), 1)) for i in (0, 2, 4)]
        if all(c in index for c in corners):
            tris.append(tuple(index[c] for c in corners))
    return tuple(tris)


def _area(t: np.ndarray) -> float:
    (ax, ay), (bx, by), (cx, cy) = t.astype(np.float64)
    return abs((bx - ax) * (cy - ay) - (cx - ax) * (by - ay)) / 2


def _warp_triangle(src: Frame, out: Frame, s: np.ndarray, d: np.ndarray) -> None:
    """Warp triangle `s` of `src` onto triangle `d` of `out` (in place)."""
    import cv2

    if min(_area(s), _area(d)) < 1.0:  # degenerate (two landmarks on one pixel): a singular affine map
        return
    x, y, w, h = cv2.boundingRect(d.astype(np.float32))
    sx, sy, sw, sh = cv2.boundingRect(s.astype(np.float32))
    if w <= 0 or h <= 0 or sw <= 0 or sh <= 0:
        return
    m = cv2.getAffineTransform((s - (sx, sy)).astype(np.float32), (d - (x, y)).astype(np.float32))
    patch = cv2.warpAffine(src[sy : sy + sh, sx : sx + sw], m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    mask = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(mask, np.round(d - (x, y)).astype(np.int32), 1.0, cv2.LINE_AA)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(out.shape[1], x + w), min(out.shape[0], y + h)
    if x1 <= x0 or y1 <= y0:
        return
    region = out[y0:y1, x0:x1].astype(np.float32)
    m3 = mask[y0 - y : y1 - y, x0 - x : x1 - x, None]
    out[y0:y1, x0:x1] = (region * (1 - m3) + patch[y0 - y : y1 - y, x0 - x : x1 - x] * m3).astype(np.uint8)


def _mesh_warp(source: Frame, src: Points, target: Frame, dst: Points) -> Frame:
    """The source face warped triangle by triangle onto the target's landmarks (target geometry)."""
    warped = target.copy()
    for a, b, c in _triangles():
        _warp_triangle(source, warped, src[[a, b, c]], dst[[a, b, c]])
    return warped


def _similarity_warp(source: Frame, src: Points, target: Frame, dst: Points) -> Frame:
    """The whole source picture rotated, scaled and moved so its landmarks best fit the target's
    (least squares): the source face keeps its own proportions."""
    import cv2

    m, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    h, w = target.shape[:2]
    return cv2.warpAffine(source, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def _forehead(pts: Points) -> Points:
    """The eyebrow points raised by a third of the brow-to-chin height: the forehead, which the 68
    landmarks leave out."""
    brows = pts[17:27]
    up = brows.mean(axis=0) - pts[8]
    return brows + up * (1 / 3)


WARPS = {"mesh": _mesh_warp, "similarity": _similarity_warp}


def swap(source: Frame, source_pts: Points, target: Frame, target_pts: Points, warp: str = "mesh") -> Frame:
    """`target` with the face at `target_pts` replaced by the face of `source` at `source_pts`,
    warped by `warp` ("mesh" or "similarity", see WARPS) and Poisson-blended."""
    import cv2

    h, w = target.shape[:2]
    src = np.clip(source_pts, 0, [source.shape[1] - 1, source.shape[0] - 1]).astype(np.float32)
    dst = np.clip(target_pts, 0, [w - 2, h - 2]).astype(np.float32)  # keep the hull off the border
    warped = WARPS[warp](source, src, target, dst)
    outline = dst if warp == "mesh" else np.concatenate([dst, _forehead(dst)])
    hull = cv2.convexHull(np.round(np.clip(outline, 1, [w - 2, h - 2])).astype(np.int32))
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, hull, 255)
    mask[[0, -1], :] = 0
    mask[:, [0, -1]] = 0
    x, y, bw, bh = cv2.boundingRect(hull)
    center = (x + bw // 2, y + bh // 2)
    return cv2.seamlessClone(warped, target, mask, center, cv2.NORMAL_CLONE)


def swap_photo(source: Frame, target: Frame, warp: str = "mesh") -> Frame:
    """The largest face of `source` swapped onto the largest face of `target`."""
    return swap(source, main_face(source), target, main_face(target), warp)


def frame_landmarks(frames: list[Frame]) -> list[Points | None]:
    """The largest face's landmarks in each frame (None where no face is found): found once per
    clip, then reused for every source face swapped in."""
    marks = []
    for frame in frames:
        found = landmarks(frame, 1)
        marks.append(found[0] if found else None)
    return marks


def swap_frames(source: Frame, frames: list[Frame], marks: list[Points | None], warp: str = "mesh") -> list[Frame]:
    """Every frame with its largest face replaced by the largest face of `source`; frames where no
    face was found pass unchanged."""
    src_pts = main_face(source)
    return [swap(source, src_pts, f, m, warp) if m is not None else f for f, m in zip(frames, marks, strict=True)]


def video_frames(data: bytes) -> tuple[list[Frame], float, np.ndarray | None]:
    """The RGB frames, frame rate and 16 kHz mono audio (None without sound) of a video."""
    import io

    import av

    from likeness_biometrics import decode_audio
    from likeness_biometrics.media import probe_streams

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 25)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    audio = decode_audio(data).samples if probe_streams(data).audio else None
    return frames, fps, audio
