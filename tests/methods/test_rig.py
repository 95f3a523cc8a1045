"""RIG end to end on the smoke preset: phases, run folder, exact resume, evaluation."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from affordkit.cli import main
from affordkit.loops import checkpoint
from affordkit.methods import rig


def smoke(tmp_path: Path, **overrides) -> rig.RIGConfig:
    return dataclasses.replace(rig.smoke_preset(), runs_dir=tmp_path, device="cpu", **overrides)


def rl_state(run_dir: Path) -> dict:
    state, _ = checkpoint.load(run_dir / "checkpoints" / "rl", with_replay=False)
    return state


def test_smoke_run_writes_a_complete_run_folder(tmp_path: Path) -> None:
    report = rig.run(smoke(tmp_path), progress=False)
    run_dir = report.parent
    assert report.exists() and "# RIG on Push" in report.read_text()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["config"]["preset"] == "smoke" and config["seed"] == 0
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert any(r.get("eval/success_rate") for r in rows)
    assert any(v for r in rows for k, v in r.items() if k.startswith("td3/critic"))
    assert any(r.get("final/success_rate") for r in rows)
    for name in ("final_rollouts.gif", "eval_curves.png", "imagined_goals.png"):
        assert (run_dir / "media" / name).exists(), name
    state = rl_state(run_dir)
    assert state["counters"]["env_steps"] == 800 and state["counters"]["finetunes"] == 2
    assert state["counters"]["updates"] == pytest.approx((800 - 200) * 0.25, abs=8)


def test_stopped_and_resumed_equals_uninterrupted(tmp_path: Path) -> None:
    whole = rig.run(smoke(tmp_path / "whole"), progress=False).parent
    stopped = rig.run(smoke(tmp_path / "parts"), progress=False, stop_at=400).parent
    assert rl_state(stopped)["counters"]["env_steps"] < 800
    assert not (stopped / "report.md").exists()
    resumed = rig.run(resume=stopped, progress=False).parent
    assert resumed == stopped
    a, b = rl_state(whole), rl_state(resumed)
    assert a["counters"] == b["counters"]
    for part in ("td3", "vae"):
        flat_a, flat_b = _tensors(a[part]), _tensors(b[part])
        assert flat_a.keys() == flat_b.keys()
        for k in flat_a:
            assert torch.equal(flat_a[k], flat_b[k]), f"{part}.{k} differs after resume"
    _, replay_a = checkpoint.load(whole / "checkpoints" / "rl")
    _, replay_b = checkpoint.load(resumed / "checkpoints" / "rl")
    assert replay_a is not None and replay_b is not None
    for k in replay_a:
        np.testing.assert_array_equal(replay_a[k], replay_b[k])


def _tensors(state, prefix: str = "") -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    if isinstance(state, torch.Tensor):
        out[prefix] = state
    elif isinstance(state, dict):
        for k, v in state.items():
            out.update(_tensors(v, f"{prefix}.{k}"))
    elif isinstance(state, list | tuple):
        for i, v in enumerate(state):
            out.update(_tensors(v, f"{prefix}.{i}"))
    return out


def test_cli_rig_smoke_and_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["rig", "--preset", "smoke", "--runs-dir", str(tmp_path), "--env-steps", "400", "--device", "cpu"]
    code = main(args)
    assert code == 0
    (run_dir,) = tmp_path.iterdir()
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert config["env_steps"] == 400 and config["preset"] == "smoke"
    assert main(["eval", str(run_dir), "--episodes", "4"]) == 0
    out = capsys.readouterr().out
    assert "success_rate" in out and (run_dir / "eval-seed123456.json").exists()


def test_cli_rig_errors() -> None:
    assert main(["rig", "--preset", "nope"]) == 2
    with pytest.raises(SystemExit):
        main(["rig", "--preset", "smoke", "--bogus", "1"])
    assert main(["rig", "--resume", "/nonexistent/run"]) == 2


def test_image_size_is_one_setting() -> None:
    assert rig.RIGConfig(image_size=84).vae.image_size == 84
    assert rig.config_from_dict(dataclasses.asdict(rig.RIGConfig(image_size=84))).vae.image_size == 84


def test_state_oracle_runs_resumes_and_evaluates_without_a_vae(tmp_path: Path) -> None:
    cfg = smoke(tmp_path, observation="state")
    assert cfg.finetune_every == 0  # nothing to fine-tune
    stopped = rig.run(cfg, progress=False, stop_at=400).parent
    assert stopped.name.startswith("her-state-Push")
    report = rig.run(resume=stopped, progress=False)
    assert "oracle" in report.read_text()
    state = rl_state(stopped)
    assert state["vae"] is None and state["td3"]["sizes"] == (8, 2)  # [state, goal state]
    assert not (stopped / "checkpoints" / "vae.pt").exists()
    _, replay = checkpoint.load(stopped / "checkpoints" / "rl")
    assert replay is not None and "field/state" in replay and "field/image" not in replay  # no images
    metrics = rig.evaluate_run(stopped, episodes=4, seed=5)
    assert metrics["env_steps"] == 800 and 0 <= metrics["success_rate"] <= 1


def test_state_oracle_prior_is_the_envs_goal_distribution() -> None:
    cfg = rig.RIGConfig(observation="state", env="Push")
    bank = rig.goal_state_bank(cfg, n=2000)
    points = bank.points.numpy()
    assert points.shape == (2000, 4)
    assert np.abs(points[:, :2]).max() <= 0.8 + 1e-6 and np.abs(points[:, 2:]).max() <= 0.6 + 1e-6
    assert points[:, 0].std() > 0.3  # spread over the goal region, not a point
