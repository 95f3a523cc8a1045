"""Quasi-static pushing on a frictionless table, batched over environments.

Body 0 of every environment is the effector; bodies 1.. are movable objects. The effector moves by
the commanded displacement; whatever it overlaps is pushed out along the contact normal; objects
push each other (the one farther from the effector gives way, so chains move together; then, for
chains stuck against a wall, the nearer one) for a few Jacobi iterations; bodies are kept on
the table and out of walls; finally the effector is pushed back out of objects that could not give
way (an object against a wall). If any overlap is left after that, the environment's whole step is
undone, so the invariants (no two bodies overlap, every body on the table and outside every wall)
hold after every step, by construction rather than by tuning.

The displacement per step must be smaller than the smallest body (checked by the env config), so
nothing tunnels through anything within one step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from affordkit.envs.geometry import FloatArray, extent, penetration

OVERLAP_TOLERANCE = 1e-7


@dataclass(frozen=True)
class Walls:
    """Static axis-aligned boxes on the table: centres (W, 2) and half-extents (W, 2)."""

    centers: FloatArray
    halves: FloatArray

    @staticmethod
    def from_tuples(walls: tuple[tuple[float, float, float, float], ...]) -> Walls:
        """From ``(center_x, center_y, half_width, half_height)`` tuples."""
        arr = np.asarray(walls, dtype=np.float64).reshape(-1, 4)
        return Walls(centers=arr[:, :2].copy(), halves=arr[:, 2:].copy())

    def __len__(self) -> int:
        return int(self.centers.shape[0])


def pair_overlaps(pos: FloatArray, half: FloatArray, radius: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Depth and normal for every ordered pair of bodies, shapes (N, B, B) and (N, B, B, 2).

    ``depth[n, i, j]`` is how far body j must move along ``normal[n, i, j]`` to clear body i; the
    diagonal is set to -inf.
    """
    offset = pos[:, None, :, :] - pos[:, :, None, :]
    depth, normal = penetration(
        offset, half[:, :, None, :] + half[:, None, :, :], radius[:, :, None] + radius[:, None, :]
    )
    b = pos.shape[1]
    depth[:, np.arange(b), np.arange(b)] = -np.inf
    return depth, normal


def wall_overlaps(
    pos: FloatArray, half: FloatArray, radius: FloatArray, walls: Walls
) -> tuple[FloatArray, FloatArray]:
    """Depth (N, B, W) and normal (N, B, W, 2) of each body against each wall (normal points from
    the wall to the body)."""
    offset = pos[:, :, None, :] - walls.centers[None, None, :, :]
    depth, normal = penetration(
        offset,
        half[:, :, None, :] + walls.halves[None, None, :, :],
        np.broadcast_to(radius[:, :, None], offset.shape[:-1]),
    )
    return depth, normal


def keep_on_table(pos: FloatArray, ext: FloatArray, table_half: float) -> FloatArray:
    """Clamp body centres so that each body lies wholly within [-table_half, table_half]^2."""
    limit = table_half - ext
    return np.clip(pos, -limit, limit)


def push_out_of_walls(pos: FloatArray, half: FloatArray, radius: FloatArray, walls: Walls) -> FloatArray:
    if len(walls) == 0:
        return pos
    depth, normal = wall_overlaps(pos, half, radius, walls)
    return pos + (normal * np.maximum(depth, 0.0)[..., None]).sum(axis=2)


def is_valid(
    pos: FloatArray, half: FloatArray, radius: FloatArray, walls: Walls, table_half: float
) -> np.ndarray:
    """Per environment (N,): no two bodies overlap, every body is on the table and outside walls."""
    ok = np.ones(pos.shape[0], dtype=bool)
    if pos.shape[1] > 1:
        depth, _ = pair_overlaps(pos, half, radius)
        ok &= depth.max(axis=(1, 2)) <= OVERLAP_TOLERANCE
    if len(walls):
        depth_w, _ = wall_overlaps(pos, half, radius, walls)
        ok &= depth_w.max(axis=(1, 2)) <= OVERLAP_TOLERANCE
    ext = extent(half, radius)
    ok &= np.all(np.abs(pos) <= table_half - ext + OVERLAP_TOLERANCE, axis=(1, 2))
    return ok


