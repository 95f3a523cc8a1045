"""Names shared by every layer. Imports nothing of affordkit.

Observation dictionaries of goal environments use the keys below (Gymnasium-Robotics convention
for the goal keys, plus an RGB image and the full low-dimensional state).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # torch is needed only by learners; the envs import this module without it
    from torch import Tensor

IMAGE: Final = "image"  # uint8 (H, W, 3)
STATE: Final = "state"  # float32 (state_dim,): hand position then object positions
ACHIEVED_GOAL: Final = "achieved_goal"  # float32 (goal_dim,): the goal-space part of the state
DESIRED_GOAL: Final = "desired_goal"  # float32 (goal_dim,): the goal state of the episode

OBSERVATION_KEYS: Final = (IMAGE, STATE, ACHIEVED_GOAL, DESIRED_GOAL)


@dataclass(frozen=True)
class Batch:
    """A minibatch of transitions for an off-policy learner: torch tensors on one device.

    For goal-conditioned learners the caller has already joined observation and goal, so ``obs``
    is ``[observation, goal]`` and the learner never knows about goals.
    """

    obs: Tensor  # (B, obs_dim) float32
    action: Tensor  # (B, action_dim) float32 in [-1, 1]
    reward: Tensor  # (B,) float32
    next_obs: Tensor  # (B, obs_dim) float32
    done: Tensor  # (B,) float32: 1 where the episode terminated (never for a time-limit truncation)
