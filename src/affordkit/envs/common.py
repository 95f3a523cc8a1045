"""What the batched simulators (the tabletop and the arm cores) share, in NumPy alone: the reward
of goal metrics, and the checks of the actions and goal-space states callers hand them (whose
messages say which shape was expected and what its numbers mean)."""

from __future__ import annotations

from typing import Any

import numpy as np

from affordkit.errors import InvalidActionError, InvalidStateError


def check_actions(actions: Any, num_envs: int, dim: int, meaning: str) -> np.ndarray:
    """Actions as a float (num_envs, dim) array (a single env also takes (dim,)); raises
    InvalidActionError on a bad shape, NaN or inf. ``meaning`` names the action's parts in the
    message, e.g. ``"effector dx, dy"``."""
    try:
        a = np.asarray(actions, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InvalidActionError(
            f"actions must be numbers, shape ({num_envs}, {dim}); got {actions!r}"
        ) from e
    expected = (num_envs, dim)
    if a.shape != expected and not (num_envs == 1 and a.shape == (dim,)):
        raise InvalidActionError(
            f"actions must have shape {expected if num_envs > 1 else (dim,)} ({meaning} in [-1, 1]); "
            f"got shape {a.shape}"
        )
    a = a.reshape(expected)
    if not np.all(np.isfinite(a)):
        bad = sorted({int(i) for i in np.argwhere(~np.isfinite(a))[:, 0]})
        raise InvalidActionError(
            f"actions hold NaN or infinite values (environments {bad}); actions must be finite"
        )
    return a


def check_state_rows(states: Any, dim: int, layout: str) -> np.ndarray:
    """States (M, dim) as float64; raises InvalidStateError on another shape or non-finite values.
    ``layout`` names the parts of a state in the message, e.g. ``"effector xy then object xy"``."""
    s = np.asarray(states, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != dim:
        raise InvalidStateError(f"states must have shape (M, {dim}) ({layout}); got {s.shape}")
    if not np.all(np.isfinite(s)):
        raise InvalidStateError("states hold NaN or infinite values")
    return s


def reward_from_metrics(reward_type: str, num_objects: int, metrics: dict[str, np.ndarray]) -> np.ndarray:
    """``sparse``: 0 on success, else -1; ``dense``: minus the hand distance minus ``num_objects``
    times the mean object distance (the sum of the object distances)."""
    if reward_type == "sparse":
        return metrics["success"].astype(np.float64) - 1.0
    total = metrics["hand_distance"]
    if num_objects:
        total = total + num_objects * metrics["object_distance"]
    return -total
