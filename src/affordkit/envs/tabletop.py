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

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from affordkit.envs.config import PRESETS, TabletopConfig
from affordkit.envs.core import TabletopCore, batched_goal_images, goal_metrics, reward_from_metrics
from affordkit.errors import ConfigError, InvalidSeedError, UnknownNameError
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


def check_seed(seed: Any) -> None:
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidSeedError(
            f"seed={seed!r}: a seed must be a non-negative integer (or None for a random one)"
        )


def _spaces_and_metadata(config: TabletopConfig) -> tuple[spaces.Dict, spaces.Box]:
    return observation_space(config), spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)


class TabletopEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """One tabletop environment. ``TabletopEnv("Push", image_size=84)``; see :mod:`affordkit.envs.config`."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self, task: str | TabletopConfig = "Push", render_mode: str | None = None, **overrides: Any
    ) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(f"render_mode={render_mode!r}; accepted values: [None, 'rgb_array']")
        self.config = make_config(task, **overrides)
        self.render_mode = render_mode
        self.observation_space, self.action_space = _spaces_and_metadata(self.config)  # type: ignore[assignment]
        self._core = TabletopCore(self.config, 1)
        self._obs: dict[str, np.ndarray] | None = None

    @property
    def core(self) -> TabletopCore:
        """The batched simulator (one environment) behind this env."""
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
        return self._observe(), self._info(with_context=True)

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
        """Reward for goals of any batch shape (..., goal_dim): the env's reward as if ``achieved_goal``
        were reached while ``desired_goal`` was the goal. ``info`` is unused."""
        return reward_from_metrics(self.config, goal_metrics(self.config, achieved_goal, desired_goal))

    def render(self) -> np.ndarray:
        self._need_reset()
        assert self._obs is not None
        return self._obs[IMAGE].copy()

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

    def _observe(self) -> dict[str, np.ndarray]:
        self._obs = {k: v[0] for k, v in self._core.observe().items()}
        return self._obs

    def _info(self, with_context: bool = False) -> dict[str, Any]:
        assert self._obs is not None
        metrics = goal_metrics(self.config, self._obs[ACHIEVED_GOAL], self._obs[DESIRED_GOAL])
        info: dict[str, Any] = {k: (bool(v) if v.dtype == bool else float(v)) for k, v in metrics.items()}
        info["is_success"] = float(info["success"])
        if with_context:
            info.update(self.context())
        return info

    def _need_reset(self) -> None:
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before step(), render() or render_goal()")


class TabletopVectorEnv(VectorEnv[dict[str, np.ndarray], np.ndarray, np.ndarray]):
    """N tabletop environments in one batched simulator.

    Auto-reset (``autoreset_mode``): ``next_step`` (Gymnasium's default): an environment whose
    episode ended is reset by the following ``step`` call, which ignores its action and returns its
    first observation with reward 0. ``same_step``: it is reset within the step that ended it; the
    returned observation is the new episode's first, and ``info["final_obs"]`` (a dict of (N, ...)
    arrays) and ``info["final_info"]`` hold the last ones, valid where ``info["_final_obs"]`` is
    true. ``disabled``: nothing resets by itself; call ``reset(options={"reset_mask": mask})``.

    Seeding: ``reset(seed=s)`` seeds environment i with s + i (or pass a list of N seeds), so
    environment i replays a single ``TabletopEnv`` reset with seed s + i, step for step.
    """

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
        self._mode = _autoreset_mode(autoreset_mode)
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(f"render_mode={render_mode!r}; accepted values: [None, 'rgb_array']")
        self.render_mode = render_mode
        self.metadata = {"autoreset_mode": self._mode, "render_modes": ["rgb_array"], "render_fps": 10}
        self._core = TabletopCore(self.config, num_envs)
        self.num_envs = self._core.num_envs
        self.single_observation_space, self.single_action_space = _spaces_and_metadata(self.config)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._steps = np.zeros(self.num_envs, dtype=np.int64)
        self._done = np.zeros(self.num_envs, dtype=bool)
        self._obs: dict[str, np.ndarray] | None = None

    @property
    def core(self) -> TabletopCore:
        """The batched simulator behind this env."""
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
        for i, s in zip(np.flatnonzero(mask), self._seeds(seed, mask), strict=True):
            if s is not None:
                self._core.rngs[i] = seeding.np_random(s)[0]
        self._core.reset(mask)
        self._steps[mask] = 0
        self._done[mask] = False
        obs = self._observe()
        return obs, self._info(obs, with_context=True)

    def _seeds(self, seed: int | Sequence[int] | None, mask: np.ndarray) -> list[int | None]:
        count = int(mask.sum())
        if seed is None:
            return [None] * count
        if isinstance(seed, int | np.integer) and not isinstance(seed, bool):
            check_seed(seed)
            return [int(seed) + i for i in range(count)]
        seeds = list(seed) if isinstance(seed, Sequence | np.ndarray) else [seed]
        if len(seeds) != count:
            raise InvalidSeedError(
                f"got {len(seeds)} seeds for {count} environments being reset; give one each"
            )
        for s in seeds:
            check_seed(s)
        return [int(s) for s in seeds]

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
        rewards = np.where(moving, reward_from_metrics(self.config, _metrics_only(info)), 0.0)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = moving & (self._steps >= self.config.max_episode_steps)
        self._done = terminated | truncated
        if self._mode == AutoresetMode.SAME_STEP and self._done.any():
            done = self._done
            final_info = info.copy()
            info["final_obs"], info["final_info"] = obs, final_info
            info["_final_obs"], info["_final_info"] = done.copy(), done.copy()
            self._core.reset(done)
            self._steps[done] = 0
            self._done = np.zeros(self.num_envs, dtype=bool)
            obs = self._observe()
            info.update({k: v for k, v in self._info(obs, with_context=True).items()})
        return obs, rewards, terminated, truncated, info

    def compute_reward(
        self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any = None
    ) -> np.ndarray:
        """Vectorised reward for goals of any batch shape (..., goal_dim)."""
        return reward_from_metrics(self.config, goal_metrics(self.config, achieved_goal, desired_goal))

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        return tuple(self._obs[IMAGE])

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

    def _observe(self) -> dict[str, np.ndarray]:
        self._obs = self._core.observe()
        return self._obs

    def _info(self, obs: dict[str, np.ndarray], with_context: bool = False) -> dict[str, Any]:
        info: dict[str, Any] = dict(goal_metrics(self.config, obs[ACHIEVED_GOAL], obs[DESIRED_GOAL]))
        info["is_success"] = info["success"].astype(np.float64)
        if with_context:
            info.update(self._core.context())
        return info


def _metrics_only(info: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: info[k] for k in ("hand_distance", "object_distance", "success") if k in info}


def _autoreset_mode(mode: str | AutoresetMode) -> AutoresetMode:
    if isinstance(mode, AutoresetMode):
        return mode
    names = {
        "next_step": AutoresetMode.NEXT_STEP,
        "same_step": AutoresetMode.SAME_STEP,
        "disabled": AutoresetMode.DISABLED,
    }
    key = str(mode).lower().replace("-", "_")
    if key not in names:
        raise ConfigError(f"autoreset_mode={mode!r}; accepted values: {sorted(names)}")
    return names[key]
