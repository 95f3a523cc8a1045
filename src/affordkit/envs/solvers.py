"""Scripted solvers: a hand-written, vectorised controller per tabletop task.

Used to collect demonstration data, in tests (an env whose solver stops succeeding is broken) and as
a sanity check that every goal the env samples is reachable. The controller is stateless: each
action is a function of the current state, the goal and the objects' shapes.

Strategy: push the first object that is not yet near its goal (discs straight at the goal, boxes
first along x and then along y, since an axis-aligned box pushed by a disc moves along the contact
normal); to get behind an object, step sideways and go round it; when every object is placed, move
the effector to its goal, going round objects in the way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from affordkit.envs.core import TabletopCore
from affordkit.types import DESIRED_GOAL, STATE

CLEARANCE = 0.08  # extra distance kept from an object while going round it
ALIGN_TOLERANCE = 0.04  # lateral error allowed when pushing
PLACED_FRACTION = 0.5  # an object counts as placed within this fraction of the success threshold


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.sqrt((v**2).sum(axis=-1, keepdims=True))
    return v / np.maximum(n, 1e-9)


class ScriptedSolver:
    """``ScriptedSolver(env).act(obs) -> actions`` for a TabletopEnv (action (2,)) or a
    TabletopVectorEnv (actions (N, 2)); reads object shapes from the env."""

    def __init__(self, env: Any) -> None:
        core = getattr(env, "unwrapped", env).core
        if not isinstance(core, TabletopCore):
            raise TypeError(f"ScriptedSolver needs an affordkit tabletop env, got {type(env).__name__}")
        self._core = core

    def act(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        state = np.asarray(obs[STATE], dtype=np.float64)
        goal = np.asarray(obs[DESIRED_GOAL], dtype=np.float64)
        single = state.ndim == 1
        action = solve(
            self._core, state.reshape(self._core.num_envs, -1), goal.reshape(self._core.num_envs, -1)
        )
        return action[0].astype(np.float32) if single else action.astype(np.float32)


def solve(core: TabletopCore, state: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Actions (N, 2) for states and goals (N, goal_dim) of ``core``'s environments."""
    cfg = core.config
    n, k = state.shape[0], cfg.num_objects
    hand, hand_goal = state[:, :2], goal[:, :2]
    target = hand_goal.copy()
    if k:
        objects, object_goals = state[:, 2:].reshape(n, k, 2), goal[:, 2:].reshape(n, k, 2)
        is_box = core.half[:, 1:, 0] > 0  # (N, K)
        contact = cfg.hand_radius + np.where(is_box, core.half[:, 1:, 0], core.radius[:, 1:])  # (N, K)
        placed = (
            np.sqrt(((object_goals - objects) ** 2).sum(-1)) < PLACED_FRACTION * cfg.object_success_threshold
        )
        pushing = ~placed.all(axis=1)
        blocked = _path_blocked(objects, object_goals, contact, cfg.hand_radius)
        # first unplaced object whose way to its goal is clear, else the first unplaced one
        free = ~placed & ~blocked
        active = np.where(free.any(axis=1), np.argmax(free, axis=1), np.argmax(~placed, axis=1))
        rows = np.arange(n)
        push_target = _push_target(
            hand,
            objects[rows, active],
            object_goals[rows, active],
            is_box[rows, active],
            contact[rows, active],
            cfg.action_scale,
        )
        free_target = _go_round(hand, hand_goal, objects, contact + CLEARANCE)
        target = np.where(pushing[:, None], push_target, free_target)
    step = (target - hand) / cfg.action_scale
    return step / np.maximum(1.0, np.abs(step).max(axis=1, keepdims=True))


