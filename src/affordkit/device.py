"""Choosing the torch device: ``auto`` takes CUDA when torch sees it, else the CPU."""

from __future__ import annotations

import torch

from affordkit.errors import ConfigError


def resolve_device(device: torch.device | str) -> torch.device:
    """``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:1``, ...) as a ``torch.device``, refusing
    CUDA where torch sees none."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as e:
        raise ConfigError(f"device={device!r} is not a torch device; use 'auto', 'cpu' or 'cuda'") from e
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} was asked for, but torch sees no CUDA device here")
    return resolved
