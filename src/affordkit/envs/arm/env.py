"""Gymnasium faces of the 3-D arm tasks: `ArmEnv` (one) and `ArmVectorEnv` (N on one simulator).

The contract is the tabletop's (`affordkit.envs.tabletop`): observation dict with ``image`` (uint8
HxWx3), ``state``, ``achieved_goal``, ``desired_goal`` (float32, hand then objects, in metres);
``info`` with ``hand_distance``, ``object_distance`` (absent without objects), ``success`` and
``is_success``; vectorised ``compute_reward``; ``render_goal(goal_state)``; ``get_state`` /
``set_state`` in goal space; seeding and auto-reset modes as there. Episodes never terminate; they
are truncated after ``max_episode_steps``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from affordkit.envs.arm.core import ArmCore, goal_metrics, reward_from_metrics
from affordkit.envs.arm.tasks import TASKS, ArmTask
from affordkit.envs.base import BatchedGoalEnv, BatchedGoalVectorEnv, check_render_mode
from affordkit.errors import ConfigError, UnknownNameError
from affordkit.types import ACHIEVED_GOAL, DESIRED_GOAL, IMAGE, STATE

WORLD_HALF = 10.0  # metres: bounds of positions in observations (a door angle is within 2 pi)


@dataclass(frozen=True)
class ArmConfig:
    """The settings of an arm env; the task itself (`tasks.py`) is fixed."""

    task: str = "sawyer-push"
    """Task name (see ``affordkit envs list``)."""
    image_size: int = 48
    """Side of the square RGB observation in pixels: 48 (default) or 84."""
    max_episode_steps: int = 0
    """Episode length; 0 takes the task's."""
    reward_type: Literal["sparse", "dense"] = "sparse"
    """``sparse``: 0 on success, else -1; ``dense``: minus hand distance minus object distances."""

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise UnknownNameError(f"unknown arm task {self.task!r}; known tasks: {sorted(TASKS)}")
        if self.max_episode_steps == 0:
            object.__setattr__(self, "max_episode_steps", TASKS[self.task].max_episode_steps)
        if not isinstance(self.max_episode_steps, int) or self.max_episode_steps < 1:
            raise ConfigError(f"max_episode_steps={self.max_episode_steps!r}: expected a positive integer")
        if self.reward_type not in ("sparse", "dense"):
            raise ConfigError(f"reward_type={self.reward_type!r}; accepted values: ['dense', 'sparse']")

    @property
    def spec(self) -> ArmTask:
        return TASKS[self.task]

    @property
    def goal_dim(self) -> int:
        return self.spec.goal_dim

    @property
    def num_objects(self) -> int:
        return self.spec.num_objects


