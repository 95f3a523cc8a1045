"""AWAC end to end on the smoke preset: phases, run folder, exact resume across the offline-to-online
boundary, the BC baseline, the CLI."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from affordkit.algos.bc_seeds import BCSeeds
from affordkit.cli import main
from affordkit.data import DatasetError, EpisodeDataset
from affordkit.errors import ConfigError
from affordkit.loops import checkpoint
from affordkit.methods import awac
from affordkit.methods.data import CollectConfig, collect
from affordkit.networks.fast import linear_description
from tests.methods.test_rig import _tensors


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data") / "push"
    collect(
        CollectConfig(
            env="Push", out=root, episodes=24, noise=0.3, random_episode_prob=0.5, seed=3, images=False
        )
    )
    return root


def smoke(tmp_path: Path, dataset: Path, **overrides) -> awac.AWACRunConfig:
    return dataclasses.replace(
        awac.smoke_preset(), dataset=dataset, runs_dir=tmp_path, device="cpu", **overrides
    )


def agent_state(run_dir: Path) -> tuple[dict, dict | None]:
    return checkpoint.load(run_dir / "checkpoints" / "agent")


def test_smoke_run_writes_a_complete_run_folder(tmp_path: Path, dataset: Path) -> None:
    report = awac.run(smoke(tmp_path, dataset), progress=False)
    run_dir = report.parent
    text = report.read_text()
    assert "# AWAC on Push (state observations)" in text and "after online fine-tuning" in text
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    for key in (
        "eval/success_rate",
        "offline/success_rate",
        "final/success_rate",
        "critic/loss",
        "actor/weight_max",
    ):
        assert any(r.get(key) for r in rows), key
    state, replay = agent_state(run_dir)
    c = state["counters"]
    assert c["offline_done"] and c["env_steps"] == 400 and c["updates"] == 60 + 400
    ds = EpisodeDataset(dataset)
    assert replay is not None and int(replay["episodes_added"]) == ds.num_episodes + 400 // 50
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["env_steps"] == 400 and 0 <= summary["final_success"] <= 1
    assert summary["linear_layer"] == linear_description(True)  # the smoke preset: fast, CPU
    assert summary["linear_layer"] in (run_dir / "report.md").read_text()


def test_online_buffer_starts_with_the_data(tmp_path: Path, dataset: Path) -> None:
    cfg = smoke(tmp_path, dataset)
    ds, name = awac.open_dataset(cfg)
    agent = awac.AWACAgent(cfg, ds, name, torch.device("cpu"))
    replay = awac.make_online_buffer(agent)
    assert replay.num_transitions == ds.num_steps
    first = ds.episode(0)
    np.testing.assert_array_equal(replay.fields["obs"][:51], first["state"])
    np.testing.assert_array_equal(replay.action[:50], first["action"])
    batch = agent.offline_batch()
    assert batch.obs.shape == (32, 8) and set(batch.reward.unique().tolist()) <= {-1.0, 0.0}


@pytest.mark.parametrize("stops", [[("offline", 30)], [("offline", 60)], [("offline", 30), ("online", 200)]])
def test_stopped_and_resumed_equals_uninterrupted(tmp_path: Path, dataset: Path, stops) -> None:
    whole = awac.run(smoke(tmp_path / "whole", dataset), progress=False).parent
    run_dir = None
    for stop in stops:
        if run_dir is None:
            run_dir = awac.run(smoke(tmp_path / "parts", dataset), progress=False, stop_at=stop).parent
        else:
            awac.run(resume=run_dir, progress=False, stop_at=stop)
        assert not (run_dir / "report.md").exists()
    assert run_dir is not None
    awac.run(resume=run_dir, progress=False)
    (a, replay_a), (b, replay_b) = agent_state(whole), agent_state(run_dir)
    assert a["counters"] == b["counters"]
    flat_a, flat_b = _tensors(a["learner"]), _tensors(b["learner"])
    assert flat_a.keys() == flat_b.keys()
    for k in flat_a:
        assert torch.equal(flat_a[k], flat_b[k]), f"learner{k} differs after resume"
    assert replay_a is not None and replay_b is not None
    for k in replay_a:
        np.testing.assert_array_equal(replay_a[k], replay_b[k])
    summary_a, summary_b = (json.loads((d / "summary.json").read_text()) for d in (whole, run_dir))
    assert summary_a == summary_b


def test_seeds_trained_together_equal_runs_of_each_seed(tmp_path: Path, dataset: Path) -> None:
    """``seeds=2``: one batched update for both learners, the two envs in lockstep; each seed's
    folder must hold what a run of that seed alone gives (parameters to float rounding, the same
    counters, replay and evaluations)."""
    together = awac.run(smoke(tmp_path / "together", dataset, seed=3, seeds=2), progress=False).parent
    summary = json.loads((together / "summary.json").read_text())
    assert summary["seeds"] == [3, 4] and len(summary["per_seed"]) == 2
    text = (together / "report.md").read_text()
    assert "2 seeds" in text and "mean +- sd" in text
    for seed, per_seed in zip((3, 4), summary["per_seed"], strict=True):
        alone = awac.run(smoke(tmp_path / f"alone{seed}", dataset, seed=seed), progress=False).parent
        (a, replay_a), (b, _) = agent_state(alone), agent_state(together / f"seed_{seed}")
        assert a["counters"] == b["counters"]
        flat_a, flat_b = _tensors(a["learner"]), _tensors(b["learner"])
        assert flat_a.keys() == flat_b.keys()
        for k in flat_a:
            # offline the two agree to ~1e-6; online the states differ by ~1e-6 (float rounding of
            # the actions), and where a weight's gradient is near 0 (inputs that hardly vary) Adam's
            # step g / sqrt(v) turns that into steps of up to lr (3e-4) of either sign: up to ~5e-4
            # on weights of 0.3-0.4 after 400 online updates; a wrong seed or batch moves them by 0.1
            torch.testing.assert_close(flat_b[k], flat_a[k], atol=2e-3, rtol=1e-3, msg=f"seed {seed}: {k}")
        seed_summary = json.loads((together / f"seed_{seed}" / "summary.json").read_text())
        assert seed_summary == per_seed
        alone_summary = json.loads((alone / "summary.json").read_text())
        assert alone_summary["final_object_distance"] == pytest.approx(
            per_seed["final_object_distance"], 1e-4
        )
        for key in ("offline_success", "final_success", "updates", "env_steps"):
            assert alone_summary[key] == per_seed[key], key
        # the seed's buffer as the lone run's: its own episodes, from its own env and explorations
        _, joint = checkpoint.load(together / "checkpoints" / "agent")
        assert replay_a is not None and joint is not None
        k = seed - 3
        for name in replay_a:
            np.testing.assert_allclose(joint[f"seed{k}/{name}"], replay_a[name], atol=1e-5, err_msg=name)
    assert summary["final_success"]["mean"] == pytest.approx(
        np.mean([s["final_success"] for s in summary["per_seed"]])
    )


def test_bc_seeds_trained_together_equal_runs_of_each_seed(tmp_path: Path, dataset: Path) -> None:
    """BC with ``seeds=2``: one ``BCSeeds`` update for both; each seed folder holds what a BC run
    of that seed alone gives (the policy to float rounding, the same counters and evaluations)."""
    cfg = smoke(tmp_path / "together", dataset, learner="bc", online_steps=0, seed=3, seeds=2)
    team = awac.Team.build(cfg, *awac.open_dataset(cfg), torch.device("cpu"), [])
    assert isinstance(team.stacked, BCSeeds)
    together = awac.run(cfg, progress=False).parent
    summary = json.loads((together / "summary.json").read_text())
    assert summary["seeds"] == [3, 4]
    for seed, per_seed in zip((3, 4), summary["per_seed"], strict=True):
        alone_cfg = smoke(tmp_path / f"alone{seed}", dataset, learner="bc", online_steps=0, seed=seed)
        alone = awac.run(alone_cfg, progress=False).parent
        (a, _), (b, _) = agent_state(alone), agent_state(together / f"seed_{seed}")
        assert a["counters"] == b["counters"] and "generator" not in b["learner"]
        flat_a, flat_b = _tensors(a["learner"]), _tensors(b["learner"])
        assert flat_a.keys() == flat_b.keys()
        for k in flat_a:
            torch.testing.assert_close(flat_b[k], flat_a[k], atol=1e-5, rtol=1e-4, msg=f"seed {seed}: {k}")
        alone_summary = json.loads((alone / "summary.json").read_text())
        for key in ("offline_success", "final_success", "updates"):
            assert alone_summary[key] == per_seed[key], key


@pytest.mark.parametrize("explore", ["sample", "mean"])
def test_seeds_together_act_as_each_seed_alone(tmp_path: Path, dataset: Path, explore: str) -> None:
    """The batched exploration call gives each agent the actions its lone run would take."""
    cfg = smoke(tmp_path, dataset, seed=3, seeds=2, explore=explore)
    ds, name = awac.open_dataset(cfg)
    team = awac.Team.build(cfg, ds, name, torch.device("cpu"), [])
    rng = np.random.default_rng(0)
    current = [rng.normal(size=(4, 4)).astype(np.float32) for _ in range(2)]
    goal = [rng.normal(size=(4, 4)).astype(np.float32) for _ in range(2)]
    together = team.explore(current, goal)
    for k, seed in enumerate((3, 4)):
        alone = awac.AWACAgent(dataclasses.replace(cfg, seed=seed, seeds=1), ds, name, torch.device("cpu"))
        np.testing.assert_allclose(together[k], alone.act(current[k], goal[k], explore=True), atol=1e-5)
    assert not np.allclose(together[0], together[1])  # two learners, not one


def test_seeds_together_stopped_and_resumed_equal_uninterrupted(tmp_path: Path, dataset: Path) -> None:
    whole = awac.run(smoke(tmp_path / "whole", dataset, seeds=2), progress=False).parent
    run_dir = awac.run(
        smoke(tmp_path / "parts", dataset, seeds=2), progress=False, stop_at=("offline", 30)
    ).parent
    for seed in (0, 1):  # mid-run, each seed folder holds its seed's state as of the joint checkpoint
        own, _ = checkpoint.load(run_dir / f"seed_{seed}" / "checkpoints" / "agent", with_replay=False)
        assert own["counters"]["updates"] == 30 and "learner" in own
    awac.run(resume=run_dir, progress=False, stop_at=("online", 200))
    assert not (run_dir / "report.md").exists()
    awac.run(resume=run_dir, progress=False)
    (a, replay_a), (b, replay_b) = agent_state(whole), agent_state(run_dir)
    flat_a, flat_b = _tensors(a), _tensors(b)
    assert flat_a.keys() == flat_b.keys()
    for k in flat_a:
        assert torch.equal(flat_a[k], flat_b[k]), f"{k} differs after resume"
    assert a["agents"][1]["counters"] == b["agents"][1]["counters"]
    assert replay_a is not None and replay_b is not None and replay_a.keys() == replay_b.keys()
    for k in replay_a:
        np.testing.assert_array_equal(replay_a[k], replay_b[k])
    summary_a, summary_b = (json.loads((d / "summary.json").read_text()) for d in (whole, run_dir))
    assert summary_a == summary_b


def test_seeds_settings_are_checked(tmp_path: Path, dataset: Path) -> None:
    with pytest.raises(ConfigError, match="seeds=0"):
        smoke(tmp_path, dataset, seeds=0)
    single = awac.run(smoke(tmp_path / "one", dataset), progress=False, stop_at=("offline", 30)).parent
    state, _ = agent_state(single)
    cfg = smoke(tmp_path, dataset, seeds=2)
    ds, name = awac.open_dataset(cfg)
    team = awac.Team.build(cfg, ds, name, torch.device("cpu"), [])
    with pytest.raises(checkpoint.CheckpointError, match="trains 2 together"):
        team.load_state_dict(state)


def test_bc_baseline_runs_offline_only(tmp_path: Path, dataset: Path) -> None:
    report = awac.run(smoke(tmp_path, dataset, learner="bc", online_steps=0), progress=False)
    assert "# BC on Push" in report.read_text()
    state, replay = agent_state(report.parent)
    assert replay is None and state["counters"]["updates"] == 60 and "optimizer" in state["learner"]
    with pytest.raises(ConfigError, match="offline only"):
        smoke(tmp_path, dataset, learner="bc")


def test_offline_and_final_evaluations_share_their_goals(tmp_path: Path, dataset: Path) -> None:
    """BC's policy does not change after the offline phase: evaluated at the boundary and at the end
    on the same goals, every metric must agree (the online gain is a paired difference)."""
    report = awac.run(smoke(tmp_path, dataset, learner="bc", online_steps=0), progress=False)
    with open(report.parent / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    offline = {
        k.split("/", 1)[1]: float(v) for r in rows for k, v in r.items() if k.startswith("offline/") and v
    }
    final = {k.split("/", 1)[1]: float(v) for r in rows for k, v in r.items() if k.startswith("final/") and v}
    assert "final_object_distance" in final and final["final_object_distance"] > 0
    assert {k: offline[k] for k in final} == final
    earlier = [float(r["eval/final_object_distance"]) for r in rows if r.get("eval/final_object_distance")]
    assert earlier and final["final_object_distance"] not in earlier  # other rounds, other goals


def test_bad_settings_are_typed_errors(tmp_path: Path, dataset: Path) -> None:
    with pytest.raises(ConfigError, match="encoder"):
        smoke(tmp_path, dataset, observation="latent")
    with pytest.raises(ConfigError, match="prior"):
        smoke(tmp_path, dataset, goal_mix=awac.GoalMix(rollout=0.5, prior=0.5, future=0.0))
    with pytest.raises(ConfigError, match="collected on Push"):
        awac.open_dataset(smoke(tmp_path, dataset, env="PointReach"))
    with pytest.raises(DatasetError, match="meta.json is missing"):
        awac.run(smoke(tmp_path, tmp_path / "nothing"), progress=False)


def test_cli_awac_smoke_and_resume_errors(tmp_path: Path, dataset: Path) -> None:
    args = ["awac", "--preset", "smoke", "--dataset", str(dataset), "--runs-dir", str(tmp_path)]
    assert main([*args, "--online-steps", "0", "--device", "cpu", "--awac.beta", "1.0"]) == 0
    (run_dir,) = tmp_path.iterdir()
    config = awac.load_run_config(run_dir)
    assert config.online_steps == 0 and config.preset == "smoke" and config.awac.beta == 1.0
    assert config.awac.policy_hidden == (32, 32)  # from the preset
    assert main(["awac", "--preset", "nope"]) == 2
    assert main(["awac", "--resume", str(tmp_path / "missing")]) == 2
    assert main(["awac", "--resume", str(run_dir), "--seed", "3"]) == 2


def test_latent_observations_through_a_rig_encoder(tmp_path: Path) -> None:
    """A RIG run folder (config.json and checkpoints/vae.pt: an untrained VAE and its prior) encodes
    the dataset's images and goal images; prior goals come from its prior."""
    from affordkit.generative import BetaVAE, standard_normal_prior
    from affordkit.logging import RunLogger
    from affordkit.methods import rig

    rig_cfg = rig.smoke_preset()
    rig_dir = tmp_path / "rig-run"
    with RunLogger(rig_dir, method="rig", env="Push", seed=0, config=rig_cfg, tensorboard=False):
        pass
    vae = BetaVAE(rig_cfg.vae)
    prior = standard_normal_prior(rig_cfg.vae.latent_dim)
    checkpoint.save(
        rig_dir / "checkpoints" / "vae.pt", {"vae": vae.state_dict(), "prior": prior.state_dict()}
    )
    data = tmp_path / "images"
    collect(CollectConfig(env="Push", out=data, episodes=8, num_envs=8, seed=1, noise=0.3))
    cfg = smoke(
        tmp_path / "runs", data, observation="latent", encoder=rig_dir, latent_epsilon=0.5,
        goal_mix=awac.GoalMix(rollout=0.25, prior=0.25, future=0.5), online_steps=100,
    )  # fmt: skip
    ds, name = awac.open_dataset(cfg)
    agent = awac.AWACAgent(cfg, ds, name, torch.device("cpu"))
    batch = agent.offline_batch()
    d = rig_cfg.vae.latent_dim
    assert batch.obs.shape == (32, 2 * d)
    images = ds.gather("image", np.arange(2))
    np.testing.assert_allclose(agent.encode(images), vae.encode_mean(images).float().numpy(), rtol=1e-5)
    report = awac.run(cfg, progress=False)
    assert "latent observations" in report.read_text()
    states_only = tmp_path / "states"
    collect(CollectConfig(env="Push", out=states_only, episodes=2, num_envs=2, seed=1, images=False))
    with pytest.raises(DatasetError, match="image"):  # a states-only dataset cannot feed latents
        awac.open_dataset(dataclasses.replace(cfg, dataset=states_only))
