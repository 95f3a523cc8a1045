"""The Gymnasium plumbing every goal env shares, whatever simulator is behind it.

A goal env is a thin face on a batched simulator (a "core": `core.TabletopCore`,
`arm.core.ArmCore`) that holds N environments, draws each one's episodes from its own generator,
checks and applies actions and returns batched observations. `BatchedGoalEnv` puts the single-env
API on a core of one environment and `BatchedGoalVectorEnv` the vector API on a core of N; each env
family adds only what differs: its config, its core, its goal metrics and reward, and its
rendering of goal states.

Observation: a dict with ``image`` (uint8 HxWx3), ``state``, ``achieved_goal`` and
``desired_goal``; ``info`` carries the family's goal metrics (``hand_distance``,
``object_distance``, ``success``) and ``is_success`` (the same flag under the name
Gymnasium-Robotics and Stable-Baselines3 read). Episodes never terminate; they are truncated after
``config.max_episode_steps``.

Auto-reset of the vector envs (``autoreset_mode``): ``next_step`` (Gymnasium's default): an
environment whose episode ended is reset by the following ``step`` call, which ignores its action
and returns its first observation with reward 0. ``same_step``: it is reset within the step that
ended it; the returned observation is the new episode's first, and ``info["final_obs"]`` (a dict of
(N, ...) arrays) and ``info["final_info"]`` hold the last ones, valid where ``info["_final_obs"]``
is true. ``disabled``: nothing resets by itself; call ``reset(options={"reset_mask": mask})``.

Seeding: ``reset(seed=s)`` of a vector env seeds environment i with s + i (or pass a list of N
seeds), so environment i replays a single env reset with seed s + i, step for step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from affordkit.errors import ConfigError, InvalidSeedError
from affordkit.types import ACHIEVED_GOAL, DESIRED_GOAL, IMAGE

METRIC_KEYS = ("hand_distance", "object_distance", "success")
AUTORESET_MODES = {
    "next_step": AutoresetMode.NEXT_STEP,
    "same_step": AutoresetMode.SAME_STEP,
    "disabled": AutoresetMode.DISABLED,
}


class BatchedCore(Protocol):
    """What the shared plumbing uses of a batched simulator of ``num_envs`` environments."""

    num_envs: int
    rngs: list[np.random.Generator]

    def reset(self, mask: np.ndarray) -> None: ...

    def check_actions(self, actions: Any) -> np.ndarray: ...

    def step(self, actions: np.ndarray, moving: np.ndarray | None = None) -> None: ...

    def observe(self) -> dict[str, np.ndarray]: ...


def check_seed(seed: Any) -> None:
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidSeedError(
            f"seed={seed!r}: a seed must be a non-negative integer (or None for a random one)"
        )


def check_render_mode(render_mode: str | None) -> None:
    if render_mode not in (None, "rgb_array"):
        raise ConfigError(f"render_mode={render_mode!r}; accepted values: [None, 'rgb_array']")


def autoreset_mode(mode: str | AutoresetMode) -> AutoresetMode:
    """``mode`` as an ``AutoresetMode``; a name in any letter case, with ``-`` or ``_``."""
    if isinstance(mode, AutoresetMode):
        return mode
    key = str(mode).lower().replace("-", "_")
    if key not in AUTORESET_MODES:
        raise ConfigError(f"autoreset_mode={mode!r}; accepted values: {sorted(AUTORESET_MODES)}")
    return AUTORESET_MODES[key]


def vector_seeds(seed: int | Sequence[int] | None, count: int) -> list[int | None]:
    """One seed per environment being reset: None each, s + i from one seed s, or a list of ``count``."""
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


class _GoalReward:
    """The family's goal metrics and reward; ``compute_reward`` is vectorised over both."""

    def _goal_metrics(self, achieved: Any, desired: Any) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _reward(self, metrics: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _context_info(self) -> dict[str, np.ndarray]:
        """What ``info`` carries of the episode's appearance at a reset; nothing by default."""
        return {}

    def compute_reward(
        self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any = None
    ) -> np.ndarray:
        """Reward for goals of any batch shape (..., goal_dim): the env's reward as if ``achieved_goal``
        were reached while ``desired_goal`` was the goal. ``info`` is unused."""
        return self._reward(self._goal_metrics(achieved_goal, desired_goal))


class BatchedGoalEnv(_GoalReward, gym.Env[dict[str, np.ndarray], np.ndarray]):
    """One goal env on a core of one environment. A subclass sets ``config``, ``_core``, the spaces
    and ``render_mode``, and calls nothing else before ``reset``."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    config: Any  # the family's config; read here: ``task``
    _core: BatchedCore
    _obs: dict[str, np.ndarray] | None = None

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
        return self._observe(), self._info(with_context=True)

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        self._need_reset()
        self._core.step(self._core.check_actions(action))
        obs = self._observe()
        info = self._info()
        reward = float(self.compute_reward(obs[ACHIEVED_GOAL], obs[DESIRED_GOAL], info))
        return obs, reward, False, False, info

    def render(self) -> np.ndarray:
        self._need_reset()
        assert self._obs is not None
        return self._obs[IMAGE].copy()

    def _observe(self) -> dict[str, np.ndarray]:
        self._obs = {k: v[0] for k, v in self._core.observe().items()}
        return self._obs

    def _info(self, with_context: bool = False) -> dict[str, Any]:
        assert self._obs is not None
        metrics = self._goal_metrics(self._obs[ACHIEVED_GOAL], self._obs[DESIRED_GOAL])
        info: dict[str, Any] = {k: (bool(v) if v.dtype == bool else float(v)) for k, v in metrics.items()}
        info["is_success"] = float(info["success"])
        if with_context:
            info.update(self._context_info())
        return info

    def _need_reset(self) -> None:
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before step(), render() or render_goal()")


class BatchedGoalVectorEnv(_GoalReward, VectorEnv[dict[str, np.ndarray], np.ndarray, np.ndarray]):
    """N goal envs on one core: reset (with ``reset_mask``), step with auto-reset, seeding and
    rendering (module docstring). A subclass sets ``config`` and calls :meth:`_setup`."""

    config: Any  # the family's config; read here: ``max_episode_steps``
    _core: BatchedCore

    def _setup(
        self,
        mode: str | AutoresetMode,
        render_mode: str | None,
        make_core: Callable[[], BatchedCore],
        single_spaces: tuple[spaces.Dict, spaces.Box],
    ) -> None:
        """Check ``mode`` and ``render_mode``, then build the core and the batched spaces."""
        self._mode = autoreset_mode(mode)
        check_render_mode(render_mode)
        self.render_mode = render_mode
        self.metadata = {"autoreset_mode": self._mode, "render_modes": ["rgb_array"], "render_fps": 10}
        self._core = make_core()
        self.num_envs = self._core.num_envs
        self.single_observation_space, self.single_action_space = single_spaces
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._steps = np.zeros(self.num_envs, dtype=np.int64)
        self._done = np.zeros(self.num_envs, dtype=bool)
        self._obs: dict[str, np.ndarray] | None = None

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
        for i, s in zip(np.flatnonzero(mask), vector_seeds(seed, int(mask.sum())), strict=True):
            if s is not None:
                self._core.rngs[i] = seeding.np_random(s)[0]
        self._core.reset(mask)
        self._steps[mask] = 0
        self._done[mask] = False
        obs = self._observe()
        return obs, self._info(obs, with_context=True)

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
        self._core.step(actions, moving if restarting.any() else None)
        self._steps[moving] += 1
        obs = self._observe()
        info = self._info(obs, with_context=bool(restarting.any()))
        metrics = {k: info[k] for k in METRIC_KEYS if k in info}
        rewards = np.where(moving, self._reward(metrics), 0.0)
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
            info.update(self._info(obs, with_context=True))
        return obs, rewards, terminated, truncated, info

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        return tuple(self._obs[IMAGE])

    def _observe(self) -> dict[str, np.ndarray]:
        self._obs = self._core.observe()
        return self._obs

    def _info(self, obs: dict[str, np.ndarray], with_context: bool = False) -> dict[str, Any]:
        info: dict[str, Any] = dict(self._goal_metrics(obs[ACHIEVED_GOAL], obs[DESIRED_GOAL]))
        info["is_success"] = info["success"].astype(np.float64)
        if with_context:
            info.update(self._context_info())
        return info
