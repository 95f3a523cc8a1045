"""Explicit (re)encoding of stored observations, e.g. after the VAE is fine-tuned during RL."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from affordkit.data.replay import EpisodeReplay

Encoder = Callable[[np.ndarray], np.ndarray]  # uint8 images (B, H, W, 3) -> latents (B, d)


def reencode(
    buffer: EpisodeReplay,
    encode: Encoder,
    source: str = "image",
    target: str = "latent",
    batch_size: int = 1024,
) -> int:
    """Overwrite ``target`` with ``encode(source)`` for every written slot; returns the count."""
    used = min(buffer.total, buffer.capacity)
    src, dst = buffer.fields[source], buffer.fields[target]
    for start in range(0, used, batch_size):
        stop = min(start + batch_size, used)
        dst[start:stop] = encode(src[start:stop])
    return used
