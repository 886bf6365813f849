"""Media sniffing and decoding: every supported container, limits, broken input."""

from __future__ import annotations

import io
import os
import pickle
import struct
import zlib
from fractions import Fraction

import numpy as np
import pytest

from tests.biometrics import DATA, need, png_chunk, read, requires_data, wav_bytes

need("PIL", "av")

import av  # noqa: E402
from PIL import Image  # noqa: E402

from likeness_biometrics import BioConfig, MediaError, MediaKind, Reason  # noqa: E402
from likeness_biometrics.frames import VideoSampler  # noqa: E402
from likeness_biometrics.media import decode_audio, decode_image, sniff, video_seconds  # noqa: E402


def sample(data: bytes, config: BioConfig = BioConfig(), start_s: float = 0.0, end_s: float | None = None):
    """(frames to analyse, coverage) of one sampler pass."""
    sampler = VideoSampler(data, config, start_s, end_s)
    return list(sampler), sampler.coverage


def tone(seconds: float, rate: int = 16000, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def encode_audio(samples: np.ndarray, fmt: str, codec: str, rate: int = 48000) -> bytes:
    """Encode mono float samples (at 16 kHz) with PyAV; resampled to `rate` for the codec."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = 16000
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        for f in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(f):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def encode_video(fmt: str, codec: str, seconds: float = 3.0, fps: int = 10, static: bool = False) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = 320, 240
        stream.pix_fmt = "yuv420p"
        for i in range(int(seconds * fps)):
            img = np.zeros((240, 320, 3), np.uint8)
            if not static:
                img[:, (i * 5) % 320 :] = (40 + i * 7) % 255  # moving edge, changing level
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def image_bytes(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def heic_bytes(im: Image.Image) -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    return image_bytes(im, "HEIF")


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height 8-bit RGB pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


# ------------------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    "data, kind, fmt",
    [
        (image_bytes(Image.new("RGB", (8, 8)), "JPEG"), MediaKind.IMAGE, "jpeg"),
        (image_bytes(Image.new("RGB", (8, 8)), "PNG"), MediaKind.IMAGE, "png"),
        (image_bytes(Image.new("RGB", (8, 8)), "WEBP"), MediaKind.IMAGE, "webp"),
        (wav_bytes(tone(0.1)), MediaKind.AUDIO, "wav"),
        (encode_audio(tone(0.5), "flac", "flac", 16000), MediaKind.AUDIO, "flac"),
        (encode_audio(tone(0.5), "mp3", "libmp3lame", 44100), MediaKind.AUDIO, "mp3"),
        (encode_audio(tone(0.5), "ogg", "libopus"), MediaKind.AUDIO, "ogg"),
        (encode_video("webm", "libvpx-vp9", 0.5), MediaKind.VIDEO, "webm"),
        (encode_video("mov", "mpeg4", 0.5), MediaKind.VIDEO, "mov"),
        (encode_video("mp4", "mpeg4", 0.5), MediaKind.VIDEO, "mp4"),
        (encode_video("matroska", "libx264", 0.5), MediaKind.VIDEO, "mkv"),
        (image_bytes(Image.new("RGB", (8, 8)), "GIF"), MediaKind.IMAGE, "gif"),
        (image_bytes(Image.new("RGB", (8, 8)), "AVIF"), MediaKind.IMAGE, "avif"),
        (heic_bytes(Image.new("RGB", (64, 64))), MediaKind.IMAGE, "heic"),
    ],
    ids=["jpeg", "png", "webp", "wav", "flac", "mp3", "ogg-opus", "webm", "mov", "mp4", "mkv", "gif", "avif", "heic"],
)
def test_sniff_supported(data: bytes, kind: MediaKind, fmt: str) -> None:
    t = sniff(data)
    assert (t.kind, t.format) == (kind, fmt)


@pytest.mark.parametrize(
    "data",
    [
        image_bytes(Image.new("RGB", (8, 8)), "BMP"),
        image_bytes(Image.new("RGB", (8, 8)), "TIFF"),
        b"%PDF-1.7\n...",
    ],
    ids=["bmp", "tiff", "pdf"],
)
def test_known_but_unsupported_types(data: bytes) -> None:
    with pytest.raises(MediaError) as err:
        sniff(data)
    assert err.value.reason == Reason.UNSUPPORTED_MEDIA_TYPE


@pytest.mark.parametrize("data", [os.urandom(4096), b"", b"hello, world", b"\xff\xd8\xff" + os.urandom(500)])
def test_garbage_is_undecodable(data: bytes) -> None:
    with pytest.raises(MediaError) as err:
        decode_image(data)
    assert err.value.reason == Reason.UNDECODABLE_MEDIA
    with pytest.raises(MediaError) as err:
        decode_audio(data if not data.startswith(b"\xff\xd8") else os.urandom(64))
    assert err.value.reason == Reason.UNDECODABLE_MEDIA


def test_wrong_kind_is_unsupported() -> None:
    with pytest.raises(MediaError) as err:
        decode_image(wav_bytes(tone(0.2)))
    assert err.value.reason == Reason.UNSUPPORTED_MEDIA_TYPE
    with pytest.raises(MediaError) as err:
        decode_audio(image_bytes(Image.new("RGB", (8, 8)), "PNG"))
    assert err.value.reason == Reason.UNSUPPORTED_MEDIA_TYPE


def test_errors_pickle_with_their_reason() -> None:
    with pytest.raises(MediaError) as err:
        decode_image(b"BM" + b"\x00" * 20)
    back = pickle.loads(pickle.dumps(err.value))
    assert isinstance(back, MediaError)
    assert back.reason == Reason.UNSUPPORTED_MEDIA_TYPE
    assert back.metadata == {"detected": "bmp"}


def test_a_service_boundary_turns_them_into_invalid_argument() -> None:
    """The library raises plain ValueErrors (no RPC status); `invalid_argument()` at an adapter makes
    the caller's INVALID_ARGUMENT, reason and metadata kept."""
    from likeness_biometrics.errors import invalid_argument
    from likeness_common.errors import InvalidArgument, LikenessError

    with pytest.raises(MediaError) as err:
        decode_image(b"BM" + b"\x00" * 20)
    assert not isinstance(err.value, LikenessError)
    with pytest.raises(InvalidArgument) as caught, invalid_argument():
        raise err.value
    assert caught.value.reason == Reason.UNSUPPORTED_MEDIA_TYPE and caught.value.metadata == {"detected": "bmp"}
    assert caught.value.__cause__ is err.value


# --------------------------------------------------------------------------------------- images


@pytest.mark.parametrize("size", [(100_000, 100_000), (10_000, 10_000)], ids=["over-pillow-limit", "over-our-limit"])
def test_decompression_bomb_is_refused_before_decoding(size: tuple[int, int]) -> None:
    with pytest.raises(MediaError) as err:
        decode_image(png_claiming(*size))
    assert err.value.reason == Reason.MEDIA_TOO_LARGE
    assert "limit" in err.value.message


def test_byte_limit() -> None:
    with pytest.raises(MediaError) as err:
        noise = np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8)
        decode_image(image_bytes(Image.fromarray(noise), "PNG"), BioConfig(max_input_bytes=1000))
    assert err.value.reason == Reason.MEDIA_TOO_LARGE


