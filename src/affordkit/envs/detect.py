"""Which object a tabletop image shows: its palette colour and its shape, from pixel statistics
alone (no learned model). It measures whether images that a generative model decodes (CC-RIG's
imagined goals) keep the colour and shape of their context image.

How, per image (vectorised over the batch):

1. Every pixel c is explained as the table colour t blended towards one body colour k (each palette
   colour, and the effector's): c = t + alpha_k (k - t), alpha_k in [0, 1] from the projection of
   c - t on k - t. The renderer draws each body's anti-aliased edge exactly so, as a blend with the
   table (:mod:`affordkit.envs.render`), so edge pixels keep their body's hue at any coverage.
2. A pixel belongs to the object when the colour that explains it best (smallest distance to its
   line) is a palette colour, that distance is at most ``color_tolerance`` and alpha >= 0.5: the
   pixel's centre lies inside the body. Effector pixels are thereby set aside, and pixels that the
   effector takes from the object's edge where the two touch are simply missing.
3. Colour: the palette colour with the most object pixels; fewer than ``min_pixels`` of them (a
   quarter of a disc's area by default) means no object ("none").
4. Shape: the fraction of the bounding box of those pixels that they fill. The pixels whose centre
   lies inside an axis-aligned box form a full rectangle (fill 1, less at most an edge pixel or two
   that the effector may take where the two touch), those inside a disc of radius 3.6 pixels
   (48x48) or 6.3 (84x84) leave the corners empty (about pi / 4; at most 0.84 at 48 pixels and
   0.85 at 84 over all sub-pixel positions); ``box_fill`` (0.9) splits the two.

The tests (tests/envs/test_detect.py) hold it to >= 99% right on rendered ColorPush scenes at 48
and 84 pixels, with the effector touching the object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from affordkit.envs.config import TabletopConfig, color_push
from affordkit.envs.render import SUPPORTED_IMAGE_SIZES
from affordkit.errors import ConfigError

DetectedShape = Literal["disc", "box", "none"]
NO_OBJECT: DetectedShape = "none"
CHUNK = 256  # images per vectorised pass: bounds memory to about 50 MB at 84x84


@dataclass(frozen=True)
class ObjectDetections:
    """What :func:`detect_objects` found in each of N images."""

    color_index: NDArray[np.int64]
    """(N,) index into the palette of the object's colour; -1 where no object was found."""
    shape: NDArray[np.str_]
    """(N,) ``"disc"``, ``"box"`` or ``"none"``."""
    num_pixels: NDArray[np.int64]
    """(N,) pixels of the winning colour whose centre lies inside the object (alpha >= 0.5)."""
    fill: NDArray[np.float64]
    """(N,) fraction of those pixels' bounding box that they fill; NaN where no object was found."""

    def __len__(self) -> int:
        return len(self.color_index)

    def same_object(self, other: ObjectDetections) -> NDArray[np.bool_]:
        """(N,) whether image i shows an object of the same colour and shape in both (False where
        either found none): the check of an imagined goal against its context image."""
        if len(other) != len(self):
            raise ConfigError(f"cannot compare {len(self)} detections with {len(other)}")
        found = (self.color_index >= 0) & (other.color_index >= 0)
        return found & (self.color_index == other.color_index) & (self.shape == other.shape)


def detect_objects(
    images: np.ndarray,
    config: TabletopConfig | None = None,
    *,
    color_tolerance: float = 48.0,
    box_fill: float = 0.9,
    min_pixels: int | None = None,
) -> ObjectDetections:
    """Colour and shape of the one object in each uint8 image (N, H, W, 3), H = W = 48 or 84.

    ``config`` supplies the palette, table and effector colours and the disc radius (default:
    ColorPush's; its ``image_size`` is not used: the images' own size is). ``color_tolerance``:
    largest RGB distance of a pixel from its colour's blend line (rendered pixels lie within a few
    units; decoded images need the slack). ``box_fill``: fill of the bounding box above which the
    object is a box. ``min_pixels``: fewest object pixels for a detection (default: a quarter of a
    disc's area at this image size).
    """
    config = color_push() if config is None else config
    x = _check_images(images)
    if not 0 < box_fill <= 1:
        raise ConfigError(f"box_fill={box_fill!r}: expected in (0, 1]")
    if not color_tolerance > 0:
        raise ConfigError(f"color_tolerance={color_tolerance!r}: expected > 0")
    size = x.shape[1]
    if min_pixels is None:
        radius_px = config.disc_radius * size / (2.0 * config.table_half)
        min_pixels = max(1, math.ceil(0.25 * math.pi * radius_px**2))
    if not isinstance(min_pixels, int) or min_pixels < 1:
        raise ConfigError(f"min_pixels={min_pixels!r}: expected a positive integer")
    table = np.asarray(config.background_color, dtype=np.float32)
    colors = np.asarray([*config.palette, config.hand_color], dtype=np.float32)  # (K + 1, 3)
    parts = [
        _detect_chunk(x[i : i + CHUNK], table, colors, color_tolerance, box_fill, min_pixels)
        for i in range(0, len(x), CHUNK)
    ]
    if not parts:
        return ObjectDetections(
            np.zeros(0, np.int64), np.zeros(0, "<U4"), np.zeros(0, np.int64), np.zeros(0, np.float64)
        )
    color_index, shape, num_pixels, fill = (np.concatenate(p) for p in zip(*parts, strict=True))
    return ObjectDetections(color_index, shape, num_pixels, fill)


