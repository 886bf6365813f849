"""Frame sampling for videos and animated images, with an account of what was and was not seen.

The rule (the account, `FrameCoverage`, says how each sample was handled):

- **Grid.** Samples sit on a fixed grid, `video_fps` per second from the first frame (t = 0,
  1/fps, 2/fps ...). The sample at time g is the frame on screen at g: the last decoded frame whose
  time is <= g. Variable frame rates, held frames and animations with per-frame delays are sampled
  like constant-rate video.
- **Cuts.** Every decoded frame's luma is compared with the previous frame's on a coarse grid
  (about 64x36 points, read from the decoder's own plane: no conversion); a mean difference of
  `video_cut_change` or more is a shot cut, and the cut's first frame becomes a sample too, so a shot
  shorter than the grid step is still analysed (`video_max_cuts_per_s` on average, in bursts of a
  few: a strobe's cuts beyond that are counted and make the coverage incomplete).
- **Skips.** A sample is analysed unless it is provably unchanged since the last *analysed* frame
  (so slow drift accumulates and is caught): either it is that very decoded frame (`identical`),
  or no 8x8 window of its grey thumbnail (at most 256 px on the long side: a window is ~1/32 of the
  picture, ~60 px of a 1080p frame) differs from the analysed frame's by `video_block_change` or
  more on average (`unchanged`). A frame mean would let a face-sized change in a static shot pass
  unseen; the windowed maximum does not.
- **No caps, no quiet stops.** Every sample is handled; a packet that fails to decode is skipped and
  recorded (decoding goes on with the next one, up to `max_decode_errors`); a stream that ends
  more than `video_end_tolerance_s` before its declared duration is recorded as truncated. Over
  `max_video_seconds` is a MEDIA_TOO_LONG error, never a shorter analysis.

With `start_s` / `end_s` a sampler handles only the grid points (and cuts) in [start_s, end_s):
decoding seeks to the keyframe before `start_s` and stops after `end_s`, so workers splitting one
clip by time do not each decode all of it, and the samples of a split equal those of one pass (the
skip rule restarts at each range's first sample, which is always analysed).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageSequence

from .config import BioConfig
from .errors import MediaError, Reason
from .media import (
    MediaKind,
    decode_packet,
    expect,
    frame_delay_s,
    open_container,
    open_image,
    open_track,
    to_rgb,
    too_long,
    too_many_pixels,
    undecodable,
)

_EPS = 1e-6
CUT_GRID = (36, 64)  # luma points compared for cut detection (rows, columns)
THUMB_SIDE = 256  # long side of the grey thumbnail the skip rule compares
BLOCK = 8  # window side, in thumbnail pixels


@dataclass(frozen=True)
class VideoFrame:
    index: int  # ordinal of the decoded frame in the stream (0-based)
    timestamp_s: float
    rgb: np.ndarray  # HxWx3 uint8, upright, at most verify_image_side
    cut: bool = False  # sampled because a shot cut starts here (not on the grid)


@dataclass
class FrameCoverage:
    """What a sampler saw. Ranges of one clip merge with `merged` (counts add, lists concatenate)."""

    fps: float
    declared_s: float | None = None  # the stream's (or container's) declared duration
    decoded_s: float = 0.0  # end of the last decoded frame (its time plus its duration)
    frames_decoded: int = 0  # frames of the clip in this range
    frames_sampled: int = 0  # grid points and cut samples
    frames_analyzed: int = 0
    skipped_identical: int = 0  # the sample was the same decoded frame as the last analysed one
    skipped_unchanged: int = 0  # no 8x8 window changed by video_block_change or more
    cut_samples: int = 0
    cuts_unsampled: int = 0  # cuts past video_max_cuts_per_s
    covered_s: list[float] = field(default_factory=list)  # times of samples analysed or skipped by the rule
    analyzed_s: list[float] = field(default_factory=list)
    decode_errors: list[str] = field(default_factory=list)

    @classmethod
    def merged(cls, parts: list[FrameCoverage]) -> FrameCoverage:
        if not parts:
            raise ValueError("nothing to merge")
        out = cls(fps=parts[0].fps, declared_s=parts[0].declared_s)
        for p in parts:
            for name in ("frames_decoded", "frames_sampled", "frames_analyzed", "skipped_identical", "skipped_unchanged",
                         "cut_samples", "cuts_unsampled"):  # fmt: skip
                setattr(out, name, getattr(out, name) + getattr(p, name))
            out.decoded_s = max(out.decoded_s, p.decoded_s)
            out.covered_s += p.covered_s
            out.analyzed_s += p.analyzed_s
            out.decode_errors += p.decode_errors
        out.covered_s.sort()
        out.analyzed_s.sort()
        return out

    @property
    def duration_s(self) -> float:
        return max(self.decoded_s, self.declared_s or 0.0)

    def max_gap_s(self) -> float:
        """Longest stretch of the clip without a covered sample (from 0, between samples, to the end)."""
        return _max_gap(self.covered_s, self.decoded_s)

    def max_analyzed_gap_s(self) -> float:
        return _max_gap(self.analyzed_s, self.decoded_s)

    def truncated(self, tolerance_s: float) -> bool:
        return ends_early(self.declared_s, self.decoded_s, tolerance_s)


def ends_early(declared_s: float | None, decoded_s: float, tolerance_s: float) -> bool:
    """A track whose decoded content ends well before its declared duration (a cut-off upload, a
    broken index). open_track already turned an absent or absurd declaration into None."""
    return declared_s is not None and decoded_s + tolerance_s < declared_s


def _max_gap(times: list[float], end: float) -> float:
    if not times:
        return round(end, 3)
    points = [0.0, *times, max(end, times[-1])]
    return round(max(b - a for a, b in zip(points, points[1:])), 3)


def still_coverage() -> FrameCoverage:
    """A still image: one frame, analysed."""
    return FrameCoverage(fps=0.0, declared_s=0.0, frames_decoded=1, frames_sampled=1, frames_analyzed=1, covered_s=[0.0], analyzed_s=[0.0])


# --------------------------------------------------------------------------- change detection


def grey_thumb(rgb: np.ndarray) -> np.ndarray:
    """Grey picture at most THUMB_SIDE px on the long side (float32), for the skip rule."""
    h, w = rgb.shape[:2]
    s = min(1.0, THUMB_SIDE / max(h, w))
    im = Image.fromarray(rgb).convert("L")
    if s < 1.0:
        im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BOX)
    return np.asarray(im, dtype=np.float32)


def max_window_change(a: np.ndarray, b: np.ndarray, side: int = BLOCK) -> float:
    """The largest mean absolute difference over any side x side window (stride 1) of two grey
    thumbnails of one size: a face-sized change anywhere shows, however small the picture's share."""
    diff = np.abs(a.astype(np.float32) - b.astype(np.float32))
    h, w = diff.shape
    kh, kw = min(side, h), min(side, w)
    integral = np.zeros((h + 1, w + 1), np.float64)
    integral[1:, 1:] = diff.cumsum(0).cumsum(1)
    sums = integral[kh:, kw:] - integral[:-kh, kw:] - integral[kh:, :-kw] + integral[:-kh, :-kw]
    return float(sums.max()) / (kh * kw)


