"""Pictures of an env for people: start observations beside goal images and the scripted solver's
final observation, over a few resets (``affordkit envs show``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from affordkit.envs.registry import is_arm, make_vector_env
from affordkit.envs.solvers import ScriptedSolver
from affordkit.types import IMAGE

SHEET_COLUMNS = ("start", "goal image", "scripted solver, last step")


def showcase(name: str, resets: int = 4, seed: int = 0, **overrides: Any) -> tuple[np.ndarray, list[str]]:
    """Run ``resets`` episodes of env ``name`` side by side with its scripted solver.

    Returns:
        images (resets, 3, H, W, 3) uint8 (columns as in ``SHEET_COLUMNS``) and one row label per
        episode saying whether the solver reached the goal.
    """
    env = make_vector_env(name, resets, autoreset_mode="disabled", **overrides)
    obs, _ = env.reset(seed=seed)
    start, goal = obs[IMAGE].copy(), env.render_goal()
    if is_arm(name):
        from affordkit.envs.arm import ArmSolver

        solver: Any = ArmSolver(env)
    else:
        solver = ScriptedSolver(env)
    info: dict[str, Any] = {}
    for _ in range(env.config.max_episode_steps):
        obs, _, _, _, info = env.step(solver.act(obs))
    labels = []
    for i in range(resets):
        labels.append(f"seed {seed + i}\n{'solved' if info['success'][i] else 'not solved'}")
    close = getattr(env, "close", None)
    if close is not None:
        close()
    return np.stack([start, goal, obs[IMAGE]], axis=1), labels
