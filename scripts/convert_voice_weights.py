"""Convert Resemblyzer's pretrained.pt once, at setup, into the safetensors file that the numpy GE2E
encoder reads at run time (likeness_biometrics/voice_net.py; no torch there).

    python scripts/convert_voice_weights.py OUT [--source pretrained.pt]

`make setup` writes OUT = .venv/share/likeness/resemblyzer-ge2e-0.1.4.safetensors and the Dockerfile
writes the same path under /venv: the default of likeness_biometrics.models.voice_weights_path().
The source defaults to the pretrained.pt of the installed resemblyzer package. Torch reads it
(weights_only: its restricted unpickler, not ours); torch is in requirements/bio-reference.txt,
which only setup and the Dockerfile's converter stage install.

The file is written here with numpy rather than the `safetensors` package: the format is a few
lines (an 8-byte little-endian header length, a JSON header of dtype, shape and data_offsets per
tensor, then the raw little-endian bytes), so neither this script nor the services gain a
dependency, and the bytes depend only on this code and the source (models.py pins their SHA-256):
names sorted, compact JSON padded with spaces to 8 bytes, float32. Running it again gives the same
file (written to a temporary name, then renamed).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def resemblyzer_checkpoint() -> Path:
    """pretrained.pt of the installed resemblyzer, found without importing it (torch, librosa)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("resemblyzer is not installed (requirements/bio-nodeps.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"


def read_checkpoint(path: Path) -> dict[str, np.ndarray]:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)["model_state"]
    return {name: t.detach().contiguous().numpy().astype("<f4") for name, t in state.items()}


def safetensors_bytes(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    header: dict[str, object] = {"__metadata__": metadata}
    chunks, at = [], 0
    for name in sorted(arrays):
        raw = np.ascontiguousarray(arrays[name], "<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arrays[name].shape), "data_offsets": [at, at + len(raw)]}
        chunks.append(raw)
        at += len(raw)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data then starts 8-byte aligned, as the safetensors library writes
    return len(text).to_bytes(8, "little") + text + b"".join(chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the .safetensors file to write")
    parser.add_argument("--source", type=Path, help="a Resemblyzer pretrained.pt (default: the installed one)")
    args = parser.parse_args()
    source = args.source or resemblyzer_checkpoint()
    metadata = {"source": "resemblyzer/pretrained.pt model_state", "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest()}
    data = safetensors_bytes(read_checkpoint(source), metadata)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, prefix=args.out.name + ".")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, args.out)
    print(f"{args.out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
