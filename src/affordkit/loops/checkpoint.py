"""Checkpoints written atomically: a torch file for models, optimisers, RNG states and counters,
and an uncompressed NumPy archive for replay storage (large, and read back without pickle).

A checkpoint folder is complete or absent: files are written under temporary names and the folder
is renamed into place last, so a run killed while saving keeps its previous checkpoint.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from affordkit import atomic
from affordkit.errors import AffordkitError

STATE_FILE = "state.pt"
REPLAY_FILE = "replay.npz"


class CheckpointError(AffordkitError, ValueError):
    """A checkpoint is missing, incomplete or from an incompatible run."""


def save(
    folder: str | os.PathLike[str], state: Mapping[str, Any], replay: Mapping[str, np.ndarray] | None = None
) -> Path:
    """Write ``state`` (torch-serialisable) and optionally replay arrays into ``folder``, replacing
    any previous checkpoint there only once the new one is complete."""
    target = Path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        buf = io.BytesIO()
        torch.save(dict(state), buf)
        atomic.write_bytes(tmp / STATE_FILE, buf.getvalue())
        if replay is not None:
            with open(tmp / REPLAY_FILE, "wb") as f:
                np.savez(f, **replay)  # type: ignore[arg-type]
                f.flush()
                os.fsync(f.fileno())
        old = target.with_name(f".{target.name}.old")
        if target.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
        os.replace(tmp, target)
        if old.exists():
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def load(
    folder: str | os.PathLike[str], with_replay: bool = True
) -> tuple[dict[str, Any], dict[str, np.ndarray] | None]:
    """Read a checkpoint folder written by `save`."""
    path = Path(folder)
    if not (path / STATE_FILE).exists():
        old = path.with_name(f".{path.name}.old")
        hint = f" (a previous complete checkpoint is at {old})" if (old / STATE_FILE).exists() else ""
        raise CheckpointError(f"no checkpoint at {path}: {STATE_FILE} is missing{hint}")
    try:
        state = torch.load(path / STATE_FILE, map_location="cpu", weights_only=False)
    except Exception as e:  # a torn or foreign file
        raise CheckpointError(f"cannot read {path / STATE_FILE}: {e}") from e
    replay = None
    if with_replay and (path / REPLAY_FILE).exists():
        with np.load(path / REPLAY_FILE, allow_pickle=False) as data:
            replay = {k: data[k] for k in data.files}
    return state, replay


def numpy_rng_state(rng: np.random.Generator) -> dict[str, Any]:
    return dict(rng.bit_generator.state)


def restore_numpy_rng(state: Mapping[str, Any]) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = dict(state)
    return rng
