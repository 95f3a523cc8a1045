"""``affordkit data collect | info | show``: make an episode dataset from an env, describe one, draw one.

Collection policies: ``random`` (uniform actions), ``scripted`` (the env's scripted solver,
envs/solvers.py) and ``noisy-scripted``: the solver's action plus Gaussian noise of std ``noise``,
replaced by a uniformly random action with probability ``random_prob`` per step, and by a random
action for a whole episode with probability ``random_episode_prob``: the knobs that set how good
the data is (benchmarks/awac.py uses about 30% successful episodes).

Rewards and success flags are recomputed from the stored goals with the env's own vectorised
``compute_reward`` and metrics, exactly what the env returned at each step.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from affordkit import atomic
from affordkit.data import DatasetWriter, EpisodeDataset, Feature, compute_stats
from affordkit.envs import ScriptedSolver, make_vector_env, resolve
from affordkit.envs.core import goal_metrics
from affordkit.errors import ConfigError
from affordkit.loops.rollout import EpisodeBatch, run_episodes
from affordkit.types import ACHIEVED_GOAL, DESIRED_GOAL, IMAGE, STATE

CollectPolicy = Literal["random", "scripted", "noisy-scripted"]
ACTION_SEMANTICS = "effector displacement (dx, dy) / action_scale, clipped to [-1, 1]"


@dataclass(frozen=True)
class CollectConfig:
    """Collect episodes from an env into an affordkit dataset."""

    env: str = "Push"
    """Environment name (see `affordkit envs list`)."""
    out: Path = Path("data/push")
    """Dataset folder to create (or to add to with ``--append``)."""
    policy: CollectPolicy = "noisy-scripted"
    """``random``, ``scripted`` (the env's solver) or ``noisy-scripted``."""
    episodes: int = 100
    """Episodes to collect."""
    noise: float = 0.3
    """noisy-scripted: std of the Gaussian noise added to the solver's action."""
    random_prob: float = 0.0
    """noisy-scripted: probability per step of a uniformly random action instead."""
    random_episode_prob: float = 0.0
    """noisy-scripted: probability per episode that every action of it is uniformly random."""
    seed: int = 0
    """Seeds the env resets and the noise; episode i of a batch resets with seed + offset + i."""
    num_envs: int = 16
    """Tables stepped together."""
    image_size: int = 48
    """Image size in pixels: 48 or 84."""
    images: bool = True
    """Store image observations and goal images (``--no-images``: states only, far smaller)."""
    chunk_episodes: int = 100
    """Episodes per chunk on disk."""
    task: str = ""
    """Task label of every episode (default: the env name)."""
    domain: str = "sim"
    """Domain label of every episode."""
    scene: str = ""
    """Scene label of every episode."""
    append: bool = False
    """Add to an existing dataset with the same features."""

    def __post_init__(self) -> None:
        if self.policy not in ("random", "scripted", "noisy-scripted"):
            raise ConfigError(
                f"policy={self.policy!r}; accepted values: ['random', 'scripted', 'noisy-scripted']"
            )
        for name in ("episodes", "num_envs", "chunk_episodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)}: expected >= 1")
        if self.noise < 0 or not 0 <= self.random_prob <= 1 or not 0 <= self.random_episode_prob <= 1:
            raise ConfigError("noise must be >= 0; random_prob and random_episode_prob in [0, 1]")
        if self.seed < 0:
            raise ConfigError(f"seed={self.seed}: expected a non-negative integer")


def dataset_features(goal_dim: int, image_size: int, images: bool) -> dict[str, Feature]:
    """The features a tabletop env's episodes are stored with."""
    vec = Feature((goal_dim,), "float32", "observation", "effector xy, then each object's xy")
    features = {
        STATE: vec,
        ACHIEVED_GOAL: Feature((goal_dim,), "float32", "observation", "the goal-space part of the state"),
        DESIRED_GOAL: Feature((goal_dim,), "float32", "observation", "the episode's goal state"),
        "action": Feature((2,), "float32", "transition", ACTION_SEMANTICS),
        "reward": Feature((), "float32", "transition", "env reward after the step"),
        "terminated": Feature((), "bool", "transition", "the episode ended in a terminal state"),
        "truncated": Feature((), "bool", "transition", "the episode was cut by the time limit"),
        "success": Feature((), "bool", "transition", "effector and every object within threshold"),
    }
    if images:
        size = (image_size, image_size, 3)
        features[IMAGE] = Feature(size, "uint8", "observation", "RGB camera, top-down")
        features["goal_image"] = Feature(size, "uint8", "episode", "the goal state rendered")
    return features


def collect(cfg: CollectConfig, progress: bool = False) -> EpisodeDataset:
    """Run ``cfg.episodes`` episodes and write them to ``cfg.out``; returns the opened dataset."""
    entry = resolve(cfg.env)
    env = make_vector_env(entry.name, cfg.num_envs, autoreset_mode="disabled", image_size=cfg.image_size)
    solver = ScriptedSolver(env)
    rng = np.random.default_rng(cfg.seed)
    n = cfg.num_envs
    features = dataset_features(env.config.goal_dim, cfg.image_size, cfg.images)
    env_meta = {
        "name": entry.name,
        "gym_id": entry.gym_id,
        "max_episode_steps": env.config.max_episode_steps,
        "image_size": cfg.image_size,
        "goal_dim": env.config.goal_dim,
        "reward_type": env.config.reward_type,
        "action_semantics": ACTION_SEMANTICS,
        "action_scale": env.config.action_scale,
    }
    collected = 0
    info = {"collect": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}}
    with DatasetWriter(
        cfg.out, features, env=env_meta, control_hz=float(env.metadata["render_fps"]), info=info,
        chunk_episodes=cfg.chunk_episodes, append=cfg.append,
    ) as writer:  # fmt: skip
        offset = writer.meta["num_episodes"]
        env.reset(seed=cfg.seed * 1_000_003 + offset)  # seeds every table; later resets draw from there
        while collected < cfg.episodes:
            batch, goal_images = _episode_batch(env, solver, cfg, rng)
            achieved, desired = batch.fields[ACHIEVED_GOAL][:, 1:], batch.fields[DESIRED_GOAL][:, 1:]
            reward = env.compute_reward(achieved, desired, {}).astype(np.float32)  # (N, T)
            success = goal_metrics(env.config, achieved, desired)["success"]
            steps = batch.actions.shape[1]
            for i in range(min(n, cfg.episodes - collected)):
                observations = {k: v[i] for k, v in batch.fields.items()}
                transitions = {
                    "action": batch.actions[i],
                    "reward": reward[i],
                    "terminated": np.zeros(steps, dtype=bool),
                    "truncated": np.arange(steps) == steps - 1,
                    "success": success[i],
                }
                episode = {"goal_image": goal_images[i]} if cfg.images else {}
                labels = {"task": cfg.task or entry.name, "domain": cfg.domain, "scene": cfg.scene}
                writer.add_episode(observations, transitions, episode, labels)
                collected += 1
            if progress:
                print(f"collected {collected}/{cfg.episodes} episodes", flush=True)
    return EpisodeDataset(cfg.out)


