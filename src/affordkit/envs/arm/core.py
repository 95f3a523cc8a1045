"""N arm environments on one simulator and one renderer.

MuJoCo steps one scene at a time, so a batch of N environments keeps N saved physics states and
loads each into the one simulator to step and render it (`sim.py` saves and restores the whole
integration state, so this is exact). One GL context serves the batch: about 90 MB, not 90 MB per
environment, which is what lets RIG collect from hundreds of environments at once. Each
environment draws its goals from its own generator, so environment i of a batch seeded with s
behaves exactly like a single environment seeded with s + i.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from affordkit.envs import common
from affordkit.envs.arm.render import SceneRenderer
from affordkit.envs.arm.sim import ArmSim
from affordkit.envs.arm.tasks import ArmTask
from affordkit.envs.common import check_actions, check_state_rows
from affordkit.errors import ConfigError, InvalidStateError
from affordkit.types import ACHIEVED_GOAL, DESIRED_GOAL, IMAGE, STATE

SUPPORTED_IMAGE_SIZES = (48, 84)
MAX_GOAL_TRIES = 1000
CONTACT_DISTANCE = 0.03  # a hand point closer than this to an object's centre is inside it
BOUNDS_TOLERANCE = 0.02  # states may lie this far outside the mocap box (the weld is soft)


def goal_metrics(task: ArmTask, achieved: Any, desired: Any) -> dict[str, np.ndarray]:
    """Task-space metrics for goals of any batch shape (..., goal_dim): the hand's distance to its
    goal, the mean object distance (metres, or radians for a door) and success (hand and every
    object within their thresholds)."""
    a = np.asarray(achieved, dtype=np.float64)
    d = np.asarray(desired, dtype=np.float64)
    if a.shape[-1] != task.goal_dim or d.shape[-1] != task.goal_dim:
        raise InvalidStateError(
            f"goals must have last dimension {task.goal_dim} for {task.name}; got {a.shape} and {d.shape}"
        )
    diff = a - d
    h = task.hand_dim
    hand = np.sqrt((diff[..., :h] ** 2).sum(axis=-1))
    out = {"hand_distance": hand}
    success = hand < task.hand_success_threshold
    if task.objects:
        distances, i = [], h
        for obj in task.objects:
            distances.append(np.sqrt((diff[..., i : i + obj.dim] ** 2).sum(axis=-1)))
            i += obj.dim
        objects = np.stack(distances, axis=-1)
        out["object_distance"] = objects.mean(axis=-1)
        success = success & np.all(objects < task.object_success_threshold, axis=-1)
    out["success"] = success
    return out


def reward_from_metrics(task: ArmTask, reward_type: str, metrics: dict[str, np.ndarray]) -> np.ndarray:
    return common.reward_from_metrics(reward_type, task.num_objects, metrics)


class ArmCore:
    """Saved physics states, goals, last observations and generators of N environments."""

    def __init__(self, task: ArmTask, num_envs: int, image_size: int = 48) -> None:
        if not isinstance(num_envs, int | np.integer) or isinstance(num_envs, bool) or num_envs < 1:
            raise ConfigError(f"num_envs={num_envs!r}: expected a positive integer")
        if image_size not in SUPPORTED_IMAGE_SIZES or isinstance(image_size, bool):
            raise ConfigError(f"image_size={image_size!r}; accepted values: {list(SUPPORTED_IMAGE_SIZES)}")
        self.task = task
        self.num_envs = n = int(num_envs)
        self.image_size = image_size
        self.sim = ArmSim(task)
        self.renderer = SceneRenderer(self.sim.model, image_size, task.camera)
        self.sim.restore(self.sim.start_state)
        self._start_achieved = self.sim.achieved()
        self._start_image = self.renderer.render(self.sim.data)
        self.states = np.tile(self.sim.start_state, (n, 1))  # (N, state_size) float64
        self.achieved = np.tile(self._start_achieved, (n, 1))  # (N, goal_dim) float64
        self.images = np.tile(self._start_image, (n, 1, 1, 1))  # (N, H, W, 3) uint8
        self.goal = np.zeros((n, task.goal_dim))
        self.rngs: list[np.random.Generator] = [np.random.default_rng() for _ in range(n)]
        low = [*task.hand_goal_low, *(v for o in task.objects for v in o.goal_low)]
        high = [*task.hand_goal_high, *(v for o in task.objects for v in o.goal_high)]
        self._goal_low, self._goal_high = np.array(low), np.array(high)

    # ----------------------------------------------------------------------------------- episodes
    def reset(self, mask: np.ndarray) -> None:
        """Start a new episode where ``mask`` (N,) is true: the scene at its start state, a goal
        drawn from the environment's generator (uniform in the goal regions, redrawn until the hand
        goal is clear of every free object's goal and those of each other)."""
        for i in np.flatnonzero(mask):
            self.goal[i] = self._sample_goal(self.rngs[i])
            self.states[i] = self.sim.start_state
            self.achieved[i] = self._start_achieved
            self.images[i] = self._start_image

    def _sample_goal(self, rng: np.random.Generator) -> np.ndarray:
        for _ in range(MAX_GOAL_TRIES):
            goal = rng.uniform(self._goal_low, self._goal_high)
            if self._separation(goal[None]) >= self.task.goal_separation:
                return goal
        raise ConfigError(
            f"{self.task.name}: no goal with separated hand and objects in {MAX_GOAL_TRIES} tries"
        )

    def _separation(self, goals: np.ndarray) -> float:
        """Smallest xy distance between the hand and free objects, and between free objects."""
        points = [goals[:, :2]]
        i = self.task.hand_dim
        for obj in self.task.objects:
            if obj.kind == "free":
                points.append(goals[:, i : i + 2])
            i += obj.dim
        best = np.inf
        for a in range(len(points)):
            for b in range(a + 1, len(points)):
                best = min(best, float(np.sqrt(((points[a] - points[b]) ** 2).sum(-1)).min()))
        return best

    # ----------------------------------------------------------------------------------- dynamics
    def check_actions(self, actions: Any) -> np.ndarray:
        """Actions as a float (N, action_dim) array; raises InvalidActionError on a bad shape, NaN or inf."""
        dim = self.task.action_dim
        return check_actions(
            actions, self.num_envs, dim, f"hand displacement {'dx, dy' if dim == 2 else 'dx, dy, dz'}"
        )

    def step(self, actions: np.ndarray, moving: np.ndarray | None = None) -> None:
        """Apply checked actions (N, action_dim); environments with ``moving`` false stay."""
        envs = range(self.num_envs) if moving is None else np.flatnonzero(moving)
        for i in envs:
            self.sim.restore(self.states[i])
            self.sim.step(actions[i])
            self._keep(int(i))

    def _keep(self, i: int) -> None:
        self.states[i] = self.sim.capture()
        self.achieved[i] = self.sim.achieved()
        self.images[i] = self.renderer.render(self.sim.data)

    # ------------------------------------------------------------------------------- observations
    def observe(self) -> dict[str, np.ndarray]:
        state = self.achieved.astype(np.float32)
        return {
            IMAGE: self.images.copy(),
            STATE: state,
            ACHIEVED_GOAL: state.copy(),
            DESIRED_GOAL: self.goal.astype(np.float32),
        }

    def check_states(self, states: Any) -> np.ndarray:
        """Goal-space states (M, goal_dim) float64; raises InvalidStateError on a bad shape,
        non-finite values, a hand outside its reach or inside an object, or a joint outside its range."""
        task = self.task
        parts = " then ".join(
            ["hand " + "xyz"[: task.hand_dim]] + [f"{o.joint} ({o.dim})" for o in task.objects]
        )
        s = check_state_rows(states, task.goal_dim, parts)
        h = task.hand_dim
        low, high = self.sim.mocap_low[:h] - BOUNDS_TOLERANCE, self.sim.mocap_high[:h] + BOUNDS_TOLERANCE
        outside = np.any((s[:, :h] < low) | (s[:, :h] > high), axis=1)
        if outside.any():
            raise InvalidStateError(
                f"states {np.flatnonzero(outside).tolist()}: the hand is out of reach; it must lie in "
                f"{np.round(low, 3).tolist()} .. {np.round(high, 3).tolist()}"
            )
        if task.objects and self._separation(s) < CONTACT_DISTANCE:
            raise InvalidStateError(
                f"a state puts the hand or an object inside another object (closer than {CONTACT_DISTANCE} m)"
            )
        return s

    def goal_images(self, goals: np.ndarray) -> np.ndarray:
        """Images (M, H, W, 3) of the scene placed in ``goals`` (M, goal_dim). The saved states of
        the environments are untouched: each step loads its environment's own state."""
        out = np.empty((len(goals), self.image_size, self.image_size, 3), dtype=np.uint8)
        for k, goal in enumerate(self.check_states(goals)):
            self.sim.place(goal)
            out[k] = self.renderer.render(self.sim.data)
        return out

    def set_states(self, goals: np.ndarray, envs: np.ndarray) -> None:
        """Put environments ``envs`` (M,) into the goal-space states ``goals`` (M, goal_dim)."""
        for i, goal in zip(envs, self.check_states(goals), strict=True):
            self.sim.place(goal)
            self._keep(int(i))

    def close(self) -> None:
        self.renderer.close()
