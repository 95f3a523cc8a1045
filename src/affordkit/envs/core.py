"""The batched simulator behind every tabletop env: N tables stepped and rendered in NumPy calls.

Knows nothing of Gymnasium; `tabletop.py` puts the single and the vector Gymnasium API on top.
Each environment i draws its episodes from its own generator, so environment i of a batch seeded
with s behaves exactly like a single environment seeded with s + i.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from affordkit.envs import common
from affordkit.envs.common import check_actions, check_state_rows
from affordkit.envs.config import TabletopConfig
from affordkit.envs.physics import Walls, is_valid, step_bodies
from affordkit.envs.render import Camera, render_bodies
from affordkit.errors import ConfigError, InvalidStateError
from affordkit.types import ACHIEVED_GOAL, DESIRED_GOAL, IMAGE, STATE

MAX_PLACEMENT_TRIES = 10_000


def goal_metrics(config: TabletopConfig, achieved: np.ndarray, desired: np.ndarray) -> dict[str, np.ndarray]:
    """Task-space metrics for goals of shape (..., goal_dim): the effector's distance to its goal,
    the mean object distance, and success (effector and every object within their thresholds)."""
    a = np.asarray(achieved, dtype=np.float64)
    d = np.asarray(desired, dtype=np.float64)
    if a.shape[-1] != config.goal_dim or d.shape[-1] != config.goal_dim:
        raise InvalidStateError(
            f"goals must have last dimension {config.goal_dim} for {config.task}; got {a.shape} and {d.shape}"
        )
    diff = (a - d).reshape(*np.broadcast_shapes(a.shape, d.shape)[:-1], 1 + config.num_objects, 2)
    dist = np.sqrt((diff**2).sum(axis=-1))
    hand = dist[..., 0]
    success = hand < config.hand_success_threshold
    out = {"hand_distance": hand}
    if config.num_objects:
        objects = dist[..., 1:]
        out["object_distance"] = objects.mean(axis=-1)
        success = success & np.all(objects < config.object_success_threshold, axis=-1)
    out["success"] = success
    return out


def reward_from_metrics(config: TabletopConfig, metrics: dict[str, np.ndarray]) -> np.ndarray:
    return common.reward_from_metrics(config.reward_type, config.num_objects, metrics)


class TabletopCore:
    """State of N tabletop environments: body positions, shapes, colours and goals."""

    def __init__(self, config: TabletopConfig, num_envs: int) -> None:
        if not isinstance(num_envs, int | np.integer) or num_envs < 1:
            raise ConfigError(f"num_envs={num_envs!r}: expected a positive integer")
        self.config = config
        self.num_envs = n = int(num_envs)
        k = config.num_objects
        self.walls = Walls.from_tuples(config.walls)
        self.camera = Camera(config.image_size, config.table_half, config.camera_center, config.camera_zoom)
        self.pos: np.ndarray = np.zeros((n, 1 + k, 2))  # (N, B, 2) body centres; body 0 is the effector
        self.half = np.zeros((n, 1 + k, 2))
        self.radius = np.zeros((n, 1 + k))
        self.radius[:, 0] = config.hand_radius
        self.colors = np.zeros((n, 1 + k, 3), dtype=np.uint8)
        self.colors[:, 0] = config.hand_color
        self.shape_index = np.zeros((n, k), dtype=np.int64)  # into config.object_shapes
        self.color_index = np.zeros((n, k), dtype=np.int64)  # into config.palette
        self.goal = np.zeros((n, config.goal_dim))
        self.background = self._draw_background()
        self.rngs: list[np.random.Generator] = [np.random.default_rng() for _ in range(n)]

    # ----------------------------------------------------------------------------------- episodes
    def reset(self, mask: np.ndarray) -> None:
        """Start a new episode in every environment where ``mask`` (N,) is true.

        Each environment draws, from its own generator and in this order: its objects' shapes and
        colours, its start positions (``random`` reset mode), its goal; positions are redrawn until
        valid. Validity is checked for all environments at once, but the draws of environment i do
        not depend on the others, so a batch reproduces single environments exactly.
        """
        envs = np.flatnonzero(mask)
        if not len(envs):
            return
        cfg, k = self.config, self.config.num_objects
        for i in envs:
            rng = self.rngs[i]
            if cfg.randomize_appearance:
                self.shape_index[i] = rng.integers(len(cfg.object_shapes), size=k)
                self.color_index[i] = rng.permutation(len(cfg.palette))[:k]
            else:
                self.shape_index[i] = np.arange(k) % len(cfg.object_shapes)
                self.color_index[i] = np.arange(k) % len(cfg.palette)
        is_disc = np.array([s == "disc" for s in cfg.object_shapes])[self.shape_index[envs]]  # (M, K)
        self.radius[envs, 1:] = np.where(is_disc, cfg.disc_radius, 0.0)
        self.half[envs, 1:] = np.where(is_disc, 0.0, cfg.box_half)[..., None]
        self.colors[envs, 1:] = np.asarray(cfg.palette, dtype=np.uint8)[self.color_index[envs]]
        if cfg.reset_mode == "fixed":
            start = np.array([cfg.hand_reset, *cfg.object_resets[:k]], dtype=np.float64)
            starts = np.broadcast_to(start, (len(envs), *start.shape))
            if not is_valid(starts, self.half[envs], self.radius[envs], self.walls, cfg.table_half).all():
                raise ConfigError(
                    f"the fixed start positions {start.tolist()} overlap each other, a wall or the table "
                    "edge; change hand_reset / object_resets"
                )
            self.pos[envs] = start
        else:
            self.pos[envs] = self._sample_valid(envs)
        self.goal[envs] = self._sample_valid(envs).reshape(len(envs), -1)

    def _sample_valid(self, envs: np.ndarray) -> np.ndarray:
        """Uniform effector and object positions in their goal regions, (M, B, 2), each
        environment redrawing from its own generator until its candidate is valid."""
        cfg, k = self.config, self.config.num_objects
        out = np.empty((len(envs), 1 + k, 2))
        pending = np.arange(len(envs))
        for _ in range(MAX_PLACEMENT_TRIES):
            for j in pending:
                rng = self.rngs[envs[j]]
                out[j, 0] = rng.uniform(-cfg.hand_goal_half, cfg.hand_goal_half, size=2)
                out[j, 1:] = rng.uniform(-cfg.object_goal_half, cfg.object_goal_half, size=(k, 2))
            rows = envs[pending]
            ok = is_valid(out[pending], self.half[rows], self.radius[rows], self.walls, cfg.table_half)
            pending = pending[~ok]
            if not len(pending):
                return out
        raise ConfigError(
            f"could not place {k} objects and the effector without overlap in {MAX_PLACEMENT_TRIES} tries; "
            "enlarge the goal regions or use fewer or smaller objects"
        )

    # ----------------------------------------------------------------------------------- dynamics
    def check_actions(self, actions: Any) -> np.ndarray:
        """Actions as a float (N, 2) array; raises InvalidActionError on a bad shape, NaN or inf."""
        return check_actions(actions, self.num_envs, 2, "effector dx, dy")

    def step(self, actions: np.ndarray, moving: np.ndarray | None = None) -> None:
        """Apply checked actions (N, 2), clipped to [-1, 1]; environments with ``moving`` false stay."""
        delta = np.clip(actions, -1.0, 1.0) * self.config.action_scale
        if moving is not None:
            delta = delta * moving[:, None]
        self.pos = step_bodies(
            self.pos,
            self.half,
            self.radius,
            delta,
            self.walls,
            self.config.table_half,
            self.config.physics_iterations,
        )

    # ------------------------------------------------------------------------------- observations
    def state(self) -> np.ndarray:
        """(N, 2 + 2K) float32: effector xy then each object's xy."""
        return self.pos.reshape(self.num_envs, -1).astype(np.float32)

    def observe(self) -> dict[str, np.ndarray]:
        state = self.state()
        return {
            IMAGE: self.render_positions(self.pos, np.arange(self.num_envs)),
            STATE: state,
            ACHIEVED_GOAL: state.copy(),
            DESIRED_GOAL: self.goal.astype(np.float32),
        }

    def render_positions(self, pos: np.ndarray, env_index: np.ndarray) -> np.ndarray:
        """Images (M, H, W, 3) of bodies at ``pos`` (M, B, 2) with the shapes and colours of
        environments ``env_index`` (M,)."""
        return render_bodies(
            self.background,
            pos,
            self.half[env_index],
            self.radius[env_index],
            self.colors[env_index],
            self.camera,
        )

    def check_states(self, states: Any, env_index: np.ndarray) -> np.ndarray:
        """States or goal states (M, goal_dim) as body positions (M, B, 2); raises InvalidStateError
        on a bad shape, non-finite values, or bodies that overlap or leave the table."""
        s = check_state_rows(states, self.config.goal_dim, "effector xy then object xy")
        pos = s.reshape(len(s), -1, 2)
        ok = is_valid(pos, self.half[env_index], self.radius[env_index], self.walls, self.config.table_half)
        if not ok.all():
            raise InvalidStateError(
                f"states {np.flatnonzero(~ok).tolist()} are impossible: bodies overlap, cross a wall or "
                "leave "
                f"the table [-{self.config.table_half}, {self.config.table_half}]^2"
            )
        return pos

    def context(self) -> dict[str, np.ndarray]:
        """What varies per episode besides positions: object colours (N, K, 3) and shapes (N, K)
        as indices into ``config.object_shapes``."""
        return {"object_colors": self.colors[:, 1:].copy(), "object_shapes": self.shape_index.copy()}

    def _draw_background(self) -> np.ndarray:
        cfg = self.config
        size = cfg.image_size
        table = np.empty((size, size, 3), dtype=np.uint8)
        table[...] = cfg.background_color
        if not self.walls.centers.size:
            return table
        w = len(self.walls)
        wall_color = np.broadcast_to(np.array([90, 90, 96], dtype=np.uint8), (1, w, 3))
        return render_bodies(
            table,
            self.walls.centers[None],
            self.walls.halves[None],
            np.zeros((1, w)),
            wall_color,
            self.camera,
        )[0]


def batched_goal_images(core: TabletopCore, goals: np.ndarray, env_index: np.ndarray) -> NDArray[np.uint8]:
    """Images of the scenes of environments ``env_index`` set to ``goals`` (M, goal_dim)."""
    return core.render_positions(core.check_states(goals, env_index), env_index)
