"""The first job on a fresh machine: random and scripted episodes on one env, a picture of it, and a
run folder with config, metrics, TensorBoard events and a report.

Phases: collect random episodes (the raw material every method starts from), run the scripted
solver on the same goals as a reference, draw the env, write the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from affordkit import atomic
from affordkit.envs import ScriptedSolver, make_vector_env, resolve
from affordkit.envs.showcase import SHEET_COLUMNS, showcase
from affordkit.errors import ConfigError
from affordkit.logging import RunLogger, image_grid, make_run_dir, save_sheet
from affordkit.types import ACHIEVED_GOAL, DESIRED_GOAL, IMAGE, STATE


@dataclass(frozen=True)
class QuickstartConfig:
    """Collect a little random data on an env and draw it."""

    env: str = "Push"
    """Environment name (see `affordkit envs list`)."""
    seed: int = 0
    """Seed of the episodes and of the random policy."""
    episodes: int = 32
    """Random episodes to collect (stepped together as one batch)."""
    image_size: int = 48
    """Observation size in pixels: 48 or 84."""
    runs_dir: Path = Path("runs")
    """Folder that receives the run folder."""
    tensorboard: bool = True
    """Also write TensorBoard events."""

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ConfigError(f"episodes={self.episodes}: expected >= 1")
        if self.seed < 0:
            raise ConfigError(f"seed={self.seed}: expected a non-negative integer")


def collect(
    env_name: str, episodes: int, seed: int, policy: str, image_size: int, progress: bool = True
) -> dict[str, np.ndarray]:
    """One batch of whole episodes, time-major: images (T+1, N, H, W, 3) uint8, states and goals
    (T+1, N, D), actions (T, N, 2), and per-step success (T, N)."""
    env = make_vector_env(env_name, episodes, autoreset_mode="disabled", image_size=image_size)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    solver = ScriptedSolver(env)
    frames: dict[str, list[np.ndarray]] = {k: [obs[k]] for k in (IMAGE, STATE, DESIRED_GOAL)}
    actions, success, hand, objects = [], [], [], []
    for _ in tqdm(
        range(env.config.max_episode_steps), desc=f"{policy} episodes", disable=not progress, leave=False
    ):
        act = (
            rng.uniform(-1.0, 1.0, size=(episodes, 2)).astype(np.float32)
            if policy == "random"
            else solver.act(obs)
        )
        obs, _, _, _, info = env.step(act)
        for k in frames:
            frames[k].append(obs[k])
        actions.append(act)
        success.append(info["success"])
        hand.append(info["hand_distance"])
        objects.append(info.get("object_distance", np.zeros(episodes)))
    out = {k: np.stack(v) for k, v in frames.items()}
    out.update(action=np.stack(actions), success=np.stack(success), hand_distance=np.stack(hand))
    out["object_distance"] = np.stack(objects)
    out[ACHIEVED_GOAL] = out[STATE]
    return out


def run(cfg: QuickstartConfig, progress: bool = True) -> Path:
    """Run the quickstart; returns the path of the report."""
    entry = resolve(cfg.env)
    run_dir = make_run_dir(cfg.runs_dir, "quickstart", entry.name)
    with RunLogger(
        run_dir, method="quickstart", env=entry.name, seed=cfg.seed, config=cfg, tensorboard=cfg.tensorboard
    ) as log:
        results: dict[str, dict[str, float]] = {}
        for policy in ("random", "scripted"):
            data = collect(entry.name, cfg.episodes, cfg.seed, policy, cfg.image_size, progress)
            for t in range(data["action"].shape[0]):
                metrics = {
                    f"{policy}/hand_distance": data["hand_distance"][t].mean(),
                    f"{policy}/success_rate": data["success"][t].mean(),
                }
                if entry.name != "PointReach":
                    metrics[f"{policy}/object_distance"] = data["object_distance"][t].mean()
                log.log((t + 1) * cfg.episodes, metrics)
            results[policy] = _final(data)
            if policy == "random":
                atomic.save_npz(run_dir / "random_episodes.npz", **data)
                picks = data[IMAGE][:: max(1, data[IMAGE].shape[0] // 7)][:8, :6]  # (time, episode, ...)
                log.log_image("random_episodes", image_grid(picks.swapaxes(0, 1), upscale=2))
        images, labels = showcase(entry.name, resets=4, seed=cfg.seed, image_size=cfg.image_size)
        save_sheet(
            run_dir / "media" / "env.png",
            images,
            SHEET_COLUMNS,
            labels,
            title=f"{entry.name}: {entry.description}",
        )
    report = run_dir / "report.md"
    atomic.write_text(report, _report(cfg, entry.name, results))
    return report


def _final(data: dict[str, np.ndarray]) -> dict[str, float]:
    return {
        "final_success_rate": float(data["success"][-1].mean()),
        "final_hand_distance": float(data["hand_distance"][-1].mean()),
        "final_object_distance": float(data["object_distance"][-1].mean()),
        "episodes": float(data["success"].shape[1]),
        "env_steps": float(data["action"].shape[0] * data["action"].shape[1]),
    }


def _report(cfg: QuickstartConfig, env: str, results: dict[str, Any]) -> str:
    lines = [
        f"# Quickstart on {env}",
        "",
        f"Seed {cfg.seed}, {cfg.episodes} episodes per policy, {cfg.image_size}x{cfg.image_size} images.",
        "",
        "| policy | episodes | env steps | final success rate | final hand distance "
        "| final object distance |",
        "|---|---|---|---|---|---|",
    ]
    for policy, r in results.items():
        lines.append(
            f"| {policy} | {r['episodes']:.0f} | {r['env_steps']:.0f} | {r['final_success_rate']:.2f} | "
            f"{r['final_hand_distance']:.3f} | {r['final_object_distance']:.3f} |"
        )
    lines += [
        "",
        "Distances are in table units (the table is 2 x 2). Random episodes are saved in",
        "`random_episodes.npz`; per-step curves are in `metrics.csv` and the TensorBoard events.",
        "",
        "![the env: start, goal image, scripted solver's last step](media/env.png)",
        "",
        "![random episodes, one per row](media/random_episodes.png)",
        "",
    ]
    return "\n".join(lines)
