"""Batched NumPy rasteriser for the tabletop: anti-aliased rounded boxes over a background.

The table spans [-table_half, table_half]^2 in world units; world +y is image up. A camera with a
centre offset and a zoom maps world to pixels (identity by default: the image is the table). Each
body is drawn only inside a small square patch around it, so the cost per image grows with the
number and size of bodies, not with the image area; the background is one ``memcpy`` per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from affordkit.envs.geometry import FloatArray, extent

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
    """Draw bodies in index order (later bodies on top).

    Args:
        background: (H, W, 3) or (N, H, W, 3) uint8.
        pos, half, radius: body centres (N, B, 2), half-extents (N, B, 2), radii (N, B).
        colors: (N, B, 3) uint8.

    Returns:
        images (N, H, W, 3) uint8.
    """
    n, num_bodies = pos.shape[:2]
    size = camera.image_size
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    images[...] = background
    rows_of_pixels = images.reshape(-1, 3)
    pixels_as_items = images.reshape(-1).view(_PIXEL)  # one 3-byte item per pixel, for fast scatter
    scale = camera.pixels_per_unit
    centers = camera.to_pixels(pos).astype(np.float32)  # (N, B, 2)
    half_px = (half * scale).astype(np.float32)
    radius_px = (radius * scale).astype(np.float32)
    ext_px = extent(half_px, radius_px)  # (N, B, 2)
    base = np.arange(n)[:, None] * (size * size)
    for b in range(num_bodies):
        patch = min(size, int(np.ceil(2.0 * float(ext_px[:, b].max()) + 2.0)))
        offsets = np.arange(patch)
        origin = np.clip(np.floor(centers[:, b] - patch / 2.0).astype(np.int64), 0, size - patch)  # (N, 2)
        cols = origin[:, 0:1] + offsets  # (N, P)
        rows = origin[:, 1:2] + offsets
        # Signed distance of each pixel centre to the rounded box, separable in x and y: the
        # per-axis terms are (N, 1, P) and (N, P, 1) and only their combination is (N, P, P).
        qx = np.abs(cols + np.float32(0.5) - centers[:, b, 0:1]) - half_px[:, b, 0:1]
        qy = np.abs(rows + np.float32(0.5) - centers[:, b, 1:2]) - half_px[:, b, 1:2]
        qx, qy = qx[:, None, :], qy[:, :, None]
        outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
        sd = outside + np.minimum(np.maximum(qx, qy), 0) - radius_px[:, b, None, None]
        # coverage in 1/128ths (so that colour differences times coverage fit in int16), with a
        # one-pixel anti-aliased edge
        alpha = (np.clip(np.float32(0.5) - sd, 0, 1) * 128).astype(np.int16)[..., None]  # (N, P, P, 1)
        pixel = (base + rows * size)[:, :, None] + cols[:, None, :]  # (N, P, P)
        region = rows_of_pixels.take(pixel, axis=0).astype(np.int16)  # (N, P, P, 3)
        color = colors[:, b, None, None, :].astype(np.int16)
        blended = (region + (((color - region) * alpha + 64) >> 7)).astype(np.uint8)
        pixels_as_items[pixel] = blended.reshape(-1).view(_PIXEL).reshape(pixel.shape)
    return images
