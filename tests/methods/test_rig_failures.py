"""benchmarks/rig_failures.py and rig_latent_probe.py on finished smoke runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmarks import rig_failures

from affordkit.methods import rig
from tests.methods.test_rig import ccrig_smoke, smoke


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


def test_latent_probe_of_a_finished_rig_run(tmp_path: Path, monkeypatch) -> None:
    from benchmarks import rig_latent_probe as probe

    monkeypatch.setattr(probe, "TRAIN", 200)
    monkeypatch.setattr(probe, "TEST", 100)
    run_dir = rig.run(smoke(tmp_path), progress=False).parent
    row = probe.probe(run_dir, seed=0)
    assert set(row["bodies"]) == {"effector", "object"}
    for body in row["bodies"].values():
        assert body["linear_error"] >= 0 and body["knn_error"] >= 0 and body["knn_error_true_state"] > 0
        per_move = list(body["latent_distance_per_move"].values())
        assert len(per_move) == len(probe.MOVES) and all(v >= 0 for v in per_move)
        l1 = list(body["latent_l1_distance_per_move"].values())
        assert all(a >= b - 1e-6 for a, b in zip(l1, per_move, strict=True))  # ||x||_1 >= ||x||_2
        ranges = body["latent_distance_by_range"]
        assert len(ranges) == len(probe.RANGES) and all(v is None or v >= 0 for v in ranges.values())
        assert -1 <= body["rank_correlation"] <= 1
    text = probe.markdown([row], probe.provenance())
    assert "| object / effector, L2 | object / effector, L1 | object / effector, standardized L2 |" in text
    assert "rank correlation |" in text


def test_rank_correlation_is_spearmans() -> None:
    from benchmarks import rig_latent_probe as probe

    x = np.arange(20.0)
    assert probe.rank_correlation(x, x**3) == pytest.approx(1.0)  # any increasing map: 1
    assert probe.rank_correlation(x, -np.exp(x)) == pytest.approx(-1.0)
    flat = np.r_[np.arange(10.0), np.full(10, 10.0) + np.arange(10) * 1e-9]  # levels off, still rising
    assert probe.rank_correlation(x, flat) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def ccrig_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished CC-RIG smoke run on ColorPush, shared by the tests that only read it."""
    return rig.run(ccrig_smoke(tmp_path_factory.mktemp("ccrig")), progress=False).parent


def test_goal_consistency_of_a_ccrig_runs_model(ccrig_run: Path, monkeypatch) -> None:
    """benchmarks/ccrig_run_consistency.py reads the run's CC-VAE and prior and checks the goals it
    imagines for held-out contexts with the detector; a run on another env is refused."""
    from benchmarks import ccrig_run_consistency as bench

    row, picture = bench.measure(ccrig_run, seed=0, contexts=40)
    assert row["latent_model"] == "ccvae" and row["prior"] == rig.load_run_config(ccrig_run).prior
    assert row["detector_accuracy_on_contexts"] >= 0.99  # rendered contexts: the detector is right
    rates = [row[k] for k in ("consistent", "color", "shape", "no_object")]
    assert all(0 <= r <= 1 for r in rates) and row["consistent"] <= min(row["color"], row["shape"])
    assert picture.shape[0] == 4 and picture.dtype == np.uint8  # contexts and three goals each
    assert bench.measure(ccrig_run, seed=0, contexts=40)[0] == row  # same contexts and draws
    standard, _ = bench.measure(ccrig_run, seed=0, contexts=40, prior_kind="standard")
    assert standard["prior"] == "standard"
    monkeypatch.setattr(bench.consistency, "ENV", "Push")
    with pytest.raises(SystemExit, match="the detector reads Push"):
        bench.run_model(ccrig_run)


def test_latent_probe_of_a_ccrig_run_reads_the_state_code(ccrig_run: Path, monkeypatch) -> None:
    """A CC-RIG run is probed through mu(s_t, s_0): scenes on ColorPush tables (boxes among the
    objects, so the scenes keep a wider gap than Push's discs need) with each table's reset image
    as the context."""
    from benchmarks import rig_latent_probe as probe

    monkeypatch.setattr(probe, "TRAIN", 200)
    monkeypatch.setattr(probe, "TEST", 100)
    run_dir = ccrig_run
    cfg = rig.load_run_config(run_dir)
    assert cfg.latent_model == "ccvae"
    from affordkit.envs import make_vector_env

    env_cfg = make_vector_env(cfg.env, 1).config
    assert probe.min_gap(env_cfg) > 0.26  # boxes' corners reach further than a disc
    row = probe.probe(run_dir, seed=0)
    assert set(row["bodies"]) == {"effector", "object"}
    for body in row["bodies"].values():
        assert np.isfinite(body["linear_error"]) and body["knn_error_true_state"] > 0
    assert row["context_gap"]["median"] > 0  # the smoke preset's state heads read z_c
    assert probe.probe(run_dir, seed=0) == row  # the same scenes and contexts: the same answer
    assert "| context gap |" in probe.markdown([row], probe.provenance())


def test_benchmark_keeps_a_record_of_each_finished_run(tmp_path: Path, monkeypatch) -> None:
    """benchmarks/rig.py summarises a finished run from its folder, stores the record in the
    results folder, and summarises it from that record once the run folder is gone."""
    import argparse
    import shutil

    from benchmarks import rig as bench

    monkeypatch.setattr(bench, "RESULTS", tmp_path / "results")
    runs_dir = tmp_path / "runs"
    cfg = smoke(runs_dir / "state_her-seed3", observation="state")
    run_dir = rig.run(cfg, progress=False).parent
    args = argparse.Namespace(runs_dir=runs_dir, out="bench", methods=["state_her", "rig"], seeds=[3, 4])
    first = bench.summarise(args)
    assert list(first) == ["state_her"] and first["state_her"]["seeds"] == [3]
    record = tmp_path / "results" / "bench_records" / "state_her-seed3.json"
    assert record.exists()
    shutil.rmtree(run_dir)
    again = bench.summarise(args)
    assert again["state_her"]["success"] == first["state_her"]["success"]
    assert again["state_her"]["runs"]["3"]["curve"] == first["state_her"]["runs"]["3"]["curve"]
    assert again["state_her"]["missing_seeds"] == [4]


def test_effector_check_of_the_consistency_benchmark() -> None:
    """benchmarks/ccrig_consistency.py's effector check: a rendering agrees with itself, not with the
    effector moved a few pixels away or left out (the bare table)."""
    from benchmarks import ccrig_consistency as bench

    from affordkit.envs import make_vector_env

    env = make_vector_env("ColorPush", 8, autoreset_mode="disabled")
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    states = np.c_[rng.uniform(-0.5, 0.5, (8, 2)), rng.uniform(-0.5, 0.5, (8, 2))].astype(np.float32)
    states[:, 2:] = states[:, :2] - 0.6 * np.sign(states[:, :2] + 1e-3)  # the object well away
    real = env.render_goal(states)
    assert bench.effector_agreement(real, real).all()
    moved = states.copy()
    moved[:, 0] += np.where(states[:, 0] > 0, -0.3, 0.3)  # ~0.3 of the 2-unit table: ~7 px at 48x48
    assert not bench.effector_agreement(real, env.render_goal(moved)).any()
    table = np.broadcast_to(np.array([232, 226, 214], np.uint8), real.shape)
    assert not bench.effector_agreement(real, table).any()
