"""The numpy GE2E encoder (voice_net.py) against Resemblyzer itself, on LibriSpeech.

Voice templates enrolled before the switch were computed by Resemblyzer on torch; the numpy
network must give the same embeddings, so these tests load the reference (torch, librosa) here
only: the service's workers never import them.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.biometrics import libri_files, need, requires_data

need("torch", "librosa", "resemblyzer", "av")

import librosa  # noqa: E402
from resemblyzer import VoiceEncoder, audio  # noqa: E402

from likeness_biometrics import decode_audio  # noqa: E402
from likeness_biometrics.models import load_voice_encoder, voice_model_path  # noqa: E402
from likeness_biometrics.voice_net import (  # noqa: E402
    ModelFormatError,
    VoiceNet,
    load_legacy_state_dict,
    mel_filters,
    mel_spectrogram,
    partial_slices,
)

pytestmark = requires_data


@pytest.fixture(scope="module")
def reference():
    return VoiceEncoder(device="cpu", verbose=False)


@pytest.fixture(scope="module")
def clips():
    """Utterances of two readers, 2.8-15 s, plus a 0.4 s scrap (one partial window, padded)."""
    files = libri_files("1688")[:4] + libri_files("2414")[:2]
    wavs = [decode_audio(f.read_bytes()).samples.astype(np.float32) for f in files]
    return wavs + [wavs[0][:6400]]


def test_mel_filters_equal_librosas():
    want = librosa.filters.mel(sr=16000, n_fft=400, n_mels=40)
    assert np.abs(mel_filters() - want).max() < 1e-8


def test_spectrogram_and_windows_equal_resemblyzers(clips, reference):
    for wav in clips:
        want = audio.wav_to_mel_spectrogram(wav)
        got = mel_spectrogram(wav)
        assert got.shape == want.shape
        assert np.abs(got - want).max() <= 1e-5 * want.max()
        _, mel_slices = reference.compute_partial_slices(len(wav), 1.3, 0.75)
        assert partial_slices(len(wav)) == mel_slices


def test_embeddings_equal_resemblyzers(clips, reference):
    net = load_voice_encoder()
    assert isinstance(net, VoiceNet)
    for wav in clips:
        want = reference.embed_utterance(wav)
        got = net.embed_utterance(wav)
        assert got.shape == (256,) and got.dtype == np.float32
        # ~3e-7 apart in practice; another speaker is ~0.3-0.5 away in cosine
        assert np.abs(got - want).max() < 1e-5
    batched = net.embed_utterances(clips)
    singles = np.stack([net.embed_utterance(w) for w in clips])
    assert np.abs(batched - singles).max() < 1e-5
    assert float(singles[0] @ singles[4]) < 0.9  # readers 1688 and 2414 stay apart


def test_checkpoint_that_would_run_code_is_refused(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    with path.open("wb") as f:
        for obj in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}, {"model_state": Evil()}):
            pickle.dump(obj, f, protocol=2)
    with pytest.raises(ModelFormatError, match="unexpected object"):
        VoiceNet(path)


@pytest.mark.parametrize("cut", [0.0, 0.5, 0.9999])
def test_truncated_checkpoint_is_refused(tmp_path, cut):
    data = voice_model_path().read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ModelFormatError):
        VoiceNet(path)


def test_tensor_pointing_outside_its_storage_is_refused(tmp_path):
    import torch

    path = tmp_path / "lying.pt"
    torch.save({"model_state": {"x": torch.zeros(7)}}, path, _use_new_zipfile_serialization=False)
    data = path.read_bytes()
    size = b"K\x07\x85"  # the pickled size tuple (7,): BININT1 7, TUPLE1
    assert data.count(size) == 1
    stride = b"K\x01\x85"  # the stride tuple (1,)
    assert data.count(stride) == 1
    lies = {
        "outside its storage": data.replace(size, b"K\xc8\x85"),  # 200 elements in a storage of 7
        # 2**24 elements over a zero stride: in bounds, but an allocation without limit
        "outside its storage ": data.replace(size, b"J\x00\x00\x00\x01\x85").replace(stride, b"K\x00\x85"),
        "shape": data.replace(size, b"X\x01\x00\x00\x00a\x85"),  # a string as a dimension
    }
    for match, lie in lies.items():
        path.write_bytes(lie)
        with pytest.raises(ModelFormatError, match=match.strip()):
            load_legacy_state_dict(path)
    path.write_bytes(data)
    np.testing.assert_array_equal(load_legacy_state_dict(path)["x"], np.zeros(7, np.float32))


def test_digital_silence_embeds_to_a_finite_vector():
    net = load_voice_encoder()
    out = net.embed_utterances([np.zeros(8000, np.float32), np.zeros(40000, np.float32)])
    assert out.shape == (2, 256) and np.isfinite(out).all()
