"""C2PA signing and reading never touch the network (issue 15: no timestamp authority, no remote
manifests, no OCSP): embedding, a sidecar and a validated read run under strace, which records
every connect() the process makes; none may go to an internet address."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = r'''
import io, sys
from PIL import Image
from likeness_common import provenance

chain = provenance.dev_chain()
out = io.BytesIO()
Image.new("RGB", (64, 48), (10, 200, 30)).save(out, "JPEG")
clip = out.getvalue()
receipt = b'{"payload":{"receipt_id":"rcp_1"},"signature":"c2ln"}\n'
signer = provenance.Embedder(chain.chain_pem, chain.key_pem)
embedded = signer.sign(clip, "image/jpeg", receipt)
sidecar = signer.sign(clip, "image/jpeg", receipt, embed=False)
states = (provenance.read(embedded.content, "image/jpeg", chain.root_pem).state,
          provenance.read(clip, "image/jpeg", chain.root_pem, sidecar=sidecar.content).state)
print("STATES", *states)
'''


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is installed by scripts/install-system-deps.sh")
def test_signing_and_reading_make_no_network_connection(tmp_path):
    trace = tmp_path / "trace"
    done = subprocess.run(["strace", "-f", "-e", "trace=connect,sendto", "-o", str(trace), sys.executable, "-c", SCRIPT],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "STATES Trusted Trusted" in done.stdout, done.stdout
    calls = trace.read_text()
    internet = [line for line in calls.splitlines() if re.search(r"sa_family=AF_INET6?\b", line)]
    assert internet == [], internet[:5]
    assert "+++ exited with 0 +++" in calls  # strace traced the process to its end
