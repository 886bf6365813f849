"""Probe extraction in the biometric worker pool: every face of every sampled frame, a voiceprint
per speech window. The frames of one video are spread over the pool (one task per shard), and the
audio track is embedded beside them. Jobs in flight per pool are the `likeness_embedding_jobs`
gauge (queued + running; above `likeness_embedding_workers`, requests are queueing)."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

from likeness_biometrics import FACE_MODEL, VOICE_MODEL, BioConfig, MediaError, MediaKind, Reason, sniff
from likeness_biometrics.worker import create_executor, faces_in_image, faces_in_video, ping, voice_speakers
from likeness_common import metrics

from ..domain.model import Location, Modality, Probe
from ..service_layer.ports import Extraction


class WorkerPoolExtractor:
    """Two pools: face workers share a video's frames; voice workers embed the audio, at the same
    time. Each worker loads only its own model (face 80-105 MiB RSS, voice 45-65 MiB)."""

    def __init__(self, face_workers: int = 2, voice_workers: int = 1, config: BioConfig | None = None) -> None:
        self._config = config or BioConfig()
        self._face_workers = face_workers
        self._faces = create_executor(face_workers, self._config, modalities=("face",))
        self._voices = create_executor(voice_workers, self._config, modalities=("voice",))
        self._voice_workers = voice_workers
        metrics.EMBEDDING_WORKERS.labels("face").set(face_workers)
        metrics.EMBEDDING_WORKERS.labels("voice").set(voice_workers)

    @property
    def models(self) -> dict[str, str]:
        return {"FACE": f"{FACE_MODEL.name}/{FACE_MODEL.version}", "VOICE": f"{VOICE_MODEL.name}/{VOICE_MODEL.version}"}

    async def warm_up(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._faces, ping) for _ in range(self._face_workers)),
                             *(loop.run_in_executor(self._voices, ping) for _ in range(self._voice_workers)))  # fmt: skip

    def media_type(self, media: bytes) -> str:
        """The sniffed type ("image/jpeg", "video/mp4"...); MediaError when unknown."""
        return sniff(media).mime

    async def extract(self, media: bytes) -> Extraction:
        kind = sniff(media).kind
        loop = asyncio.get_running_loop()

        def run(pool: Executor, fn, *args):
            future = loop.run_in_executor(pool, fn, media, self._config, *args)
            metrics.track_job("face" if pool is self._faces else "voice", future)
            return future

        if kind is MediaKind.IMAGE:
            found = await run(self._faces, faces_in_image)
            return Extraction([_face(f, Location()) for f in found.faces], frames=1)
        if kind is MediaKind.AUDIO:
            return Extraction(_voices(await run(self._voices, voice_speakers)))
        shards = self._face_workers
        results = await asyncio.gather(*(run(self._faces, faces_in_video, shard, shards) for shard in range(shards)),
                                       run(self._voices, voice_speakers), return_exceptions=True)  # fmt: skip
        *videos, audio = results
        for video in videos:
            if isinstance(video, BaseException):
                raise video
        if isinstance(audio, MediaError) and audio.reason is Reason.NO_AUDIO_STREAM:
            audio = []
        elif isinstance(audio, BaseException):
            raise audio
        probes = [
            _face(face, Location(frame.timestamp_s, frame.timestamp_s, frame.frame_index))
            for video in videos
            for frame in video.frames
            for face in frame.faces
        ]
        return Extraction(probes + _voices(audio), frames=sum(len(v.frames) for v in videos))

    def close(self) -> None:
        for pool in (self._faces, self._voices):
            pool.shutdown(wait=False, cancel_futures=True)


def _face(face, where: Location) -> Probe:
    b = face.box
    return Probe(Modality.FACE, Location(where.start_s, where.end_s, where.frame_index, (b.top, b.right, b.bottom, b.left)), face.encoding)


def _voices(speakers) -> list[Probe]:
    return [Probe(Modality.VOICE, Location(s.start_s, s.end_s), s.embedding) for s in speakers]
