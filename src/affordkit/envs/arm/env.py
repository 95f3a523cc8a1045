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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from affordkit.envs.arm.core import ArmCore, goal_metrics, reward_from_metrics
from affordkit.envs.arm.tasks import TASKS, ArmTask
from affordkit.envs.tabletop import _autoreset_mode, check_seed
from affordkit.errors import ConfigError, InvalidSeedError, UnknownNameError
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


def _reward(config: ArmConfig, achieved_goal: Any, desired_goal: Any) -> np.ndarray:
    spec = config.spec
    return reward_from_metrics(spec, config.reward_type, goal_metrics(spec, achieved_goal, desired_goal))


def _check_render_mode(render_mode: str | None) -> None:
    if render_mode not in (None, "rgb_array"):
        raise ConfigError(f"render_mode={render_mode!r}; accepted values: [None, 'rgb_array']")


class ArmEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """One arm environment: ``ArmEnv("sawyer-push", image_size=84)``. Call :meth:`close` to free
    its GL context."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, task: str = "sawyer-push", render_mode: str | None = None, **overrides: Any) -> None:
        _check_render_mode(render_mode)
        self.config = make_config(task, **overrides)
        self.render_mode = render_mode
        self.observation_space, self.action_space = _spaces(self.config)  # type: ignore[assignment]
        self._core = ArmCore(self.config.spec, 1, self.config.image_size)
        self._obs: dict[str, np.ndarray] | None = None

    @property
    def core(self) -> ArmCore:
        return self._core

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        check_seed(seed)
        if options:
            raise ConfigError(
                f"reset options {sorted(options)} are not supported by {self.config.task}; pass None"
            )
        super().reset(seed=seed)
        self._core.rngs[0] = self.np_random
        self._core.reset(np.ones(1, dtype=bool))
        return self._observe(), self._info()

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        self._need_reset()
        self._core.step(self._core.check_actions(action))
        obs = self._observe()
        info = self._info()
        reward = float(self.compute_reward(obs[ACHIEVED_GOAL], obs[DESIRED_GOAL], info))
        return obs, reward, False, False, info

    def compute_reward(
        self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any = None
    ) -> np.ndarray:
        """Reward for goals of any batch shape (..., goal_dim); ``info`` is unused."""
        return _reward(self.config, achieved_goal, desired_goal)

    def render(self) -> np.ndarray:
        self._need_reset()
        assert self._obs is not None
        return self._obs[IMAGE].copy()

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

    def _observe(self) -> dict[str, np.ndarray]:
        self._obs = {k: v[0] for k, v in self._core.observe().items()}
        return self._obs

    def _info(self) -> dict[str, Any]:
        assert self._obs is not None
        metrics = goal_metrics(self.config.spec, self._obs[ACHIEVED_GOAL], self._obs[DESIRED_GOAL])
        info: dict[str, Any] = {k: (bool(v) if v.dtype == bool else float(v)) for k, v in metrics.items()}
        info["is_success"] = float(info["success"])
        return info

    def _need_reset(self) -> None:
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before step(), render() or render_goal()")


class ArmVectorEnv(VectorEnv[dict[str, np.ndarray], np.ndarray, np.ndarray]):
    """N arm environments stepped one after the other on one simulator and one renderer.

    Auto-reset modes and seeding as :class:`~affordkit.envs.tabletop.TabletopVectorEnv`:
    ``reset(seed=s)`` seeds environment i with s + i, so it replays ``ArmEnv`` reset with s + i.
    """

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
        _check_render_mode(render_mode)
        self.config = make_config(task, **overrides)
        self._mode = _autoreset_mode(autoreset_mode)
        self.render_mode = render_mode
        self.metadata = {"autoreset_mode": self._mode, "render_modes": ["rgb_array"], "render_fps": 10}
        self._core = ArmCore(self.config.spec, num_envs, self.config.image_size)
        self.num_envs = self._core.num_envs
        self.single_observation_space, self.single_action_space = _spaces(self.config)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._steps = np.zeros(self.num_envs, dtype=np.int64)
        self._done = np.zeros(self.num_envs, dtype=bool)
        self._obs: dict[str, np.ndarray] | None = None

    @property
    def core(self) -> ArmCore:
        return self._core

    def reset(
        self, *, seed: int | Sequence[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        mask = np.ones(self.num_envs, dtype=bool)
        options = dict(options or {})
        if "reset_mask" in options:
            mask = np.asarray(options.pop("reset_mask"), dtype=bool)
            if mask.shape != (self.num_envs,):
                raise ConfigError(f"reset_mask must have shape ({self.num_envs},); got {mask.shape}")
        if options:
            raise ConfigError(f"unknown reset options {sorted(options)}; accepted: ['reset_mask']")
        for i, s in zip(np.flatnonzero(mask), _seeds(seed, int(mask.sum())), strict=True):
            if s is not None:
                self._core.rngs[i] = seeding.np_random(s)[0]
        self._core.reset(mask)
        self._steps[mask] = 0
        self._done[mask] = False
        obs = self._observe()
        return obs, self._info(obs)

    def step(
        self, actions: np.ndarray
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        actions = self._core.check_actions(actions)
        restarting = (
            self._done if self._mode == AutoresetMode.NEXT_STEP else np.zeros(self.num_envs, dtype=bool)
        )
        if restarting.any():
            self._core.reset(restarting)
            self._steps[restarting] = 0
        moving = ~restarting
        self._core.step(actions, moving)
        self._steps[moving] += 1
        obs = self._observe()
        info = self._info(obs)
        metrics: dict[str, np.ndarray] = {
            k: info[k] for k in ("hand_distance", "object_distance", "success") if k in info
        }
        rewards = np.where(
            moving, reward_from_metrics(self.config.spec, self.config.reward_type, metrics), 0.0
        )
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = moving & (self._steps >= self.config.max_episode_steps)
        self._done = terminated | truncated
        if self._mode == AutoresetMode.SAME_STEP and self._done.any():
            done = self._done
            info["final_obs"], info["final_info"] = obs, info.copy()
            info["_final_obs"], info["_final_info"] = done.copy(), done.copy()
            self._core.reset(done)
            self._steps[done] = 0
            self._done = np.zeros(self.num_envs, dtype=bool)
            obs = self._observe()
            info.update(self._info(obs))
        return obs, rewards, terminated, truncated, info

    def compute_reward(
        self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any = None
    ) -> np.ndarray:
        """Vectorised reward for goals of any batch shape (..., goal_dim)."""
        return _reward(self.config, achieved_goal, desired_goal)

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        return tuple(self._obs[IMAGE])

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

    def _observe(self) -> dict[str, np.ndarray]:
        self._obs = self._core.observe()
        return self._obs

    def _info(self, obs: dict[str, np.ndarray]) -> dict[str, Any]:
        info: dict[str, Any] = dict(goal_metrics(self.config.spec, obs[ACHIEVED_GOAL], obs[DESIRED_GOAL]))
        info["is_success"] = info["success"].astype(np.float64)
        return info


def _seeds(seed: int | Sequence[int] | None, count: int) -> list[int | None]:
    if seed is None:
        return [None] * count
    if isinstance(seed, int | np.integer) and not isinstance(seed, bool):
        check_seed(seed)
        return [int(seed) + i for i in range(count)]
    seeds = list(seed) if isinstance(seed, Sequence | np.ndarray) else [seed]
    if len(seeds) != count:
        raise InvalidSeedError(f"got {len(seeds)} seeds for {count} environments being reset; give one each")
    for s in seeds:
        check_seed(s)
    return [int(s) for s in seeds]
