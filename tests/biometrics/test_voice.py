"""Voice activity, quality and speaker embeddings on LibriSpeech."""

from __future__ import annotations

import numpy as np
import pytest

from tests.biometrics import libri_files, need, need_installed, requires_data, wav_bytes

need("webrtcvad", "av")
need_installed("resemblyzer")

from likeness_biometrics import (  # noqa: E402
    VOICE_MODEL,
    BioConfig,
    Reason,
    SampleRejected,
    analyze_audio,
    analyze_enrollment_clip,
    check_voice_consistency,
    cosine_similarity,
    decode_audio,
    speech_segments_embeddings,
    voice_centroid,
)
from likeness_biometrics.models import load_voice_encoder  # noqa: E402

SPEAKERS = ("1688", "2033", "3005")


@pytest.fixture(scope="module")
def encoder():
    return load_voice_encoder()


@pytest.fixture(scope="module")
def clips() -> dict[str, list[np.ndarray]]:
    return {s: [decode_audio(p.read_bytes()).samples for p in libri_files(s)[:4]] for s in SPEAKERS}


@pytest.fixture(scope="module")
def embeddings(clips, encoder) -> dict[str, list[np.ndarray]]:
    return {s: [analyze_enrollment_clip(x, encoder=encoder).embedding for x in xs] for s, xs in clips.items()}


@requires_data
def test_same_speaker_is_closer_than_different_speakers(embeddings) -> None:
    same, diff = [], []
    for s, embs in embeddings.items():
        for i, a in enumerate(embs):
            same += [cosine_similarity(a, b) for b in embs[i + 1 :]]
            for t, others in embeddings.items():
                if t > s:
                    diff += [cosine_similarity(a, b) for b in others]
    assert np.mean(same) > np.mean(diff) + 0.2, (np.mean(same), np.mean(diff))
    assert min(same) > max(diff) - 0.05
    # Leave-one-out identification against centroids of the other clips.
    for s, embs in embeddings.items():
        for i, probe in enumerate(embs):
            scores = {
                t: cosine_similarity(probe, voice_centroid([e for j, e in enumerate(others) if (t, j) != (s, i)]))
                for t, others in embeddings.items()
            }
            assert max(scores, key=scores.get) == s


@requires_data
def test_enrollment_result_and_stats(clips, encoder) -> None:
    x = clips["1688"][0]
    r = analyze_enrollment_clip(x, encoder=encoder)
    assert r.embedding.shape == (256,) and r.embedding.dtype == np.float32
    assert np.linalg.norm(r.embedding) == pytest.approx(1.0, abs=1e-4)
    assert (r.model_name, r.model_version) == (VOICE_MODEL.name, VOICE_MODEL.version)
    st = r.stats
    assert st.duration_s == pytest.approx(len(x) / 16000, abs=0.01)
    assert 0.6 * st.duration_s < st.speech_s <= st.duration_s
    assert st.silence_s == pytest.approx(st.duration_s - st.speech_s, abs=0.01)
    assert st.clipping_ratio < 0.001 and st.snr_db > 5
    assert 0.0 < r.quality <= 1.0


def test_silence_is_too_little_speech() -> None:
    silence = decode_audio(wav_bytes(np.zeros(16000 * 3, np.float32))).samples
    with pytest.raises(SampleRejected) as err:
        analyze_enrollment_clip(silence)
    assert err.value.reason == Reason.TOO_LITTLE_SPEECH
    assert err.value.metadata["speech_s"] == "0.00"
    hiss = np.random.default_rng(0).normal(0, 10 ** (-70 / 20), 16000 * 3).astype(np.float32)
    assert analyze_audio(hiss).speech_s == 0.0


