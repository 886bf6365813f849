"""Probe extraction in the biometric worker pool: every face of every sampled frame, a voiceprint
per speech window. The frames of one video are spread over the pool (one task per shard), and the
audio track is embedded beside them."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

from likeness_biometrics import FACE_MODEL, VOICE_MODEL, BioConfig, MediaError, MediaKind, Reason, sniff
from likeness_biometrics.worker import create_executor, faces_in_image, faces_in_video, ping, voice_speakers

from ..domain.model import Location, Modality, Probe
from ..service_layer.ports import Extraction


class WorkerPoolExtractor:
    def __init__(self, workers: int = 1, config: BioConfig | None = None, executor: Executor | None = None) -> None:
        self._config = config or BioConfig()
        self._workers = workers
        self._executor = executor or create_executor(workers, self._config)

    @property
    def models(self) -> dict[str, str]:
        return {"FACE": f"{FACE_MODEL.name}/{FACE_MODEL.version}", "VOICE": f"{VOICE_MODEL.name}/{VOICE_MODEL.version}"}

    async def warm_up(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, ping) for _ in range(self._workers)))

    def media_type(self, media: bytes) -> str:
        """The sniffed type ("image/jpeg", "video/mp4"...); MediaError when unknown."""
        return sniff(media).mime

    async def extract(self, media: bytes) -> Extraction:
        kind = sniff(media).kind
        loop = asyncio.get_running_loop()

        def run(fn, *args):
            return loop.run_in_executor(self._executor, fn, media, self._config, *args)

        if kind is MediaKind.IMAGE:
            found = await run(faces_in_image)
            return Extraction([_face(f, Location()) for f in found.faces], frames=1)
        if kind is MediaKind.AUDIO:
            return Extraction(_voices(await run(voice_speakers)))
        shards = max(1, self._workers)
        results = await asyncio.gather(*(run(faces_in_video, shard, shards) for shard in range(shards)), run(voice_speakers),
                                       return_exceptions=True)  # fmt: skip
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
        self._executor.shutdown(wait=False, cancel_futures=True)


def _face(face, where: Location) -> Probe:
    b = face.box
    return Probe(Modality.FACE, Location(where.start_s, where.end_s, where.frame_index, (b.top, b.right, b.bottom, b.left)), face.encoding)


def _voices(speakers) -> list[Probe]:
    return [Probe(Modality.VOICE, Location(s.start_s, s.end_s), s.embedding) for s in speakers]