def _episode_batch(
    env: Any, solver: ScriptedSolver, cfg: CollectConfig, rng: np.random.Generator
) -> tuple[EpisodeBatch, np.ndarray]:
    """One synchronous episode per table with the configured policy, and the goal images."""
    n = env.num_envs
    goal_images = np.zeros((n, cfg.image_size, cfg.image_size, 3), dtype=np.uint8)
    random_episode = rng.random(n) < (cfg.random_episode_prob if cfg.policy == "noisy-scripted" else 0.0)

    def on_reset(obs: dict[str, np.ndarray]) -> None:
        if cfg.images:
            goal_images[:] = env.render_goal()

    def policy(obs: dict[str, np.ndarray], t: int) -> np.ndarray:
        uniform = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
        if cfg.policy == "random":
            return uniform
        action = solver.act(obs)
        if cfg.policy == "scripted":
            return action
        action = action + cfg.noise * rng.standard_normal((n, 2)).astype(np.float32)
        replace = random_episode | (rng.random(n) < cfg.random_prob)
        return np.clip(np.where(replace[:, None], uniform, action), -1, 1).astype(np.float32)

    def observe(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        keys = (STATE, ACHIEVED_GOAL, DESIRED_GOAL) + ((IMAGE,) if cfg.images else ())
        return {k: obs[k] for k in keys}

    return run_episodes(env, policy, observe, on_reset=on_reset), goal_images


# -------------------------------------------------------------------------------------------- info
def describe(root: Path, recompute_stats: bool = False, verify: bool = False) -> str:
    """What ``affordkit data info`` prints: counts, features, env, success rate, label counts."""
    ds = EpisodeDataset(root, verify="checksum" if verify else "size")
    if recompute_stats:
        atomic.write_json(Path(root) / "stats.json", compute_stats(ds))
    stats = ds.stats()
    lengths = ds.lengths
    lines = [
        f"{root}: affordkit dataset, format version {ds.meta['version']}",
        f"episodes: {ds.num_episodes}   steps: {ds.num_steps}   chunks: {len(ds.meta['chunks'])}   "
        f"episode length: {lengths.min() if len(lengths) else 0}-{lengths.max() if len(lengths) else 0}",
        f"env: {json.dumps(ds.env)}",
        f"control rate: {ds.meta.get('control_hz')} Hz",
    ]
    if "success_rate" in stats:
        lines.append(f"success rate (last step of each episode): {stats['success_rate']:.3f}")
    if "mean_episode_return" in stats:
        lines.append(f"mean episode return: {stats['mean_episode_return']:.3f}")
    lines.append("features:")
    for name, f in ds.features.items():
        s = stats["features"].get(name, {})
        summary = ""
        if s and np.prod(f.shape or (1,)) <= 8:
            summary = (
                f"  mean {_fmt(s['mean'])}  std {_fmt(s['std'])}  min {_fmt(s['min'])}  max {_fmt(s['max'])}"
            )
        lines.append(f"  {name:<14} {f.level:<11} {f.dtype:<7} {tuple(f.shape)!s:<12}{summary}")
    for key, counts in stats.get("labels", {}).items():
        lines.append(f"{key}: " + ", ".join(f"{v} ({c})" for v, c in sorted(counts.items())))
    if verify:
        lines.append("checksums: all files match meta.json")
    return "\n".join(lines)


def _fmt(values: Any) -> str:
    return "[" + ", ".join(f"{float(v):.3g}" for v in np.atleast_1d(values)) + "]"


# -------------------------------------------------------------------------------------------- show
def show(root: Path, out: Path, episodes: int = 4, every: int = 5) -> Path:
    """A PNG sheet (one row per episode: every ``every``-th frame, then the goal image) or an animated
    GIF (episodes side by side, one frame per step, goal images in a second row)."""
    ds = EpisodeDataset(root)
    ds.require([IMAGE])
    count = min(episodes, ds.num_episodes)
    eps = [ds.episode(i) for i in range(count)]
    has_goal = "goal_image" in ds.features
    suffix = Path(out).suffix.lower()
    if suffix == ".png":
        from affordkit.logging import save_sheet

        length = min(len(e[IMAGE]) for e in eps)
        frames = list(range(0, length, every))
        rows = [
            np.stack([e[IMAGE][t] for t in frames] + ([e["goal_image"]] if has_goal else [])) for e in eps
        ]
        titles = [f"t={t}" for t in frames] + (["goal"] if has_goal else [])
        labels = [f"ep {i}: {'success' if e['success'][-1] else 'failure'}" for i, e in enumerate(eps)]
        return save_sheet(out, np.stack(rows), titles, labels, title=f"{root}")
    if suffix == ".gif":
        import imageio.v3 as iio

        from affordkit.logging import image_grid

        length = min(len(e[IMAGE]) for e in eps)
        grids = []
        for t in range(length):
            top = np.stack([e[IMAGE][t] for e in eps])
            cells = np.stack([top, np.stack([e["goal_image"] for e in eps])]) if has_goal else top[None]
            grids.append(image_grid(cells, upscale=3))
        data = iio.imwrite("<bytes>", np.stack(grids), extension=".gif", duration=100, loop=0)
        return atomic.write_bytes(out, data)
    raise ConfigError(f"--out {out}: expected a .png or .gif file name")
