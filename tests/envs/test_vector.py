"""The batched form: equivalence with single envs, auto-reset semantics, Gymnasium's make_vec."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import affordkit  # noqa: F401
from affordkit.envs import ENVS, TabletopEnv, make_vector_env
from affordkit.types import DESIRED_GOAL, IMAGE, OBSERVATION_KEYS, STATE


@pytest.mark.parametrize("name", list(ENVS))
def test_make_vec_with_vector_entry_point(name: str) -> None:
    envs = gym.make_vec(ENVS[name].gym_id, num_envs=5, vectorization_mode="vector_entry_point")
    assert envs.num_envs == 5
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, info = envs.reset(seed=0)
    assert envs.observation_space.contains(obs)
    obs, rewards, terminated, truncated, info = envs.step(envs.action_space.sample())
    assert rewards.shape == terminated.shape == truncated.shape == (5,)
    assert info["success"].shape == (5,)
    assert envs.config.max_episode_steps == ENVS[name].max_episode_steps


@pytest.mark.parametrize("name", ["Push", "ColorPush", "MultiPush"])
def test_env_i_of_a_batch_replays_a_single_env_seeded_s_plus_i(name: str) -> None:
    n, seed, horizon = 3, 11, 10
    envs = make_vector_env(name, n, max_episode_steps=horizon)
    singles = [TabletopEnv(name) for _ in range(n)]
    rng = np.random.default_rng(0)
    obs, _ = envs.reset(seed=seed)
    single_obs = [e.reset(seed=seed + i)[0] for i, e in enumerate(singles)]
    done = np.zeros(n, dtype=bool)
    for t in range(2 * horizon + 3):  # crosses two auto-resets
        for i in range(n):
            for key in OBSERVATION_KEYS:
                np.testing.assert_array_equal(
                    obs[key][i], single_obs[i][key], err_msg=f"step {t} env {i} {key}"
                )
        actions = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
        obs, rewards, _, truncated, _ = envs.step(actions)
        for i, e in enumerate(singles):
            if done[i]:  # next-step auto-reset: the single env resets without a new seed
                single_obs[i] = e.reset()[0]
                assert rewards[i] == 0.0
            else:
                single_obs[i], r, _, _, _ = e.step(actions[i])
                assert rewards[i] == r
        done = truncated


def test_next_step_autoreset_ignores_the_action_and_restarts() -> None:
    envs = make_vector_env("Push", 2, max_episode_steps=3)
    envs.reset(seed=0)
    for _ in range(3):
        obs, _, _, truncated, _ = envs.step(np.ones((2, 2)))
    assert truncated.all()
    last_goal = obs[DESIRED_GOAL].copy()
    obs, rewards, terminated, truncated, info = envs.step(np.ones((2, 2)))
    assert not truncated.any() and not terminated.any()
    np.testing.assert_array_equal(rewards, 0.0)
    assert not np.array_equal(obs[DESIRED_GOAL], last_goal)  # a new episode, new goals
    np.testing.assert_allclose(obs[STATE][:, :2], [[0.0, -0.6]] * 2)  # fixed start, action ignored
    assert "object_colors" in info  # reset info


def test_same_step_autoreset_returns_final_observation_in_info() -> None:
    envs = make_vector_env("Push", 2, max_episode_steps=3, autoreset_mode="same_step")
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    envs.reset(seed=0)
    for _ in range(3):
        obs, rewards, _, truncated, info = envs.step(np.full((2, 2), 0.5))
    assert truncated.all() and info["_final_obs"].all()
    final = info["final_obs"]
    np.testing.assert_allclose(final[STATE][:, :2], [[0.15, -0.45]] * 2, atol=1e-6)  # 3 steps of 0.05
    np.testing.assert_allclose(obs[STATE][:, :2], [[0.0, -0.6]] * 2)  # already the next episode
    assert info["final_info"]["hand_distance"].shape == (2,)
    obs, _, _, truncated, info = envs.step(np.zeros((2, 2)))
    assert "final_obs" not in info and not truncated.any()


def test_disabled_autoreset_resets_only_masked_envs() -> None:
    envs = make_vector_env("Push", 3, max_episode_steps=2, autoreset_mode="disabled")
    obs0, _ = envs.reset(seed=0)
    for _ in range(2):
        obs, *_ = envs.step(np.ones((3, 2)))
    obs, *_ = envs.step(np.ones((3, 2)))  # past the end: keeps stepping, no reset
    assert not np.allclose(obs[STATE][:, :2], [0.0, -0.6])
    obs, _ = envs.reset(options={"reset_mask": np.array([True, False, False])})
    np.testing.assert_allclose(obs[STATE][0, :2], [0.0, -0.6])
    assert not np.allclose(obs[STATE][1, :2], [0.0, -0.6])


def test_vector_goal_images_equal_images_of_states_set_to_goals() -> None:
    envs = make_vector_env("ColorPush", 4)
    obs, _ = envs.reset(seed=2)
    goal_images = envs.render_goal()
    np.testing.assert_array_equal(envs.set_state(obs[DESIRED_GOAL])[IMAGE], goal_images)


def test_seed_lists_and_bad_seed_lists() -> None:
    envs = make_vector_env("Push", 2)
    a, _ = envs.reset(seed=[5, 9])
    b, _ = make_vector_env("Push", 2).reset(seed=5)
    np.testing.assert_array_equal(a[DESIRED_GOAL][0], b[DESIRED_GOAL][0])
    assert not np.array_equal(a[DESIRED_GOAL][1], b[DESIRED_GOAL][1])
    with pytest.raises(affordkit.errors.InvalidSeedError, match="one each"):
        envs.reset(seed=[1, 2, 3])
