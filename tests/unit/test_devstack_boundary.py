"""The dev stack (libs/likeness_devstack: `likeness dev up`, the test harness) stays out of the
runtime: no runtime package imports it, and likeness_common has no devstack module any more.
Only the CLI (`likeness dev up`), scripts, benches and tests may use it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEV_ONLY = {"likeness_devstack", "likeness_cli"}
RUNTIME = sorted(p for top in ("libs", "services") for p in (ROOT / top).iterdir()
                 if p.is_dir() and p.name not in DEV_ONLY and any(p.rglob("*.py")))  # fmt: skip


def _imports_of_the_dev_stack(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [module, *(f"{module}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"[\w.]+", node.value):
            names = [node.value]  # importlib.import_module("likeness_devstack"), "-m likeness_devstack"
        if any({"likeness_devstack", "devstack"} & set(n.split(".")) for n in names):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_runtime_trees_are_the_ones_we_think():
    names = {p.name for p in RUNTIME}
    assert {"likeness_common", "likeness_biometrics", "registry", "consent", "enrollment", "verification"} <= names


def test_no_runtime_code_imports_the_dev_stack():
    offenders = [hit for tree in RUNTIME for path in sorted(tree.rglob("*.py")) for hit in _imports_of_the_dev_stack(path)]
    assert not offenders, f"runtime code imports the dev stack: {offenders}"


def test_likeness_common_has_no_dev_stack_module():
    assert not list((ROOT / "libs" / "likeness_common").rglob("devstack*.py"))
    assert (ROOT / "libs" / "likeness_devstack" / "__init__.py").is_file()
