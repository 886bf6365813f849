"""dlib's face recognition ResNet (dlib_face_recognition_resnet_model_v1), evaluated with numpy.

Why: the prebuilt dlib wheel (dlib-bin) has no BLAS, so its ResNet takes ~81 ms per face on the
2-core Intel Xeon VM; the same network as numpy im2col + OpenBLAS sgemm takes ~13 ms (one thread,
measured on a real face chip; README, Benchmarks). The weights are read from the very .dat file
dlib loads, and the encodings agree with dlib's to float rounding (tests/biometrics/test_face_net.py compares them on
real faces), so templates enrolled with either are interchangeable and FACE_MODEL is unchanged.

The file is dlib's serialization of this network (dnn_face_recognition_ex.cpp):

    input_rgb_image_sized<150>  (pixel - channel mean) / 256
    con 32 7x7/2, affine, relu, max_pool 3x3/2
    level4: 3 x residual 32; level3: residual_down 64 + 3 x residual 64;
    level2: residual_down 128 + 2 x residual 128; level1: residual_down 256 + 2 x residual 256;
    level0: residual_down 256
    avg_pool_everything, fc_no_bias 128

residual(x) = relu(x + affine(con 3x3(relu(affine(con 3x3(x)))))); residual_down uses a stride-2
first convolution and adds avg_pool 2x2/2 of x. dlib adds tensors of different shapes by zero
padding to the larger one (add_prev_), which happens twice here (channels double; at level1 the
convolution gives 3x3 where the pooled input is 4x4).

Layers are stored input-first, each as its name string followed by its fields; integers are
dlib's packed form (a length byte, sign in bit 7, little-endian bytes), floats in tensors raw
little-endian IEEE. The reader walks to each layer it expects by name and checks its fields
(shapes, strides, padding, widths); a file of another architecture fails one of those checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelFormatError

CHIP_SIZE = 150  # dlib's compute_face_descriptor: 150 px chips, padding 0.25
CHIP_PADDING = 0.25
BATCH = 16


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def int(self) -> int:
        if self.pos >= len(self.data):
            raise ModelFormatError("the file ends inside a layer")
        head = self.data[self.pos]
        size = head & 0x0F
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if head & 0x80 else value

    def float(self) -> float:  # dlib's portable float: mantissa * 2**exponent
        mantissa = self.int()
        exponent = self.int()
        return float(mantissa) * 2.0**exponent

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise ModelFormatError(f"tensor version {version}, expected 2")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        end = self.pos + 4 * count
        if end > len(self.data):
            raise ModelFormatError("tensor runs past the end of the file")
        values = np.frombuffer(self.data, "<f4", count, self.pos).astype(np.float32)
        self.pos = end
        return values.reshape(shape)

    def seek_name(self, name: str) -> None:
        """Move past the next serialized string equal to `name`."""
        raw = name.encode()
        marker = bytes([1, len(raw)]) + raw
        at = self.data.find(marker, self.pos)
        if at < 0:
            raise ModelFormatError(f"layer {name!r} not found after byte {self.pos}")
        self.pos = at + len(marker)


@dataclass(frozen=True)
class _Conv:
    weights: np.ndarray  # (kh * kw * C, F): rows in (y, x, c) order, the affine folded in
    bias: np.ndarray  # (F,)
    size: int
    stride: int
    padding: int


def _read_conv(r: _Reader, in_channels: int) -> _Conv:
    r.seek_name("con_4")
    params = r.tensor().reshape(-1)
    filters, kh, kw, stride_y, stride_x, pad_y, pad_x = (r.int() for _ in range(7))
    if kh != kw or stride_y != stride_x or pad_y != pad_x:
        raise ModelFormatError("only square convolutions are supported")
    n = filters * in_channels * kh * kw
    if params.size != n + filters:
        raise ModelFormatError(f"convolution has {params.size} parameters, expected {n + filters}")
    w = params[:n].reshape(filters, in_channels, kh, kw)
    bias = params[n:]
    # Every convolution here is followed by an affine layer (batch norm, frozen): fold it in.
    r.seek_name("affine_")
    affine = r.tensor().reshape(-1)
    if affine.size != 2 * filters:
        raise ModelFormatError("affine layer does not match its convolution")
    gamma, beta = affine[:filters], affine[filters:]
    w = w * gamma[:, None, None, None]
    bias = bias * gamma + beta
    weights = np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(kh * kw * in_channels, filters))
    return _Conv(weights, bias.astype(np.float32), kh, stride_y, pad_y)


def _read_pool(r: _Reader, name: str) -> tuple[int, int]:
    """(window, stride) of a square pooling layer without padding."""
    r.seek_name(name)
    nr, nc, stride_y, stride_x, pad_y, pad_x = (r.int() for _ in range(6))
    if nr != nc or stride_y != stride_x or pad_y != pad_x or pad_y != 0:
        raise ModelFormatError(f"unsupported {name}: {nr}x{nc}/{stride_y} padding {pad_y}")
    return nr, stride_y


@dataclass(frozen=True)
class _Block:
    first: _Conv
    second: _Conv
    down: bool  # stride-2 first convolution, input avg-pooled 2x2/2


class FaceNet:
    """Face chips (N, 150, 150, 3) uint8 RGB -> (N, 128) float32 descriptors, as dlib."""

    def __init__(self, path: Path | str) -> None:
        r = _Reader(Path(path).read_bytes())
        r.seek_name("loss_metric_2")
        r.seek_name("input_rgb_image_sized")
        self.mean = np.array([r.float(), r.float(), r.float()], np.float32)
        size = (r.int(), r.int())
        if size != (CHIP_SIZE, CHIP_SIZE):
            raise ModelFormatError(f"input size {size}, expected {CHIP_SIZE}")
        self.stem = _read_conv(r, 3)
        self.stem_pool = _read_pool(r, "max_pool_2")
        blocks = []
        channels = self.stem.weights.shape[1]
        for width, count in ((32, 3), (64, 4), (128, 3), (256, 3), (256, 1)):
            for i in range(count):
                down = i == 0 and width != 32  # each level but the first opens by halving
                first = _read_conv(r, channels)
                second = _read_conv(r, width)
                if down:
                    if _read_pool(r, "avg_pool_2") != (2, 2):
                        raise ModelFormatError("residual_down pooling is not 2x2/2")
                    if first.stride != 2:
                        raise ModelFormatError("residual_down convolution is not stride 2")
                if first.weights.shape[1] != width:
                    raise ModelFormatError("unexpected layer widths")
                blocks.append(_Block(first, second, down))
                channels = width
        self.blocks = tuple(blocks)
        r.seek_name("avg_pool_2")  # avg_pool_everything: 0x0 window, the whole plane
        if (r.int(), r.int()) != (0, 0):
            raise ModelFormatError("the last pooling is not avg_pool_everything")
        r.seek_name("fc_2")
        outputs, inputs = r.int(), r.int()
        fc = r.tensor().reshape(-1)
        if (inputs, outputs) != (channels, 128) or fc.size != inputs * outputs:
            raise ModelFormatError("unexpected fully connected layer")
        self.fc = np.ascontiguousarray(fc.reshape(inputs, outputs))

    def __call__(self, chips: np.ndarray) -> np.ndarray:
        chips = np.asarray(chips)
        if chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise ValueError(f"expected (N, {CHIP_SIZE}, {CHIP_SIZE}, 3) chips, got {chips.shape}")
        # BATCH faces at a time, as dlib does: working memory ~4 MiB per face (61 MiB peak for 16)
        parts = [self._forward(chips[at : at + BATCH]) for at in range(0, len(chips), BATCH)]
        return np.concatenate(parts) if parts else np.zeros((0, self.fc.shape[1]), np.float32)

    def _forward(self, chips: np.ndarray) -> np.ndarray:
        x = (chips.astype(np.float32) - self.mean) * np.float32(1 / 256)
        x = _relu(_conv(x, self.stem))
        x = _max_pool(x, *self.stem_pool)
        for block in self.blocks:
            y = _relu(_conv(x, block.first))
            y = _conv(y, block.second)
            skip = _avg_pool_2(x) if block.down else x
            x = _relu(_add_padded(y, skip))
        pooled = x.mean(axis=(1, 2), dtype=np.float32)
        return pooled @ self.fc


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0, out=x)


def _conv(x: np.ndarray, conv: _Conv) -> np.ndarray:
    """NHWC convolution as one matrix product over im2col columns in (y, x, c) order."""
    n, h, w, c = x.shape
    k, s, p = conv.size, conv.stride, conv.padding
    if p:
        x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    ho = (h + 2 * p - k) // s + 1
    wo = (w + 2 * p - k) // s + 1
    if k == 1:
        cols = x[:, : s * ho : s, : s * wo : s, :]
    else:
        cols = np.empty((n, ho, wo, k * k * c), np.float32)
        for dy in range(k):
            for dx in range(k):
                at = (dy * k + dx) * c
                cols[..., at : at + c] = x[:, dy : dy + s * ho : s, dx : dx + s * wo : s, :]
    out = cols.reshape(n * ho * wo, k * k * c) @ conv.weights
    out += conv.bias
    return out.reshape(n, ho, wo, -1)


def _max_pool(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    n, h, w, c = x.shape
    ho = (h - size) // stride + 1
    wo = (w - size) // stride + 1
    out = x[:, : stride * ho : stride, : stride * wo : stride, :].copy()
    for dy in range(size):
        for dx in range(size):
            np.maximum(out, x[:, dy : dy + stride * ho : stride, dx : dx + stride * wo : stride, :], out=out)
    return out


def _avg_pool_2(x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    ho, wo = (h - 2) // 2 + 1, (w - 2) // 2 + 1
    total = x[:, 0 : 2 * ho : 2, 0 : 2 * wo : 2] + x[:, 1 : 2 * ho : 2, 0 : 2 * wo : 2]
    total += x[:, 0 : 2 * ho : 2, 1 : 2 * wo : 2]
    total += x[:, 1 : 2 * ho : 2, 1 : 2 * wo : 2]
    return total * np.float32(0.25)


def _add_padded(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a + b where the smaller is zero-padded to the larger (bottom/right, extra channels)."""
    if a.shape == b.shape:
        return a + b
    shape = tuple(max(i, j) for i, j in zip(a.shape, b.shape))
    out = np.zeros(shape, np.float32)
    out[: a.shape[0], : a.shape[1], : a.shape[2], : a.shape[3]] += a
    out[: b.shape[0], : b.shape[1], : b.shape[2], : b.shape[3]] += b
    return out
