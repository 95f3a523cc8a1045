"""Scripted solvers for the planar arm tasks (reach, push): stateless, vectorised controllers of the
hand point, for demonstration data, tests and pictures.

Push uses the tabletop solver's geometry (`affordkit.envs.solvers`: line up behind the object on
the side away from its goal, push it straight, go round it when it is in the way) on coordinates
divided by ``UNIT`` metres, so that an arm's puck and fingers have about the tabletop's proportions.
The action moves the mocap, which the hand follows with a lag, so the controller steers with a gain
below one to avoid overshooting.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from affordkit.envs.arm.core import ArmCore
from affordkit.envs.solvers import CLEARANCE, _go_round, _push_target
from affordkit.errors import ConfigError
from affordkit.types import DESIRED_GOAL, STATE

UNIT = 0.2  # metres per tabletop unit, unless the task sets extra['unit']
GAIN = 1.0  # fraction of the remaining way to the target asked for per step
PLACED_FRACTION = 0.5  # an object counts as placed within this fraction of the success threshold


class ArmSolver:
    """``ArmSolver(env).act(obs) -> actions`` for an ArmEnv (action (A,)) or an ArmVectorEnv
    (actions (N, A)) of a planar reach or push task."""

    def __init__(self, env: Any) -> None:
        core = getattr(env, "unwrapped", env).core
        if not isinstance(core, ArmCore):
            raise TypeError(f"ArmSolver needs an affordkit arm env, got {type(env).__name__}")
        task = core.task
        if not task.planar or any(o.kind != "free" for o in task.objects) or task.num_objects > 1:
            raise ConfigError(f"{task.name} has no scripted solver; solvers exist for planar reach and push")
        self._core = core
        self.task = task

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        n, unit = self._core.num_envs, self.task.extra.get("unit", UNIT)
        state = np.asarray(obs[STATE], dtype=np.float64).reshape(n, -1) / unit
        goal = np.asarray(obs[DESIRED_GOAL], dtype=np.float64).reshape(n, -1) / unit
        hand, target = state[:, :2], goal[:, :2].copy()
        scale = self.task.action_scale / unit
        if self.task.objects:
            obj, obj_goal = state[:, 2:4], goal[:, 2:4]
            contact = np.full(n, self.task.extra["contact"] / unit)
            is_box = np.full(n, self.task.extra.get("box", 0.0) > 0)
            placed = (
                np.sqrt(((obj_goal - obj) ** 2).sum(-1))
                < PLACED_FRACTION * self.task.object_success_threshold / unit
            )
            push = _push_target(hand, obj, obj_goal, is_box, contact, scale)
            free = _go_round(hand, target, obj[:, None, :], (contact + CLEARANCE)[:, None])
            target = np.where(placed[:, None], free, push)
        step = GAIN * (target - hand) / scale
        action = step / np.maximum(1.0, np.abs(step).max(axis=1, keepdims=True))
        return (action[0] if np.ndim(obs[STATE]) == 1 else action).astype(np.float32)
