"""Exploration noise for a deterministic policy, batched over N parallel environments.

TD3 acts deterministically; exploration adds noise to its action and clips to [-1, 1]
(:func:`noisy_action`). Two processes, each with one row of state per environment:

- Ornstein-Uhlenbeck, temporally correlated: x <- x + theta (mu - x) dt + sigma sqrt(dt) eps,
  with theta 0.15, sigma 0.3 and dt 1 as in RIG (ALGORITHMS.md, RIG; rlkit's OUStrategy).
- Gaussian, independent per step: sigma 0.1 as in TD3 (Fujimoto et al. 2018, section 6.1).

Randomness comes only from the ``numpy.random.Generator`` handed in, which the noise then owns
(give it its own, e.g. ``np.random.default_rng(seed)``: ``load_state_dict`` rewinds it).
``reset(mask)`` restarts only the environments whose episode ended; ``state_dict`` holds the
process state and the generator state, so a restored noise continues bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from affordkit.errors import ConfigError


@dataclass(frozen=True)
class OUNoiseConfig:
    """Ornstein-Uhlenbeck exploration noise (the RIG default)."""

    theta: float = 0.15
    """Mean-reversion rate per unit time: 0.15 in RIG (rlkit OUStrategy default)."""
    sigma: float = 0.3
    """Scale of the driving noise: 0.3 in the RIG paper and CC-RIG (the rlkit example used 0.2)."""
    dt: float = 1.0
    """Time step of the discretisation: 1, one env step (rlkit OUStrategy has no dt, i.e. 1)."""
    mu: float = 0.0
    """Long-run mean the process reverts to, and the value a reset restarts it from (rlkit)."""

    def __post_init__(self) -> None:
        if not self.theta > 0 or not self.dt > 0 or not self.theta * self.dt <= 1:
            raise ConfigError(
                f"theta={self.theta!r}, dt={self.dt!r}: expected theta > 0, dt > 0 and theta * dt <= 1 "
                "(beyond that the discrete process overshoots its mean)"
            )
        if not self.sigma >= 0:
            raise ConfigError(f"sigma={self.sigma!r}: expected >= 0")
        if not math.isfinite(self.mu):
            raise ConfigError(f"mu={self.mu!r}: expected a finite number")


@dataclass(frozen=True)
class GaussianNoiseConfig:
    """Independent Gaussian exploration noise."""

    sigma: float = 0.1
    """Standard deviation per action dimension: 0.1 in TD3 (Fujimoto et al. 2018, section 6.1)."""

    def __post_init__(self) -> None:
        if not self.sigma >= 0:
            raise ConfigError(f"sigma={self.sigma!r}: expected >= 0")


NoiseConfig = OUNoiseConfig | GaussianNoiseConfig


@runtime_checkable
class ExplorationNoise(Protocol):
    """Noise for N environments at once."""

    def sample(self) -> np.ndarray:
        """The noise of this step, float32 (N, action_dim); advances the process."""
        ...

    def reset(self, mask: np.ndarray | None = None) -> None:
        """Restart the environments where ``mask`` (N,) bool is true; all when ``mask`` is None."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


class OrnsteinUhlenbeckNoise:
    """``OrnsteinUhlenbeckNoise(OUNoiseConfig(), num_envs, action_dim, rng)``."""

    def __init__(
        self, config: OUNoiseConfig, num_envs: int, action_dim: int, rng: np.random.Generator
    ) -> None:
        _check_sizes(num_envs, action_dim)
        self.config = config
        self.rng = rng
        # float64: the process runs for whole episodes, and the state is its own running sum
        self.state = np.full((num_envs, action_dim), config.mu, dtype=np.float64)  # (N, A)

    def sample(self) -> np.ndarray:
        c = self.config
        eps = self.rng.standard_normal(self.state.shape)  # (N, A)
        self.state += c.theta * (c.mu - self.state) * c.dt + c.sigma * math.sqrt(c.dt) * eps
        return self.state.astype(np.float32)

    def reset(self, mask: np.ndarray | None = None) -> None:
        self.state[_rows(mask, len(self.state))] = self.config.mu

    def state_dict(self) -> dict[str, Any]:
        return {"state": self.state.copy(), "rng": dict(self.rng.bit_generator.state)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        values = np.asarray(state["state"], dtype=np.float64)
        if values.shape != self.state.shape:
            raise ConfigError(f"OU noise state of shape {values.shape}; this noise has {self.state.shape}")
        self.state = values.copy()
        self.rng.bit_generator.state = dict(state["rng"])


class GaussianNoise:
    """``GaussianNoise(GaussianNoiseConfig(), num_envs, action_dim, rng)``; stateless apart from
    its generator, so ``reset`` only checks its mask."""

    def __init__(
        self, config: GaussianNoiseConfig, num_envs: int, action_dim: int, rng: np.random.Generator
    ) -> None:
        _check_sizes(num_envs, action_dim)
        self.config = config
        self.rng = rng
        self.shape = (num_envs, action_dim)

    def sample(self) -> np.ndarray:
        return (self.config.sigma * self.rng.standard_normal(self.shape)).astype(np.float32)  # (N, A)

    def reset(self, mask: np.ndarray | None = None) -> None:
        _rows(mask, self.shape[0])

    def state_dict(self) -> dict[str, Any]:
        return {"rng": dict(self.rng.bit_generator.state)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.rng.bit_generator.state = dict(state["rng"])


def make_noise(
    config: NoiseConfig, num_envs: int, action_dim: int, rng: np.random.Generator
) -> ExplorationNoise:
    """The noise process named by ``config``'s type."""
    if isinstance(config, OUNoiseConfig):
        return OrnsteinUhlenbeckNoise(config, num_envs, action_dim, rng)
    if isinstance(config, GaussianNoiseConfig):
        return GaussianNoise(config, num_envs, action_dim, rng)
    raise ConfigError(f"noise config {config!r}; accepted types: OUNoiseConfig, GaussianNoiseConfig")


def noisy_action(action: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """``action + noise`` clipped to the action box [-1, 1], float32 (N, action_dim)."""
    return np.clip(np.asarray(action, dtype=np.float32) + noise, -1.0, 1.0).astype(np.float32)


def _check_sizes(num_envs: int, action_dim: int) -> None:
    for name, value in (("num_envs", num_envs), ("action_dim", action_dim)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name}={value!r}: expected a positive integer")


def _rows(mask: np.ndarray | None, num_envs: int) -> np.ndarray | slice:
    """The rows a reset touches: all for None, else the true entries of a (num_envs,) bool mask."""
    if mask is None:
        return slice(None)
    mask = np.asarray(mask)
    if mask.dtype != np.bool_ or mask.shape != (num_envs,):
        raise ConfigError(f"reset mask must be bool of shape ({num_envs},); got {mask.dtype} {mask.shape}")
    return mask
