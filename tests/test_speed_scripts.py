"""The speed benchmarks run end to end in their --quick form and write their results files (the
numbers of a --quick run measure nothing; these tests only keep the scripts working)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest


def run_script(module, monkeypatch: pytest.MonkeyPatch, *args: str) -> None:
    monkeypatch.setattr(sys, "argv", [module.__file__, *args])
    module.main()


def test_end_to_end_breakdown_writes_the_update_share(tmp_path: Path, monkeypatch) -> None:
    from benchmarks import end_to_end

    run_script(end_to_end, monkeypatch, "--quick", "--breakdown", "--results-dir", str(tmp_path))
    payload = json.loads((tmp_path / "end_to_end_breakdown.json").read_text())
    share = payload["update_share_of_loop_time"]["median"]
    assert 0 < share < 1 and payload["device"] == "cpu"
    rates = payload["env_steps_per_second"]
    assert rates["no updates"]["median"] > rates["with updates"]["median"] > 0
    assert "Share of the loop's time in the updates" in (tmp_path / "end_to_end_breakdown.md").read_text()


def test_update_speed_quick_writes_ratios(tmp_path: Path, monkeypatch) -> None:
    from benchmarks import update_speed

    args = ["--quick", "--algos", "td3", "--seeds", "2", "--pixel-seeds", "2", "--results-dir", str(tmp_path)]
    run_script(update_speed, monkeypatch, *args)
    payload = json.loads((tmp_path / "speed.json").read_text())
    assert (
        payload["device"] == "cpu"
        and payload["settings"][0]["updates_per_second"]["affordkit fast"]["median"] > 0
    )
    assert [(s["algo"], s["seeds"]) for s in payload["seeds"]] == [("td3", 2), ("pixel_td3", 2)]
    assert payload["seeds"][1]["ratio_together_over_sequential"]["median"] > 0
    text = (tmp_path / "speed.md").read_text()
    assert "| TD3 B=128" in text and "| PIXEL_TD3 K=2 B=128" in text


def test_cuda_is_refused_where_there_is_none(monkeypatch) -> None:
    import torch
    from benchmarks import update_speed

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(SystemExit, match="sees no CUDA device"):
        run_script(update_speed, monkeypatch, "--quick", "--device", "cuda")