def _push_weights(pos: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Who gives way in each contact, (N, B, B, 1) each: ``forward[n, i, j] = 1`` when body j is
    pushed away from body i because i is nearer the effector (the effector pushes everything), so a
    chain of objects moves as a chain; ``backward`` lets the nearer object yield instead, for chains
    that end against a wall or the table edge. The effector never moves in either."""
    num_bodies = pos.shape[1]
    if num_bodies == 2:  # one object: the effector pushes it, nothing else
        forward = np.array([[0.0, 1.0], [0.0, 0.0]])[None, :, :, None]
        return forward, np.zeros_like(forward)
    dist = np.sqrt(((pos - pos[:, :1]) ** 2).sum(-1))  # (N, B) distance from the effector
    index = np.arange(num_bodies)
    nearer = (dist[:, :, None] < dist[:, None, :]) | (
        (dist[:, :, None] == dist[:, None, :]) & (index[:, None] < index[None, :])
    )
    forward = nearer.astype(np.float64)
    forward[:, 0, 1:] = 1.0
    forward[:, :, 0] = 0.0
    backward = np.swapaxes(forward, 1, 2).copy()
    backward[:, 0, :] = 0.0
    backward[:, :, 0] = 0.0
    return forward[..., None], backward[..., None]


def _resolve_objects(
    pos: FloatArray,
    half: FloatArray,
    radius: FloatArray,
    ext: FloatArray,
    weights: FloatArray,
    walls: Walls,
    table_half: float,
) -> FloatArray:
    depth, normal = pair_overlaps(pos, half, radius)
    new = pos + (normal * (np.maximum(depth, 0.0)[..., None] * weights)).sum(axis=1)
    new[:, 1:] = keep_on_table(new[:, 1:], ext[:, 1:], table_half)
    new[:, 1:] = push_out_of_walls(new[:, 1:], half[:, 1:], radius[:, 1:], walls)
    return new


def step_bodies(
    pos: FloatArray,
    half: FloatArray,
    radius: FloatArray,
    effector_delta: FloatArray,
    walls: Walls,
    table_half: float,
    iterations: int = 4,
) -> FloatArray:
    """Advance every environment by one action.

    Args:
        pos: body centres (N, B, 2), body 0 the effector; not modified.
        half, radius: body shapes (N, B, 2) and (N, B).
        effector_delta: commanded effector displacement (N, 2).

    Returns:
        new centres (N, B, 2), valid in every environment (see module docstring).
    """
    ext = extent(half, radius)
    new = pos.copy()
    new[:, 0] += effector_delta
    new[:, :1] = keep_on_table(new[:, :1], ext[:, :1], table_half)
    new[:, :1] = push_out_of_walls(new[:, :1], half[:, :1], radius[:, :1], walls)
    num_objects = pos.shape[1] - 1
    if not num_objects:
        return np.where(is_valid(new, half, radius, walls, table_half)[:, None, None], new, pos)
    # a push travels at most one body further per iteration, so a chain of K objects needs K
    forward, backward = _push_weights(new)
    for _ in range(min(iterations, num_objects)):
        new = _resolve_objects(new, half, radius, ext, forward, walls, table_half)
    for _ in range(min(iterations, num_objects - 1)):
        new = _resolve_objects(new, half, radius, ext, backward, walls, table_half)
    # Objects that could not give way push the effector back.
    depth, normal = pair_overlaps(new, half, radius)
    new[:, 0] -= (normal[:, 0, 1:] * np.maximum(depth[:, 0, 1:], 0.0)[..., None]).sum(axis=1)
    new[:, :1] = keep_on_table(new[:, :1], ext[:, :1], table_half)
    # Validity of the result (what `is_valid` checks, reusing the object-object depths: only the
    # effector moved since they were computed).
    hand_depth, _ = penetration(
        new[:, 1:] - new[:, :1], half[:, 1:] + half[:, :1], radius[:, 1:] + radius[:, :1]
    )
    ok = hand_depth.max(axis=1) <= OVERLAP_TOLERANCE
    if num_objects > 1:
        ok &= depth[:, 1:, 1:].max(axis=(1, 2)) <= OVERLAP_TOLERANCE
    ok &= np.all(np.abs(new[:, 1:]) <= table_half - ext[:, 1:] + OVERLAP_TOLERANCE, axis=(1, 2))
    if len(walls):
        ok &= wall_overlaps(new, half, radius, walls)[0].max(axis=(1, 2)) <= OVERLAP_TOLERANCE
    return np.where(ok[:, None, None], new, pos)
