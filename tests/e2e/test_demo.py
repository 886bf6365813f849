"""`make demo` (scripts/demo.py) runs the whole issue 5 story and every step ends as the story says."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_story_runs_to_the_end():
    if not (ROOT.parent / "shared" / "data" / "faces").is_dir():
        pytest.skip("the demo reads ../shared/data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIKENESS_")}
    with tempfile.TemporaryDirectory(prefix="likeness-demo-") as state_dir:
        os.chmod(state_dir, 0o755)  # the postgres user must be able to enter it
        done = subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py"), "--state-dir", state_dir],
                              capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = done.stdout.split("Summary", 1)[1]
    expected = [
        "enrolls the talent's face from two photos (the talent accepted the biometric notice): 2 sample(s) accepted",
        "enrolls the narrator's voice from four recordings: 4 sample(s) accepted",
        "a match, and no consent: DENY (face",
        "as a C2PA assertion: ALLOW (face",
        "not used for enrollment): ALLOW (voice",
        "for dubbing (not granted): DENY (face",
        "someone nobody enrolled: NO_MATCH",
        "denied at once: DENY (face",
        "REVOKED)",
        "Anyone verifies the receipt offline: signature valid",
        "The audit chain is intact: intact",
    ]
    for line in expected:
        assert line in summary, line
    assert "ConsentGranted" in summary and "ConsentRevoked" in summary and "VerificationDecided" in summary
