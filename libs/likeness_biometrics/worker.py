"""Process pool for the CPU-bound work, and the functions that run in it.

    executor = create_executor(max_workers=1, config=BioConfig())
    result = await loop.run_in_executor(executor, enroll_face_image, data)

The pool uses the 'spawn' start method: the parent runs gRPC threads, and fork() with threads held
by gRPC is unsafe. Spawned workers re-import this module (so the service's entry point must sit
under `if __name__ == "__main__":`), then `_init_worker` pins numpy's BLAS to one thread and loads
the models once (both networks run on numpy: face_net.py, voice_net.py; torch is never imported).
The task functions take bytes (and plain values) and return the dataclasses of this package,
which hold numpy arrays and pickle cheaply; expected failures come back as the typed errors
(MediaError, SampleRejected), which pickle too.

Sizing on the 2-core box: one worker per core at most. RSS per worker: face only 80-105 MiB,
voice only 45-65 MiB, both ~140 MiB (bench/verify and bench/load print the services' totals).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from .config import BioConfig
from .errors import BiometricError
from .face import DetectedFace, FaceEnrollmentResult, analyze_enrollment_image, faces_in_frame
from .frames import FrameCoverage, VideoSampler, ends_early, still_coverage
from .media import decode_audio, decode_image, image_frame_count
from .models import FACE_MODEL, VOICE_MODEL, load_face_models, load_voice_encoder, set_single_thread
from .voice import (
    SegmentEmbedding,
    Speaker,
    VoiceEnrollmentResult,
    analyze_enrollment_clip,
    analyze_enrollment_clips,
    cluster_speakers,
    embed_speech,
    speech_windows,
)

_config = BioConfig()
_libc = ctypes.CDLL(ctypes.util.find_library("c")) if sys.platform.startswith("linux") else None


def _release_memory() -> None:
    """Hand freed heap back to the OS after a task: decoded frames and audio leave glibc's arenas
    holding ~60 MB per worker otherwise (measured with bench/verify: RSS after a run)."""
    if _libc is not None:
        _libc.malloc_trim(0)


def _init_worker(config: BioConfig, modalities: tuple[str, ...], warm: bool) -> None:
    global _config
    _config = config
    set_single_thread()
    if "voice" in modalities:
        encoder = load_voice_encoder()
        if warm:  # the first call pays numpy's lazy FFT and BLAS set-up: pay it here
            encoder.embed_utterance(np.zeros(16000, np.float32) + 1e-3)
    if "face" in modalities:
        load_face_models()
        if warm:  # the interpreter's set-up and the first tile batch, before any request
            from .blaze import load_blaze

            load_blaze(config.detector_threads).detect(np.zeros((1080, 1920, 3), np.uint8), config.still_min_face_px)


def create_executor(
    max_workers: int = 1,
    config: BioConfig | None = None,
    modalities: tuple[str, ...] = ("face", "voice"),
    warm: bool = True,
    max_tasks_per_child: int | None = None,
    start_method: str = "spawn",
) -> ProcessPoolExecutor:
    """A pool whose workers load the models once. `start_method` may be "forkserver" (faster
    restarts on Linux); never "fork"."""
    if start_method == "fork":
        raise ValueError("fork is unsafe in a process running gRPC threads; use spawn or forkserver")
    return ProcessPoolExecutor(
        max_workers=max_workers,
        mp_context=multiprocessing.get_context(start_method),
        initializer=_init_worker,
        initargs=(config or BioConfig(), tuple(modalities), warm),
        max_tasks_per_child=max_tasks_per_child,
    )


# ------------------------------------------------------------------ functions run in the worker


@dataclass(frozen=True)
class WorkerInfo:
    pid: int
    face_model: str
    voice_model: str
    blas_threads: int  # numpy's BLAS: 1, the workers run side by side
    heavy_modules: tuple[str, ...]  # torch / librosa / resemblyzer if anything imported them: none


def ping() -> WorkerInfo:
    """Readiness probe: returns once the worker has loaded its models."""
    from threadpoolctl import threadpool_info

    threads = max((pool["num_threads"] for pool in threadpool_info()), default=1)
    heavy = tuple(m for m in ("torch", "librosa", "resemblyzer") if m in sys.modules)
    return WorkerInfo(
        pid=os.getpid(),
        face_model=f"{FACE_MODEL.name}/{FACE_MODEL.version}",
        voice_model=f"{VOICE_MODEL.name}/{VOICE_MODEL.version}",
        blas_threads=threads,
        heavy_modules=heavy,
    )


@dataclass(frozen=True)
class FrameFaces:
    frame_index: int
    timestamp_s: float
    faces: list[DetectedFace]


@dataclass(frozen=True)
class VisualFaces:
    """The faces of an image, an animation or a video (or one time range of it), frame by frame,
    with the account of what was sampled, analysed and skipped."""

    frames: list[FrameFaces]  # analysed frames, with or without faces
    coverage: FrameCoverage
    frame_width: int  # of the analysed pictures
    frame_height: int
    elapsed_ms: float


def enroll_face_image(data: bytes, config: BioConfig | None = None) -> FaceEnrollmentResult:
    """Image bytes -> the dominant face's encoding (or MediaError / SampleRejected)."""
    config = config or _config
    image = decode_image(data, config)
    return analyze_enrollment_image(image.rgb, config)


def _load(data: bytes | str) -> bytes:
    """Media handed over as bytes, or (large clips) as the path of a private spool file."""
    if isinstance(data, str):
        with open(data, "rb") as f:
            return f.read()
    return data