@requires_data
def test_short_speech_below_minimum(clips) -> None:
    x = clips["2033"][0]
    with pytest.raises(SampleRejected) as err:
        analyze_enrollment_clip(x[: int(0.7 * 16000)])
    assert err.value.reason == Reason.TOO_LITTLE_SPEECH
    with pytest.raises(SampleRejected):
        analyze_enrollment_clip(x, BioConfig(min_speech_seconds=1000))


@requires_data
def test_clipping_is_measured_and_lowers_quality(clips, encoder) -> None:
    x = clips["3005"][0]
    clean = analyze_enrollment_clip(x, encoder=encoder)
    hot = np.clip(x * 40, -1, 1)
    clipped = analyze_enrollment_clip(hot, encoder=encoder)
    assert clipped.stats.clipping_ratio > 0.05
    assert clipped.quality < clean.quality


@requires_data
def test_two_speakers_in_one_clip(clips, embeddings, encoder) -> None:
    a, b = clips["1688"][1], clips["3005"][1]
    clip = np.concatenate([a, np.zeros(16000, np.float32), b])
    segs = speech_segments_embeddings(clip, encoder=encoder)
    assert len(segs) >= 4
    assert all(1.0 <= s.end_s - s.start_s <= 3.5 for s in segs)
    assert all(s.embedding.shape == (256,) for s in segs)
    boundary = len(a) / 16000 + 0.5
    ca = voice_centroid([e for i, e in enumerate(embeddings["1688"]) if i != 1])
    cb = voice_centroid([e for i, e in enumerate(embeddings["3005"]) if i != 1])
    right = 0
    for s in segs:
        says_a = cosine_similarity(s.embedding, ca) > cosine_similarity(s.embedding, cb)
        right += says_a == (s.end_s <= boundary)
        assert s.end_s <= boundary or s.start_s >= boundary - 0.5  # no window spans the switch
    assert right >= 0.8 * len(segs), (right, len(segs))


@requires_data
def test_voice_consistency_flags_the_other_speaker(embeddings) -> None:
    samples = [*embeddings["1688"][:3], embeddings["2033"][0]]
    report = check_voice_consistency(samples)
    assert report.outliers == (3,)
    assert report.metric == "cosine" and report.centroid is not None
    assert np.linalg.norm(report.centroid) == pytest.approx(1.0, abs=1e-5)
    again = check_voice_consistency([embeddings["1688"][3], embeddings["3005"][3]], existing_centroid=report.centroid)
    assert again.outliers == (1,)


@requires_data
def test_short_utterances_are_embedded_too() -> None:
    """Speech in runs shorter than segment_min_s (a 3 s utterance, pauses between words) is joined
    into windows of its own: verification once found nothing to search in such a clip."""
    from likeness_biometrics.voice import speech_windows

    short = [p for p in libri_files("2414") if p.name in ("2414-128291-0003.flac", "2414-128291-0008.flac")]
    assert len(short) == 2
    for path in short:
        stats, windows = speech_windows(decode_audio(path.read_bytes()).samples)
        assert stats.speech_s > 1.0 and windows, path.name
        assert windows[0].end_s - windows[0].start_s >= 1.0
        # Each window says how much speech it embeds (the duration rule of Verify reads it): joined
        # runs count their speech, not the pauses between them.
        assert all(0 < w.speech_s <= w.end_s - w.start_s + 1e-3 for w in windows)
        assert sum(w.speech_s for w in windows) <= stats.speech_s + 0.5


@requires_data
def test_a_speaker_carries_the_speech_seconds_of_its_windows() -> None:
    from likeness_biometrics.voice import cluster_speakers, speech_windows

    [path] = [p for p in libri_files("1688") if p.name == "1688-142285-0006.flac"]
    stats, windows = speech_windows(decode_audio(path.read_bytes()).samples)
    [speaker] = cluster_speakers(windows)
    assert speaker.speech_s == pytest.approx(sum(w.speech_s for w in windows), abs=0.01)
    assert 0.6 * stats.speech_s <= speaker.speech_s <= stats.speech_s + 0.5
