"""The proto contract only grows: `buf breaking` (FILE rules, buf.yaml) finds no breaking change in
protos/ against protos/baseline.binpb, the Buf image of the protos as last committed on main.

CI checks out a fresh clone, where "against main" cannot be a git ref (shallow clones, and a
submission's own commits are main by then), so the baseline is a committed file. It must describe
the protos of the same commit (`test_baseline_describes_the_committed_protos`): every proto change
comes with `make protos-baseline`, which refuses to write a breaking change unless told
(`make protos-baseline BREAKING=1`, a deliberate and reviewable step). So a field added today is
guarded from the next commit on.

No Buf Schema Registry: the googleapis protos the services import (google/api, google/rpc,
google/longrunning) are taken from googleapis-common-protos, as scripts/gen_protos.py does, and laid
beside a copy of protos/ as a second module of a temporary workspace.

    python -m tests.unit.test_protos_compatible [--allow-breaking]   # what `make protos-baseline` runs
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "protos" / "baseline.binpb"
EVENTS_PROTO = Path("protos/likeness/events/v1/events.proto")


def buf() -> str:
    """The buf binary of requirements/dev.txt (buf-bin), else one on PATH. Never a skip: a missing
    binary would silently switch the guard off."""
    beside_python = Path(sys.executable).parent / "buf"
    found = str(beside_python) if beside_python.exists() else shutil.which("buf")
    if not found:
        raise RuntimeError("buf not found: `make setup` installs it (buf-bin in requirements/dev.txt)")
    return found


def _googleapis(into: Path) -> None:
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "scripts" / "gen_protos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module._googleapis(into)


def make_workspace(into: Path) -> Path:
    """protos/ (the .proto files only) and googleapis as a Buf v2 workspace configured by buf.yaml."""
    shutil.copytree(ROOT / "protos", into / "protos", ignore=lambda _, names: [n for n in names if n.endswith(".binpb")])
    _googleapis(into / "googleapis")
    config = yaml.safe_load((ROOT / "buf.yaml").read_text())
    config["modules"] = [*config["modules"], {"path": "googleapis"}]
    (into / "buf.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return into


def run_buf(workspace: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([buf(), *args], cwd=workspace, capture_output=True, text=True, timeout=120)


def breaking(workspace: Path, against: Path = BASELINE) -> subprocess.CompletedProcess:
    return run_buf(workspace, "breaking", "protos", "--against", str(against), "--exclude-imports")


def build_image(workspace: Path, out: Path) -> None:
    built = run_buf(workspace, "build", "protos", "-o", str(out), "--exclude-source-info")
    assert built.returncode == 0, built.stderr + built.stdout


def likeness_files(image: bytes) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """The likeness/* files of a Buf image (a FileDescriptorSet on the wire; Buf's own per-file
    extension is dropped as an unknown field)."""
    files = descriptor_pb2.FileDescriptorSet.FromString(image)
    files.DiscardUnknownFields()
    return {f.name: f for f in files.file if f.name.startswith("likeness/")}


def test_protos_have_no_breaking_change_against_the_baseline(tmp_path) -> None:
    assert BASELINE.exists(), "protos/baseline.binpb is missing: `make protos-baseline` writes it"
    result = breaking(make_workspace(tmp_path))
    assert result.returncode == 0, (
        "breaking change in protos/ against protos/baseline.binpb (add fields, never remove or renumber them; "
        f"`reserved` keeps a removed number taken):\n{result.stdout}{result.stderr}"
    )


def test_baseline_describes_the_committed_protos(tmp_path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    build_image(workspace, tmp_path / "now.binpb")
    now, baseline = likeness_files((tmp_path / "now.binpb").read_bytes()), likeness_files(BASELINE.read_bytes())
    changed = sorted(name for name in now.keys() | baseline.keys() if now.get(name) != baseline.get(name))
    assert changed == [], f"protos/ changed since protos/baseline.binpb was written ({changed}): run `make protos-baseline`"


def test_protos_follow_buf_standard_lint(tmp_path) -> None:
    result = run_buf(make_workspace(tmp_path), "lint", "protos")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_guard_fails_on_a_removed_or_renumbered_field(tmp_path) -> None:
    """The check itself, on a copy: renumbering Event.talent_id and removing ApiKeyRevoked.revoked_count
    are both reported; adding a field is not."""
    workspace = make_workspace(tmp_path / "ws")
    build_image(workspace, tmp_path / "base.binpb")
    proto = workspace / EVENTS_PROTO
    original = proto.read_text()

    def edit(old: str, new: str) -> None:
        assert original.count(old) == 1, old
        proto.write_text(original.replace(old, new))

    edit("  string talent_id = 3;\n  // The id of the aggregate", "  string talent_id = 33;\n  // The id of the aggregate")
    renumbered = breaking(workspace, tmp_path / "base.binpb")
    assert renumbered.returncode != 0 and 'field "3" with name "talent_id" on message "Event" was deleted' in renumbered.stdout

    edit("  string principal_id = 1;\n  int32 revoked_count = 2;\n", "  string principal_id = 1;\n")
    removed = breaking(workspace, tmp_path / "base.binpb")
    assert removed.returncode != 0 and 'field "2" with name "revoked_count" on message "ApiKeyRevoked"' in removed.stdout

    edit("  int32 revoked_count = 2;\n", "  int32 revoked_count = 2;\n  string note = 3;\n")
    assert breaking(workspace, tmp_path / "base.binpb").returncode == 0


def write_baseline(allow_breaking: bool = False) -> str:
    """Rewrite protos/baseline.binpb from protos/ (refuses a breaking change unless allowed)."""
    with tempfile.TemporaryDirectory() as tmp:
        workspace = make_workspace(Path(tmp) / "ws")
        if BASELINE.exists() and not allow_breaking:
            result = breaking(workspace)
            if result.returncode != 0:
                raise SystemExit(f"breaking change against protos/baseline.binpb; not written (BREAKING=1 to accept):\n{result.stdout}{result.stderr}")
        build_image(workspace, Path(tmp) / "baseline.binpb")
        fresh = (Path(tmp) / "baseline.binpb").read_bytes()
    if BASELINE.exists() and BASELINE.read_bytes() == fresh:
        return "protos/baseline.binpb is current"
    BASELINE.write_bytes(fresh)
    return f"wrote protos/baseline.binpb ({len(fresh)} bytes): commit it with the protos"


if __name__ == "__main__":
    print(write_baseline(allow_breaking="--allow-breaking" in sys.argv[1:]))
