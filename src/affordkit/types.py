"""Names shared by every layer. Imports nothing of affordkit.

Observation dictionaries of goal environments use the keys below (Gymnasium-Robotics convention
for the goal keys, plus an RGB image and the full low-dimensional state).
"""

from __future__ import annotations

from typing import Final

IMAGE: Final = "image"  # uint8 (H, W, 3)
STATE: Final = "state"  # float32 (state_dim,): hand position then object positions
ACHIEVED_GOAL: Final = "achieved_goal"  # float32 (goal_dim,): the goal-space part of the state
DESIRED_GOAL: Final = "desired_goal"  # float32 (goal_dim,): the goal state of the episode

OBSERVATION_KEYS: Final = (IMAGE, STATE, ACHIEVED_GOAL, DESIRED_GOAL)
