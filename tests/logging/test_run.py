from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from affordkit import atomic
from affordkit.logging import RunLogger, image_grid, make_run_dir


@dataclass(frozen=True)
class Cfg:
    lr: float = 1e-3
    env: str = "Push"


def read(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_run_dir_layout_and_config(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path, "rig", "Push")
    assert (run / "media").is_dir() and (run / "checkpoints").is_dir()
    again = make_run_dir(tmp_path, "rig", "Push", when=None)
    assert again != run  # never reuses a folder
    with RunLogger(run, method="rig", env="Push", seed=3, config=Cfg(), tensorboard=False):
        pass
    config = json.loads((run / "config.json").read_text())
    assert config["seed"] == 3 and config["config"] == {"lr": 1e-3, "env": "Push"}
    for key in ("affordkit_version", "git_commit", "date", "command", "torch"):
        assert key in config


def test_metrics_csv_grows_columns_and_resumes(tmp_path: Path) -> None:
    with RunLogger(tmp_path, method="m", env="e", seed=0, tensorboard=False) as log:
        log.log(10, {"loss": 1.5})
        log.log(20, {"loss": 1.25, "eval/success_rate": 0.5})
        log.log(30, {"loss": 1.0})
    rows = read(tmp_path / "metrics.csv")
    assert [r["step"] for r in rows] == ["10", "20", "30"]
    assert rows[0]["eval/success_rate"] == "" and rows[1]["eval/success_rate"] == "0.5"
    with RunLogger(tmp_path, method="m", env="e", seed=0, tensorboard=False, resume=True) as log:
        log.log(40, {"loss": 0.75})
    rows = read(tmp_path / "metrics.csv")
    assert [r["loss"] for r in rows] == ["1.5", "1.25", "1", "0.75"]


def test_tensorboard_events_and_images(tmp_path: Path) -> None:
    with RunLogger(tmp_path, method="m", env="e", seed=0) as log:
        log.log(1, {"x": 1.0})
        path = log.log_image("grid", np.zeros((8, 8, 3), dtype=np.uint8), step=5)
    assert path.name == "grid_00000005.png" and path.exists()
    assert list(tmp_path.glob("events.out.tfevents.*"))


def test_atomic_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    atomic.write_json(tmp_path / "a.json", {"x": np.float32(1.5), "p": tmp_path})
    atomic.save_npz(tmp_path / "b.npz", x=np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.npz"]
    assert json.loads((tmp_path / "a.json").read_text())["x"] == 1.5


def test_image_grid_shape() -> None:
    grid = image_grid(np.zeros((2, 3, 4, 4, 3), dtype=np.uint8), pad=1, upscale=2)
    assert grid.shape == (2 * 9 + 1, 3 * 9 + 1, 3)