def test_truncated_jpeg_is_undecodable() -> None:
    rng = np.random.default_rng(0)
    data = image_bytes(Image.fromarray(rng.integers(0, 255, (200, 200, 3), np.uint8)), "JPEG")
    with pytest.raises(MediaError) as err:
        decode_image(data[: len(data) // 2])
    assert err.value.reason == Reason.UNDECODABLE_MEDIA


def test_exif_orientation_is_applied() -> None:
    im = Image.new("RGB", (200, 100), (255, 0, 0))
    im.paste((0, 0, 255), (0, 0, 20, 100))  # blue band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display = rotate 90 degrees clockwise
    out = decode_image(image_bytes(im, "JPEG", exif=exif, quality=95))
    assert out.rgb.shape == (200, 100, 3)  # portrait after transposition
    assert (out.original_width, out.original_height) == (100, 200)
    assert out.rgb[5, 50, 2] > 200 and out.rgb[5, 50, 0] < 60  # the left band is now on top


def test_alpha_is_composited_on_white() -> None:
    im = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    im.putpixel((0, 0), (255, 0, 0, 255))
    rgb = decode_image(image_bytes(im, "PNG")).rgb
    assert rgb.shape == (10, 10, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[5, 5]) == (255, 255, 255)
    assert tuple(rgb[0, 0]) == (255, 0, 0)


def test_16_bit_png() -> None:
    ramp = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    data = image_bytes(Image.fromarray(ramp), "PNG")
    rgb = decode_image(data).rgb
    assert rgb.shape == (64, 64, 3)
    assert rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255
    assert 120 < rgb[32, 0, 0] < 136


def test_downscale_bound() -> None:
    data = image_bytes(Image.new("RGB", (3000, 1500), (10, 20, 30)), "JPEG")
    out = decode_image(data, BioConfig(max_image_side=800))
    assert max(out.rgb.shape[:2]) == 800
    assert out.rgb.shape[:2] == (400, 800)
    assert (out.original_width, out.original_height) == (3000, 1500)
    assert out.scale == pytest.approx(800 / 3000)


@requires_data
def test_real_png_with_alpha_decodes() -> None:
    raw = read("faces/misc/32bit.png")
    assert Image.open(io.BytesIO(raw)).mode == "RGBA"
    out = decode_image(raw)
    assert out.format == "png"
    assert out.rgb.ndim == 3 and out.rgb.shape[2] == 3 and out.rgb.dtype == np.uint8
    assert max(out.rgb.shape[:2]) <= 1024


# ---------------------------------------------------------------------------------- audio/video


@pytest.mark.parametrize(
    "fmt, codec, rate",
    [
        ("flac", "flac", 16000),
        ("mp3", "libmp3lame", 44100),
        ("ogg", "libopus", 48000),
        ("wav", "pcm_s16le", 8000),
    ],
)
def test_audio_decodes_to_16k_mono(fmt: str, codec: str, rate: int) -> None:
    src = tone(2.0)
    out = decode_audio(encode_audio(src, fmt, codec, rate))
    assert out.sample_rate == 16000 and out.samples.dtype == np.float32 and out.samples.ndim == 1
    assert out.duration_s == pytest.approx(2.0, abs=0.1)
    rms = float(np.sqrt(np.mean(out.samples**2)))
    assert rms == pytest.approx(0.3 / np.sqrt(2), rel=0.15)


def test_stereo_wav_is_mixed_down() -> None:
    left_right = np.stack([tone(1.0), tone(1.0)], axis=1).reshape(-1)
    out = decode_audio(wav_bytes(left_right, channels=2))
    assert out.source_channels == 2
    assert out.duration_s == pytest.approx(1.0, abs=0.01)


def test_audio_duration_cap() -> None:
    with pytest.raises(MediaError) as err:
        decode_audio(wav_bytes(tone(3.0)), BioConfig(max_audio_seconds=1.0))
    assert err.value.reason == Reason.MEDIA_TOO_LONG


def test_video_without_audio_track() -> None:
    with pytest.raises(MediaError) as err:
        decode_audio(encode_video("mp4", "mpeg4", 0.5))
    assert err.value.reason == Reason.NO_AUDIO_STREAM


def test_video_sampling_and_change_filter() -> None:
    moving, cov = sample(encode_video("webm", "libvpx-vp9", seconds=3.0, fps=10), BioConfig(video_fps=2))
    assert [f.index for f in moving] == [0, 5, 10, 15, 20, 25]
    assert [f.timestamp_s for f in moving] == pytest.approx([0, 0.5, 1.0, 1.5, 2.0, 2.5])
    assert moving[0].rgb.shape == (240, 320, 3)
    assert (cov.frames_decoded, cov.frames_sampled, cov.frames_analyzed) == (30, 6, 6) and cov.max_gap_s() == 0.5
    static, cov = sample(encode_video("mp4", "mpeg4", seconds=3.0, fps=10, static=True))
    assert [f.index for f in static] == [0]  # the first frame, then nothing changed...
    # ...but every grid sample is accounted for: skipped as unchanged, never dropped.
    assert (cov.frames_sampled, cov.frames_analyzed, cov.skipped_unchanged) == (3, 1, 2)
    assert cov.max_gap_s() == 1.0 and cov.max_analyzed_gap_s() == 3.0 and not cov.decode_errors


@requires_data
def test_real_video_frames_and_audio_track() -> None:
    data = read("faces/video/short_hamilton_clip.mp4")
    frames, cov = sample(data)
    assert frames[0].index == 0 and frames[0].timestamp_s == 0
    assert len(frames) == cov.frames_sampled == 10 and cov.frames_decoded == 275  # ~9.2 s at 1 fps, every sample changed
    assert all(b.timestamp_s > a.timestamp_s for a, b in zip(frames, frames[1:]))
    assert frames[0].rgb.shape == (360, 640, 3)
    audio = decode_audio(data)
    assert audio.duration_s == pytest.approx(10.0, abs=0.3)
    assert audio.source_channels == 2 and audio.source_sample_rate == 44100


@requires_data
def test_librispeech_flac() -> None:
    path = next((DATA / "voices" / "librispeech" / "test-other").rglob("*.flac"))
    out = decode_audio(path.read_bytes())
    assert out.format == "flac" and out.source_sample_rate == 16000 and out.duration_s > 1


@pytest.mark.parametrize("shards", [2, 3])
@pytest.mark.parametrize("fmt, codec", [("mp4", "libx264"), ("webm", "libvpx-vp9")])
def test_time_ranges_of_a_split_see_the_samples_of_one_pass(fmt: str, codec: str, shards: int) -> None:
    """Workers split a clip by time (worker.time_ranges): seeking to each range's start and
    stopping at its end must give exactly the frames, indices and times of one pass, and the merged
    coverage the counts of one pass."""
    from likeness_biometrics.frames import FrameCoverage
    from likeness_biometrics.worker import time_ranges

    data = encode_video(fmt, codec, seconds=6.0, fps=10)
    config = BioConfig(video_fps=2)
    frames, whole = sample(data, config)
    split, parts = [], []
    for start, end in time_ranges(video_seconds(data, config), shards, config):
        got, cov = sample(data, config, start, end)
        split += [(f.index, f.timestamp_s) for f in got]
        parts.append(cov)
    merged = FrameCoverage.merged(parts)
    assert whole.frames_sampled == 12 + whole.cut_samples and split == [(f.index, f.timestamp_s) for f in frames]
    assert (merged.frames_decoded, merged.frames_sampled, merged.covered_s) == (whole.frames_decoded, whole.frames_sampled, whole.covered_s)


@requires_data
def test_real_clip_split_in_two_equals_one_pass() -> None:
    data = read("faces/video/short_hamilton_clip.mp4")
    whole = [(f.index, f.timestamp_s) for f in sample(data)[0]]
    seconds = video_seconds(data)
    assert seconds == pytest.approx(9.18, abs=0.1)
    middle = (int(seconds) + 1) // 2
    split = [(f.index, f.timestamp_s) for f in sample(data, start_s=0.0, end_s=middle)[0]]
    split += [(f.index, f.timestamp_s) for f in sample(data, start_s=middle)[0]]
    assert split == whole


@pytest.mark.parametrize("declared", [-5000.0, float("nan")])
def test_a_lying_duration_never_loses_frames_when_workers_split_a_clip(declared: float) -> None:
    """The split by time trusts the declared duration only to place the ranges: a negative or NaN one
    falls back to one range, the whole clip (worker.time_ranges). (One over the length limit is
    refused as MEDIA_TOO_LONG, split or not.)"""
    from likeness_biometrics import worker

    data = bytearray(encode_video("webm", "libvpx-vp9", seconds=3.0, fps=10))
    at = data.find(b"\x44\x89")  # Matroska Duration element: an 8-byte big-endian float follows the size byte 0x88
    assert at > 0 and data[at + 2] == 0x88
    data[at + 3 : at + 11] = struct.pack(">d", declared)
    config = BioConfig(video_fps=2)
    whole = [f.index for f in sample(bytes(data), config)[0]]
    ranges = worker.time_ranges(video_seconds(bytes(data), config), 2, config)
    assert ranges == [(0.0, None)]
    split = sorted(f.frame_index for start, end in ranges for f in worker.faces_in_video(bytes(data), config, start, end).frames)
    assert len(whole) == 6 and split == whole


@requires_data
@pytest.mark.parametrize("face_px", [60, 120])
def test_a_face_sized_change_in_a_static_1080p_shot_is_analysed(face_px: int) -> None:
    """A static 1920x1080 shot in which only a face-sized region changes (one face swapped for
    another at 3 s): the frame mean barely moves, the windowed rule analyses the changed sample, and
    every other sample is skipped as unchanged, and counted."""
    from tests import mediakit

    before = mediakit.paste(mediakit.scene(1920, 1080, 2), mediakit.face_patch(("obama", "obama3.jpg"), face_px, margin=0.1), (1200, 400))
    after = mediakit.paste(before, mediakit.face_patch(("biden", "biden2.jpg"), face_px, margin=0.1), (1200, 400))
    assert float(np.abs(before.astype(float) - after.astype(float)).mean()) < 1.0
    clip = mediakit.encode_video(lambda i: before if i < 75 else after, count=150, fps=25, options={"crf": "28"})
    frames, cov = sample(clip)
    assert [f.index for f in frames][:2] == [0, 75], [(f.index, f.timestamp_s) for f in frames]
    assert cov.frames_sampled == 6 and cov.frames_analyzed + cov.skipped_unchanged + cov.skipped_identical == 6
    assert cov.max_gap_s() <= 1.0 and not cov.decode_errors


def test_a_shot_shorter_than_the_grid_step_is_sampled_at_its_cut() -> None:
    """A 0.4 s insert between two grid samples (1.2-1.6 s at 1 fps): the cut starts a sample."""
    from tests import mediakit

    a, b = np.full((240, 320, 3), 60, np.uint8), np.full((240, 320, 3), 200, np.uint8)
    b[60:180, 80:240] = 20
    clip = mediakit.encode_video(lambda i: b if 12 <= i < 16 else a, count=40, fps=10)
    frames, cov = sample(clip)
    assert [(f.index, f.cut) for f in frames] == [(0, False), (12, True), (16, True)]
    assert cov.cut_samples == 2 and cov.cuts_unsampled == 0 and cov.frames_sampled == 6
