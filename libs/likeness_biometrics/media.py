"""Media decoding: sniff the type from the bytes, decode images (Pillow), audio and video (PyAV).

Supported: JPEG, PNG, WebP images; WAV, FLAC, MP3, Ogg (Opus/Vorbis) audio; MP4, MOV, WebM video
(whose audio track `decode_audio` also reads). Recognised but unsupported types (GIF, BMP, TIFF,
HEIC/AVIF, PDF, AVI, Matroska...) raise UNSUPPORTED_MEDIA_TYPE; bytes that match no known signature
or fail to decode raise UNDECODABLE_MEDIA. Limits (bytes, pixels, seconds) raise MEDIA_TOO_LARGE /
MEDIA_TOO_LONG before the expensive work where the header allows it.

Nothing here keeps or logs the media.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .config import BioConfig
from .errors import MediaError, Reason

SAMPLE_RATE = 16_000

_DEFAULT = BioConfig()


class MediaKind(str, Enum):
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"


@dataclass(frozen=True)
class MediaType:
    kind: MediaKind
    format: str  # jpeg png webp | wav flac mp3 ogg | mp4 mov webm
    mime: str


_TYPES = {
    "jpeg": MediaType(MediaKind.IMAGE, "jpeg", "image/jpeg"),
    "png": MediaType(MediaKind.IMAGE, "png", "image/png"),
    "webp": MediaType(MediaKind.IMAGE, "webp", "image/webp"),
    "wav": MediaType(MediaKind.AUDIO, "wav", "audio/wav"),
    "flac": MediaType(MediaKind.AUDIO, "flac", "audio/flac"),
    "mp3": MediaType(MediaKind.AUDIO, "mp3", "audio/mpeg"),
    "ogg": MediaType(MediaKind.AUDIO, "ogg", "audio/ogg"),
    "mp4": MediaType(MediaKind.VIDEO, "mp4", "video/mp4"),
    "mov": MediaType(MediaKind.VIDEO, "mov", "video/quicktime"),
    "webm": MediaType(MediaKind.VIDEO, "webm", "video/webm"),
}
SUPPORTED_MIME_TYPES = frozenset(t.mime for t in _TYPES.values())

_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}


def _undecodable(what: str, **meta: str) -> MediaError:
    return MediaError(f"could not decode the {what}", reason=Reason.UNDECODABLE_MEDIA, metadata=meta)


def _unsupported(detected: str) -> MediaError:
    supported = ", ".join(sorted(_TYPES))
    return MediaError(
        f"unsupported media type {detected}; supported: {supported}",
        reason=Reason.UNSUPPORTED_MEDIA_TYPE,
        metadata={"detected": detected},
    )


def _mp3_frame_header(b: bytes) -> bool:
    if len(b) < 4 or b[0] != 0xFF or (b[1] & 0xE0) != 0xE0:
        return False
    version = (b[1] >> 3) & 0x3
    layer = (b[1] >> 1) & 0x3
    bitrate = b[2] >> 4
    rate = (b[2] >> 2) & 0x3
    return version != 1 and layer == 1 and bitrate not in (0, 15) and rate != 3


def _id3_skip(data: bytes) -> int:
    """Offset after an ID3v2 tag at the start (0 if none)."""
    if len(data) >= 10 and data[:3] == b"ID3":
        size = (data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F)
        return 10 + size + (10 if data[5] & 0x10 else 0)
    return 0


def sniff(data: bytes) -> MediaType:
    """Media type from the leading bytes (never from a client-declared type)."""
    if not data:
        raise MediaError("empty media", reason=Reason.UNDECODABLE_MEDIA)
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return _TYPES["jpeg"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _TYPES["png"]
    if head[:4] in (b"RIFF", b"RF64") and len(head) >= 12:
        sub = head[8:12]
        if sub == b"WEBP":
            return _TYPES["webp"]
        if sub == b"WAVE":
            return _TYPES["wav"]
        if sub == b"AVI ":
            raise _unsupported("avi")
        raise _undecodable("media")
    if head.startswith(b"fLaC"):
        return _TYPES["flac"]
    if head.startswith(b"OggS"):
        page = data[:512]
        if b"OpusHead" in page or b"\x01vorbis" in page:
            return _TYPES["ogg"]
        raise _unsupported("ogg-video" if b"theora" in page else "ogg")
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM or Matroska
        if b"webm" in data[:64]:
            return _TYPES["webm"]
        raise _unsupported("matroska")
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return _TYPES["mov"]
        if brand in (
            b"heic",
            b"heix",
            b"mif1",
            b"msf1",
            b"heim",
            b"heis",
            b"hevc",
            b"avif",
            b"avis",
        ):
            raise _unsupported("heif/avif")
        return _TYPES["mp4"]
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return _TYPES["mov"]
    off = _id3_skip(data)
    if off:  # ID3-tagged: FLAC if a FLAC stream follows, else MP3 (the decoder has the last word)
        return _TYPES["flac"] if data[off : off + 4] == b"fLaC" else _TYPES["mp3"]
    if _mp3_frame_header(head):
        return _TYPES["mp3"]
    for magic, name in (
        (b"GIF87a", "gif"),
        (b"GIF89a", "gif"),
        (b"BM", "bmp"),
        (b"II*\x00", "tiff"),
        (b"MM\x00*", "tiff"),
        (b"%PDF", "pdf"),
        (b"\x00\x00\x01\x00", "ico"),
        (b"8BPS", "psd"),
        (b"\xff\x0a", "jpeg-xl"),
        (b"\x00\x00\x00\x0cJXL ", "jpeg-xl"),
    ):
        if head.startswith(magic):
            raise _unsupported(name)
    raise _undecodable("media")


def _check_bytes(data: bytes, config: BioConfig) -> None:
    if len(data) > config.max_input_bytes:
        raise MediaError(
            f"media is {len(data)} bytes, the limit is {config.max_input_bytes}",
            reason=Reason.MEDIA_TOO_LARGE,
            metadata={"bytes": str(len(data)), "limit": str(config.max_input_bytes)},
        )


def _expect(data: bytes, kinds: tuple[MediaKind, ...], config: BioConfig) -> MediaType:
    _check_bytes(data, config)
    media_type = sniff(data)
    if media_type.kind not in kinds:
        wanted = " or ".join(k.value for k in kinds)
        raise MediaError(
            f"expected {wanted}, got {media_type.kind.value} ({media_type.format})",
            reason=Reason.UNSUPPORTED_MEDIA_TYPE,
            metadata={"detected": media_type.format},
        )
    return media_type


# --------------------------------------------------------------------------------------- images


@dataclass(frozen=True)
class DecodedImage:
    rgb: np.ndarray  # HxWx3 uint8, C-contiguous, upright (EXIF applied), at most max_image_side
    format: str
    original_width: int  # after EXIF orientation, before downscaling
    original_height: int
    scale: float  # rgb size / original size (<= 1)


def _too_many_pixels(width: int, height: int, limit: int) -> MediaError:
    return MediaError(
        f"image is {width}x{height} pixels, the limit is {limit} pixels",
        reason=Reason.MEDIA_TOO_LARGE,
        metadata={"width": str(width), "height": str(height), "limit": str(limit)},
    )


def _to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB: alpha composited on white, 16/32-bit grey rescaled, palette/CMYK converted."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        if mode == "I" or mode == "F":
            top = float(arr.max()) if arr.size else 0.0
            div = 257.0 if top > 255 else 1.0  # 16-bit PNGs open as "I" on some Pillow versions
        else:
            div = 257.0
        grey = np.clip(np.rint(arr / div), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "La", "RGBa", "PA") or (mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def decode_image(data: bytes, config: BioConfig = _DEFAULT) -> DecodedImage:
    """Decode a JPEG/PNG/WebP into an upright 8-bit RGB array no larger than max_image_side."""
    media_type = _expect(data, (MediaKind.IMAGE,), config)
    limit = config.max_image_pixels
    try:
        with warnings.catch_warnings():
            # Our own pixel check below is the limit; Pillow still refuses > 2 * MAX_IMAGE_PIXELS
            # (~179 MP) at open time, which surfaces as the same MEDIA_TOO_LARGE.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[media_type.format]])
    except Image.DecompressionBombError:
        raise MediaError(
            f"image exceeds the pixel limit of {limit} pixels",
            reason=Reason.MEDIA_TOO_LARGE,
            metadata={"limit": str(limit)},
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise _undecodable("image", format=media_type.format) from exc
    try:
        width, height = im.size
        if width <= 0 or height <= 0:
            raise _undecodable("image", format=media_type.format)
        if width * height > limit:
            raise _too_many_pixels(width, height, limit)
        max_side = config.max_image_side
        if im.format == "JPEG" and max(width, height) > max_side:
            # Decode at a reduced DCT scale (1/2, 1/4, 1/8) no smaller than the target.
            s = max_side / max(width, height)
            im.draft("RGB", (math.ceil(width * s), math.ceil(height * s)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "truncated EXIF", "palette with transparency"...
            im.load()
            try:
                upright = ImageOps.exif_transpose(im)
            except Exception:  # a broken EXIF block must not lose the picture
                upright = im
            rgb = _to_rgb(upright)
        # Original dimensions as displayed (EXIF orientation may swap them).
        if upright.size != im.size:  # rotated by 90/270 degrees
            width, height = height, width
        if max(rgb.size) > max_side:
            rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
        arr = np.array(rgb, dtype=np.uint8)  # owned, writable, C-contiguous
    except MediaError:
        raise
    except (
        OSError,
        ValueError,
        SyntaxError,
        EOFError,
        MemoryError,
        Image.DecompressionBombError,
    ) as exc:
        raise _undecodable("image", format=media_type.format) from exc
    finally:
        im.close()
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.size == 0:
        raise _undecodable("image", format=media_type.format)
    return DecodedImage(
        rgb=arr,
        format=media_type.format,
        original_width=width,
        original_height=height,
        scale=arr.shape[1] / width,
    )


# ---------------------------------------------------------------------------------- audio/video


def _open_container(data: bytes, media_type: MediaType):
    import av

    try:
        return av.open(io.BytesIO(data), mode="r")
    except Exception as exc:  # av.FFmpegError, UnicodeDecodeError, ValueError...
        raise _undecodable(media_type.kind.value, format=media_type.format) from exc


def _too_long(seconds: float, limit: float) -> MediaError:
    return MediaError(
        f"media is {seconds:.0f} s long, the limit is {limit:.0f} s",
        reason=Reason.MEDIA_TOO_LONG,
        metadata={"seconds": f"{seconds:.1f}", "limit": f"{limit:.0f}"},
    )


def _declared_seconds(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32 mono in [-1, 1] at sample_rate
    sample_rate: int
    format: str
    source_sample_rate: int
    source_channels: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def decode_audio(data: bytes, config: BioConfig = _DEFAULT) -> DecodedAudio:
    """Decode audio (or a video's first audio track) to 16 kHz mono float32."""
    import av

    media_type = _expect(data, (MediaKind.AUDIO, MediaKind.VIDEO), config)
    limit = config.max_audio_seconds
    container = _open_container(data, media_type)
    try:
        if not container.streams.audio:
            raise MediaError("the media has no audio track", reason=Reason.NO_AUDIO_STREAM)
        stream = container.streams.audio[0]
        declared = _declared_seconds(container, stream)
        if declared is not None and declared > limit + 1:
            raise _too_long(declared, limit)
        src_rate = int(stream.codec_context.sample_rate or stream.rate or 0)
        src_channels = int(getattr(stream.codec_context.layout, "nb_channels", 0) or 0)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        max_samples = int(limit * SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        total = 0

        def take(frames) -> None:
            nonlocal total
            for out in frames:
                arr = out.to_ndarray().reshape(-1)
                chunks.append(arr)
                total += len(arr)
                if total > max_samples + SAMPLE_RATE:
                    raise _too_long(total / SAMPLE_RATE, limit)

        try:
            for frame in container.decode(stream):
                take(resampler.resample(frame))
            take(resampler.resample(None))
        except MediaError:
            raise
        except Exception as exc:
            if not chunks:
                raise _undecodable("audio", format=media_type.format) from exc
            # A damaged tail: keep what decoded (the quality checks judge the rest).
    finally:
        container.close()
    if not chunks:
        raise _undecodable("audio", format=media_type.format)
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    if len(samples) > max_samples:
        raise _too_long(len(samples) / SAMPLE_RATE, limit)
    np.clip(samples, -1.0, 1.0, out=samples)
    if not np.isfinite(samples).all():
        raise _undecodable("audio", format=media_type.format)
    return DecodedAudio(
        samples=samples,
        sample_rate=SAMPLE_RATE,
        format=media_type.format,
        source_sample_rate=src_rate,
        source_channels=src_channels,
    )


@dataclass(frozen=True)
class VideoFrame:
    index: int  # ordinal of the decoded frame in the stream (0-based)
    timestamp_s: float
    rgb: np.ndarray  # HxWx3 uint8, upright, at most max_image_side


def _thumb(rgb: np.ndarray) -> np.ndarray:
    im = Image.fromarray(rgb).convert("L").resize((32, 32), Image.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.float32)


def video_seconds(data: bytes, config: BioConfig = _DEFAULT) -> float | None:
    """The video track's declared duration (no decoding); None when the container does not say."""
    container = _open_container(data, _expect(data, (MediaKind.VIDEO,), config))
    try:
        return _declared_seconds(container, container.streams.video[0]) if container.streams.video else None
    finally:
        container.close()


def iter_video_frames(
    data: bytes, config: BioConfig = _DEFAULT, start_s: float = 0.0, end_s: float | None = None
) -> Iterator[VideoFrame]:
    """Frames sampled at config.video_fps (the first frame always), skipping frames that barely
    changed vs the previously kept one; display rotation applied; downscaled to max_image_side.

    With `start_s` / `end_s`, only the samples in [start_s, end_s): decoding seeks to the keyframe
    before `start_s` and stops at `end_s`, so workers splitting one clip by time do not each decode
    all of it. Sample times are multiples of 1/video_fps either way, so the ranges of a split see
    the same samples as one pass (the change filter restarts at each range's first sample)."""
    media_type = _expect(data, (MediaKind.VIDEO,), config)
    limit = config.max_video_seconds
    container = _open_container(data, media_type)
    try:
        if not container.streams.video:
            raise MediaError("the media has no video track", reason=Reason.NO_VIDEO_STREAM)
        stream = container.streams.video[0]
        declared = _declared_seconds(container, stream)
        if declared is not None and declared > limit + 1:
            raise _too_long(declared, limit)
        w, h = stream.codec_context.width, stream.codec_context.height
        if w and h and w * h > config.max_image_pixels:
            raise _too_many_pixels(w, h, config.max_image_pixels)
        rate = float(stream.average_rate) if stream.average_rate else 25.0
        step = 1.0 / config.video_fps if config.video_fps > 0 else math.inf
        next_t = 0.0
        kept = 0
        last: np.ndarray | None = None
        first_t: float | None = None
        index = -1
        seeking = start_s > 0
        if seeking:
            first_t = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
            try:
                container.seek(int((first_t + start_s) / stream.time_base), stream=stream, backward=True, any_frame=False)
            except Exception:  # av.FFmpegError...: not seekable; decode from the start instead (slower, same frames)
                container.close()
                container = _open_container(data, media_type)
                stream = container.streams.video[0]
            next_t = math.ceil(start_s / step - 1e-9) * step
        try:
            for frame in container.decode(stream):
                index += 1
                t = float(frame.time) if frame.time is not None else index / rate
                if first_t is None:
                    first_t = t
                t -= first_t
                if t > limit + 1:
                    raise _too_long(t, limit)
                if end_s is not None and t + 1e-6 >= end_s:
                    return
                if (index > 0 or seeking) and t + 1e-6 < next_t:
                    continue
                next_t = (math.floor(t / step) + 1) * step if (index > 0 or seeking) else step
                fw, fh = frame.width, frame.height
                s = min(1.0, config.max_image_side / max(fw, fh))
                rgb = frame.to_ndarray(format="rgb24", width=max(1, round(fw * s)), height=max(1, round(fh * s)))
                k = round((getattr(frame, "rotation", 0) or 0) / 90) % 4
                if k:  # display matrix rotates counter-clockwise by `rotation` degrees
                    rgb = np.rot90(rgb, k)
                rgb = np.ascontiguousarray(rgb)
                thumb = _thumb(rgb)
                if last is not None and float(np.abs(thumb - last).mean()) < config.video_min_change:
                    continue
                last = thumb
                # After a seek the decoder's count starts anywhere: the ordinal comes from the time.
                yield VideoFrame(index=round(t * rate) if seeking else index, timestamp_s=round(t, 3), rgb=rgb)
                kept += 1
                if kept >= config.video_max_frames:
                    return
        except MediaError:
            raise
        except Exception as exc:
            if index <= 0:
                raise _undecodable("video", format=media_type.format) from exc
            # A damaged tail: stop with the frames we have.
        if index < 0:
            raise _undecodable("video", format=media_type.format)
    finally:
        container.close()


def decode_video_frames(data: bytes, config: BioConfig = _DEFAULT) -> list[VideoFrame]:
    return list(iter_video_frames(data, config))
