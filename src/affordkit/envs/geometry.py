"""Shapes of the 2-D tabletop as rounded axis-aligned boxes, and the contact query between them.

Every body (the point effector, discs, boxes, walls) is a *rounded box*: the set of points within
``radius`` of an axis-aligned box of half-extents ``half``. A disc has ``half = 0``, a box has
``radius = 0``. The Minkowski difference of two rounded boxes is again a rounded box (half-extents
and radii add), so one formula gives the contact between any two bodies, whatever their shapes.
All functions broadcast over leading dimensions and use no Python loops. (The renderer computes
the signed distance to a rounded box itself, in a separable form: `render.py`.)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.floating]
_X_AXIS = np.array([1.0, 0.0])  # contact normal of two discs with the same centre


def penetration(offset: FloatArray, half: FloatArray, radius: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Contact between two rounded boxes A and B.

    Args:
        offset: centre of B minus centre of A, shape (..., 2).
        half: half-extents of A plus those of B, shape (..., 2).
        radius: radius of A plus that of B, shape (...).

    Returns:
        ``(depth, normal)``: depth (...) is positive when the bodies overlap and is the distance B
        must move along ``normal`` (..., 2), a unit vector from A towards B, to just touch A.
    """
    if not half.any():  # discs only: the common case, in a third of the operations
        dist = np.sqrt(offset[..., 0] ** 2 + offset[..., 1] ** 2)
        apart = dist > 1e-12
        normal = np.where(apart[..., None], offset / np.where(apart, dist, 1.0)[..., None], _X_AXIS)
        return radius - dist, normal
    core = np.minimum(np.maximum(offset, -half), half)
    d = offset - core
    dist = np.sqrt(d[..., 0] ** 2 + d[..., 1] ** 2)
    outside = dist > 1e-12
    normal_out = d / np.where(outside, dist, 1.0)[..., None]
    # The centre of B lies inside the core box: leave along the axis of least overlap.
    gap = half + radius[..., None] - np.abs(offset)
    use_x = gap[..., 0] <= gap[..., 1]
    sign = np.where(offset >= 0.0, 1.0, -1.0)
    normal_in = np.stack([np.where(use_x, sign[..., 0], 0.0), np.where(use_x, 0.0, sign[..., 1])], axis=-1)
    depth = np.where(outside, radius - dist, np.where(use_x, gap[..., 0], gap[..., 1]))
    normal = np.where(outside[..., None], normal_out, normal_in)
    return depth, normal


def extent(half: FloatArray, radius: FloatArray) -> FloatArray:
    """Half-size of a body's bounding box along each axis, shape (..., 2)."""
    return half + radius[..., None]