def make_config(task: str = "sawyer-push", **overrides: Any) -> ArmConfig:
    known = {f.name for f in dataclasses.fields(ArmConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown arm setting(s) {unknown}; accepted: {sorted(known - {'task'})}")
    return ArmConfig(task=task, **overrides)


def _spaces(config: ArmConfig) -> tuple[spaces.Dict, spaces.Box]:
    size, dim = config.image_size, config.goal_dim
    vec = spaces.Box(-WORLD_HALF, WORLD_HALF, shape=(dim,), dtype=np.float32)
    obs = spaces.Dict(
        {
            IMAGE: spaces.Box(0, 255, shape=(size, size, 3), dtype=np.uint8),
            STATE: vec,
            ACHIEVED_GOAL: vec,
            DESIRED_GOAL: vec,
        }
    )
    return obs, spaces.Box(-1.0, 1.0, shape=(config.spec.action_dim,), dtype=np.float32)


class _ArmGoals:
    """The arm task's goal metrics and reward."""

    config: ArmConfig

    def _goal_metrics(self, achieved: Any, desired: Any) -> dict[str, np.ndarray]:
        return goal_metrics(self.config.spec, achieved, desired)

    def _reward(self, metrics: dict[str, np.ndarray]) -> np.ndarray:
        return reward_from_metrics(self.config.spec, self.config.reward_type, metrics)


class ArmEnv(_ArmGoals, BatchedGoalEnv):
    """One arm environment: ``ArmEnv("sawyer-push", image_size=84)``. Call :meth:`close` to free
    its GL context."""

    _core: ArmCore

    def __init__(self, task: str = "sawyer-push", render_mode: str | None = None, **overrides: Any) -> None:
        check_render_mode(render_mode)
        self.config = make_config(task, **overrides)
        self.render_mode = render_mode
        self.observation_space, self.action_space = _spaces(self.config)  # type: ignore[assignment]
        self._core = ArmCore(self.config.spec, 1, self.config.image_size)
        self._obs = None

    @property
    def core(self) -> ArmCore:
        return self._core

    def render_goal(self, goal_state: np.ndarray | None = None) -> np.ndarray:
        """Image of the scene set to ``goal_state`` (goal_dim,) or a batch (M, goal_dim); the
        episode's own goal when None. The env's physics state is restored exactly afterwards."""
        self._need_reset()
        goal = self._core.goal[0] if goal_state is None else np.asarray(goal_state, dtype=np.float64)
        images = self._core.goal_images(goal.reshape(-1, goal.shape[-1]) if goal.ndim == 1 else goal)
        return images[0] if goal.ndim == 1 else images

    def get_state(self) -> np.ndarray:
        """The goal-space state (goal_dim,) float64: hand, then objects."""
        return self._core.achieved[0].copy()

    def set_state(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """Put the scene in the goal-space ``state`` (goal_dim,) (see ``ArmSim.place``) and return the
        observation; the goal and the step count stay. Raises InvalidStateError if impossible."""
        self._need_reset()
        self._core.set_states(np.asarray(state, dtype=np.float64).reshape(1, -1), np.zeros(1, dtype=np.int64))
        return self._observe()

    def physics_state(self) -> np.ndarray:
        """The full MuJoCo integration state (qpos, qvel, mocap pose, ...) as one float64 vector."""
        return self._core.states[0].copy()

    def close(self) -> None:
        self._core.close()


class ArmVectorEnv(_ArmGoals, BatchedGoalVectorEnv):
    """N arm environments stepped one after the other on one simulator and one renderer.

    Auto-reset modes and seeding as every vector env (:mod:`affordkit.envs.base`):
    ``reset(seed=s)`` seeds environment i with s + i, so it replays ``ArmEnv`` reset with s + i.
    """

    _core: ArmCore

    def __init__(
        self,
        num_envs: int,
        task: str = "sawyer-push",
        max_episode_steps: int | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        if max_episode_steps is not None:
            overrides["max_episode_steps"] = max_episode_steps
        check_render_mode(render_mode)
        self.config = make_config(task, **overrides)
        self._setup(
            autoreset_mode,
            render_mode,
            lambda: ArmCore(self.config.spec, num_envs, self.config.image_size),
            _spaces(self.config),
        )

    @property
    def core(self) -> ArmCore:
        return self._core

    def render_goal(self, goal_states: np.ndarray | None = None) -> np.ndarray:
        """Images (N, H, W, 3): environment i's scene set to ``goal_states[i]``, by default each
        environment's own goal. Every environment's physics state stays as it was."""
        goals = self._core.goal if goal_states is None else np.asarray(goal_states, dtype=np.float64)
        return self._core.goal_images(goals)

    def get_state(self) -> np.ndarray:
        """(N, goal_dim) float64 goal-space states."""
        return self._core.achieved.copy()

    def set_state(self, states: np.ndarray) -> dict[str, np.ndarray]:
        """Put every environment into the goal-space ``states`` (N, goal_dim); returns the observation."""
        self._core.set_states(np.asarray(states, dtype=np.float64), np.arange(self.num_envs))
        return self._observe()

    def close_extras(self, **kwargs: Any) -> None:
        self._core.close()
