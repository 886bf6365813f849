"""Media built in memory from ../shared/data for tests and benchmarks (bench/robustness imports it
too): faces pasted at a chosen size into scenes, videos with or without sound in any container
PyAV writes, animated images, mixed audio. Nothing here is written to the repository."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from functools import cache

import numpy as np
from PIL import Image

from tests.conftest import shared_data

Frame = np.ndarray  # HxWx3 uint8 RGB


@cache
def face_photo(*parts: str) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A photo of ../shared/data/faces and its largest face's box (top, right, bottom, left), by
    dlib's HOG detector with one upsampling (the same detector the service uses)."""
    import dlib

    rgb = np.asarray(Image.open(shared_data("faces", *parts)).convert("RGB"))
    rects = dlib.get_frontal_face_detector()(rgb, 1)
    if not rects:
        raise ValueError(f"no face in {parts}")
    r = max(rects, key=lambda r: r.width() * r.height())
    return rgb, (max(0, r.top()), min(rgb.shape[1], r.right()), min(rgb.shape[0], r.bottom()), max(0, r.left()))


def face_patch(parts: Sequence[str], face_px: int, margin: float = 0.6) -> np.ndarray:
    """The photo's face and `margin` of its width around it, scaled so the face box is `face_px` wide."""
    rgb, (top, right, bottom, left) = face_photo(*parts)
    w, h = right - left, bottom - top
    pad_x, pad_y = int(w * margin), int(h * margin)
    crop = rgb[max(0, top - pad_y) : bottom + pad_y, max(0, left - pad_x) : right + pad_x]
    s = face_px / w
    size = (max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s)))
    return np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.LANCZOS))


def scene(width: int, height: int, seed: int = 0) -> Frame:
    """A textured, face-free background (smooth gradients and soft blobs), the same for a seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([80 + 60 * np.sin(x / (90 + 30 * c) + c) + 40 * np.cos(y / (70 + 20 * c)) for c in range(3)], axis=-1)
    for _ in range(12):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(20, max(40, width / 8))
        img += (rng.uniform(-40, 40, 3) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))[..., None]).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def paste(background: Frame, patch: np.ndarray, center: tuple[int, int]) -> Frame:
    """`patch` pasted with its centre at (x, y), clipped to the picture."""
    out = background.copy()
    h, w = patch.shape[:2]
    x0, y0 = center[0] - w // 2, center[1] - h // 2
    bx0, by0 = max(0, x0), max(0, y0)
    bx1, by1 = min(out.shape[1], x0 + w), min(out.shape[0], y0 + h)
    out[by0:by1, bx0:bx1] = patch[by0 - y0 : by1 - y0, bx0 - x0 : bx1 - x0]
    return out


def encode_video(
    frames: Iterable[Frame] | Callable[[int], Frame],
    *,
    fps: float = 25,
    count: int | None = None,
    fmt: str = "mp4",
    codec: str = "libx264",
    audio: np.ndarray | None = None,
    audio_codec: str = "aac",
    options: dict[str, str] | None = None,
    rotate: int = 0,
    container_options: dict[str, str] | None = None,
) -> bytes:
    """A video from RGB frames (an iterable, or a function of the frame number with `count`), with an
    optional mono 16 kHz float audio track. `rotate` writes a display matrix (degrees);
    `container_options` go to the muxer (e.g. movflags=frag_keyframe+empty_moov: a fragmented MP4)."""
    import av

    source = (frames(i) for i in range(count or 0)) if callable(frames) else iter(frames)
    first = next(source)
    h, w = first.shape[:2]
    buf = io.BytesIO()
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(buf, "w", format=fmt, options=container_options or {}) as out:
        video = out.add_stream(codec, rate=rate)
        video.width, video.height = w - w % 2, h - h % 2
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "veryfast", **(options or {})} if codec == "libx264" else dict(options or {})
        if rotate:  # a display matrix, as phones write: `rotate` degrees counter-clockwise to show it upright
            video.set_display_rotation(rotate)
        sound = None
        if audio is not None:
            sound = out.add_stream(audio_codec, rate=48000 if audio_codec in ("libopus", "opus") else 44100)
            sound.layout = "mono"
        n = 0
        for img in _chain(first, source):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[: video.height, : video.width]), format="rgb24")
            frame.pts, frame.time_base = n, 1 / rate
            for packet in video.encode(frame):
                out.mux(packet)
            n += 1
        for packet in video.encode(None):
            out.mux(packet)
        if sound is not None:
            resampler = av.AudioResampler(format=sound.format.name, layout="mono", rate=sound.rate)
            chunk = 16000
            for start in range(0, len(audio), chunk):
                piece = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[start : start + chunk], np.float32).reshape(1, -1),
                                                   format="flt", layout="mono")  # fmt: skip
                piece.sample_rate, piece.pts, piece.time_base = 16000, start, Fraction(1, 16000)
                for f in resampler.resample(piece):
                    for packet in sound.encode(f):
                        out.mux(packet)
            for f in resampler.resample(None):
                for packet in sound.encode(f):
                    out.mux(packet)
            for packet in sound.encode(None):
                out.mux(packet)
    return buf.getvalue()


def _chain(first: Frame, rest: Iterable[Frame]) -> Iterable[Frame]:
    yield first
    yield from rest


def animated(frames: Sequence[Frame], durations_ms: Sequence[int] | int, fmt: str = "GIF") -> bytes:
    """An animated GIF, APNG ("PNG") or WebP from RGB frames."""
    images = [Image.fromarray(f) for f in frames]
    durations = list(durations_ms) if isinstance(durations_ms, Sequence) else [durations_ms] * len(images)
    buf = io.BytesIO()
    extra = {"lossless": False, "quality": 85} if fmt == "WEBP" else {}
    images[0].save(buf, format=fmt, save_all=True, append_images=images[1:], duration=durations, loop=0, **extra)
    return buf.getvalue()


def still(img: Frame, fmt: str = "JPEG", **kw) -> bytes:
    buf = io.BytesIO()
    if fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    Image.fromarray(img).save(buf, format=fmt, **kw)
    return buf.getvalue()


def wav(samples: np.ndarray, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return out.getvalue()


def speech(speaker: str, index: int, split: str = "test-other") -> np.ndarray:
    """One LibriSpeech utterance as 16 kHz mono float32."""
    from likeness_biometrics import decode_audio

    folder = shared_data("voices", "librispeech", split, speaker)
    files = sorted(folder.glob("*.flac")) if folder.is_dir() else sorted(shared_data("voices", "librispeech", split).glob(f"{speaker}*.flac"))
    return decode_audio(files[index].read_bytes()).samples


def noise(seconds: float, level: float = 0.003, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).normal(0, level, int(seconds * 16000))).astype(np.float32)
