"""Bad input raises typed errors whose messages name the problem and the accepted values."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import affordkit  # noqa: F401
from affordkit.envs import TabletopEnv, make_env, make_vector_env, resolve
from affordkit.errors import (
    ConfigError,
    InvalidActionError,
    InvalidSeedError,
    InvalidStateError,
    UnknownNameError,
)


@pytest.fixture
def env() -> TabletopEnv:
    e = TabletopEnv("Push")
    e.reset(seed=0)
    return e


@pytest.mark.parametrize("action", [np.zeros(3), np.zeros((1, 2, 1)), [[0.1, 0.2], [0.3, 0.4]]])
def test_wrong_action_shape(env: TabletopEnv, action) -> None:
    with pytest.raises(InvalidActionError, match=r"shape \(2,\)"):
        env.step(action)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_actions(env: TabletopEnv, bad: float) -> None:
    with pytest.raises(InvalidActionError, match="NaN or infinite"):
        env.step(np.array([0.0, bad]))
    envs = make_vector_env("Push", 3)
    envs.reset(seed=0)
    actions = np.zeros((3, 2))
    actions[2, 0] = bad
    with pytest.raises(InvalidActionError, match=r"environments \[2\]"):
        envs.step(actions)


def test_actions_outside_the_box_are_clipped(env: TabletopEnv) -> None:
    start = env.get_state()
    env.step(np.array([10.0, 0.0]))
    np.testing.assert_allclose(env.get_state()[:2] - start[:2], [0.1, 0.0])


def test_unknown_env_names_list_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="known environments: .*Push"):
        resolve("Pusher")
    with pytest.raises(UnknownNameError, match="known tasks"):
        TabletopEnv("Pusher")
    with pytest.raises(gym.error.Error):
        gym.make("affordkit/Pusher-v0")


@pytest.mark.parametrize("size", [32, 64, 0, "48"])
def test_unsupported_image_sizes(size) -> None:
    with pytest.raises(ConfigError, match=r"accepted values: \[48, 84\]"):
        make_env("Push", image_size=size)


def test_unknown_settings_are_named() -> None:
    with pytest.raises(ConfigError, match=r"unknown tabletop setting\(s\) \['imag_size'\]"):
        make_env("Push", imag_size=84)


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_invalid_seeds(env: TabletopEnv, seed) -> None:
    with pytest.raises(InvalidSeedError, match="non-negative integer"):
        env.reset(seed=seed)
    with pytest.raises(InvalidSeedError):
        make_vector_env("Push", 2).reset(seed=seed if not isinstance(seed, int) or seed < 0 else [seed, seed])


def test_impossible_states(env: TabletopEnv) -> None:
    with pytest.raises(InvalidStateError, match="overlap"):
        env.set_state(np.array([0.0, 0.0, 0.1, 0.0]))  # effector inside the puck
    with pytest.raises(InvalidStateError, match="leave"):
        env.render_goal(np.array([0.0, 0.0, 0.95, 0.0]))  # puck over the edge
    with pytest.raises(InvalidStateError, match=r"shape \(M, 4\)"):
        env.set_state(np.zeros(3))


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="action_scale"):
        make_env("Push", action_scale=0.5)  # could tunnel through a puck
    with pytest.raises(ConfigError, match="overlap"):
        make_env("Push", hand_reset=(0.0, 0.1)).reset(seed=0)
    with pytest.raises(ConfigError, match="autoreset_mode"):
        make_vector_env("Push", 2, autoreset_mode="sometimes")
    with pytest.raises(ConfigError, match="num_envs"):
        make_vector_env("Push", 0)


def test_step_before_reset() -> None:
    with pytest.raises(gym.error.ResetNeeded):
        TabletopEnv("Push").step(np.zeros(2))
