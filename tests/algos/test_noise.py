"""Exploration noise: OU statistics, per-env resets, seeded reproducibility, exact resume."""

from __future__ import annotations

import numpy as np
import pytest

from affordkit.algos import (
    ExplorationNoise,
    GaussianNoise,
    GaussianNoiseConfig,
    OrnsteinUhlenbeckNoise,
    OUNoiseConfig,
    make_noise,
    noisy_action,
)
from affordkit.errors import ConfigError


def ou(num_envs: int = 4, action_dim: int = 2, seed: int = 0, **config: float) -> OrnsteinUhlenbeckNoise:
    return OrnsteinUhlenbeckNoise(OUNoiseConfig(**config), num_envs, action_dim, np.random.default_rng(seed))


def test_defaults_are_rig_and_td3() -> None:
    assert (OUNoiseConfig().theta, OUNoiseConfig().sigma, OUNoiseConfig().dt) == (0.15, 0.3, 1.0)
    assert GaussianNoiseConfig().sigma == 0.1


@pytest.mark.parametrize("config", [OUNoiseConfig(), GaussianNoiseConfig()])
def test_shapes_dtypes_and_protocol(config) -> None:
    noise = make_noise(config, num_envs=5, action_dim=3, rng=np.random.default_rng(0))
    assert isinstance(noise, ExplorationNoise)
    sample = noise.sample()
    assert sample.shape == (5, 3) and sample.dtype == np.float32


def test_ou_reverts_to_its_mean_at_rate_theta() -> None:
    theta, sigma, start = 0.15, 0.3, 2.0
    noise = ou(num_envs=4000, theta=theta, sigma=sigma)
    noise.load_state_dict({"state": np.full((4000, 2), start), "rng": noise.state_dict()["rng"]})
    for k in range(1, 11):
        mean = noise.sample().mean()
        # E[x_k] = (1 - theta)^k x_0; the spread across 8,000 draws is below 0.57 / sqrt(8000) = 0.006
        assert abs(mean - start * (1 - theta) ** k) < 0.03, k


def test_ou_stationary_spread_and_correlation() -> None:
    theta, sigma = 0.15, 0.3
    noise = ou(num_envs=2000, theta=theta, sigma=sigma)
    for _ in range(100):  # (1 - theta)^100 = 1e-7: the start is forgotten
        noise.sample()
    steps = np.stack([noise.sample() for _ in range(20)])  # (20, N, A)
    # x' = (1 - theta) x + sigma eps is stationary at variance sigma^2 / (1 - (1 - theta)^2)
    want_std = sigma / np.sqrt(1 - (1 - theta) ** 2)  # 0.570
    assert abs(steps.std() - want_std) < 0.03 * want_std
    assert abs(steps.mean()) < 0.02
    lag1 = np.corrcoef(steps[:-1].ravel(), steps[1:].ravel())[0, 1]
    assert abs(lag1 - (1 - theta)) < 0.02


def test_reset_restarts_only_the_masked_envs() -> None:
    noise = ou(num_envs=4)
    for _ in range(5):
        noise.sample()
    before = noise.state.copy()
    assert np.all(before != 0)
    noise.reset(np.array([True, False, True, False]))
    assert np.all(noise.state[[0, 2]] == 0.0)
    assert np.array_equal(noise.state[[1, 3]], before[[1, 3]])
    noise.reset()
    assert np.all(noise.state == 0.0)


@pytest.mark.parametrize("mask", [np.array([1, 0, 1, 0]), np.array([True, False]), np.ones((4, 1), bool)])
def test_reset_rejects_bad_masks(mask) -> None:
    with pytest.raises(ConfigError):
        ou(num_envs=4).reset(mask)
    with pytest.raises(ConfigError):
        GaussianNoise(GaussianNoiseConfig(), 4, 2, np.random.default_rng(0)).reset(mask)


@pytest.mark.parametrize("config", [OUNoiseConfig(), GaussianNoiseConfig()])
def test_reproducible_under_a_seed(config) -> None:
    def draws(seed: int) -> np.ndarray:
        noise = make_noise(config, 3, 2, np.random.default_rng(seed))
        return np.stack([noise.sample() for _ in range(10)])

    assert np.array_equal(draws(1), draws(1))
    assert not np.array_equal(draws(1), draws(2))


@pytest.mark.parametrize("config", [OUNoiseConfig(), GaussianNoiseConfig()])
def test_restored_noise_continues_bit_identically(config) -> None:
    original = make_noise(config, 3, 2, np.random.default_rng(0))
    for _ in range(7):
        original.sample()
    original.reset(np.array([False, True, False]))
    restored = make_noise(config, 3, 2, np.random.default_rng(123))
    restored.load_state_dict(original.state_dict())
    for _ in range(5):
        assert np.array_equal(original.sample(), restored.sample())


def test_state_dict_is_a_copy() -> None:
    noise = ou()
    state = noise.state_dict()
    noise.sample()
    assert np.all(state["state"] == 0.0)


def test_gaussian_statistics() -> None:
    noise = GaussianNoise(GaussianNoiseConfig(sigma=0.1), 1000, 4, np.random.default_rng(0))
    draws = np.stack([noise.sample() for _ in range(5)])
    assert abs(draws.std() - 0.1) < 0.003 and abs(draws.mean()) < 0.003
    assert abs(np.corrcoef(draws[:-1].ravel(), draws[1:].ravel())[0, 1]) < 0.02  # no memory


def test_noisy_action_clips_to_the_action_box() -> None:
    action = np.array([[0.9, -0.5], [0.0, -0.95]], dtype=np.float32)
    noise = np.array([[0.3, 0.2], [-0.1, -0.2]])
    out = noisy_action(action, noise)
    assert out.dtype == np.float32
    assert np.allclose(out, [[1.0, -0.3], [-0.1, -1.0]])


@pytest.mark.parametrize(
    "make",
    [
        lambda: OUNoiseConfig(theta=0.0),
        lambda: OUNoiseConfig(theta=1.5),
        lambda: OUNoiseConfig(sigma=-0.1),
        lambda: OUNoiseConfig(dt=0.0),
        lambda: OUNoiseConfig(mu=float("inf")),
        lambda: GaussianNoiseConfig(sigma=-1.0),
        lambda: ou(num_envs=0),
        lambda: make_noise("ou", 2, 2, np.random.default_rng(0)),  # type: ignore[arg-type]
    ],
)
def test_bad_configs(make) -> None:
    with pytest.raises(ConfigError):
        make()


def test_load_refuses_another_shape() -> None:
    with pytest.raises(ConfigError):
        ou(num_envs=3).load_state_dict(ou(num_envs=4).state_dict())
