"""`affordkit data collect | info | show`: datasets from the tabletop envs, in the real format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from affordkit.cli import main
from affordkit.data import EpisodeDataset
from affordkit.envs import make_vector_env
from affordkit.errors import ConfigError
from affordkit.methods.data import CollectConfig, collect


def test_scripted_data_succeeds_and_matches_the_env(tmp_path: Path) -> None:
    ds = collect(
        CollectConfig(env="Push", out=tmp_path / "d", policy="scripted", episodes=6, num_envs=4, seed=1)
    )
    assert ds.num_episodes == 6 and len(ds.meta["chunks"]) == 1
    assert ds.stats()["success_rate"] == 1.0  # the solver solves Push (benchmarks/results/solvers.md)
    ep = ds.episode(5)
    env = make_vector_env("Push", 1, autoreset_mode="disabled")
    reward = env.compute_reward(ep["achieved_goal"][1:], ep["desired_goal"][1:], {})
    np.testing.assert_array_equal(ep["reward"], reward.astype(np.float32))
    assert ep["image"].shape == (51, 48, 48, 3) and ep["goal_image"].shape == (48, 48, 3)
    assert ep["truncated"][-1] and not ep["truncated"][:-1].any() and not ep["terminated"].any()
    assert ep["labels"] == {"task": "Push", "domain": "sim", "scene": ""}
    assert ds.meta["control_hz"] == 10.0 and ds.env["name"] == "Push"


def test_noise_and_random_episodes_lower_success(tmp_path: Path) -> None:
    rates = []
    for i, extra in enumerate(
        [dict(policy="scripted"), dict(noise=0.3, random_episode_prob=0.6), dict(policy="random")]
    ):
        cfg = CollectConfig(env="Push", out=tmp_path / f"d{i}", episodes=48, seed=2, images=False, **extra)
        rates.append(collect(cfg).stats()["success_rate"])
    assert rates[0] == 1.0 and 0.1 < rates[1] < 0.6 and rates[2] < 0.1


def test_same_seed_same_data_and_append(tmp_path: Path) -> None:
    a = collect(CollectConfig(out=tmp_path / "a", episodes=5, num_envs=5, seed=4, images=False, noise=0.5))
    b = collect(CollectConfig(out=tmp_path / "b", episodes=5, num_envs=5, seed=4, images=False, noise=0.5))
    np.testing.assert_array_equal(a.episode(4)["action"], b.episode(4)["action"])
    more = collect(
        CollectConfig(out=tmp_path / "a", episodes=3, num_envs=5, seed=4, images=False, append=True)
    )
    assert more.num_episodes == 8 and not np.array_equal(
        more.episode(5)["desired_goal"], a.episode(0)["desired_goal"]
    )


def test_bad_collect_settings() -> None:
    with pytest.raises(ConfigError):
        CollectConfig(policy="expert")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        CollectConfig(random_prob=1.5)


def test_cli_collect_info_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d"
    assert main(["data", "collect", "--env", "Push", "--policy", "noisy-scripted", "--episodes", "4",
                 "--num-envs", "4", "--noise", "0.2", "--out", str(out)]) == 0  # fmt: skip
    assert EpisodeDataset(out).num_episodes == 4
    assert main(["data", "info", str(out), "--verify"]) == 0
    text = capsys.readouterr().out
    assert "episodes: 4" in text and "success rate" in text and "checksums: all files match" in text
    assert main(["data", "show", str(out), "--out", str(tmp_path / "s.png")]) == 0
    assert main(["data", "show", str(out), "--out", str(tmp_path / "s.gif"), "--episodes", "2"]) == 0
    assert (tmp_path / "s.png").stat().st_size > 1000 and (tmp_path / "s.gif").stat().st_size > 1000
    assert main(["data", "show", str(out), "--out", str(tmp_path / "s.jpg")]) == 2
    assert main(["data", "info", str(tmp_path / "nothing")]) == 2
