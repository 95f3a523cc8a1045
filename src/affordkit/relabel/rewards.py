"""Reward functions of achieved and desired goals, recomputed for every relabeled goal.

`RewardFn(achieved, desired) -> reward`, NumPy arrays (..., d) -> (...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from affordkit.errors import ConfigError

RewardFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
RewardKind = Literal["latent_distance", "sparse"]
Norm = Literal["l2", "l1"]


def latent_distance(achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """RIG's reward: -||z - z_g||_2 (the identity metric, which the paper found better than the
    encoder's precision matrix)."""
    diff = np.asarray(achieved, dtype=np.float32) - np.asarray(desired, dtype=np.float32)
    return -np.sqrt((diff * diff).sum(axis=-1))


def l1_distance(achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
    """-||z - z_g||_1: additive over dimensions, so progress along a few of them (one body's
    position, say) counts fully however far the others are. Under the 2-norm a move of size delta
    along dimensions whose own distance is p changes the reward by about delta * p / distance: one
    body brought the last delta to its goal while the others hold a distance D >> delta gains only
    about delta^2 / (2 * D)."""
    diff = np.asarray(achieved, dtype=np.float32) - np.asarray(desired, dtype=np.float32)
    return -np.abs(diff).sum(axis=-1)


def distance_reward(norm: Norm) -> RewardFn:
    """-||z - z_g|| in the named norm: ``l2`` (RIG) or ``l1``."""
    if norm == "l2":
        return latent_distance
    if norm == "l1":
        return l1_distance
    raise ConfigError(f"reward norm {norm!r}; accepted values: ['l2', 'l1']")


def sparse_threshold(epsilon: float, norm: Norm = "l2") -> RewardFn:
    """VAL's reward (HER's binary reward): 0 within ``epsilon`` of the goal in ``norm``, else -1."""
    if epsilon <= 0:
        raise ConfigError(f"sparse reward epsilon={epsilon}: expected > 0")
    distance = distance_reward(norm)

    def reward(achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
        return (-distance(achieved, desired) <= epsilon).astype(np.float32) - 1.0

    return reward


def make_reward(kind: RewardKind, epsilon: float = 1.0) -> RewardFn:
    if kind == "latent_distance":
        return latent_distance
    if kind == "sparse":
        return sparse_threshold(epsilon)
    raise ConfigError(f"reward kind {kind!r}; accepted values: ['latent_distance', 'sparse']")