def _path_blocked(
    objects: np.ndarray, goals: np.ndarray, contact: np.ndarray, hand_radius: float
) -> np.ndarray:
    """(N, K): another object lies on the strip that object k and the effector behind it would
    sweep on the way to k's goal."""
    u = _unit(goals - objects)  # (N, K, 2)
    start = objects - u * contact[..., None]
    seg = goals - start  # (N, K, 2)
    seg_len2 = np.maximum((seg**2).sum(-1), 1e-12)
    rel = objects[:, None, :, :] - start[:, :, None, :]  # (N, K, J, 2): object j from k's start
    t = np.clip((rel * seg[:, :, None, :]).sum(-1) / seg_len2[:, :, None], 0.0, 1.0)
    closest = start[:, :, None, :] + t[..., None] * seg[:, :, None, :]
    dist = np.sqrt(((objects[:, None, :, :] - closest) ** 2).sum(-1))
    # the strip is about as wide as the effector; object j needs its own half-size more
    clear = hand_radius + (contact - hand_radius)[:, None, :] + CLEARANCE
    k = objects.shape[1]
    hit = dist < clear
    hit[:, np.arange(k), np.arange(k)] = False
    return hit.any(axis=2)


def _push_target(
    hand: np.ndarray,
    obj: np.ndarray,
    obj_goal: np.ndarray,
    is_box: np.ndarray,
    contact: np.ndarray,
    scale: float,
) -> np.ndarray:
    """Where the effector should head to push ``obj`` towards ``obj_goal`` (all (N, 2) / (N,))."""
    along_x_first = is_box & (np.abs(obj_goal[:, 0] - obj[:, 0]) > 0.02)
    sub_goal = np.where(along_x_first[:, None], np.stack([obj_goal[:, 0], obj[:, 1]], -1), obj_goal)
    u = _unit(sub_goal - obj)
    perp = np.stack([-u[:, 1], u[:, 0]], -1)
    rel = hand - obj
    lon, lat = (rel * u).sum(-1), (rel * perp).sum(-1)
    side = np.where(lat >= 0, 1.0, -1.0)[:, None]
    reach = (contact + CLEARANCE)[:, None]
    remaining = np.sqrt(((sub_goal - obj) ** 2).sum(-1))
    aligned = (np.abs(lat) < ALIGN_TOLERANCE) & (lon < -0.5 * contact) & (lon > -(contact + CLEARANCE + 0.15))
    push = obj - u * (contact - np.minimum(remaining, scale))[:, None]
    line_up = obj - u * (contact + 0.02)[:, None]
    sideways = obj + u * lon[:, None] + perp * side * reach
    round_back = obj + perp * side * reach - u * (contact + 0.03)[:, None]
    behind = lon <= -(contact + 0.01)
    beside = np.abs(lat) >= 0.95 * reach[:, 0]
    approach = np.where(behind[:, None], line_up, np.where(beside[:, None], round_back, sideways))
    return np.where(aligned[:, None], push, approach)


def _go_round(hand: np.ndarray, hand_goal: np.ndarray, objects: np.ndarray, reach: np.ndarray) -> np.ndarray:
    """Head for ``hand_goal``; if an object (N, K, 2) blocks the straight path, aim beside it."""
    path = hand_goal - hand
    length = np.sqrt((path**2).sum(-1, keepdims=True))
    u = path / np.maximum(length, 1e-9)
    perp = np.stack([-u[:, 1], u[:, 0]], -1)
    rel = objects - hand[:, None, :]  # (N, K, 2)
    lon = (rel * u[:, None, :]).sum(-1)
    lat = (rel * perp[:, None, :]).sum(-1)
    blocking = (lon > 0) & (lon < length) & (np.abs(lat) < reach)
    nearest = np.argmin(np.where(blocking, lon, np.inf), axis=1)
    rows = np.arange(len(hand))
    side = np.where(lat[rows, nearest] >= 0, -1.0, 1.0)[:, None]  # pass on the side the hand is on
    detour = objects[rows, nearest] + perp * side * (reach[rows, nearest, None] + 0.02)
    return np.where(blocking.any(axis=1)[:, None], detour, hand_goal)