def faces_in_image(data: bytes | str, config: BioConfig | None = None) -> VisualFaces:
    """Every face of a still image; an animated image (GIF, APNG, WebP, AVIF) is sampled frame by
    frame like a video."""
    config = config or _config
    data = _load(data)
    if image_frame_count(data, config) > 1:
        return faces_in_video(data, config)
    t = time.perf_counter()
    # Decoded as it is up to twice verify_image_side (a JPEG at a reduced DCT scale past that): no
    # resampling pass; the face floor scales with the picture (40 px in 1920, 80 px in 3840).
    image = decode_image(data, config, max_side=2 * config.verify_image_side)
    h, w = image.rgb.shape[:2]
    floor = config.still_min_face_px * max(1.0, max(h, w) / config.verify_image_side)
    faces = faces_in_frame(image.rgb, config, min_face_px=floor)
    _release_memory()
    return VisualFaces([FrameFaces(0, 0.0, faces)], still_coverage(), w, h, round((time.perf_counter() - t) * 1000, 1))


def time_ranges(seconds: float | None, parts: int, config: BioConfig) -> list[tuple[float, float | None]]:
    """`parts` consecutive [start, end) ranges on the sample grid covering a clip of `seconds`
    (the last open-ended, so it decodes to the real end whatever was declared). A missing, negative,
    NaN or absurd declared duration gives one range: the whole clip."""
    if seconds is None or not math.isfinite(seconds) or not 0 < seconds <= config.max_video_seconds + 1 or parts <= 1:
        return [(0.0, None)]
    samples = math.floor(seconds * config.video_fps) + 1  # at 0, 1/fps, 2/fps ...
    parts = min(parts, samples)
    bounds = [samples * k // parts / config.video_fps for k in range(parts + 1)]
    return [(bounds[k], bounds[k + 1] if k < parts - 1 else None) for k in range(parts)]


def faces_in_video(data: bytes | str, config: BioConfig | None = None, start_s: float = 0.0, end_s: float | None = None) -> VisualFaces:
    """Faces in the sampled frames of a video or animated image (frames.VideoSampler has the rule),
    in [start_s, end_s) of it: submit one task per `time_ranges` range to spread a clip over the
    pool (each decodes only from the keyframe before its range to its end)."""
    config = config or _config
    t = time.perf_counter()
    sampler = VideoSampler(_load(data), config, start_s, end_s)
    frames = [FrameFaces(frame.index, frame.timestamp_s, faces_in_frame(frame.rgb, config, min_face_px=config.video_min_face_px))
              for frame in sampler]  # fmt: skip
    _release_memory()
    return VisualFaces(frames, sampler.coverage, sampler.width, sampler.height, round((time.perf_counter() - t) * 1000, 1))


def enroll_voice_clip(data: bytes, config: BioConfig | None = None) -> VoiceEnrollmentResult:
    """Audio (or video) bytes -> speaker embedding of the speech (or TOO_LITTLE_SPEECH...)."""
    config = config or _config
    audio = decode_audio(data, config)
    return analyze_enrollment_clip(audio.samples, config)


def enroll_voice_clips(clips: list[bytes], config: BioConfig | None = None) -> list[VoiceEnrollmentResult | BiometricError]:
    """enroll_voice_clip for several clips in one call, in order, their speech embedded as one
    batch; a clip that does not decode or has too little speech comes back as its error."""
    config = config or _config
    decoded: list[np.ndarray] = []
    errors: dict[int, BiometricError] = {}
    for n, data in enumerate(clips):
        try:
            decoded.append(decode_audio(data, config).samples)
        except BiometricError as error:
            errors[n] = error
    analysed = iter(analyze_enrollment_clips(decoded, config))
    return [errors[n] if n in errors else next(analysed) for n in range(len(clips))]


def voice_probe(data: bytes, config: BioConfig | None = None) -> np.ndarray | None:
    """Audio bytes -> one embedding of all its speech (None when no speech)."""
    config = config or _config
    return embed_speech(decode_audio(data, config).samples, config)


@dataclass(frozen=True)
class AudioCoverage:
    """What the voice analysis heard of a clip."""

    audio_track: bool
    declared_s: float | None = None
    decoded_s: float = 0.0
    speech_s: float = 0.0
    windows: int = 0  # speech windows embedded (each searched on its own)
    decode_errors: tuple[str, ...] = ()
    snr_db: float = 0.0  # speech vs the rest (AudioStats)
    high_band_share: float = 0.0  # of the speech energy above 3.6 kHz (AudioStats)

    def truncated(self, tolerance_s: float) -> bool:
        return ends_early(self.declared_s, self.decoded_s, tolerance_s)


@dataclass(frozen=True)
class VoiceFindings:
    speakers: list[Speaker]  # windows grouped by voice: one mean embedding per speaker
    windows: list[SegmentEmbedding]  # every speech window
    coverage: AudioCoverage
    elapsed_ms: float


def voices_in_audio(data: bytes | str, config: BioConfig | None = None) -> VoiceFindings:
    """Audio (or a video's audio track) -> every speech window's embedding and the speakers they
    group into. (A video without an audio track is no error for verification: the extractor reads
    the container's header and does not ask; here it would be NO_AUDIO_STREAM.)"""
    config = config or _config
    data = _load(data)
    t = time.perf_counter()
    audio = decode_audio(data, config, strict=False)
    stats, windows = speech_windows(audio.samples, config)
    speakers = cluster_speakers(windows)
    coverage = AudioCoverage(True, audio.declared_s, round(audio.duration_s, 3), stats.speech_s, len(windows), audio.decode_errors,
                             stats.snr_db, stats.high_band_share)  # fmt: skip
    _release_memory()
    return VoiceFindings(speakers, windows, coverage, round((time.perf_counter() - t) * 1000, 1))
