"""Media decoding: sniff the type from the bytes, decode images (Pillow), audio and video (PyAV).

Supported: JPEG, PNG (and APNG), WebP (still and animated), GIF (still and animated), AVIF and
HEIC images; WAV, FLAC, MP3, Ogg (Opus/Vorbis) audio; MP4, MOV, Matroska and WebM video (H.264,
HEVC, VP8, VP9, AV1...; their audio track `decode_audio` also reads). Animated images and video are
sampled frame by frame by frames.VideoSampler. Recognised but unsupported types (BMP, TIFF, PDF,
AVI...) raise UNSUPPORTED_MEDIA_TYPE; bytes that match no known signature or fail to decode raise
UNDECODABLE_MEDIA. Limits (bytes, pixels, seconds) raise MEDIA_TOO_LARGE / MEDIA_TOO_LONG before the
expensive work where the header allows it.

Nothing here keeps or logs the media.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from enum import Enum

import numpy as np
from PIL import Image, ImageOps

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
    format: str  # jpeg png webp gif avif heic | wav flac mp3 ogg | mp4 mov mkv webm
    mime: str


_TYPES = {
    "jpeg": MediaType(MediaKind.IMAGE, "jpeg", "image/jpeg"),
    "png": MediaType(MediaKind.IMAGE, "png", "image/png"),
    "webp": MediaType(MediaKind.IMAGE, "webp", "image/webp"),
    "gif": MediaType(MediaKind.IMAGE, "gif", "image/gif"),
    "avif": MediaType(MediaKind.IMAGE, "avif", "image/avif"),
    "heic": MediaType(MediaKind.IMAGE, "heic", "image/heic"),
    "wav": MediaType(MediaKind.AUDIO, "wav", "audio/wav"),
    "flac": MediaType(MediaKind.AUDIO, "flac", "audio/flac"),
    "mp3": MediaType(MediaKind.AUDIO, "mp3", "audio/mpeg"),
    "ogg": MediaType(MediaKind.AUDIO, "ogg", "audio/ogg"),
    "mp4": MediaType(MediaKind.VIDEO, "mp4", "video/mp4"),
    "mov": MediaType(MediaKind.VIDEO, "mov", "video/quicktime"),
    "webm": MediaType(MediaKind.VIDEO, "webm", "video/webm"),
    "mkv": MediaType(MediaKind.VIDEO, "mkv", "video/x-matroska"),
}
SUPPORTED_MIME_TYPES = frozenset(t.mime for t in _TYPES.values())
_BY_MIME = {t.mime: t for t in _TYPES.values()}


def by_mime(mime: str) -> MediaType:
    """The MediaType `sniff` answered as `mime` (a caller that sniffed once hands the answer on)."""
    return _BY_MIME[mime]

# Pillow's format names per image format. HEIF containers may hold HEVC (HEIC) or AV1 (AVIF)
# pictures whatever their brand says: both readers are tried.
PIL_FORMATS = {"jpeg": ["JPEG"], "png": ["PNG"], "webp": ["WEBP"], "gif": ["GIF"], "avif": ["AVIF", "HEIF"], "heic": ["HEIF", "AVIF"]}


def _heif_opener() -> None:
    """Register pillow-heif's HEIF reader with Pillow (once; AVIF is built into Pillow)."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


def undecodable(what: str, **meta: str) -> MediaError:
    return MediaError(f"could not decode the {what}", reason=Reason.UNDECODABLE_MEDIA, metadata=meta)


