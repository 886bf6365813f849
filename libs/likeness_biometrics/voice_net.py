"""Resemblyzer's GE2E speaker encoder, evaluated with numpy: no torch, no librosa in the worker.

Why: torch and librosa (with numba) made the voice worker ~470 MiB of the verification service's
~800 MiB; the network itself is 1.4 M floats (a 3-layer LSTM of 256 units and a 256x256 linear
layer). This module reads the weights from the very pretrained.pt that resemblyzer loads, and
reproduces `VoiceEncoder.embed_utterance` step by step:

    wav (16 kHz, float32, volume-normalised by the caller)
      -> partial windows of 160 frames (1.6 s), 1.3 per second, the last kept if >= 75 % covered
      -> mel power spectrogram per window (librosa.feature.melspectrogram defaults: 25 ms Hann
         window, 10 ms hop, centred with zero padding, 40 Slaney mel bands up to 8 kHz)
      -> LSTM x 3 -> last hidden state -> linear -> ReLU -> L2 norm, per window
      -> mean of the windows -> L2 norm

tests/biometrics/test_voice_net.py checks the result against resemblyzer itself on LibriSpeech,
so VOICE_MODEL (and every stored voice template) is unchanged.

pretrained.pt is torch's legacy (pre-zip) format: pickles for the magic number, the protocol and
system info, then the object whose tensors refer to storages by key, then the list of storage keys,
then each storage as an int64 element count and its raw little-endian bytes. The unpickler below
accepts only the handful of classes such a checkpoint holds, so the file cannot run code.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelFormatError

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s
PARTIALS_PER_SECOND = 1.3
MIN_COVERAGE = 0.75
BATCH = 32  # windows per LSTM pass: 5.5 ms per window at 32, 5.3 ms at 256 (1 thread, Xeon)
_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "LongStorage": "<i8", "IntStorage": "<i4"}


# ------------------------------------------------------------------------------ weights


@dataclass(frozen=True)
class _LazyTensor:
    key: str
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _ints(value) -> tuple[int, ...]:
    if not isinstance(value, tuple) or not all(type(v) is int and 0 <= v < 2**40 for v in value):
        raise ModelFormatError("tensor shape is not a tuple of small non-negative integers")
    return value


def _rebuild_tensor(storage, offset, size, stride, *_ignored):
    size, stride = _ints(size), _ints(stride)
    if not isinstance(storage, str) or len(size) != len(stride) or offset not in range(2**40):
        raise ModelFormatError("malformed tensor in the checkpoint")
    return _LazyTensor(storage, offset, size, stride)


class _CheckpointUnpickler(pickle.Unpickler):
    _allowed = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    }

    def __init__(self, f, storages: dict[str, tuple[str, int]]):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch" and name in _DTYPES:
            return ("storage type", _DTYPES[name])  # a tuple: a BUILD opcode cannot alter it
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise ModelFormatError(f"unexpected object {module}.{name} in the checkpoint") from None

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) != 6:
            raise ModelFormatError("unsupported storage reference")
        kind, storage_type, key, _location, numel, view = pid
        if (
            kind != "storage"
            or view is not None
            or not isinstance(storage_type, tuple)
            or storage_type[1:] not in [(d,) for d in _DTYPES.values()]
            or not isinstance(key, str)
            or type(numel) is not int
            or not 0 <= numel < 2**40
        ):
            raise ModelFormatError(f"unsupported storage reference {str(pid)[:80]}")
        self.storages[key] = (storage_type[1], numel)
        return key


def load_legacy_state_dict(path: Path | str, entry: str = "model_state") -> dict[str, np.ndarray]:
    """checkpoint[entry] of a legacy torch.save file, as float32 numpy arrays."""
    f = io.BytesIO(Path(path).read_bytes())
    storages: dict[str, tuple[str, int]] = {}

    def load():  # every pickle in the file goes through the restricted unpickler
        return _CheckpointUnpickler(f, storages).load()

    try:
        if load() != _TORCH_MAGIC:
            raise ModelFormatError("not a legacy torch checkpoint")
        load()  # protocol version
        info = load()
        if not isinstance(info, dict) or not info.get("little_endian", False):
            raise ModelFormatError("only little-endian checkpoints are supported")
        checkpoint = load()
        keys = load()
    except ModelFormatError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise ModelFormatError(f"unreadable checkpoint: {e}") from e
    buffers: dict[str, np.ndarray] = {}
    for key in keys if isinstance(keys, list) else ():
        if not isinstance(key, str) or key not in storages:
            raise ModelFormatError("checkpoint lists a storage no tensor uses")
        dtype, numel = storages[key]
        head = f.read(8)
        if len(head) != 8:
            raise ModelFormatError("checkpoint storage is truncated")
        (count,) = struct.unpack("<q", head)
        raw = f.read(max(0, count) * np.dtype(dtype).itemsize)
        if count != numel or len(raw) != count * np.dtype(dtype).itemsize:
            raise ModelFormatError("checkpoint storage is truncated")
        buffers[key] = np.frombuffer(raw, dtype)
    state = checkpoint.get(entry) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise ModelFormatError(f"checkpoint has no {entry!r}")
    out = {}
    for name, t in state.items():
        base = buffers.get(t.key) if isinstance(t, _LazyTensor) else None
        if base is None:
            raise ModelFormatError(f"{name} is not a tensor with data in the checkpoint")
        # as_strided trusts its arguments: a lying size or stride would read outside the buffer,
        # and a huge size over zero strides would allocate without limit
        last = t.offset + sum((n - 1) * s for n, s in zip(t.size, t.stride) if n > 0)
        if last >= len(base) or int(np.prod(t.size, dtype=object)) > len(base):
            raise ModelFormatError(f"{name} points outside its storage")
        item = base.itemsize
        view = np.lib.stride_tricks.as_strided(base[t.offset :], t.size, tuple(s * item for s in t.stride), writeable=False)
        out[name] = np.array(view, np.float32)
    return out


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

    def __init__(self, path: Path | str) -> None:
        state = load_legacy_state_dict(path)
        layers = []
        for n in range(3):
            try:
                w_ih, w_hh = state[f"lstm.weight_ih_l{n}"], state[f"lstm.weight_hh_l{n}"]
                bias = state[f"lstm.bias_ih_l{n}"] + state[f"lstm.bias_hh_l{n}"]
            except KeyError as e:
                raise ModelFormatError(f"checkpoint lacks {e}") from None
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
