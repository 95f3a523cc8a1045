"""RIG with several seeds trained together (``seeds=K``): each seed's folder equals a run of that
seed alone, the run resumes exactly, the report aggregates the seeds, and bad settings are refused."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from affordkit.cli import main
from affordkit.errors import ConfigError
from affordkit.loops import checkpoint
from affordkit.methods import rig
from tests.methods.test_rig import _tensors, rl_state, smoke


def test_seeds_trained_together_equal_runs_of_each_seed(tmp_path: Path) -> None:
    """The smoke preset without VAE fine-tuning (checked in the resume test below): VAE, warm-up,
    TD3 updates and evaluations. Actions agree to float rounding (~1e-6), which now and then moves a
    rendered pixel by a level or two; a VAE fine-tuned on those images drifts further, so it is
    left out here."""
    together = rig.run(smoke(tmp_path / "together", seed=1, seeds=2, finetune_every=0), progress=False).parent
    summary = json.loads((together / "summary.json").read_text())
    assert summary["seeds"] == [1, 2] and len(summary["per_seed"]) == 2
    text = (together / "report.md").read_text()
    assert "RIG on Push, 2 seeds" in text and "mean +- sd" in text
    _, joint = checkpoint.load(together / "checkpoints" / "rl")
    assert joint is not None
    for k, seed in enumerate((1, 2)):
        alone = rig.run(smoke(tmp_path / f"alone{seed}", seed=seed, finetune_every=0), progress=False).parent
        folder = together / f"seed_{seed}"
        assert (folder / "report.md").exists() and (folder / "media" / "final_rollouts.gif").exists()
        a, b = rl_state(alone), rl_state(folder)
        assert a["counters"] == b["counters"]
        for part, tolerance in (("td3", 1e-4), ("vae", 0.0)):
            flat_a, flat_b = _tensors(a[part]), _tensors(b[part])
            assert flat_a.keys() == flat_b.keys()
            for name in flat_a:
                torch.testing.assert_close(
                    flat_b[name], flat_a[name], atol=tolerance, rtol=1e-4 if tolerance else 0.0,
                    msg=f"seed {seed}: {part}{name}",
                )  # fmt: skip
        _, replay = checkpoint.load(alone / "checkpoints" / "rl")
        assert replay is not None
        for name in replay:
            ours = joint[f"seed{k}/{name}"]
            if name == "field/image":
                moved = np.abs(ours.astype(int) - replay[name].astype(int))
                assert moved.max() <= 3 and (moved > 0).mean() < 1e-3, (moved.max(), (moved > 0).mean())
            else:
                np.testing.assert_allclose(ours, replay[name], atol=1e-4, err_msg=name)
        rows = {r["seed"]: r for r in summary["per_seed"]}
        with open(alone / "metrics.csv") as f:
            (final,) = [r for r in csv.DictReader(f) if r.get("final/success_rate")]
        assert rows[seed]["env_steps"] == 800
        assert rows[seed]["success_rate"] == pytest.approx(float(final["final/success_rate"]), abs=1e-6)
        assert rows[seed]["final_object_distance"] == pytest.approx(
            float(final["final/final_object_distance"]), rel=1e-3
        )
    assert summary["success_rate"]["mean"] == pytest.approx(
        np.mean([s["success_rate"] for s in summary["per_seed"]])
    )


def test_seeds_together_stopped_and_resumed_equal_uninterrupted(tmp_path: Path) -> None:
    """With VAE fine-tuning: each seed fine-tunes its own VAE, twice (the round counter is shared)."""
    whole = rig.run(smoke(tmp_path / "whole", seeds=2), progress=False).parent
    for seed in (0, 1):
        folder = whole / f"seed_{seed}"
        state = rl_state(folder)
        assert state["counters"]["finetunes"] == 2
        pretrained, _ = checkpoint.load(folder / "checkpoints" / "vae.pt", with_replay=False)
        tuned, before = _tensors(state["vae"]), _tensors(pretrained["vae"])
        assert any(not torch.equal(tuned[name], before[name]) for name in tuned)
        with open(folder / "metrics.csv") as f:
            rounds = [
                float(r["vae_finetune/rounds"]) for r in csv.DictReader(f) if r.get("vae_finetune/rounds")
            ]
        assert rounds == [1.0, 2.0]
    # 600: between scheduled checkpoints (every 400), so the stop itself must write one
    stopped = rig.run(smoke(tmp_path / "parts", seeds=2), progress=False, stop_at=600).parent
    assert not (stopped / "report.md").exists()
    # mid-run, each seed folder holds its seed's state as of the joint checkpoint: it evaluates as a
    # run of its own, and its VAE is the fine-tuned one the joint checkpoint holds for that seed
    joint, _ = checkpoint.load(stopped / "checkpoints" / "rl", with_replay=False)
    for seed in (0, 1):
        own = rl_state(stopped / f"seed_{seed}")
        assert own["counters"]["env_steps"] == joint["agents"][seed]["counters"]["env_steps"] == 600
        assert own["counters"]["finetunes"] == 1
        vae, joint_vae = _tensors(own["vae"]), _tensors(joint["agents"][seed]["vae"])
        assert vae.keys() == joint_vae.keys() and all(torch.equal(vae[k], joint_vae[k]) for k in vae)
    assert main(["eval", str(stopped / "seed_1"), "--episodes", "2"]) == 0
    assert json.loads(next((stopped / "seed_1").glob("eval-seed*.json")).read_text())["env_steps"] == 600
    assert rig.run(resume=stopped, progress=False).parent == stopped
    (a, replay_a), (b, replay_b) = (
        checkpoint.load(whole / "checkpoints" / "rl"),
        checkpoint.load(stopped / "checkpoints" / "rl"),
    )
    flat_a, flat_b = _tensors(a), _tensors(b)
    assert flat_a.keys() == flat_b.keys()
    for name in flat_a:
        assert torch.equal(flat_a[name], flat_b[name]), f"{name} differs after resume"
    assert replay_a is not None and replay_b is not None and replay_a.keys() == replay_b.keys()
    for name in replay_a:
        np.testing.assert_array_equal(replay_a[name], replay_b[name])
    summary_a, summary_b = (json.loads((d / "summary.json").read_text()) for d in (whole, stopped))
    assert summary_a == summary_b


def test_a_seed_folder_evaluates_as_a_run_of_its_own(tmp_path: Path) -> None:
    cfg = smoke(tmp_path, observation="state", seeds=2, env_steps=400, eval_every=400, checkpoint_every=400)
    run_dir = rig.run(cfg, progress=False).parent
    assert main(["eval", str(run_dir / "seed_1"), "--episodes", "3"]) == 0
    assert main(["eval", str(run_dir), "--episodes", "3"]) == 2  # the whole run: which seed?
    # a stop during the final step, after seed 0 and before seed 1 had finished: resume finishes
    # seed 1 alone and writes the whole run's summary again
    summary = json.loads((run_dir / "summary.json").read_text())
    for path in (run_dir / "summary.json", run_dir / "report.md", run_dir / "seed_1" / "summary.json"):
        path.unlink()
    rig.run(resume=run_dir, progress=False)
    assert json.loads((run_dir / "summary.json").read_text()) == summary
    finals = []
    for seed in (0, 1):
        with open(run_dir / f"seed_{seed}" / "metrics.csv") as f:
            finals.append(sum(1 for r in csv.DictReader(f) if r.get("final/success_rate")))
    assert finals == [1, 2]
    metrics = json.loads(next((run_dir / "seed_1").glob("eval-seed*.json")).read_text())
    assert metrics["env_steps"] == 400 and metrics["episodes"] == 3


def test_pixel_baseline_seeds_together_equal_runs_of_each_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pixel baseline's K conv encoders train together (algos/td3_pixels_seeds.py: one after
    another on the CPU); each seed's learner, counters and final numbers equal its run alone, to
    float rounding."""
    settings = {"observation": "pixels", "env_steps": 400, "eval_every": 400, "checkpoint_every": 400}
    together = rig.run(smoke(tmp_path / "together", seed=1, seeds=2, **settings), progress=False).parent
    assert "running the seeds in turn is faster" in capsys.readouterr().err  # on the CPU, said once
    summary = json.loads((together / "summary.json").read_text())
    assert summary["seeds"] == [1, 2] and "TD3 + HER on raw pixels" in (together / "report.md").read_text()
    for seed in (1, 2):
        alone = rig.run(smoke(tmp_path / f"alone{seed}", seed=seed, **settings), progress=False).parent
        a, b = rl_state(alone), rl_state(together / f"seed_{seed}")
        assert a["counters"] == b["counters"] and a["td3"]["num_updates"] > 0
        flat_a, flat_b = _tensors(a["td3"]), _tensors(b["td3"])
        assert flat_a.keys() == flat_b.keys()
        for name in flat_a:
            torch.testing.assert_close(
                flat_b[name], flat_a[name], atol=1e-4, rtol=1e-4, msg=f"seed {seed}: {name}"
            )
        (row,) = [r for r in summary["per_seed"] if r["seed"] == seed]
        final = json.loads((alone / "summary.json").read_text())
        assert row["success_rate"] == pytest.approx(final["success_rate"], abs=1e-6)
        assert row["final_object_distance"] == pytest.approx(final["final_object_distance"], rel=1e-3)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [({"seeds": 0}, "seeds=0")],
)
def test_seeds_settings_are_checked(tmp_path: Path, overrides: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        smoke(tmp_path, **overrides)


def test_a_checkpoint_of_other_seeds_is_refused(tmp_path: Path) -> None:
    stopped = rig.run(smoke(tmp_path, observation="state"), progress=False, stop_at=400).parent
    state, _ = checkpoint.load(stopped / "checkpoints" / "rl")
    cfg = smoke(tmp_path, observation="state", seeds=2)
    configs = rig.seed_configs(cfg)
    spaces = [(None, rig.goal_state_bank(c, 64), None) for c in configs]
    team = rig.RIGTeam.build(configs, spaces, torch.device("cpu"), [])
    with pytest.raises(checkpoint.CheckpointError, match="trains 2 together"):
        team.load_state_dict(state)
