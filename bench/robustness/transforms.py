"""What platforms and uploaders do to media, offline and deterministic.

Pictures (RGB frames; a video gets the same change on every frame and is re-encoded as H.264):
low-bitrate H.264, 360p, centre crop to 80 %, mirror, grayscale, caption over the lower third.

Sound (16 kHz mono float32): speed 0.9x / 1.1x (resampling, so tempo and pitch change together,
as a sped-up upload does), pitch +-1 semitone at the same tempo (a phase-vocoder time stretch in
numpy/scipy, then polyphase resampling: no librosa or sox), pink noise or synthetic music mixed
at 10 dB SNR, and a telephone line (down to 8 kHz, 300-3400 Hz band, G.711 mu-law, back to 16 kHz).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tests.mediakit import encode_video, still

Frame = np.ndarray
RATE = 16000

LOW_CRF = 38  # x264 CRF of the low-bitrate re-encode (23 is x264's default, 51 the worst)
PLATFORM_CRF = 28  # every other video transform is re-encoded at this CRF, as a platform would
CAPTION = "BREAKING: you won't believe what happened next #viral"


# ------------------------------------------------------------------ pictures


def to_360p(rgb: Frame) -> Frame:
    """Scaled so its short side is 360 px (never up)."""
    h, w = rgb.shape[:2]
    s = 360 / min(h, w)
    if s >= 1:
        return rgb
    size = (max(2, round(w * s)), max(2, round(h * s)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def crop80(rgb: Frame) -> Frame:
    """The central 80 % of width and height."""
    h, w = rgb.shape[:2]
    dy, dx = round(h * 0.1), round(w * 0.1)
    return np.ascontiguousarray(rgb[dy : h - dy, dx : w - dx])


def mirror(rgb: Frame) -> Frame:
    return np.ascontiguousarray(rgb[:, ::-1])


def grayscale(rgb: Frame) -> Frame:
    return np.asarray(Image.fromarray(rgb).convert("L").convert("RGB"))


def caption(rgb: Frame, text: str = CAPTION) -> Frame:
    """Two lines of white text on a translucent black band over the lower third."""
    img = Image.fromarray(rgb).convert("RGBA")
    w, h = img.size
    band = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(band)
    top = h * 2 // 3
    draw.rectangle((0, top, w, h), fill=(0, 0, 0, 140))
    size = max(10, h // 14)
    font = ImageFont.load_default(size=size)
    words = text.split()
    lines = [" ".join(words[: len(words) // 2]), " ".join(words[len(words) // 2 :])]
    for n, line in enumerate(lines):
        draw.text((w // 20, top + size // 2 + n * int(size * 1.3)), line, font=font, fill=(255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(img, band).convert("RGB"))


def identity(rgb: Frame) -> Frame:
    return rgb


# name -> (frame change, x264 CRF of a video re-encode; images: JPEG, or a 1 s H.264 clip for "h264")
PICTURE = {
    "h264 crf38": (identity, LOW_CRF),
    "360p": (to_360p, PLATFORM_CRF),
    "crop 80%": (crop80, PLATFORM_CRF),
    "mirror": (mirror, PLATFORM_CRF),
    "grayscale": (grayscale, PLATFORM_CRF),
    "caption": (caption, PLATFORM_CRF),
}


def image_variant(rgb: Frame, name: str) -> bytes:
    """The picture after transform `name`, as a platform would serve it: a JPEG (quality 85), or
    for the low-bitrate family a one-second H.264 clip of the still (what a video platform makes of
    an image upload)."""
    change, crf = PICTURE[name]
    out = change(rgb)
    if crf == LOW_CRF:
        return encode_video(lambda _: out, fps=25, count=25, options={"crf": str(crf)})
    return still(out, "JPEG", quality=85)


def video_variant(frames: list[Frame], fps: float, audio: np.ndarray | None, name: str) -> bytes:
    """The video after transform `name` on every frame, re-encoded as H.264 (with its sound)."""
    change, crf = PICTURE[name]
    return encode_video([change(f) for f in frames], fps=fps, audio=audio, options={"crf": str(crf)})


# ------------------------------------------------------------------ sound


def _resample(x: np.ndarray, ratio: float) -> np.ndarray:
    """`x` resampled to `ratio` times as many samples (polyphase, rational approximation)."""
    from scipy.signal import resample_poly

    f = Fraction(ratio).limit_denominator(200)
    return resample_poly(x, f.numerator, f.denominator).astype(np.float32)


def speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Played `factor` times faster: shorter and higher (or longer and lower)."""
    return _resample(x, 1 / factor)


