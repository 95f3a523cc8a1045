"""What every benchmark writes beside its numbers: command, commit, date, machine."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

from affordkit import atomic
from affordkit.logging import run_metadata

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _code_at_start() -> dict[str, Any]:
    meta = run_metadata(seed=0)
    return {k: meta[k] for k in ("git_commit", "git_dirty") if k in meta}


CODE_AT_START = _code_at_start()
"""The commit (and whether the tree had changes) when the benchmark started: the code that ran,
even if commits land while a long benchmark runs."""


def provenance() -> dict[str, Any]:
    """Command, commit and tree state at the start of the process, date of writing, machine."""
    meta = run_metadata(seed=0)
    meta.pop("seed")
    meta.update(CODE_AT_START)
    meta["command"] = " ".join(["python", *sys.argv])
    meta["cpu"] = cpu_model()
    return meta


def write_results(name: str, payload: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """benchmarks/results/<name>.json and .md, atomically."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    j = atomic.write_text(RESULTS / f"{name}.json", json.dumps(payload, indent=2) + "\n")
    m = atomic.write_text(RESULTS / f"{name}.md", markdown)
    return j, m


def provenance_lines(meta: dict[str, Any]) -> list[str]:
    dirty = " (uncommitted changes)" if meta.get("git_dirty") else ""
    return [
        f"- command: `{meta['command']}`",
        f"- commit: `{meta['git_commit']}`{dirty}",
        f"- date: {meta['date']}",
        f"- machine: {meta['cpu']}, {meta['cpu_count']} cores",
        f"- software: Python {meta['python']}, NumPy {meta['numpy']}, torch {meta['torch']}",
    ]
