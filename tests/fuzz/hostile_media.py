"""Hostile media for the fuzz suite, built in the test (nothing binary is committed): random bytes,
truncated real files, a decompression-bomb PNG, hour-long audio, videos with thousands of tiny frames
or without a decodable stream. Each builder runs once per session (functools.cache)."""

from __future__ import annotations

import functools
import io
import struct
import wave
import zlib

import av
import numpy as np

from tests.biometrics import DATA, png_chunk, wav_bytes

REAL_FILES = (
    ("faces", "obama", "obama_small.jpg"),
    ("faces", "lin_manuel_miranda", "lin1.png"),
    ("faces", "misc", "32bit.png"),
    ("faces", "video", "short_hamilton_clip.mp4"),
)


def real_files() -> dict[str, bytes]:
    """Real photos, a video and a speech clip from ../shared/data (those that exist)."""
    found = {}
    for parts in REAL_FILES:
        path = DATA.joinpath(*parts)
        if path.exists():
            found[path.name] = path.read_bytes()
    speech = DATA / "voices" / "librispeech" / "test-other" / "1688"
    if speech.exists():
        first = sorted(speech.glob("*.flac"))[:1]
        found.update({p.name: p.read_bytes() for p in first})
    return found


@functools.cache
def png_bomb(side: int = 30_000) -> bytes:
    """A valid 1-bit grey PNG of side x side pixels (900 M pixels at 30,000) whose IDAT is zlib of
    zeros: ~110 KB on the wire, gigabytes once decoded into RGB."""
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


@functools.cache
def wav_declaring_an_hour() -> bytes:
    """A WAV header that declares one hour of 16 kHz mono PCM, followed by one second of silence."""
    data = bytearray(wav_bytes(np.zeros(16000, np.float32)))
    hour = 3600 * 16000 * 2
    data[4:8] = struct.pack("<I", 36 + hour)
    data[40:44] = struct.pack("<I", hour)
    return bytes(data)


@functools.cache
def wav_an_hour_of_silence() -> bytes:
    """One real hour of silence that fits the size limits: 8-bit PCM at 4 kHz, 14.4 MB."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(4000)
        w.writeframes(b"\x80" * (3600 * 4000))
    return out.getvalue()


@functools.cache
def video_of_tiny_frames(frames: int = 3000, fps: int = 100) -> bytes:
    """`frames` 16x16 frames of changing noise (MP4, MPEG-4 part 2)."""
    out = io.BytesIO()
    rng = np.random.default_rng(7)
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        for _ in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


@functools.cache
def mkv_without_streams() -> bytes:
    """A Matroska header with one subtitle track and no packets: no video, no audio."""
    out = io.BytesIO()
    container = av.open(out, "w", format="matroska")
    container.add_stream("ass")
    container.start_encoding()
    container.close()
    return out.getvalue()


@functools.cache
def mp4_audio_only() -> bytes:
    """An MP4 (the container a video has) with an audio track of two seconds of silence and no video."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 32000), dtype=np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def hostile_media() -> dict[str, bytes]:
    """Named hostile inputs (every builder above plus truncations of each real file)."""
    cases = {
        "empty": b"",
        "png_bomb_30000x30000": png_bomb(),
        "wav_header_declaring_an_hour": wav_declaring_an_hour(),
        "wav_an_hour_of_silence": wav_an_hour_of_silence(),
        "mp4_3000_tiny_frames": video_of_tiny_frames(),
        "mkv_without_streams": mkv_without_streams(),
        "mp4_audio_only": mp4_audio_only(),
        "jpeg_magic_then_noise": b"\xff\xd8\xff\xe0" + np.random.default_rng(1).bytes(4000),
        "png_header_only": png_bomb(64)[:33],
    }
    for name, data in real_files().items():
        cases[f"{name}_first_half"] = data[: len(data) // 2]
        cases[f"{name}_first_100_bytes"] = data[:100]
    return cases
