"""Run folders and the logger every method shares.

A run lives in ``runs/<method>-<env>-<timestamp>/``::

    config.json     resolved config, seed, affordkit version, git commit, command line, machine
    metrics.csv     one row per `log` call: step, seconds since start, then every metric seen so far
    events.*        TensorBoard events (same scalars, plus images)
    media/          PNG images (reconstructions, goal grids, pictures of the env), videos
    checkpoints/    what a method needs to resume exactly
    report.md       written by the method at the end

Every file is written atomically (see :mod:`affordkit.atomic`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from affordkit import atomic
from affordkit.logging.images import save_png


def make_run_dir(root: str | os.PathLike[str], method: str, env: str, when: datetime | None = None) -> Path:
    """Create ``root/<method>-<env>-<YYYYmmdd-HHMMSS>`` (with a numeric suffix if taken) and its
    ``media/`` and ``checkpoints/`` folders."""
    stamp = (when or datetime.now()).strftime("%Y%m%d-%H%M%S")
    safe_env = env.replace("/", "_")
    base = Path(root) / f"{method}-{safe_env}-{stamp}"
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True, exist_ok=False)
            break
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")
    (path / "media").mkdir()
    (path / "checkpoints").mkdir()
    return path


def git_commit(cwd: str | os.PathLike[str] | None = None) -> tuple[str | None, bool | None]:
    """(commit hash, working tree has uncommitted changes) of the repository holding ``cwd`` (by
    default the source of affordkit), or (None, None) outside a git checkout."""
    where = Path(cwd) if cwd else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(dirty)


def run_metadata(seed: int) -> dict[str, Any]:
    """Seed, versions, git commit, command line, date and machine, for config.json and results files."""
    from affordkit import __version__

    commit, dirty = git_commit()
    meta: dict[str, Any] = {
        "seed": seed,
        "affordkit_version": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpu_count": os.cpu_count(),
    }
    try:
        import torch

        meta["torch"] = torch.__version__
    except ImportError:  # torch is a dependency, but config.json must not depend on it
        meta["torch"] = None
    return meta


class RunLogger:
    """Writes config.json once, then scalars to metrics.csv and TensorBoard, images to media/.

    ``RunLogger(run_dir, method="rig", env="Push", seed=0, config=cfg)``; on resume pass
    ``resume=True``: config.json is kept and metrics.csv is appended to.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        method: str,
        env: str,
        seed: int,
        config: Any = None,
        tensorboard: bool = True,
        resume: bool = False,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.media_dir = self.run_dir / "media"
        self.checkpoint_dir = self.run_dir / "checkpoints"
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.run_dir / "metrics.csv"
        self._start = time.monotonic()
        self._columns: list[str] = ["step", "seconds"]
        self._rows: list[dict[str, str]] = []
        if resume and self.metrics_path.exists():
            with open(self.metrics_path, newline="") as f:
                reader = csv.DictReader(f)
                self._columns = list(reader.fieldnames or self._columns)
                self._rows = list(reader)
            if self._rows and self._rows[-1].get("seconds"):
                self._start -= float(self._rows[-1]["seconds"])
        if not (resume and (self.run_dir / "config.json").exists()):
            record = {"method": method, "env": env, **run_metadata(seed), "config": _as_dict(config)}
            atomic.write_json(self.run_dir / "config.json", record)
        self._writer: Any = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.run_dir))

    def log(self, step: int, metrics: Mapping[str, float | int | bool | np.generic]) -> None:
        """One row of scalars at ``step`` (environment steps, or gradient steps for offline phases)."""
        values = {k: float(v) for k, v in metrics.items()}
        row = {"step": str(int(step)), "seconds": f"{time.monotonic() - self._start:.3f}"}
        row.update({k: _fmt(v) for k, v in values.items()})
        new_columns = [k for k in values if k not in self._columns]
        self._rows.append(row)
        if new_columns or not self.metrics_path.exists():
            self._columns += new_columns
            self._rewrite_csv()
        else:
            with open(self.metrics_path, "a", newline="") as f:
                csv.DictWriter(f, self._columns, lineterminator="\n").writerow(row)
        if self._writer is not None:
            for k, v in values.items():
                self._writer.add_scalar(k, v, int(step))

    def log_image(self, name: str, image: np.ndarray, step: int | None = None) -> Path:
        """Save a uint8 (H, W, 3) image as media/<name>[_<step>].png (and to TensorBoard)."""
        suffix = "" if step is None else f"_{int(step):08d}"
        path = save_png(self.media_dir / f"{name}{suffix}.png", image)
        if self._writer is not None:
            self._writer.add_image(
                name, np.asarray(image), 0 if step is None else int(step), dataformats="HWC"
            )
        return path

    def close(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rewrite_csv(self) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, self._columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self._rows)
        atomic.write_text(self.metrics_path, buf.getvalue())


def _fmt(v: float) -> str:
    if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _as_dict(config: Any) -> Any:
    if config is None:
        return None
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    return config
