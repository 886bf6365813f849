"""The biometric engine: likeness_biometrics' functions in a process pool, so embedding work never
blocks the event loop. Expected media problems come back as per-sample rejections."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor

import numpy as np

from likeness_biometrics import (
    FACE_MODEL,
    VOICE_MODEL,
    BioConfig,
    BiometricError,
    check_face_consistency,
    check_voice_consistency,
    face_centroid,
    voice_centroid,
)
from likeness_biometrics.errors import invalid_argument
from likeness_biometrics.worker import create_executor, enroll_face_image, enroll_voice_clips, ping

from ..domain.model import Modality, Sample, SampleOutcome


class WorkerPoolEngine:
    def __init__(self, workers: int = 1, config: BioConfig | None = None, executor: Executor | None = None) -> None:
        self._config = config or BioConfig()
        self._workers = workers
        self._executor = executor or create_executor(workers, self._config)

    def model(self, modality: Modality) -> tuple[str, str]:
        info = FACE_MODEL if modality is Modality.FACE else VOICE_MODEL
        return info.name, info.version

    async def warm_up(self) -> None:
        """Wait until a worker has loaded its models (the first request then pays no start-up)."""
        await asyncio.get_running_loop().run_in_executor(self._executor, ping)

    async def _voice_results(self, samples: list[Sample]) -> list:
        """One worker call per worker, each with a share of the clips: a call embeds its clips'
        speech as one batch, which the numpy LSTM runs faster than clip by clip."""
        loop = asyncio.get_running_loop()
        shares = max(1, min(self._workers, len(samples)))
        groups = [[s.content for s in samples[i::shares]] for i in range(shares)]
        answers = await asyncio.gather(*(loop.run_in_executor(self._executor, enroll_voice_clips, g) for g in groups))
        results: list = [None] * len(samples)
        for i, answer in enumerate(answers):
            results[i::shares] = answer
        return results

    async def analyze(self, modality: Modality, samples: list[Sample]) -> list[SampleOutcome]:
        loop = asyncio.get_running_loop()
        if modality is Modality.FACE:
            results = await asyncio.gather(
                *(loop.run_in_executor(self._executor, enroll_face_image, s.content) for s in samples), return_exceptions=True
            )
        else:
            with invalid_argument():  # (each clip's own refusal comes back as a value, not raised)
                results = await self._voice_results(samples)
        outcomes = []
        for index, (sample, result) in enumerate(zip(samples, results, strict=True)):
            if isinstance(result, BiometricError):
                outcomes.append(SampleOutcome(index, sample.filename, False, result.reason, result.message))
            elif isinstance(result, BaseException):
                raise result  # a broken pool or a bug: not the sample's fault
            elif modality is Modality.FACE:
                outcomes.append(SampleOutcome(index, sample.filename, True, quality=result.quality, embedding=result.encoding))
            else:
                outcomes.append(SampleOutcome(index, sample.filename, True, quality=result.quality,
                                              speech_seconds=result.speech_s, embedding=result.embedding))  # fmt: skip
        return outcomes

    def disagreeing(self, modality: Modality, new: list[np.ndarray], existing: list[np.ndarray]) -> list[int]:
        if modality is Modality.FACE:
            reference = face_centroid(existing) if existing else None
            report = check_face_consistency(new, reference, config=self._config)
        else:
            reference = voice_centroid(existing) if existing else None
            report = check_voice_consistency(new, reference, config=self._config)
        return list(report.outliers)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