def unsupported(detected: str) -> MediaError:
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
            raise unsupported("avi")
        raise undecodable("media")
    if head.startswith(b"fLaC"):
        return _TYPES["flac"]
    if head.startswith(b"OggS"):
        page = data[:512]
        if b"OpusHead" in page or b"\x01vorbis" in page:
            return _TYPES["ogg"]
        raise unsupported("ogg-video" if b"theora" in page else "ogg")
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM or Matroska
        return _TYPES["webm"] if b"webm" in data[:64] else _TYPES["mkv"]
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return _TYPES["mov"]
        if brand in (b"avif", b"avis"):
            return _TYPES["avif"]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"hevc", b"hevx"):
            return _TYPES["heic"]
        return _TYPES["mp4"]
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return _TYPES["mov"]
    off = _id3_skip(data)
    if off:  # ID3-tagged: FLAC if a FLAC stream follows, else MP3 (the decoder has the last word)
        return _TYPES["flac"] if data[off : off + 4] == b"fLaC" else _TYPES["mp3"]
    if _mp3_frame_header(head):
        return _TYPES["mp3"]
    if head.startswith((b"GIF87a", b"GIF89a")):
        return _TYPES["gif"]
    for magic, name in (
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
            raise unsupported(name)
    raise undecodable("media")


def check_bytes(data: bytes, config: BioConfig) -> None:
    if len(data) > config.max_input_bytes:
        raise MediaError(
            f"media is {len(data)} bytes, the limit is {config.max_input_bytes}",
            reason=Reason.MEDIA_TOO_LARGE,
            metadata={"bytes": str(len(data)), "limit": str(config.max_input_bytes)},
        )


def expect(data: bytes, kinds: tuple[MediaKind, ...], config: BioConfig) -> MediaType:
    check_bytes(data, config)
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


def too_many_pixels(width: int, height: int, limit: int) -> MediaError:
    return MediaError(
        f"image is {width}x{height} pixels, the limit is {limit} pixels",
        reason=Reason.MEDIA_TOO_LARGE,
        metadata={"width": str(width), "height": str(height), "limit": str(limit)},
    )


def to_rgb(im: Image.Image) -> Image.Image:
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


def open_image(data: bytes, media_type: MediaType) -> Image.Image:
    """Pillow's lazy image (nothing decoded yet); UNDECODABLE_MEDIA / MEDIA_TOO_LARGE."""
    if media_type.format in ("heic", "avif"):
        _heif_opener()
    try:
        with warnings.catch_warnings():
            # Our own pixel check is the limit; Pillow still refuses > 2 * MAX_IMAGE_PIXELS
            # (~179 MP) at open time, which surfaces as the same MEDIA_TOO_LARGE.
            warnings.simplefilter("ignore")
            return Image.open(io.BytesIO(data), formats=PIL_FORMATS[media_type.format])
    except Image.DecompressionBombError:
        raise MediaError("image exceeds the pixel limit", reason=Reason.MEDIA_TOO_LARGE) from None
    except Exception as exc:  # UnidentifiedImageError, OSError, ValueError, SyntaxError, a codec's own error
        raise undecodable("image", format=media_type.format) from exc


def frame_delay_s(info: dict) -> float:
    """How long an animation frame stays on screen: its delay, except that delays under 20 ms show
    as 100 ms, as browsers do (GIF's 0 means "as fast as you can")."""
    delay_ms = info.get("duration") or 0
    return (delay_ms if delay_ms >= 20 else 100) / 1000.0


def image_frame_count(data: bytes, config: BioConfig = _DEFAULT) -> int:
    """Frames in an image file: 1 for a still, more for an animated GIF, APNG, WebP or AVIF (no
    frame is visited: animation_span walks them for their delays)."""
    media_type = expect(data, (MediaKind.IMAGE,), config)
    im = open_image(data, media_type)
    try:
        return max(1, int(getattr(im, "n_frames", 1) or 1))
    except Exception as exc:
        raise undecodable("image", format=media_type.format) from exc
    finally:
        im.close()


def animation_span(data: bytes, config: BioConfig = _DEFAULT) -> tuple[int, float]:
    """(frames, seconds) of an image file: (1, 0.0) for a still. Reads frame headers only."""
    media_type = expect(data, (MediaKind.IMAGE,), config)
    im = open_image(data, media_type)
    try:
        frames = max(1, int(getattr(im, "n_frames", 1) or 1))
        if frames == 1 or frames > config.max_animation_frames:
            return frames, 0.0
        seconds = 0.0
        for n in range(frames):
            im.seek(n)
            seconds += frame_delay_s(im.info)
        return frames, seconds
    except MediaError:
        raise
    except Exception as exc:
        raise undecodable("image", format=media_type.format) from exc
    finally:
        im.close()


def decode_image(data: bytes, config: BioConfig = _DEFAULT, max_side: int | None = None) -> DecodedImage:
    """Decode a still image (the first frame of an animated one) into an upright 8-bit RGB array
    no larger than `max_side` (default config.max_image_side)."""
    media_type = expect(data, (MediaKind.IMAGE,), config)
    limit = config.max_image_pixels
    try:
        im = open_image(data, media_type)
    except MediaError as error:
        if error.reason == Reason.MEDIA_TOO_LARGE:
            raise MediaError(f"image exceeds the pixel limit of {limit} pixels", reason=Reason.MEDIA_TOO_LARGE,
                             metadata={"limit": str(limit)}) from None  # fmt: skip
        raise
    try:
        width, height = im.size
        if width <= 0 or height <= 0:
            raise undecodable("image", format=media_type.format)
        if width * height > limit:
            raise too_many_pixels(width, height, limit)
        max_side = max_side or config.max_image_side
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
            rgb = to_rgb(upright)
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
        raise undecodable("image", format=media_type.format) from exc
    finally:
        im.close()
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.size == 0:
        raise undecodable("image", format=media_type.format)
    return DecodedImage(
        rgb=arr,
        format=media_type.format,
        original_width=width,
        original_height=height,
        scale=arr.shape[1] / width,
    )


# ---------------------------------------------------------------------------------- audio/video


def open_container(data: bytes, media_type: MediaType):
    import av

    try:
        return av.open(io.BytesIO(data), mode="r")
    except Exception as exc:  # av.FFmpegError, UnicodeDecodeError, ValueError...
        raise undecodable(media_type.kind.value, format=media_type.format) from exc


def too_long(seconds: float, limit: float) -> MediaError:
    return MediaError(
        f"media is {seconds:.0f} s long, the limit is {limit:.0f} s",
        reason=Reason.MEDIA_TOO_LONG,
        metadata={"seconds": f"{seconds:.1f}", "limit": f"{limit:.0f}"},
    )


def declared_seconds(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def open_track(container, kind: str, limit: float):
    """(the first `kind` ("audio" or "video") stream, its declared seconds or None when absent or
    absurd); NO_AUDIO_STREAM / NO_VIDEO_STREAM, or MEDIA_TOO_LONG when it declares more than `limit`."""
    streams = getattr(container.streams, kind)
    if not streams:
        reason = Reason.NO_AUDIO_STREAM if kind == "audio" else Reason.NO_VIDEO_STREAM
        raise MediaError(f"the media has no {kind} track", reason=reason)
    declared = declared_seconds(container, streams[0])
    if declared is not None and declared > limit + 1:
        raise too_long(declared, limit)
    sane = declared is not None and math.isfinite(declared) and declared >= 0
    return streams[0], (round(declared, 3) if sane else None)


def decode_packet(packet, errors: list[str], offset_s: float = 0.0) -> list:
    """The frames of one packet; [] and a line in `errors` when it does not decode (decoding goes on
    with the next packet: one damaged packet must not end the analysis, nor go unreported)."""
    try:
        return packet.decode()
    except Exception as exc:  # av.InvalidDataError and kin: a damaged packet
        at = float(packet.pts * packet.time_base) - offset_s if packet.pts is not None and packet.time_base else None
        errors.append(f"{type(exc).__name__} at {at:.2f} s" if at is not None else type(exc).__name__)
        return []


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32 mono in [-1, 1] at sample_rate
    sample_rate: int
    format: str
    source_sample_rate: int
    source_channels: int
    declared_s: float | None = None  # the track's declared duration
    decode_errors: tuple[str, ...] = ()  # packets that failed to decode (skipped, the rest kept)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def decode_audio(data: bytes, config: BioConfig = _DEFAULT, *, strict: bool = True) -> DecodedAudio:
    """Decode audio (or a video's first audio track) to 16 kHz mono float32.

    A packet that fails to decode is skipped and recorded in `decode_errors` (decoding goes on, up
    to config.max_decode_errors). With `strict` (enrollment) any such error refuses the whole clip
    as UNDECODABLE_MEDIA; verification passes strict=False and reports the errors as incomplete
    coverage instead."""
    import av

    media_type = expect(data, (MediaKind.AUDIO, MediaKind.VIDEO), config)
    limit = config.max_audio_seconds
    container = open_container(data, media_type)
    errors: list[str] = []
    try:
        stream, declared = open_track(container, "audio", limit)
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
                    raise too_long(total / SAMPLE_RATE, limit)

        try:
            for packet in container.demux(stream):
                for frame in decode_packet(packet, errors):
                    take(resampler.resample(frame))
                if len(errors) >= config.max_decode_errors:
                    errors.append(f"stopped after {len(errors)} decode errors")
                    break
            take(resampler.resample(None))
        except MediaError:
            raise
        except Exception as exc:  # the resampler or the demuxer gave up: keep what decoded, say so
            if not chunks:
                raise undecodable("audio", format=media_type.format) from exc
            errors.append(f"{type(exc).__name__} after {total / SAMPLE_RATE:.2f} s")
    finally:
        container.close()
    if not chunks or (strict and errors):
        raise undecodable("audio", format=media_type.format)
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    if len(samples) > max_samples + SAMPLE_RATE:  # (1 s of slack, as for the declared length)
        raise too_long(len(samples) / SAMPLE_RATE, limit)
    np.clip(samples, -1.0, 1.0, out=samples)
    if not np.isfinite(samples).all():
        raise undecodable("audio", format=media_type.format)
    return DecodedAudio(
        samples=samples,
        sample_rate=SAMPLE_RATE,
        format=media_type.format,
        source_sample_rate=src_rate,
        source_channels=src_channels,
        declared_s=declared,
        decode_errors=tuple(errors),
    )


def video_seconds(data: bytes, config: BioConfig = _DEFAULT) -> float | None:
    """The video track's declared duration (no decoding); None when the container does not say."""
    container = open_container(data, expect(data, (MediaKind.VIDEO,), config))
    try:
        return declared_seconds(container, container.streams.video[0]) if container.streams.video else None
    finally:
        container.close()



@dataclass(frozen=True)
class Streams:
    """What a container holds, from its header (nothing decoded)."""

    video: bool
    audio: bool
    video_seconds: float | None  # declared
    audio_seconds: float | None


def probe_streams(data: bytes, config: BioConfig = _DEFAULT) -> Streams:
    container = open_container(data, expect(data, (MediaKind.AUDIO, MediaKind.VIDEO), config))
    try:
        v, a = container.streams.video, container.streams.audio
        return Streams(bool(v), bool(a), declared_seconds(container, v[0]) if v else None, declared_seconds(container, a[0]) if a else None)
    finally:
        container.close()
