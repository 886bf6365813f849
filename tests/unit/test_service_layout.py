"""One house layout for every service (services/README.md): a newcomer who learned one service
finds the same rooms in the next. Each service has a pure domain/, a service_layer/ (handlers and
the ports they depend on), adapters/, its transport (servicer.py; web/ for the console), bootstrap.py
and __main__.py; and nothing in a domain/ imports an I/O library, a thread or an engine."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"
NAMES = ("registry", "consent", "enrollment", "verification", "console")
ROOMS = ("domain/__init__.py", "service_layer/__init__.py", "service_layer/handlers.py", "service_layer/ports.py",
         "adapters/__init__.py", "bootstrap.py", "__main__.py")  # fmt: skip
# What a domain must not touch: transports, databases, brokers, engines, threads, the web framework.
FORBIDDEN_IN_DOMAIN = ("grpc", "asyncpg", "aiokafka", "faiss", "threading", "concurrent", "starlette", "likeness.")


def test_every_service_is_listed():
    found = {p.name for p in SERVICES.iterdir() if (p / "__main__.py").is_file()}
    assert found == set(NAMES), f"a service without a place in this test (and services/README.md): {found ^ set(NAMES)}"


@pytest.mark.parametrize("name", NAMES)
def test_each_service_has_every_room(name):
    root = SERVICES / name
    missing = [room for room in ROOMS if not (root / room).is_file()]
    transport = "web/__init__.py" if name == "console" else "servicer.py"
    if not (root / transport).is_file():
        missing.append(transport)
    if name != "console" and not (root / "adapters/proto_mapping.py").is_file():
        missing.append("adapters/proto_mapping.py")  # proto <-> domain lives in adapters, not the servicer
    assert not missing, f"services/{name} misses {missing} (services/README.md draws the layout)"


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("name", NAMES)
def test_domain_code_is_pure(name):
    wrong = [
        f"{path.relative_to(SERVICES)}: {module}"
        for path in sorted((SERVICES / name / "domain").rglob("*.py"))
        for module in _imports(path)
        if any(module == f or module.startswith(f if f.endswith(".") else f + ".") for f in FORBIDDEN_IN_DOMAIN)
    ]
    assert not wrong, f"domain modules import I/O, engines or generated protos: {wrong}"


def test_the_check_catches_an_impure_import(tmp_path):
    """The rule can fail: a planted `import grpc` and `from likeness.x import y` are both seen."""
    planted = tmp_path / "model.py"
    planted.write_text("import grpc\nfrom likeness.verification.v1 import verification_pb2\nimport numpy\n")
    seen = [m for m in _imports(planted) if any(m == f or m.startswith(f if f.endswith(".") else f + ".") for f in FORBIDDEN_IN_DOMAIN)]
    assert seen == ["grpc", "likeness.verification.v1"]