def _detect_chunk(
    images: np.ndarray,
    table: np.ndarray,
    colors: np.ndarray,
    color_tolerance: float,
    box_fill: float,
    min_pixels: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n, size = images.shape[:2]
    num_palette = len(colors) - 1  # the last colour is the effector's
    lines = colors - table  # (K + 1, 3) from the table towards each body colour
    length2 = (lines**2).sum(1)  # (K + 1,)
    # alpha >= 0.5 needs |c - t| >= |l| / 2 for the pixel's colour, so only pixels at least half
    # the shortest line away from the table can count: the few pixels of the bodies, not the table
    flat = images.reshape(-1, 3)
    far = (flat.astype(np.int32) - table.astype(np.int32)) ** 2
    candidates = np.flatnonzero(far.sum(1) >= 0.25 * length2.min())  # (L,) pixel numbers
    delta = flat[candidates].astype(np.float32) - table  # (L, 3)
    dots = delta @ lines.T  # (L, K + 1)
    alpha = np.clip(dots / length2, 0.0, 1.0)
    # squared distance of each pixel from each colour's blend line at that alpha, |c - t - a l|^2
    distance2 = (delta**2).sum(1, keepdims=True) - 2.0 * alpha * dots + alpha**2 * length2
    best = distance2.argmin(1)  # (L,)
    rows = np.arange(len(candidates))
    inside = (best < num_palette) & (alpha[rows, best] >= 0.5) & (distance2[rows, best] <= color_tolerance**2)
    pixel, color = candidates[inside], best[inside]
    image_of = pixel // (size * size)

    votes = np.bincount(image_of * num_palette + color, minlength=n * num_palette).reshape(n, num_palette)
    color_index = votes.argmax(1)  # (n,)
    num_pixels = votes[np.arange(n), color_index]
    found = num_pixels >= min_pixels

    mask = np.zeros(n * size * size, dtype=bool)
    mask[pixel[color == color_index[image_of]]] = True  # the winning colour's pixels
    mask = mask.reshape(n, size, size)
    area = _span(np.asarray(mask.any(2))) * _span(np.asarray(mask.any(1)))  # of the bounding box
    fill = np.where(found, num_pixels / np.maximum(area, 1), np.nan)
    shape = np.where(found, np.where(fill >= box_fill, "box", "disc"), NO_OBJECT).astype("<U4")
    return np.where(found, color_index, -1).astype(np.int64), shape, num_pixels.astype(np.int64), fill


def _span(occupied: np.ndarray) -> np.ndarray:
    """(n, L) bool -> (n,) last minus first true index plus one (0 for an all-false row)."""
    length = occupied.shape[1]
    first = occupied.argmax(1)
    last = length - 1 - occupied[:, ::-1].argmax(1)
    return np.where(occupied.any(1), last - first + 1, 0)


def _check_images(images: np.ndarray) -> np.ndarray:
    x = np.asarray(images)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[-1] != 3 or x.shape[1] != x.shape[2]:
        raise ConfigError(f"images must be uint8 (N, H, W, 3) with H = W; got {x.dtype} {tuple(x.shape)}")
    if x.shape[1] not in SUPPORTED_IMAGE_SIZES:
        raise ConfigError(f"image size {x.shape[1]}: accepted values: {list(SUPPORTED_IMAGE_SIZES)}")
    return x
