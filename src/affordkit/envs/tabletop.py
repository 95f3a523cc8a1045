"""Gymnasium faces of the tabletop: `TabletopEnv` (one table) and `TabletopVectorEnv` (N tables
stepped and rendered together in NumPy calls).

Observation: a dict with ``image`` (uint8 HxWx3), ``state``, ``achieved_goal`` and ``desired_goal``
(float32, effector xy then object xy). ``info`` carries ``hand_distance``, ``object_distance``
(mean over objects; absent without objects), ``success`` and ``is_success`` (the same flag under the
name Gymnasium-Robotics and Stable-Baselines3 read). Episodes never terminate; they are truncated
after ``max_episode_steps``. Actions outside [-1, 1] are clipped; actions of the wrong shape or
with NaN/inf raise :class:`~affordkit.errors.InvalidActionError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from affordkit.envs.base import BatchedGoalEnv, BatchedGoalVectorEnv, check_render_mode
from affordkit.envs.config import PRESETS, TabletopConfig
from affordkit.envs.core import TabletopCore, batched_goal_images, goal_metrics, reward_from_metrics
from affordkit.errors import UnknownNameError
from affordkit.types import ACHIEVED_GOAL, DESIRED_GOAL, IMAGE, STATE


def make_config(task: str | TabletopConfig = "Push", **overrides: Any) -> TabletopConfig:
    """The preset config of ``task`` with ``overrides`` applied (both validated)."""
    if isinstance(task, TabletopConfig):
        return task.replace(**overrides)
    if task not in PRESETS:
        raise UnknownNameError(f"unknown tabletop task {task!r}; known tasks: {sorted(PRESETS)}")
    return PRESETS[task]().replace(**overrides)


def observation_space(config: TabletopConfig) -> spaces.Dict:
    size, dim, lim = config.image_size, config.goal_dim, config.table_half
    vec = spaces.Box(-lim, lim, shape=(dim,), dtype=np.float32)
    return spaces.Dict(
        {
            IMAGE: spaces.Box(0, 255, shape=(size, size, 3), dtype=np.uint8),
            STATE: vec,
            ACHIEVED_GOAL: vec,
            DESIRED_GOAL: vec,
        }
    )


def _spaces_and_metadata(config: TabletopConfig) -> tuple[spaces.Dict, spaces.Box]:
    return observation_space(config), spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)


class _TabletopGoals:
    """The tabletop's goal metrics and reward, and its episode context in ``info`` at a reset."""

    config: TabletopConfig

    def _goal_metrics(self, achieved: Any, desired: Any) -> dict[str, np.ndarray]:
        return goal_metrics(self.config, achieved, desired)

    def _reward(self, metrics: dict[str, np.ndarray]) -> np.ndarray:
        return reward_from_metrics(self.config, metrics)

    def context(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _context_info(self) -> dict[str, np.ndarray]:
        return self.context()


class TabletopEnv(_TabletopGoals, BatchedGoalEnv):
    """One tabletop environment. ``TabletopEnv("Push", image_size=84)``; see :mod:`affordkit.envs.config`."""

    _core: TabletopCore

    def __init__(
        self, task: str | TabletopConfig = "Push", render_mode: str | None = None, **overrides: Any
    ) -> None:
        check_render_mode(render_mode)
        self.config = make_config(task, **overrides)
        self.render_mode = render_mode
        self.observation_space, self.action_space = _spaces_and_metadata(self.config)  # type: ignore[assignment]
        self._core = TabletopCore(self.config, 1)
        self._obs = None

    @property
    def core(self) -> TabletopCore:
        """The batched simulator (one environment) behind this env."""
        return self._core

    def render_goal(self, goal_state: np.ndarray | None = None) -> np.ndarray:
        """Image of this episode's scene (its colours and shapes) set to ``goal_state`` (goal_dim,)
        or a batch (M, goal_dim); the episode's own goal when None. Nothing in the env changes."""
        self._need_reset()
        goal = self._core.goal[0] if goal_state is None else np.asarray(goal_state, dtype=np.float64)
        single = goal.ndim == 1
        goals = goal.reshape(1, -1) if single else goal
        images = batched_goal_images(self._core, goals, np.zeros(len(goals), dtype=np.int64))
        return images[0] if single else images

    def get_state(self) -> np.ndarray:
        """The current state (goal_dim,) float64: effector xy then object xy."""
        return self._core.pos[0].reshape(-1).copy()

    def set_state(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """Put the bodies at ``state`` (goal_dim,) and return the new observation; the goal, the
        episode's appearance and its step count stay. Raises InvalidStateError if impossible."""
        self._need_reset()
        self._core.pos[0] = self._core.check_states(
            np.asarray(state).reshape(1, -1), np.zeros(1, dtype=np.int64)
        )[0]
        return self._observe()

    def context(self) -> dict[str, np.ndarray]:
        """This episode's object colours (K, 3) and shape indices (K,)."""
        return {k: v[0] for k, v in self._core.context().items()}


class TabletopVectorEnv(_TabletopGoals, BatchedGoalVectorEnv):
    """N tabletop environments in one batched simulator, with the auto-reset modes and seeding of
    :mod:`affordkit.envs.base`: ``reset(seed=s)`` seeds environment i with s + i (or pass a list of
    N seeds), so environment i replays a single ``TabletopEnv`` reset with seed s + i, step for step.
    """

    _core: TabletopCore

    def __init__(
        self,
        num_envs: int,
        task: str | TabletopConfig = "Push",
        max_episode_steps: int | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        if max_episode_steps is not None:
            overrides["max_episode_steps"] = max_episode_steps
        self.config = make_config(task, **overrides)
        self._setup(
            autoreset_mode,
            render_mode,
            lambda: TabletopCore(self.config, num_envs),
            _spaces_and_metadata(self.config),
        )

    @property
    def core(self) -> TabletopCore:
        """The batched simulator behind this env."""
        return self._core

    def render_goal(self, goal_states: np.ndarray | None = None) -> np.ndarray:
        """Images (N, H, W, 3): environment i's scene set to ``goal_states[i]`` (N, goal_dim), by
        default each environment's own goal."""
        goals = self._core.goal if goal_states is None else np.asarray(goal_states, dtype=np.float64)
        return batched_goal_images(self._core, goals, np.arange(self.num_envs))

    def get_state(self) -> np.ndarray:
        """(N, goal_dim) float64 positions."""
        return self._core.pos.reshape(self.num_envs, -1).copy()

    def set_state(self, states: np.ndarray) -> dict[str, np.ndarray]:
        """Put the bodies of every environment at ``states`` (N, goal_dim); returns the observation."""
        self._core.pos = self._core.check_states(states, np.arange(self.num_envs)).copy()
        return self._observe()

    def context(self) -> dict[str, np.ndarray]:
        return self._core.context()
