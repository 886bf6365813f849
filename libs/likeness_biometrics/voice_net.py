"""Resemblyzer's GE2E speaker encoder, evaluated with numpy: no torch, no librosa in the worker.

Why: torch and librosa (with numba) made the voice worker ~470 MiB of the verification service's
~800 MiB; the network itself is 1.4 M floats (a 3-layer LSTM of 256 units and a 256x256 linear
layer). This module evaluates the weights of the very pretrained.pt that resemblyzer loads, and
reproduces `VoiceEncoder.embed_utterance` step by step:

    wav (16 kHz, float32, volume-normalised by the caller)
      -> partial windows of 160 frames (1.6 s), 1.3 per second, the last kept if >= 75 % covered
      -> mel power spectrogram per window (librosa.feature.melspectrogram defaults: 25 ms Hann
         window, 10 ms hop, centred with zero padding, 40 Slaney mel bands up to 8 kHz)
      -> LSTM x 3 -> last hidden state -> linear -> ReLU -> L2 norm, per window
      -> mean of the windows -> L2 norm

tests/biometrics/test_voice_net.py checks the result against resemblyzer itself on LibriSpeech,
so VOICE_MODEL (and every stored voice template) is unchanged.

The weights are resemblyzer's pretrained.pt, converted once at setup (scripts/convert_voice_weights.py,
with torch) to a safetensors file: an 8-byte little-endian header length, a JSON header giving each
tensor's dtype, shape and byte range, then the raw little-endian bytes. This module reads it with
numpy after checking the file's pinned SHA-256 (models.WEIGHTS_SHA256), so no pickle is ever
read at run time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelFormatError
from .models import VOICE_WEIGHTS_FILE, WEIGHTS_SHA256, read_pinned

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s
PARTIALS_PER_SECOND = 1.3
MIN_COVERAGE = 0.75
BATCH = 32  # windows per LSTM pass: 5.5 ms per window at 32, 5.3 ms at 256 (1 thread, Xeon)


# ------------------------------------------------------------------------------ weights


def read_safetensors(data: bytes) -> dict[str, np.ndarray]:
    """The float32 tensors of a safetensors file, as numpy arrays (the only dtype written here)."""
    size = int.from_bytes(data[:8], "little")
    if len(data) < 8 or size > len(data) - 8:
        raise ModelFormatError("not a safetensors file: the header runs past the end")
    try:
        header = json.loads(data[8 : 8 + size])
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError
        raise ModelFormatError(f"unreadable safetensors header: {e}") from None
    if not isinstance(header, dict):
        raise ModelFormatError("the safetensors header is not an object")
    header.pop("__metadata__", None)
    body = memoryview(data)[8 + size :]
    out = {}
    for name, t in header.items():
        t = t if isinstance(t, dict) else {}
        shape, span = t.get("shape"), t.get("data_offsets")
        if t.get("dtype") != "F32":
            raise ModelFormatError(f"{name} is not a float32 tensor")
        if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)):
            raise ModelFormatError(f"{name} has no valid shape")
        if not (isinstance(span, list) and len(span) == 2 and all(type(n) is int for n in span)):
            raise ModelFormatError(f"{name} has no valid data_offsets")
        begin, end = span
        if not 0 <= begin <= end <= len(body) or end - begin != 4 * math.prod(shape):
            raise ModelFormatError(f"{name}'s bytes do not fit its shape or the file")
        out[name] = np.frombuffer(body, "<f4", math.prod(shape), begin).reshape(shape).astype(np.float32)
    return out


def load_weights(path: Path | str, sha256: str = WEIGHTS_SHA256[VOICE_WEIGHTS_FILE]) -> dict[str, np.ndarray]:
    """The converted GE2E state dict (lstm.*, linear.*), refused unless the file is the pinned one."""
    return read_safetensors(read_pinned(path, sha256))


# ------------------------------------------------------------------------------ features


# Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
_HZ_PER_MEL = 200.0 / 3
_MEL_AT_1KHZ = 1000.0 / _HZ_PER_MEL
_LOG_STEP = np.log(6.4) / 27.0


def _hz_to_mel(hz: float) -> float:
    if hz < 1000.0:
        return hz / _HZ_PER_MEL
    return _MEL_AT_1KHZ + float(np.log(hz / 1000.0)) / _LOG_STEP


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, np.float64)
    linear = _HZ_PER_MEL * mels
    logarithmic = 1000.0 * np.exp(_LOG_STEP * (mels - _MEL_AT_1KHZ))
    return np.where(mels >= _MEL_AT_1KHZ, logarithmic, linear)


def mel_filters(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, Slaney-normalised (librosa.filters.mel)."""
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper)).astype(np.float32)
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None].astype(np.float32)
    return weights


_WINDOW = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic
_MEL = mel_filters()


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) float32 mel power spectrogram, frames = 1 + len(wav) // 160."""
    x = np.pad(np.asarray(wav, np.float32), N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]
    spectrum = np.fft.rfft(frames * _WINDOW, axis=1)
    power = np.square(spectrum.real) + np.square(spectrum.imag)
    return (power.astype(np.float32) @ _MEL.T).astype(np.float32)


