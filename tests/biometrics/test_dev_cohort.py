"""The dev stack's voice score-normalization cohort (likeness_devstack.dev_voice_cohort):
the even half of LibriSpeech train-clean-100 embedded once by the code `likeness cohort build`
uses (likeness_biometrics.cohort), cached, and no cohort (one warning, raw cosine) without the
shared data. No stack is started.

Cost: test_the_shared_data_cohort_... reads the cohort through the dev stack's own cache
(.likeness/cache, git-ignored). The first run in a checkout (or the first `likeness dev up`)
embeds the 126 recordings: 4 minutes measured on this 2-core box with a benchmark running beside
it (0.9 s of one core per recording, nearly all in the voice LSTM). Every later run, and every
stack, reads the file (1 s).
The caching rules themselves are checked with a stand-in embedder, in no time."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import likeness_devstack as devstack
from likeness_devstack import COHORT_ENV, DevStack, dev_cohort_files, dev_voice_cohort
from tests.biometrics import LIBRI, need, need_installed

SOURCE = LIBRI / "train-clean-100"


class Log:
    """Stands in for devstack's structlog logger: records (level, event, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict]] = []

    def info(self, event: str, **fields: object) -> None:
        self.lines.append(("info", event, fields))

    def warning(self, event: str, **fields: object) -> None:
        self.lines.append(("warning", event, fields))

    def levels(self) -> list[str]:
        return [level for level, _, _ in self.lines]


@pytest.fixture
def log(monkeypatch) -> Log:
    recorder = Log()
    monkeypatch.setattr(devstack, "log", recorder)
    return recorder


class Embedder:
    """Stands in for likeness_biometrics.cohort.embed_recordings: a unit vector per file, derived from its name."""

    def __init__(self, usable: int | None = None) -> None:
        self.calls: list[list[str]] = []
        self.usable = usable

    def __call__(self, files, progress=None):
        self.calls.append([f.name for f in files])
        rows = [np.random.default_rng(sum(f.name.encode())).normal(size=256) for f in files][: self.usable]
        array = np.asarray(rows, np.float32).reshape(-1, 256)
        return array / np.linalg.norm(array, axis=1, keepdims=True).clip(1e-9), []


@pytest.fixture
def embedder(monkeypatch) -> Embedder:
    from likeness_biometrics import cohort

    fake = Embedder()
    monkeypatch.setattr(cohort, "embed_recordings", fake)
    return fake


def recordings(folder: Path, count: int) -> Path:
    """`count` stand-in .flac files, in a reader's sub-folder as LibriSpeech lays them out."""
    (folder / "reader").mkdir(parents=True)
    for n in range(count):
        (folder / "reader" / f"{n:04d}.flac").write_bytes(b"fLaC" + bytes(n))
    return folder


def test_the_dev_cohort_is_the_even_half_of_train_clean_100():
    if not SOURCE.is_dir():
        pytest.skip(f"real media not available: {SOURCE} (tests read ../shared/data in place)")
    assert devstack.COHORT_SOURCE == SOURCE  # where the tests and the benches read it
    crowd = sorted(SOURCE.rglob("*.flac"), key=lambda p: p.name)
    files = dev_cohort_files(SOURCE)
    assert files == crowd[0::2] and len(files) == 126 and not set(files) & set(crowd[1::2])  # the benches' impostors stay out


def test_a_cohort_is_embedded_once_then_read_from_the_cache(tmp_path, log, embedder):
    from verification.domain.calibration import cohort_name

    source, cache = recordings(tmp_path / "voices", 50), tmp_path / "cache"
    path = dev_voice_cohort(source, cache)
    assert path is not None and path.parent == cache and embedder.calls == [[f"{n:04d}.flac" for n in range(0, 50, 2)]]
    array = np.load(path, allow_pickle=False)
    assert array.dtype == np.float32 and array.shape == (25, 256)
    assert sorted(cache.iterdir()) == [path]  # written beside, then renamed: no partial file stays
    assert log.levels() == ["info", "info"] and log.lines[-1] == (
        "info", "voice cohort in use", {"cohort": cohort_name(array), "voices": 25, "file": str(path)})  # fmt: skip

    written = path.stat().st_mtime_ns
    assert dev_voice_cohort(source, cache) == path
    assert len(embedder.calls) == 1 and path.stat().st_mtime_ns == written and log.lines[-1][1] == "voice cohort in use"

    (source / "reader" / "0000.flac").write_bytes(b"fLaC, re-recorded")  # a different file list: another key
    assert dev_voice_cohort(source, cache) not in (None, path) and len(embedder.calls) == 2
    path.write_bytes(b"not an array")  # a damaged cache is built again, never used
    (source / "reader" / "0000.flac").write_bytes(b"fLaC")  # the first file list again
    assert dev_voice_cohort(source, cache) == path and len(embedder.calls) == 3
    assert np.array_equal(np.load(path), array)
    assert "warning" not in log.levels()


