"""Choosing the torch device (``auto`` takes CUDA when torch sees it, else the CPU) and the number
of CPU threads torch may use."""

from __future__ import annotations

import math
import os
from typing import Literal

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


# ---- CPU threads ----------------------------------------------------------------------------------

ThreadPolicy = Literal["one", "idle"] | int
"""How many CPU threads torch may use (:func:`cpu_threads`): ``one`` (the default), ``idle`` (the
cores nothing else is using when the process starts) or a fixed number."""


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def cpu_threads(policy: ThreadPolicy = "one") -> int:
    """The number of threads ``policy`` gives on this machine now.

    ``one`` is safe on a shared machine: the update steps here are chains of small matrix products
    after each of which OpenMP's threads wait for each other, so one thread that shares its core
    with another process stalls them all (two threads measured 8-25x slower than one beside a busy
    process, and only 0.93-1.9x faster on an idle machine; docs/speed.md). ``idle`` takes the usable
    cores minus the one-minute load average, at least one: for a machine known to stay otherwise
    idle. An integer is taken as it is."""
    if isinstance(policy, bool) or not (isinstance(policy, int) or policy in ("one", "idle")):
        raise ConfigError(f"threads={policy!r}: expected 'one', 'idle' or a positive integer")
    if isinstance(policy, int):
        if policy < 1:
            raise ConfigError(f"threads={policy!r}: expected a positive integer")
        return policy
    if policy == "one":
        return 1
    cores = usable_cores()
    try:
        busy = math.ceil(os.getloadavg()[0] - 0.5)  # a runnable process counts once it is half there
    except OSError:  # no load average on this platform: assume the machine is shared
        return 1
    return max(1, min(cores, cores - busy))


def set_cpu_threads(policy: ThreadPolicy = "one") -> int:
    """``torch.set_num_threads(cpu_threads(policy))``; returns the number set."""
    threads = cpu_threads(policy)
    torch.set_num_threads(threads)
    return threads