def time_stretch(x: np.ndarray, factor: float, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """`factor` times longer at the same pitch: a phase vocoder (STFT magnitudes interpolated between
    frames, phases advanced by each bin's measured instantaneous frequency)."""
    from scipy.signal import istft, stft

    _, _, spec = stft(x, nperseg=n_fft, noverlap=n_fft - hop, boundary="zeros")
    steps = np.arange(0, spec.shape[1] - 1, 1 / factor)
    expected = 2 * np.pi * hop * np.arange(spec.shape[0]) / n_fft
    phase = np.angle(spec[:, 0])
    out = np.empty((spec.shape[0], len(steps)), np.complex128)
    for k, t in enumerate(steps):
        i = int(t)
        a, b = spec[:, i], spec[:, i + 1]
        mag = (1 - (t - i)) * np.abs(a) + (t - i) * np.abs(b)
        out[:, k] = mag * np.exp(1j * phase)
        delta = np.angle(b) - np.angle(a) - expected
        phase = phase + expected + (delta - 2 * np.pi * np.round(delta / (2 * np.pi)))
    _, y = istft(out, nperseg=n_fft, noverlap=n_fft - hop, boundary=True)
    return y.astype(np.float32)


def pitch(x: np.ndarray, semitones: float) -> np.ndarray:
    """Pitch moved by `semitones` at the same tempo: stretched by 2^(s/12), then resampled back to
    the original length (which raises or lowers every frequency by that ratio)."""
    ratio = 2 ** (semitones / 12)
    y = _resample(time_stretch(x, ratio), 1 / ratio)[: len(x)]
    return np.pad(y, (0, len(x) - len(y)))


def pink_noise(n: int, seed: int) -> np.ndarray:
    """1/f noise (white noise shaped in the frequency domain), unit RMS."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.normal(size=n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    spectrum /= np.sqrt(np.maximum(f, 20.0))
    y = np.fft.irfft(spectrum, n)
    return (y / np.sqrt(np.mean(y**2))).astype(np.float32)


def music(n: int, seed: int) -> np.ndarray:
    """A synthetic music bed: a chord progression of plucked harmonic tones (2 chords/s, three
    notes each plus a bass), and a noise-burst hi-hat on the off-beats; unit RMS."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    y = np.zeros(n)
    roots = [57, 53, 60, 55]  # A3, F3, C4, G3 (MIDI)
    beat = RATE // 2
    for k, start in enumerate(range(0, n, beat)):
        root = roots[(k // 2 + seed) % 4]
        seg = slice(start, min(n, start + beat))
        tt = t[seg] - t[start]
        env = np.exp(-tt * 5)
        for note in (root, root + 4, root + 7, root - 12):
            freq = 440 * 2 ** ((note - 69) / 12)
            y[seg] += env * sum(np.sin(2 * np.pi * freq * h * tt + rng.uniform(0, 6)) / h**1.5 for h in (1, 2, 3, 4))
        a, b = min(n, start + beat // 2), min(n, start + beat // 2 + 800)
        y[a:b] += 0.3 * rng.normal(size=b - a) * np.exp(-np.arange(b - a) / 150)
    return (y / np.sqrt(np.mean(y**2))).astype(np.float32)


def mix(x: np.ndarray, background: np.ndarray, snr_db: float) -> np.ndarray:
    """`background` added at `snr_db` below the clip's speech power (power of its frames above
    -40 dB relative to the loudest, so pauses do not dilute it), peak-limited to 0.99."""
    frames = x[: len(x) // 480 * 480].reshape(-1, 480)
    power = np.mean(frames**2, axis=1)
    speech = power[power > power.max() * 1e-4]
    level = np.sqrt(np.mean(speech)) / 10 ** (snr_db / 20)
    y = x + level * background[: len(x)]
    peak = np.max(np.abs(y))
    return (y * (0.99 / peak) if peak > 0.99 else y).astype(np.float32)


def telephone(x: np.ndarray) -> np.ndarray:
    """A narrowband phone line: 8 kHz, 300-3400 Hz (4th-order Butterworth), G.711 mu-law, back to 16 kHz."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    narrow = resample_poly(x, 1, 2)
    narrow = sosfiltfilt(butter(4, (300, 3400), btype="bandpass", fs=8000, output="sos"), narrow)
    mu = 255.0
    peak = max(float(np.max(np.abs(narrow))), 1e-9)
    v = np.clip(narrow / peak, -1, 1)
    code = np.round(np.sign(v) * np.log1p(mu * np.abs(v)) / np.log1p(mu) * 127) / 127  # 8-bit companded
    narrow = np.sign(code) * ((1 + mu) ** np.abs(code) - 1) / mu * peak
    return resample_poly(narrow, 2, 1).astype(np.float32)


AUDIO: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "speed 0.9x": lambda x, seed: speed(x, 0.9),
    "speed 1.1x": lambda x, seed: speed(x, 1.1),
    "pitch -1 st": lambda x, seed: pitch(x, -1),
    "pitch +1 st": lambda x, seed: pitch(x, +1),
    "noise 10 dB": lambda x, seed: mix(x, pink_noise(len(x), seed), 10),
    "music 10 dB": lambda x, seed: mix(x, music(len(x), seed), 10),
    "telephone 8k": lambda x, seed: telephone(x),
}
