"""The committed stubs in libs/likeness/ are exactly what scripts/gen_protos.py makes from protos/."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "scripts" / "gen_protos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_stubs_match_protos(tmp_path):
    fresh = tmp_path / "out"
    files = _load_generator().generate(fresh)
    committed_root = ROOT / "libs" / "likeness"
    fresh_rel = {p.relative_to(fresh / "likeness") for p in files}
    committed_rel = {p.relative_to(committed_root) for p in committed_root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert fresh_rel == committed_rel, "stub files differ from protos/: run `make protos`"
    stale = [str(rel) for rel in sorted(fresh_rel) if (fresh / "likeness" / rel).read_bytes() != (committed_root / rel).read_bytes()]
    assert stale == [], f"stale generated stubs (run `make protos`): {stale}"
    assert len(fresh_rel) >= 5 * 3  # pb2, pyi and grpc module for each of the five packages
