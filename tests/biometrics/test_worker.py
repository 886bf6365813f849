"""The process pool: models load once per spawned worker; bytes in, dataclasses (or typed errors) out."""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pytest

from tests.biometrics import libri_files, need, need_installed, read, requires_data, wav_bytes

need("dlib", "av")
need_installed("resemblyzer")

from likeness_biometrics import (  # noqa: E402
    FaceEnrollmentResult,
    MediaError,
    Reason,
    SampleRejected,
    VoiceEnrollmentResult,
    analyze_enrollment_image,
    decode_image,
    worker,  # noqa: E402
)


@pytest.fixture(scope="module")
def pool():
    executor = worker.create_executor(max_workers=1)
    yield executor
    executor.shutdown(wait=True, cancel_futures=True)


def test_fork_is_refused() -> None:
    with pytest.raises(ValueError):
        worker.create_executor(start_method="fork")


def test_worker_is_another_process_with_one_blas_thread_and_no_torch(pool) -> None:
    info = pool.submit(worker.ping).result(timeout=120)
    assert info.pid != os.getpid()
    assert info.blas_threads == 1
    assert info.heavy_modules == ()  # both models loaded, neither torch nor librosa imported
    assert info.face_model.startswith("dlib_face_recognition_resnet_model_v1/")


@requires_data
async def test_face_embedding_in_the_worker(pool) -> None:
    data = read("faces/obama/obama.jpg")
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(pool, worker.enroll_face_image, data)
    assert isinstance(result, FaceEnrollmentResult)
    local = analyze_enrollment_image(decode_image(data).rgb)
    np.testing.assert_allclose(result.encoding, local.encoding, atol=1e-6)
    faces = await loop.run_in_executor(pool, worker.faces_in_image, read("faces/group/two_people.jpg"))
    assert len(faces.frames) == 1 and len(faces.frames[0].faces) == 2 and faces.coverage.frames_analyzed == 1


@requires_data
async def test_voice_embedding_in_the_worker(pool) -> None:
    data = libri_files("1688")[0].read_bytes()
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(pool, worker.enroll_voice_clip, data)
    assert isinstance(result, VoiceEnrollmentResult)
    assert result.embedding.shape == (256,) and result.stats.speech_s > 3


@requires_data
def test_video_faces_in_the_worker(pool) -> None:
    out = pool.submit(worker.faces_in_video, read("faces/video/short_hamilton_clip.mp4")).result(timeout=120)
    assert out.frames and sum(1 for f in out.frames if f.faces) >= len(out.frames) // 2


def test_typed_errors_cross_the_process_boundary(pool) -> None:
    with pytest.raises(MediaError) as err:
        pool.submit(worker.enroll_face_image, os.urandom(2048)).result(timeout=120)
    assert err.value.reason == Reason.UNDECODABLE_MEDIA
    with pytest.raises(SampleRejected) as err:
        pool.submit(worker.enroll_voice_clip, wav_bytes(np.zeros(32000, np.float32))).result(timeout=120)
    assert err.value.reason == Reason.TOO_LITTLE_SPEECH


@requires_data
def test_several_voice_clips_in_one_call_keep_their_order_and_errors(pool) -> None:
    clips = [f.read_bytes() for f in libri_files("1688")[:3]]
    batch = [clips[0], os.urandom(4096), clips[1], wav_bytes(np.zeros(32000, np.float32)), clips[2]]
    results = pool.submit(worker.enroll_voice_clips, batch).result(timeout=120)
    assert [type(r).__name__ for r in results] == [
        "VoiceEnrollmentResult", "MediaError", "VoiceEnrollmentResult", "SampleRejected", "VoiceEnrollmentResult",
    ]  # fmt: skip
    assert results[1].reason == Reason.UNDECODABLE_MEDIA and results[3].reason == Reason.TOO_LITTLE_SPEECH
    for clip, got in zip(clips, (results[0], results[2], results[4])):
        alone = pool.submit(worker.enroll_voice_clip, clip).result(timeout=120)
        assert np.abs(alone.embedding - got.embedding).max() < 1e-5  # the batch changes nothing
        assert alone.stats == got.stats and alone.quality == got.quality
