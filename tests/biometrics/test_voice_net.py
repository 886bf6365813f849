"""The numpy GE2E encoder (voice_net.py) against Resemblyzer itself, on LibriSpeech.

Voice templates enrolled before the switch were computed by Resemblyzer on torch; the numpy
network must give the same embeddings, so these tests load the reference (torch, librosa) here
only: the service's workers never import them.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from tests.biometrics import libri_files, need, requires_data

need("torch", "librosa", "resemblyzer", "av")

import librosa  # noqa: E402
from resemblyzer import VoiceEncoder, audio  # noqa: E402

from likeness_biometrics import decode_audio  # noqa: E402
from likeness_biometrics.models import load_voice_encoder, voice_weights_path  # noqa: E402
from likeness_biometrics.voice_net import (  # noqa: E402
    ModelFormatError,
    VoiceNet,
    load_weights,
    mel_filters,
    mel_spectrogram,
    partial_slices,
    read_safetensors,
)
from tests.biometrics import ROOT  # noqa: E402

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


def _converter():
    spec = importlib.util.spec_from_file_location("convert_voice_weights", ROOT / "scripts" / "convert_voice_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_converted_weights_are_resemblyzers_and_the_conversion_is_reproducible(tmp_path, reference):
    out = tmp_path / "ge2e.safetensors"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "convert_voice_weights.py"), str(out)], check=True, capture_output=True)
    assert out.read_bytes() == voice_weights_path().read_bytes()  # what setup wrote, byte for byte: its pin holds
    state = load_weights(out)
    want = {name: t.detach().numpy() for name, t in reference.state_dict().items()}  # lstm.*, linear.*
    assert state.keys() - want.keys() == {"similarity_weight", "similarity_bias"}  # GE2E's loss: unused
    for name, array in want.items():
        np.testing.assert_array_equal(state[name], array)


def test_a_tampered_weight_file_is_refused(tmp_path):
    data = bytearray(voice_weights_path().read_bytes())
    data[-1] ^= 0x01  # one bit of linear.weight's last float: the file still parses
    path = tmp_path / "tampered.safetensors"
    path.write_bytes(bytes(data))
    assert read_safetensors(bytes(data)).keys() == load_weights(voice_weights_path()).keys()
    with pytest.raises(ModelFormatError, match="SHA-256"):
        VoiceNet(path)


def test_a_tampered_weight_file_named_by_the_environment_is_refused(tmp_path, monkeypatch):
    from likeness_biometrics import models

    path = tmp_path / "tampered.safetensors"
    path.write_bytes(voice_weights_path().read_bytes()[:-4] + b"\0\0\0\0")
    monkeypatch.setenv(models.VOICE_WEIGHTS_ENV, str(path))
    monkeypatch.setattr(models, "_voice", None)
    with pytest.raises(ModelFormatError, match="SHA-256"):
        models.load_voice_encoder()


def test_malformed_safetensors_are_refused():
    arrays = {"x": np.arange(6, dtype=np.float32).reshape(2, 3)}
    good = _converter().safetensors_bytes(arrays, {})
    np.testing.assert_array_equal(read_safetensors(good)["x"], arrays["x"])

    def header(**x) -> bytes:
        text = json.dumps({"x": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24], **x}}).encode()
        return len(text).to_bytes(8, "little") + text + good[-24:]

    assert read_safetensors(header()).keys() == {"x"}
    bad = {
        "runs past the end": [b"", b"\x07", good[:12], (10**6).to_bytes(8, "little") + good[8:]],
        "unreadable": [(4).to_bytes(8, "little") + b"{no}"],
        "not an object": [(2).to_bytes(8, "little") + b"[]"],
        "float32": [header(dtype="F64"), header(dtype=None)],
        "shape": [header(shape=[2, -3]), header(shape="23"), header(shape=[2.0, 3])],
        "data_offsets": [header(data_offsets=[0]), header(data_offsets=None)],
        "do not fit": [header(data_offsets=[0, 20]), header(data_offsets=[8, 32]), header(shape=[2**40, 2**40])],
    }
    for match, cases in bad.items():
        for data in cases:
            with pytest.raises(ModelFormatError, match=match):
                read_safetensors(data)


def test_digital_silence_embeds_to_a_finite_vector():
    net = load_voice_encoder()
    out = net.embed_utterances([np.zeros(8000, np.float32), np.zeros(40000, np.float32)])
    assert out.shape == (2, 256) and np.isfinite(out).all()
