"""benchmarks/rig_failures.py on a finished smoke run of the state oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from benchmarks import rig_failures

from affordkit.methods import rig
from tests.methods.test_rig import smoke


def test_breakdown_of_a_finished_run(tmp_path: Path) -> None:
    run_dir = rig.run(smoke(tmp_path, observation="state"), progress=False).parent
    row = rig_failures.breakdown(run_dir, episodes=16, seed=3)
    assert row["method"] == "her-state" and row["env_steps"] == 800 and row["episodes"] == 16
    # success needs both bodies within their thresholds
    assert 0 <= row["success"] <= min(row["hand_within"], row["object_within"]) <= 1
    for key in ("hand_quantiles", "object_quantiles"):
        assert len(row[key]) == len(rig_failures.QUANTILES) and np.all(np.diff(row[key]) >= 0)
    assert rig_failures.breakdown(run_dir, episodes=16, seed=3) == row  # same goals, same answer
    meta = {"command": "c", "git_commit": "g", "date": "d", "cpu": "cpu", "cpu_count": 2}
    text = rig_failures.markdown([row], meta | {"python": "p", "numpy": "n", "torch": "t"}, seed=3)
    assert "| her-state | 0 | 800 | 16 |" in text
