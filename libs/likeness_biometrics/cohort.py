"""The voice score-normalization cohort (issue 18): recordings of people who are never enrolled,
embedded exactly as enrollment embeds a voice sample (worker.enroll_voice_clips), one embedding
per recording. `likeness cohort build` (likeness_cli.cohort_cmds) and the dev stack
(likeness_devstack.dev_voice_cohort) both embed through `embed_recordings`; the result is
the .npy array that LIKENESS_VERIFICATION_VOICE_COHORT_FILE names.

Runs in the calling process (no worker pool): the voice encoder loads on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

VOICE_DIMS = 256
MIN_VOICES = 20  # fewer usable recordings are no cohort (hundreds are better)
_BATCH = 16  # recordings read and embedded per call


def embed_recordings(files: Sequence[Path], progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, list[str]]:
    """One embedding per recording with enough speech -> ((n, 256) float32 array, the skipped
    files' reasons), in the order of `files`. `progress(k)`: called after each batch of k files."""
    from .worker import enroll_voice_clips

    vectors, skipped = [], []
    for start in range(0, len(files), _BATCH):
        batch = files[start : start + _BATCH]
        for path, result in zip(batch, enroll_voice_clips([p.read_bytes() for p in batch]), strict=True):
            if isinstance(result, Exception):
                skipped.append(f"{path.name}: {result}")
            else:
                vectors.append(result.embedding)
        if progress is not None:
            progress(len(batch))
    return np.asarray(vectors, np.float32).reshape(-1, VOICE_DIMS), skipped