def test_too_few_voices_or_a_failing_embedder_is_no_cohort_with_one_warning(tmp_path, monkeypatch, log, embedder):
    source, cache = recordings(tmp_path / "voices", 50), tmp_path / "cache"
    embedder.usable = 19  # under MIN_VOICES
    assert dev_voice_cohort(source, cache) is None
    assert log.levels() == ["info", "warning"] and "only 19 usable recordings" in log.lines[-1][2]["error"]

    def broken(files, progress=None):
        raise ModuleNotFoundError("no module named 'av'")

    from likeness_biometrics import cohort

    monkeypatch.setattr(cohort, "embed_recordings", broken)
    assert dev_voice_cohort(source, cache) is None and log.levels()[-1] == "warning" and "raw cosine" in log.lines[-1][1]
    assert not list(cache.glob("*.npy"))


def test_no_shared_data_is_no_cohort_with_one_warning(tmp_path, log, embedder):
    assert dev_voice_cohort(tmp_path / "no-such-folder", tmp_path / "cache") is None
    (tmp_path / "empty").mkdir()
    assert dev_voice_cohort(tmp_path / "empty", tmp_path / "cache") is None
    assert [(level, fields["source"]) for level, _, fields in log.lines] == [
        ("warning", str(tmp_path / "no-such-folder")), ("warning", str(tmp_path / "empty"))]  # fmt: skip
    assert "raw cosine" in log.lines[0][1] and not (tmp_path / "cache").exists() and not embedder.calls


@pytest.mark.timeout(900)  # the first run in a checkout embeds (4 minutes measured on a loaded 2-core box)
def test_the_shared_data_cohort_is_enrollment_embeddings_of_at_least_100_voices(log, monkeypatch):
    """The real thing, as `likeness dev up` gets it: the default source and cache."""
    if not SOURCE.is_dir():
        pytest.skip(f"real media not available: {SOURCE} (tests read ../shared/data in place)")
    need("webrtcvad", "av")
    need_installed("resemblyzer")
    from likeness_biometrics import cohort
    from verification.adapters.index import load_cohort

    embedded: list[int] = []
    real = cohort.embed_recordings
    monkeypatch.setattr(cohort, "embed_recordings", lambda files, progress=None: embedded.append(len(files)) or real(files, progress))
    path = dev_voice_cohort()  # embeds on the first run in this checkout only
    assert path is not None and path.parent == devstack.COHORT_CACHE and embedded in ([], [126])
    array = np.load(path, allow_pickle=False)
    assert array.dtype == np.float32 and array.ndim == 2 and array.shape[1] == 256 and 100 <= len(array) <= 126
    assert np.allclose(np.linalg.norm(array, axis=1), 1, atol=1e-4)  # enrollment's unit embeddings
    assert load_cohort(path).name == log.lines[-1][2]["cohort"]  # the service loads it, under the name logged

    written, calls = path.stat().st_mtime_ns, len(embedded)
    assert dev_voice_cohort() == path and len(embedded) == calls and path.stat().st_mtime_ns == written  # a second stack: no embedding
    assert "warning" not in log.levels()


def test_the_stack_builds_a_cohort_only_for_the_services_that_judge_voices_and_only_when_none_is_set(tmp_path, monkeypatch, log):
    built: list[Path] = []
    monkeypatch.setattr(devstack, "dev_voice_cohort", lambda: built.append(tmp_path / "c.npy") or built[-1])
    stack = DevStack(tmp_path)
    stack.env = {"PATH": "/usr/bin"}
    assert stack._cohort_env() == str(tmp_path / "c.npy") and stack.env[COHORT_ENV] == str(tmp_path / "c.npy") and len(built) == 1
    stack.env = {COHORT_ENV: "/elsewhere/cohort.npy"}  # the environment's own: kept, nothing built
    assert stack._cohort_env() == "/elsewhere/cohort.npy" and stack.env[COHORT_ENV] == "/elsewhere/cohort.npy" and len(built) == 1
    for quiet in (DevStack(tmp_path, services={"registry": "registry"}), DevStack(tmp_path, voice_cohort=False)):
        quiet.env = {}
        assert quiet._cohort_env() is None and COHORT_ENV not in quiet.env
    monkeypatch.setattr(devstack, "dev_voice_cohort", lambda: None)  # no shared data: the stack starts, raw cosine
    stack.env = {}
    assert stack._cohort_env() is None and COHORT_ENV not in stack.env
    assert len(built) == 1


def test_a_named_cohort_file_that_is_missing_stops_the_service_with_a_clear_message(tmp_path):
    from verification.adapters.index import load_cohort

    with pytest.raises(FileNotFoundError, match=rf"LIKENESS_VERIFICATION_VOICE_COHORT_FILE={tmp_path}/cohort.npy: no such file"):
        load_cohort(tmp_path / "cohort.npy")
