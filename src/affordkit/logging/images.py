"""Image grids and labelled picture sheets, written atomically as PNG."""

from __future__ import annotations

import io
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from affordkit import atomic


def save_png(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Write a uint8 (H, W, 3) image."""
    return atomic.write_bytes(
        path, iio.imwrite("<bytes>", np.asarray(image, dtype=np.uint8), extension=".png")
    )


def image_grid(images: np.ndarray, pad: int = 2, upscale: int = 1, pad_value: int = 255) -> np.ndarray:
    """Tile uint8 images (rows, cols, H, W, 3) or (N, H, W, 3) (one row) into one (H', W', 3) image,
    each image enlarged ``upscale`` times (nearest neighbour, so pixels stay visible)."""
    arr = np.asarray(images, dtype=np.uint8)
    if arr.ndim == 4:
        arr = arr[None]
    if arr.ndim != 5 or arr.shape[-1] != 3:
        raise ValueError(f"expected images of shape (rows, cols, H, W, 3) or (N, H, W, 3); got {arr.shape}")
    if upscale > 1:
        arr = arr.repeat(upscale, axis=2).repeat(upscale, axis=3)
    rows, cols, h, w, _ = arr.shape
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), pad_value, dtype=np.uint8)
    for r in range(rows):
        for c in range(cols):
            y, x = pad + r * (h + pad), pad + c * (w + pad)
            out[y : y + h, x : x + w] = arr[r, c]
    return out


def save_sheet(
    path: str | os.PathLike[str],
    images: np.ndarray,
    column_titles: Sequence[str],
    row_titles: Sequence[str] = (),
    title: str = "",
) -> Path:
    """A labelled grid of uint8 images (rows, cols, H, W, 3) as a PNG meant for people: titled
    columns and rows, pixels drawn as squares."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arr = np.asarray(images, dtype=np.uint8)
    rows, cols = arr.shape[:2]
    fig, axes = plt.subplots(
        rows, cols, figsize=(2.1 * cols, 2.1 * rows + (0.5 if title else 0.2)), squeeze=False
    )
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(arr[r, c], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and c < len(column_titles):
                ax.set_title(column_titles[c], fontsize=10)
            if c == 0 and r < len(row_titles):
                ax.set_ylabel(row_titles[r], fontsize=9)
    if title:
        fig.suptitle(textwrap.fill(title, width=int(11 * 2.1 * cols)), fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return atomic.write_bytes(path, buf.getvalue())
