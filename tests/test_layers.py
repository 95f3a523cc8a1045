"""The one-way import rule of DESIGN.md, checked on the source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "affordkit"

# package -> the affordkit packages it may import (besides itself and the leaf modules)
ALLOWED = {
    "envs": set(),
    "logging": set(),
    "data": set(),
    "relabel": {"data"},
    "networks": set(),
    "generative": {"networks", "logging"},
    "algos": {"networks"},
    "loops": {"envs", "data", "relabel", "networks", "generative", "algos", "logging"},
    "methods": {"envs", "data", "relabel", "networks", "generative", "algos", "loops", "logging"},
}
LEAVES = {"types", "errors", "atomic", "device", "seeding"}


def imported_packages(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "affordkit" and len(parts) > 1 and not parts[1].startswith("__"):
                out.add(parts[1])
    return out


def test_imports_flow_one_way() -> None:
    for package, allowed in ALLOWED.items():
        for path in (SRC / package).rglob("*.py"):
            bad = imported_packages(path) - allowed - LEAVES - {package}
            assert not bad, f"{path.relative_to(SRC)} imports affordkit.{sorted(bad)}"
    for leaf in LEAVES:
        assert imported_packages(SRC / f"{leaf}.py") <= {"errors"}, f"{leaf}.py must import only errors"


def test_envs_do_not_pull_torch() -> None:
    code = "import sys, affordkit.envs; assert 'torch' not in sys.modules, 'torch imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
