"""RIG learns: on PointReach a small RIG run must bring the effector much closer to goals given as
images than it starts (a minute at most on one CPU thread). Fails if any stage breaks: a collapsed
latent, a wrong reward, relabeling that points at the wrong goals, a learner that does not learn."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest
import torch

from affordkit.algos.td3 import TD3Config
from affordkit.generative import FitConfig, VAEConfig
from affordkit.methods import rig


@pytest.mark.slow
def test_rig_learns_point_reach(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    cfg = dataclasses.replace(
        rig.smoke_preset(),
        env="PointReach",
        runs_dir=tmp_path,
        device="cpu",
        vae_images=3000,
        vae=VAEConfig(beta=1.0, beta_warmup_steps=300),
        vae_fit=FitConfig(num_steps=1500, batch_size=64, eval_interval=0, media_interval=0, log_interval=100),
        td3=TD3Config(hidden=(256, 256), batch_size=128),
        num_envs=8,
        env_steps=6000,
        warmup_steps=800,
        updates_per_step=2.0,
        replay_capacity=10_000,
        finetune_every=0,
        eval_every=6000,
        eval_episodes=32,
        checkpoint_every=6000,
        log_every=1000,
    )
    report = rig.run(cfg, progress=False)
    with open(report.parent / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    start = next(float(r["eval/final_hand_distance"]) for r in rows if r.get("eval/final_hand_distance"))
    final = next(float(r["final/final_hand_distance"]) for r in rows if r.get("final/final_hand_distance"))
    # measured: seed 0 0.777 -> 0.293, seed 1 0.623 -> 0.362, seed 2 passes too; an untrained or
    # broken agent ends where it starts (0.6-0.9 from its goal)
    assert final < 0.65 * start and final < 0.45, f"final hand distance {final:.3f} vs {start:.3f} at start"
