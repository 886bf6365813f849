"""Tests of libs/likeness_biometrics on real media from ../shared/data (skipped where absent).

The biometric extras are optional (scripts/install-bio.sh): modules skip when they are missing.
"""

from __future__ import annotations

import importlib.util
import io
import struct
import wave
import zlib
from pathlib import Path

import numpy as np
import pytest

from likeness_devstack import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]
DATA = SHARED_DATA
FACES = DATA / "faces"
LIBRI = DATA / "voices" / "librispeech"

requires_data = pytest.mark.skipif(
    not DATA.is_dir(),
    reason=f"real test media not found at {DATA} (../shared/data beside the repo)",
)


def need(*modules: str) -> None:
    """Skip the calling test module unless the biometric extras are installed."""
    for name in modules:
        pytest.importorskip(name, reason=f"{name} missing: run scripts/install-bio.sh .venv/bin/python")


def need_installed(*packages: str) -> None:
    """Skip unless the packages are installed, without importing them: resemblyzer's import pulls
    in torch and librosa, which only the reference tests (test_voice_net.py) need; the others
    only read its weights file."""
    for name in packages:
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} missing: run scripts/install-bio.sh .venv/bin/python", allow_module_level=True)


def read(rel: str) -> bytes:
    return (DATA / rel).read_bytes()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body, CRC (for hand-built PNGs: bombs, lying headers)."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def wav_bytes(samples: np.ndarray, rate: int = 16000, channels: int = 1) -> bytes:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def libri_files(speaker: str) -> list[Path]:
    return sorted((LIBRI / "test-other" / speaker).glob("*.flac"))
