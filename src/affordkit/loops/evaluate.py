"""Evaluation on the env's own goals, given as goal images: task-space metrics at the last step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from affordkit.envs import TabletopVectorEnv
from affordkit.seeding import Stream, table_seeds
from affordkit.types import DESIRED_GOAL, IMAGE

Policy = Callable[[dict[str, np.ndarray], int], np.ndarray]  # (observation batch, step) -> (N, A)
# goal images (E, H, W, 3) and goal states (E, goal_dim) -> the policy for this episode (encode the
# goals once, not every step); image-based policies must use the images alone
PolicyForGoals = Callable[[np.ndarray, np.ndarray], Policy]


@dataclass
class EvalResult:
    """Per-episode final metrics and (optionally) the frames of the episodes."""

    success: np.ndarray  # (E,) bool
    hand_distance: np.ndarray  # (E,)
    object_distance: np.ndarray | None  # (E,) or None without objects
    frames: np.ndarray | None = None  # (T + 1, E, H, W, 3) uint8 observations
    goal_images: np.ndarray | None = None  # (E, H, W, 3)
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def metrics(self, prefix: str = "eval/") -> dict[str, float]:
        out = {
            f"{prefix}success_rate": float(self.success.mean()),
            f"{prefix}final_hand_distance": float(self.hand_distance.mean()),
        }
        if self.object_distance is not None:
            out[f"{prefix}final_object_distance"] = float(self.object_distance.mean())
        return out


def evaluate_on_goal_images(
    env: TabletopVectorEnv, policy_for_goals: PolicyForGoals, seed: int, record: bool = False
) -> EvalResult:
    """One episode per env: reset with ``table_seeds(seed, N, Stream.EVALUATION)`` (a goal set per
    ``seed``, sharing no table with another ``seed``'s), render each env's goal state as an image,
    and run the policy that ``policy_for_goals(goal_images, goal_states)`` returns to the end.
    Image-based policies see the goal only as an image; the state-space goal is for the metrics and
    for state-space baselines."""
    obs, _ = env.reset(seed=table_seeds(seed, env.num_envs, Stream.EVALUATION))
    goal_images = env.render_goal()
    policy = policy_for_goals(goal_images, obs[DESIRED_GOAL])
    frames = [obs[IMAGE]] if record else []
    info: dict[str, np.ndarray] = {}
    for t in range(env.config.max_episode_steps):
        obs, _, _, _, info = env.step(policy(obs, t))
        if record:
            frames.append(obs[IMAGE])
    return EvalResult(
        success=np.asarray(info["success"], dtype=bool),
        hand_distance=np.asarray(info["hand_distance"]),
        object_distance=np.asarray(info["object_distance"]) if "object_distance" in info else None,
        frames=np.stack(frames) if record else None,
        goal_images=goal_images,
    )