def _cut_points(luma: np.ndarray) -> np.ndarray:
    """About CUT_GRID points of a luma plane (strided view, no copy)."""
    h, w = luma.shape
    return luma[:: max(1, h // CUT_GRID[0]), :: max(1, w // CUT_GRID[1])][: CUT_GRID[0], : CUT_GRID[1]]


# ------------------------------------------------------------------------------- the sampler


@dataclass
class _Decoded:
    """One decoded frame as the sampler holds it until it knows how long it stays on screen."""

    index: int
    time_s: float
    duration_s: float
    luma_points: np.ndarray
    source: object  # what `to_rgb` turns into pixels (an av.VideoFrame or a PIL image)
    rgb: np.ndarray | None = None


class _Grid:
    """The sampling core, shared by video (PyAV) and animated images (Pillow): feed decoded frames in
    presentation order with `push`, then `finish`; `ready` holds the frames to analyse."""

    def __init__(self, config: BioConfig, start_s: float, end_s: float | None, to_rgb, coverage: FrameCoverage) -> None:
        self.config, self.start, self.end, self.to_rgb, self.cov = config, start_s, end_s, to_rgb, coverage
        self.step = 1.0 / config.video_fps
        self.k = max(0, math.ceil(start_s / self.step - 1e-9))  # next grid point: k * step
        self.prev: _Decoded | None = None
        self.last_analyzed: _Decoded | None = None
        self.last_thumb: np.ndarray | None = None
        # Cut samples draw from a token bucket: bursts of a few (a flash is two cuts in a row),
        # video_max_cuts_per_s on average; a cut finding the bucket empty is counted as unsampled.
        self.cut_tokens = self.cut_capacity = max(2.0, config.video_max_cuts_per_s)
        self.last_cut_s = 0.0
        self.ready: list[VideoFrame] = []

    def _in_range(self, t: float) -> bool:
        return t + _EPS >= self.start and (self.end is None or t + _EPS < self.end)

    def push(self, frame: _Decoded) -> bool:
        """Take the next decoded frame; False once past the range (stop decoding)."""
        prev = self.prev
        if prev is not None:
            frame.time_s = max(frame.time_s, prev.time_s)  # broken timestamps never run backwards here
            self._grid_until(prev, frame.time_s)
            cut = float(np.abs(frame.luma_points.astype(np.int16) - prev.luma_points.astype(np.int16)).mean()) >= self.config.video_cut_change
            if cut and self._in_range(frame.time_s):
                refill = (frame.time_s - self.last_cut_s) * self.config.video_max_cuts_per_s
                self.cut_tokens, self.last_cut_s = min(self.cut_capacity, self.cut_tokens + refill), frame.time_s
                if self.cut_tokens >= 1.0 - _EPS:
                    self.cut_tokens -= 1.0
                    self.cov.cut_samples += 1
                    self._sample(frame, frame.time_s, cut=True)
                else:
                    self.cov.cuts_unsampled += 1
        if self.end is not None and frame.time_s + _EPS >= self.end:
            return False
        if self._in_range(frame.time_s):
            self.cov.frames_decoded += 1
        self.cov.decoded_s = max(self.cov.decoded_s, frame.time_s + frame.duration_s)
        if prev is not None:
            prev.source = prev.rgb = None  # off screen now: let the decoder's buffer go
        self.prev = frame
        return True

    def finish(self) -> None:
        if self.prev is not None:
            self._grid_until(self.prev, self.prev.time_s + self.prev.duration_s)

    def _grid_until(self, frame: _Decoded, until: float) -> None:
        """Grid points in [frame.time_s, until) show `frame`."""
        while True:
            g = self.k * self.step
            if g + _EPS >= until or (self.end is not None and g + _EPS >= self.end):
                return
            self.k += 1
            if g + _EPS >= frame.time_s:  # (a grid point before the first frame has nothing on screen: a gap)
                self._sample(frame, g, cut=False)

    def _sample(self, frame: _Decoded, at: float, cut: bool) -> None:
        """The sample at time `at` shows `frame` (a grid point, or a cut's own time)."""
        cov = self.cov
        cov.frames_sampled += 1
        cov.covered_s.append(round(at, 3))  # analysed, or provably unchanged since the last analysed frame
        if frame is self.last_analyzed:
            cov.skipped_identical += 1
            return
        if frame.rgb is None:
            frame.rgb = self.to_rgb(frame.source)
        thumb = grey_thumb(frame.rgb)
        if (
            self.last_thumb is not None
            and thumb.shape == self.last_thumb.shape
            and max_window_change(thumb, self.last_thumb) < self.config.video_block_change
        ):
            cov.skipped_unchanged += 1
            return
        self.last_analyzed, self.last_thumb = frame, thumb
        cov.frames_analyzed += 1
        cov.analyzed_s.append(round(at, 3))
        self.ready.append(VideoFrame(index=frame.index, timestamp_s=round(frame.time_s, 3), rgb=frame.rgb, cut=cut))


class VideoSampler:
    """Iterate the frames to analyse; `coverage` is complete once the iteration ends.

        sampler = VideoSampler(data, config)
        for frame in sampler: ...
        sampler.coverage
    """

    def __init__(self, data: bytes, config: BioConfig, start_s: float = 0.0, end_s: float | None = None) -> None:
        if config.video_fps <= 0:
            raise ValueError("video_fps must be positive")
        self.data, self.config, self.start_s, self.end_s = data, config, start_s, end_s
        self.media_type = expect(data, (MediaKind.VIDEO, MediaKind.IMAGE), config)
        self.coverage = FrameCoverage(fps=config.video_fps)
        self.width = self.height = 0

    def __iter__(self) -> Iterator[VideoFrame]:
        if self.media_type.kind is MediaKind.IMAGE:
            yield from self._animation()
        else:
            yield from self._video()

    # ---------------------------------------------------------------------------- PyAV video

    def _video(self) -> Iterator[VideoFrame]:
        config, media_type = self.config, self.media_type
        limit = config.max_video_seconds
        container = open_container(self.data, media_type)
        try:
            stream, self.coverage.declared_s = open_track(container, "video", limit)
            w, h = stream.codec_context.width, stream.codec_context.height
            if w and h and w * h > config.max_image_pixels:
                raise too_many_pixels(w, h, config.max_image_pixels)
            rate = float(stream.average_rate) if stream.average_rate else 25.0
            first_t: float | None = None
            seeking = self.start_s > 0
            if seeking:
                first_t = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
                try:
                    container.seek(int((first_t + self.start_s) / stream.time_base), stream=stream, backward=True, any_frame=False)
                except Exception:  # av.FFmpegError...: not seekable; decode from the start instead (slower, same samples)
                    container.close()
                    container = open_container(self.data, media_type)
                    stream = container.streams.video[0]
            grid = _Grid(config, self.start_s, self.end_s, self._video_rgb, self.coverage)
            index = -1
            errors = self.coverage.decode_errors
            for packet in container.demux(stream):
                go_on = True
                for frame in decode_packet(packet, errors, first_t or 0.0):
                    index += 1
                    t = float(frame.time) if frame.time is not None else index / rate
                    if first_t is None:
                        first_t = t
                    t -= first_t
                    if t > limit + 1:
                        raise too_long(t, limit)
                    duration = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else 1.0 / rate
                    points = _cut_points(_luma(frame))
                    # After a seek the decoder's count starts anywhere: the ordinal comes from the time.
                    ordinal = round(t * rate) if seeking else index
                    go_on = grid.push(_Decoded(ordinal, t, duration, points, frame))
                    yield from _drain(grid)
                    if not go_on:
                        break
                if not go_on:
                    break
                if len(errors) >= config.max_decode_errors:
                    errors.append(f"stopped after {len(errors)} decode errors")
                    break
            else:
                grid.finish()
                yield from _drain(grid)
            if index < 0 and not seeking:  # not one frame: an error, not an empty analysis
                raise undecodable("video", format=media_type.format)
        finally:
            container.close()

    def _video_rgb(self, frame) -> np.ndarray:
        fw, fh = frame.width, frame.height
        s = min(1.0, self.config.verify_image_side / max(fw, fh))
        rgb = frame.to_ndarray(format="rgb24", width=max(1, round(fw * s)), height=max(1, round(fh * s)))
        k = round((getattr(frame, "rotation", 0) or 0) / 90) % 4
        if k:  # the display matrix rotates counter-clockwise by `rotation` degrees
            rgb = np.rot90(rgb, k)
        rgb = np.ascontiguousarray(rgb)
        self.height, self.width = rgb.shape[:2]
        return rgb

    # ----------------------------------------------------------------- Pillow animated images

    def _animation(self) -> Iterator[VideoFrame]:
        config, media_type = self.config, self.media_type
        im = open_image(self.data, media_type)
        try:
            w, h = im.size
            frames = int(getattr(im, "n_frames", 1) or 1)
            if w * h > config.max_image_pixels:
                raise too_many_pixels(w, h, config.max_image_pixels)
            if frames > config.max_animation_frames or w * h * frames > config.max_animation_pixels:
                raise MediaError(
                    f"animation of {frames} frames of {w}x{h}; the limits are {config.max_animation_frames} frames and "
                    f"{config.max_animation_pixels} pixels in all",
                    reason=Reason.MEDIA_TOO_LARGE,
                    metadata={"frames": str(frames), "width": str(w), "height": str(h)},
                )

            def rgb_of(image: Image.Image) -> np.ndarray:
                small = to_rgb(image)
                if max(small.size) > config.verify_image_side:
                    small = small.copy()
                    small.thumbnail((config.verify_image_side, config.verify_image_side), Image.Resampling.LANCZOS)
                arr = np.array(small, dtype=np.uint8)
                self.height, self.width = arr.shape[:2]
                return arr

            grid = _Grid(config, self.start_s, self.end_s, rgb_of, self.coverage)
            t = 0.0
            index = -1
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    for index, image in enumerate(ImageSequence.Iterator(im)):
                        duration = frame_delay_s(image.info)
                        if t > config.max_video_seconds + 1:
                            raise too_long(t, config.max_video_seconds)
                        copy = image.copy()  # the iterator reuses one image object
                        grey = np.asarray(copy.convert("L").resize((CUT_GRID[1], CUT_GRID[0]), Image.Resampling.BOX))
                        go_on = grid.push(_Decoded(index, t, duration, grey, copy))
                        yield from _drain(grid)
                        if not go_on:
                            break
                        t += duration
                    else:
                        grid.finish()
                        yield from _drain(grid)
            except MediaError:
                raise
            except Exception as exc:  # a damaged frame: the frames before it were handled
                if index <= 0:
                    raise undecodable("image", format=media_type.format) from exc
                self.coverage.decode_errors.append(f"{type(exc).__name__} at frame {index}")
                grid.finish()
                yield from _drain(grid)
            self.coverage.declared_s = round(t, 3)
        finally:
            im.close()


def _drain(grid: _Grid) -> Iterator[VideoFrame]:
    while grid.ready:
        yield grid.ready.pop(0)


# Luma planes read in place: 8-bit formats, and 16-bit little-endian ones with their depth.
_LUMA_8 = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p", "yuv411p",
                     "yuv410p", "yuva420p", "nv12", "nv21", "nv16", "gray"})  # fmt: skip
_LUMA_16 = {"yuv420p10le": 10, "yuv422p10le": 10, "yuv444p10le": 10, "yuv420p12le": 12, "yuv422p12le": 12, "yuv444p12le": 12,
            "p010le": 16, "gray10le": 10, "gray12le": 12, "gray16le": 16}  # fmt: skip


def _luma(frame) -> np.ndarray:
    """About CUT_GRID points of the frame's luma, read from the decoder's plane where its layout is
    known (no conversion of the whole frame), else from a small grey conversion."""
    name = frame.format.name
    plane = frame.planes[0] if name in _LUMA_8 or name in _LUMA_16 else None
    if plane is None:
        return frame.to_ndarray(format="gray", width=CUT_GRID[1], height=CUT_GRID[0])
    if name in _LUMA_8:
        arr = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: frame.height, : frame.width]
        return _cut_points(arr).copy()
    arr = np.frombuffer(plane, "<u2").reshape(-1, plane.line_size // 2)[: frame.height, : frame.width]
    return (_cut_points(arr) >> (_LUMA_16[name] - 8)).astype(np.uint8)
