"""Probe extraction in the biometric worker pool: every face of every analysed frame, a voiceprint
per speaker and per speech window, and the coverage account of what was seen. A video is split
into time ranges spread over the face pool (at least one per face worker, one per
`shard_seconds` of clip for progress on long clips), and the audio track is embedded beside them.
Jobs in flight per pool are the `likeness_embedding_jobs` gauge (queued + running; above
`likeness_embedding_workers`, requests are queueing)."""

from __future__ import annotations

import asyncio
import math
import os
import tempfile
from concurrent.futures import Executor
from dataclasses import replace

from likeness_biometrics import FACE_MODEL, VOICE_MODEL, BioConfig, FrameCoverage, MediaKind, sniff
from likeness_biometrics.errors import invalid_argument
from likeness_biometrics.media import MediaType, animation_span, by_mime, probe_streams
from likeness_biometrics.worker import (
    VisualFaces,
    VoiceFindings,
    create_executor,
    faces_in_image,
    faces_in_video,
    ping,
    time_ranges,
    voices_in_audio,
)
from likeness_common import metrics, provenance

from ..domain.model import Coverage, IncomingProvenance, Location, Modality, Probe
from ..service_layer.ports import Duration, Extraction, Progress


class WorkerPoolExtractor:
    """Two pools: face workers share a video's frames; voice workers embed the audio, at the same
    time. Each worker loads only its own model (face 80-105 MiB RSS, voice 45-65 MiB)."""

    def __init__(self, face_workers: int = 2, voice_workers: int = 1, config: BioConfig | None = None, shard_seconds: float = 30.0,
                 spool_bytes: int = 8 * 1024 * 1024) -> None:  # fmt: skip
        self._config = config or BioConfig()
        self._spool_bytes = spool_bytes
        self._face_workers = face_workers
        self._shard_seconds = shard_seconds
        self._faces = create_executor(face_workers, self._config, modalities=("face",))
        self._voices = create_executor(voice_workers, self._config, modalities=("voice",))
        self._voice_workers = voice_workers
        metrics.EMBEDDING_WORKERS.labels("face").set(face_workers)
        metrics.EMBEDDING_WORKERS.labels("voice").set(voice_workers)

    @property
    def config(self) -> BioConfig:
        return self._config

    @property
    def models(self) -> dict[str, str]:
        return {"FACE": f"{FACE_MODEL.name}/{FACE_MODEL.version}", "VOICE": f"{VOICE_MODEL.name}/{VOICE_MODEL.version}"}

    async def warm_up(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._faces, ping) for _ in range(self._face_workers)),
                             *(loop.run_in_executor(self._voices, ping) for _ in range(self._voice_workers)))  # fmt: skip

    def media_type(self, media: bytes) -> str:
        """The sniffed type ("image/jpeg", "video/mp4"...); INVALID_ARGUMENT when unknown."""
        with invalid_argument():
            return sniff(media).mime

    async def duration(self, media: bytes, *, media_type: str | None = None) -> Duration:
        """`media_type`: what media_type() answered for these bytes (not sniffed again)."""
        with invalid_argument():
            return await self._duration(media, _type_of(media, media_type))

    async def _duration(self, media: bytes, sniffed: MediaType) -> Duration:
        kind = sniffed.kind
        if kind is MediaKind.IMAGE:
            frames, seconds = await asyncio.to_thread(animation_span, media, self._config)
            return Duration(seconds if frames > 1 else None, frames > 1)
        streams = await asyncio.to_thread(probe_streams, media, self._config)
        known = [s for s in (streams.video_seconds, streams.audio_seconds) if s is not None and math.isfinite(s)]
        return Duration(max(known) if known else None, streams.video)

    async def extract(self, media: bytes, progress: Progress | None = None, max_seconds: float | None = None, *,
                      media_type: str | None = None) -> Extraction:  # fmt: skip
        """`media_type`: what media_type() answered for these bytes (not sniffed again)."""
        with invalid_argument():
            return await self._spooled(media, _type_of(media, media_type), progress, max_seconds)

    async def _spooled(self, media: bytes, sniffed: MediaType, progress: Progress | None, max_seconds: float | None) -> Extraction:
        config = self._config
        if max_seconds is not None:
            limit = min(max_seconds, config.max_video_seconds)
            config = replace(config, max_video_seconds=limit, max_audio_seconds=min(max_seconds, config.max_audio_seconds))
        with tempfile.TemporaryDirectory(prefix="likeness-media-") as spool:
            # A large clip goes to the workers as a file in a private folder (each task reads it
            # once), not as bytes pickled into every task.
            source: bytes | str = media
            if len(media) > self._spool_bytes:
                source = os.path.join(spool, "media")
                await asyncio.to_thread(_write_private, source, media)
            return await self._extract(sniffed.kind, sniffed.mime, media, source, config, progress)

    async def _extract(self, kind: MediaKind, media_type: str, media: bytes, source: bytes | str, config: BioConfig,
                       progress: Progress | None) -> Extraction:  # fmt: skip
        loop = asyncio.get_running_loop()
        jobs: list[asyncio.Future] = []

        def run(pool: Executor, fn, *args) -> asyncio.Future:
            future = loop.run_in_executor(pool, fn, source, config, *args)
            metrics.track_job("face" if pool is self._faces else "voice", future)
            jobs.append(future)
            return future

        streams = await asyncio.to_thread(probe_streams, media, config) if kind is not MediaKind.IMAGE else None
        if kind is MediaKind.IMAGE:
            visual = [run(self._faces, faces_in_image)]
            voice = None
        elif streams is not None and not streams.video:  # audio, or an audio-only MP4 / Matroska (.m4a, .mka)
            visual, voice = [], run(self._voices, voices_in_audio)
        else:
            seconds = streams.video_seconds
            parts = max(self._face_workers, math.ceil((seconds or 0) / self._shard_seconds))
            visual = [run(self._faces, faces_in_video, start, end) for start, end in time_ranges(seconds, parts, config)]
            voice = run(self._voices, voices_in_audio) if streams.audio else None  # a silent video: nothing to hear, no error
        manifest = run(self._faces, provenance.read_in_worker, media_type) if provenance.readable(media_type) else None
        if progress is not None:
            done = 0

            def tick(_future) -> None:
                nonlocal done
                done += 1
                progress(done, len(jobs))

            for job in jobs:
                job.add_done_callback(tick)
        try:
            shares: list[VisualFaces] = list(await asyncio.gather(*visual))
            heard: VoiceFindings | None = await voice if voice is not None else None
            found: provenance.Provenance | None = await manifest if manifest is not None else None
        except BaseException:
            for job in jobs:  # one share failed (or we were cancelled): drop what has not started
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            raise
        probes = [
            _face(face, Location(frame.timestamp_s, frame.timestamp_s, frame.frame_index))
            for share in shares
            for frame in share.frames
            for face in frame.faces
        ]
        if heard is not None:
            probes += [Probe(Modality.VOICE, Location(s.start_s, s.end_s), s.embedding, speech_s=s.speech_s) for s in heard.speakers]
            probes += [Probe(Modality.VOICE, Location(w.start_s, w.end_s), w.embedding, window=True, speech_s=w.speech_s) for w in heard.windows]
        coverage = coverage_of(shares, heard, config)
        return Extraction(probes, coverage, frames=coverage.frames_analyzed, provenance=_incoming(found))

    def close(self) -> None:
        for pool in (self._faces, self._voices):
            pool.shutdown(wait=False, cancel_futures=True)


