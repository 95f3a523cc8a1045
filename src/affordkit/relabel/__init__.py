"""Goal relabeling (pure index math plus injected goal samplers) and reward functions."""

from affordkit.relabel.goals import FUTURE, PRIOR, ROLLOUT, GoalMix, future_positions, relabel, relabel_fields
from affordkit.relabel.latents import reencode
from affordkit.relabel.rewards import (
    RewardFn,
    distance_reward,
    l1_distance,
    latent_distance,
    make_reward,
    sparse_threshold,
)
from affordkit.relabel.transitions import goal_conditioned_batch

__all__ = [
    "FUTURE",
    "PRIOR",
    "ROLLOUT",
    "GoalMix",
    "RewardFn",
    "distance_reward",
    "future_positions",
    "goal_conditioned_batch",
    "l1_distance",
    "latent_distance",
    "make_reward",
    "reencode",
    "relabel",
    "relabel_fields",
    "sparse_threshold",
]
