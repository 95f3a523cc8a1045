"""Device resolution and the CPU thread policy."""

from __future__ import annotations

import os

import pytest
import torch

from affordkit import device
from affordkit.device import cpu_threads, resolve_device, set_cpu_threads
from affordkit.errors import ConfigError


def test_resolve_device_cpu_and_auto() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ConfigError):
        resolve_device("no-such-device")


def test_one_thread_is_the_default_and_integers_are_taken_as_they_are() -> None:
    assert cpu_threads() == 1
    assert cpu_threads(3) == 3
    for bad in (0, -1, True, "many", 1.5):
        with pytest.raises(ConfigError):
            cpu_threads(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("cores", "load", "want"), [(2, 0.0, 2), (2, 1.2, 1), (2, 3.0, 1), (8, 2.6, 5)])
def test_idle_leaves_the_busy_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int, load: float, want: int
) -> None:
    monkeypatch.setattr(device, "usable_cores", lambda: cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert cpu_threads("idle") == want


def test_set_cpu_threads_sets_torch() -> None:
    before = torch.get_num_threads()
    try:
        assert set_cpu_threads("one") == 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