def partial_slices(n_samples: int) -> list[slice]:
    """Mel-frame windows of one utterance (resemblyzer's compute_partial_slices)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round((SAMPLE_RATE / PARTIALS_PER_SECOND) / HOP))
    starts = range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step)
    slices = [slice(i, i + PARTIAL_FRAMES) for i in starts]
    last = slices[-1]
    coverage = (n_samples - last.start * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(slices) > 1:
        slices.pop()
    return slices


# ------------------------------------------------------------------------------ network


@dataclass(frozen=True)
class _LstmLayer:
    w_input: np.ndarray  # (in, 4H), gate columns i f o g, the first three halved
    w_hidden: np.ndarray  # (H, 4H)
    bias: np.ndarray  # (4H,) b_ih + b_hh, same order and scale


class VoiceNet:
    """embed_utterance(wav) -> (256,) float32 unit vector, as resemblyzer.VoiceEncoder."""

    def __init__(self, path: Path | str, sha256: str = WEIGHTS_SHA256[VOICE_WEIGHTS_FILE]) -> None:
        state = load_weights(path, sha256)
        layers = []
        for n in range(3):
            try:
                w_ih, w_hh = state[f"lstm.weight_ih_l{n}"], state[f"lstm.weight_hh_l{n}"]
                bias = state[f"lstm.bias_ih_l{n}"] + state[f"lstm.bias_hh_l{n}"]
            except KeyError as e:
                raise ModelFormatError(f"the weights lack {e}") from None
            hidden = w_hh.shape[1]
            # torch orders the gate rows i, f, g, o; put the three sigmoid gates first (i, f, o,
            # g) and halve them: sigmoid(z) = 0.5 * tanh(z / 2) + 0.5, so one tanh over all four
            # gates serves both nonlinearities.
            order = np.r_[0 : 2 * hidden, 3 * hidden : 4 * hidden, 2 * hidden : 3 * hidden]
            scale = np.full(4 * hidden, 0.5, np.float32)
            scale[3 * hidden :] = 1.0
            layers.append(
                _LstmLayer(
                    np.ascontiguousarray((w_ih[order] * scale[:, None]).T),
                    np.ascontiguousarray((w_hh[order] * scale[:, None]).T),
                    bias[order] * scale,
                )
            )
        self.layers = tuple(layers)
        self.hidden = self.layers[0].w_hidden.shape[0]
        self.linear_w = np.ascontiguousarray(state["linear.weight"].T)
        self.linear_b = state["linear.bias"]
        if self.layers[0].w_input.shape[0] != N_MELS or self.linear_w.shape[0] != self.hidden:
            raise ModelFormatError("unexpected layer sizes")

    def embed_partials(self, mels: np.ndarray) -> np.ndarray:
        """(B, 160, 40) mel windows -> (B, 256) unit vectors, BATCH windows at a time: working
        memory grows with the batch (~45 MiB peak for 32 windows), and a 10-minute clip has ~800."""
        mels = np.asarray(mels, np.float32)
        return np.concatenate(
            [self._embed_batch(mels[at : at + BATCH]) for at in range(0, len(mels), BATCH)]
            or [np.zeros((0, self.linear_w.shape[1]), np.float32)]
        )

    def _embed_batch(self, mels: np.ndarray) -> np.ndarray:
        x = mels.transpose(1, 0, 2)  # time-major: (T, B, 40)
        t, b, _ = x.shape
        n = self.hidden
        h = np.zeros((b, n), np.float32)
        c = np.zeros((b, n), np.float32)
        gates = np.empty((b, 4 * n), np.float32)
        scratch = np.empty((b, n), np.float32)
        for depth, layer in enumerate(self.layers):
            inputs = np.matmul(x.reshape(t * b, -1), layer.w_input).reshape(t, b, -1)
            inputs += layer.bias
            last = depth == len(self.layers) - 1
            outputs = None if last else np.empty((t, b, n), np.float32)
            h.fill(0)
            c.fill(0)
            sig, g = gates[:, : 3 * n], gates[:, 3 * n :]
            i, f, o = sig[:, :n], sig[:, n : 2 * n], sig[:, 2 * n :]
            for step in range(t):
                np.matmul(h, layer.w_hidden, out=gates)
                gates += inputs[step]
                np.tanh(gates, out=gates)
                sig *= 0.5
                sig += 0.5
                c *= f
                np.multiply(i, g, out=scratch)
                c += scratch
                np.tanh(c, out=scratch)
                np.multiply(o, scratch, out=h)
                if outputs is not None:
                    outputs[step] = h
            x = outputs
        embeds = np.maximum(h @ self.linear_w + self.linear_b, 0)
        # all-zero rows (pure digital silence) stay zero instead of becoming NaN as in the original
        return embeds / np.maximum(np.linalg.norm(embeds, axis=1, keepdims=True), 1e-12)

    def embed_utterance(self, wav: np.ndarray) -> np.ndarray:
        return self.embed_utterances([wav])[0]

    def embed_utterances(self, wavs: list[np.ndarray]) -> np.ndarray:
        """(n, 256): each utterance's partial windows, all run through the LSTM as one batch (the
        rows do not interact; a batch of 12 costs ~2x a batch of 1 on OpenBLAS)."""
        windows, owners = [], []
        for n, wav in enumerate(wavs):
            wav = np.asarray(wav, np.float32).reshape(-1)
            slices = partial_slices(len(wav))
            needed = slices[-1].stop * HOP
            if needed >= len(wav):
                wav = np.pad(wav, (0, needed - len(wav)))
            mel = mel_spectrogram(wav)
            windows.extend(mel[s] for s in slices)
            owners.extend([n] * len(slices))
        if not windows:
            return np.zeros((0, self.linear_w.shape[1]), np.float32)
        partials = self.embed_partials(np.stack(windows))
        owner = np.asarray(owners)
        out = np.stack([partials[owner == n].mean(axis=0) for n in range(len(wavs))])
        return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)
