"""Batched NumPy rasteriser for the tabletop: anti-aliased rounded boxes over a background.

The table spans [-table_half, table_half]^2 in world units; world +y is image up. A camera with a
centre offset and a zoom maps world to pixels (identity by default: the image is the table). Each
body is drawn only inside a small square patch around it, so the cost per image grows with the
number and size of bodies, not with the image area; the background is one ``memcpy`` per image.
All bodies of all images are drawn by the same dozen array operations, whatever their number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from affordkit.envs.geometry import FloatArray

SUPPORTED_IMAGE_SIZES = (48, 84)
_PIXEL = np.dtype((np.void, 3))


@dataclass(frozen=True)
class Camera:
    """Top-down orthographic camera."""

    image_size: int
    table_half: float
    center: tuple[float, float] = (0.0, 0.0)  # world point at the image centre
    zoom: float = 1.0  # 1 frames the whole table; 2 shows half of it, magnified

    @property
    def pixels_per_unit(self) -> float:
        return self.image_size * self.zoom / (2.0 * self.table_half)

    def to_pixels(self, xy: FloatArray) -> FloatArray:
        """World (..., 2) -> continuous pixel coordinates (..., 2) as (column, row)."""
        s = self.pixels_per_unit
        col = (xy[..., 0] - self.center[0]) * s + self.image_size / 2.0
        row = (self.center[1] - xy[..., 1]) * s + self.image_size / 2.0
        return np.stack([col, row], axis=-1)


def render_bodies(
    background: NDArray[np.uint8],
    pos: FloatArray,
    half: FloatArray,
    radius: FloatArray,
    colors: NDArray[np.uint8],
    camera: Camera,
) -> NDArray[np.uint8]:
    """Draw bodies over the background, all bodies of all images in one set of array operations.

    Bodies must not overlap (the physics and ``set_state`` guarantee it); a pixel that the
    anti-aliased edges of two touching bodies share takes one of them, blended with the background.

    Args:
        background: (H, W, 3) or (N, H, W, 3) uint8.
        pos, half, radius: body centres (N, B, 2), half-extents (N, B, 2), radii (N, B).
        colors: (N, B, 3) uint8.

    Returns:
        images (N, H, W, 3) uint8.
    """
    n, num_bodies = pos.shape[:2]
    m = n * num_bodies
    size = camera.image_size
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    images[...] = background
    scale = camera.pixels_per_unit
    centers = camera.to_pixels(pos).reshape(m, 2).astype(np.float32)
    half_px = (half * scale).reshape(m, 2).astype(np.float32)
    radius_px = (radius * scale).reshape(m, 1, 1).astype(np.float32)
    ext = float((half_px.max(axis=1) + radius_px[:, 0, 0]).max()) if m else 0.0
    patch = min(size, int(np.ceil(2.0 * ext + 2.0)))
    offsets = np.arange(patch)
    origin = np.clip(np.floor(centers - patch / 2.0).astype(np.int64), 0, size - patch)  # (M, 2)
    cols = origin[:, 0:1] + offsets  # (M, P)
    rows = origin[:, 1:2] + offsets
    # Signed distance of each pixel centre to the rounded box, separable in x and y: the per-axis
    # terms are (M, 1, P) and (M, P, 1) and only their combination is (M, P, P).
    qx = (np.abs(cols + np.float32(0.5) - centers[:, 0:1]) - half_px[:, 0:1])[:, None, :]
    qy = (np.abs(rows + np.float32(0.5) - centers[:, 1:2]) - half_px[:, 1:2])[:, :, None]
    outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
    coverage = np.float32(0.5) - (outside + np.minimum(np.maximum(qx, qy), 0) - radius_px)  # (M, P, P)
    covered = np.flatnonzero(coverage > 0)  # one-pixel anti-aliased edge: coverage in (0, 1) there
    body = covered // (patch * patch)
    image_start = np.repeat(np.arange(n) * (size * size), num_bodies)[:, None, None]
    pixel = (image_start + (rows * size)[:, :, None] + cols[:, None, :]).reshape(-1).take(covered)  # (L,)
    # coverage in 1/128ths, so that colour differences times coverage fit in int16
    alpha = (np.minimum(coverage.reshape(-1).take(covered), 1) * 128).astype(np.int16)[:, None]
    color = colors.reshape(m, 3).take(body, axis=0).astype(np.int16)
    region = images.reshape(-1, 3).take(pixel, axis=0).astype(np.int16)  # (L, 3)
    blended = (region + (((color - region) * alpha + 64) >> 7)).astype(np.uint8)
    images.reshape(-1).view(_PIXEL)[pixel] = blended.reshape(-1).view(_PIXEL)
    return images