def _type_of(media: bytes, media_type: str | None) -> MediaType:
    """The type media_type() already answered for these bytes, else sniffed now."""
    return by_mime(media_type) if media_type else sniff(media)


def _incoming(found: provenance.Provenance | None) -> IncomingProvenance | None:
    if found is None:
        return None
    return IncomingProvenance(found.state, found.failures, found.signer, found.claim_generator, found.digital_source_types,
                              found.training_mining)  # fmt: skip


def _write_private(path: str, media: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(media)


def skip_rule(config: BioConfig) -> str:
    return (f"grid {config.video_fps:g}/s plus shot cuts (luma change >= {config.video_cut_change:g}); a sample is skipped when it is "
            f"the last analysed frame or no 8x8 window of its 256 px grey thumbnail changed by >= {config.video_block_change:g}/255")  # fmt: skip


def coverage_of(shares: list[VisualFaces], heard: VoiceFindings | None, config: BioConfig) -> Coverage:
    """The domain's coverage record from the workers' accounts."""
    frames = FrameCoverage.merged([s.coverage for s in shares]) if shares else None
    video = frames is not None and frames.fps > 0
    audio = heard.coverage if heard is not None else None
    errors = [f"video: {e}" for e in (frames.decode_errors if frames else [])] + [f"audio: {e}" for e in (audio.decode_errors if audio else ())]
    seconds = max(frames.duration_s if frames else 0.0, audio.decoded_s if audio else 0.0, (audio.declared_s or 0.0) if audio else 0.0)
    return Coverage(
        media_seconds=round(seconds, 3),
        sample_fps=frames.fps if video else 0.0,
        frames_in_clip=frames.frames_decoded if frames else 0,
        frames_sampled=frames.frames_sampled if frames else 0,
        frames_analyzed=frames.frames_analyzed if frames else 0,
        frames_skipped_unchanged=(frames.skipped_identical + frames.skipped_unchanged) if frames else 0,
        skip_rule=skip_rule(config) if video else "",
        max_gap_s=frames.max_gap_s() if video else 0.0,
        max_gap_allowed_s=config.video_max_gap_s if video else 0.0,
        max_analyzed_gap_s=frames.max_analyzed_gap_s() if video else 0.0,
        audio_track=bool(audio and audio.audio_track),
        audio_seconds=audio.decoded_s if audio else 0.0,
        speech_seconds=audio.speech_s if audio else 0.0,
        voice_windows=audio.windows if audio else 0,
        speech_snr_db=audio.snr_db if audio else 0.0,
        speech_high_band_share=audio.high_band_share if audio else 0.0,
        decode_errors=tuple(errors),
        video_truncated=bool(video and frames.truncated(config.video_end_tolerance_s)),
        audio_truncated=bool(audio and audio.truncated(config.video_end_tolerance_s)),
        cuts_unsampled=frames.cuts_unsampled if frames else 0,
    )


def _face(face, where: Location) -> Probe:
    b = face.box
    return Probe(Modality.FACE, Location(where.start_s, where.end_s, where.frame_index, (b.top, b.right, b.bottom, b.left)), face.encoding)

