"""Goal-conditioned transitions from replay positions and (relabeled) goals, in NumPy."""

from __future__ import annotations

import numpy as np

from affordkit.data.replay import EpisodeReplay
from affordkit.relabel.rewards import RewardFn


def goal_conditioned_batch(
    buffer: EpisodeReplay,
    positions: np.ndarray,
    goals: np.ndarray,
    reward_fn: RewardFn,
    obs_field: str = "latent",
) -> dict[str, np.ndarray]:
    """Transitions (s, a, s') at ``positions`` with ``goals`` (n, d) joined to both observations.

    The reward is recomputed from the next observation and the goal, ``reward_fn(s', g)``, whatever
    goal the transition was collected with. ``done`` is 0: goal-reaching episodes end by time limit,
    and a time limit is not a termination.

    Returns:
        obs and next_obs (n, obs_dim + d), action (n, a), reward (n,), done (n,), all float32.
    """
    slots = buffer.slots(positions)
    next_slots = buffer.slots(positions + 1)
    obs = buffer.fields[obs_field][slots]
    next_obs = buffer.fields[obs_field][next_slots]
    goals = goals.astype(np.float32, copy=False)
    return {
        "obs": np.concatenate([obs.reshape(len(obs), -1), goals], axis=1).astype(np.float32, copy=False),
        "action": buffer.action[slots],
        "reward": reward_fn(next_obs, goals).astype(np.float32),
        "next_obs": np.concatenate([next_obs.reshape(len(next_obs), -1), goals], axis=1).astype(
            np.float32, copy=False
        ),
        "done": np.zeros(len(positions), dtype=np.float32),
    }
