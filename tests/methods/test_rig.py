"""RIG end to end on the smoke preset: phases, run folder, exact resume, evaluation."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from affordkit import atomic
from affordkit.cli import main
from affordkit.errors import ConfigError
from affordkit.generative import FitConfig
from affordkit.loops import checkpoint
from affordkit.methods import rig
from affordkit.networks.fast import linear_description
from affordkit.relabel import relabel_fields


def smoke(tmp_path: Path, **overrides) -> rig.RIGConfig:
    return dataclasses.replace(rig.smoke_preset(), runs_dir=tmp_path, device="cpu", **overrides)


def baseline_agent(cfg: rig.RIGConfig) -> rig.RIGAgent:
    """A fresh agent of a baseline (no VAE) with a small replay and a small goal bank."""
    return rig.RIGAgent(
        dataclasses.replace(cfg, replay_capacity=400), None, rig.goal_state_bank(cfg, 64), None,
        torch.device("cpu"),
    )  # fmt: skip


def rl_state(run_dir: Path) -> dict:
    state, _ = checkpoint.load(run_dir / "checkpoints" / "rl", with_replay=False)
    return state


def test_smoke_run_writes_a_complete_run_folder(tmp_path: Path) -> None:
    report = rig.run(smoke(tmp_path), progress=False)
    run_dir = report.parent
    assert report.exists() and "# RIG on Push" in report.read_text()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["linear_layer"] == linear_description(True)  # the smoke preset: fast, CPU
    assert summary["linear_layer"] in report.read_text()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["config"]["preset"] == "smoke" and config["seed"] == 0
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert any(r.get("eval/success_rate") for r in rows)
    assert any(v for r in rows for k, v in r.items() if k.startswith("td3/critic"))
    assert any(r.get("final/success_rate") for r in rows)
    for name in ("final_rollouts.gif", "eval_curves.png", "imagined_goals.png"):
        assert (run_dir / "media" / name).exists(), name
    state = rl_state(run_dir)
    assert state["counters"]["env_steps"] == 800 and state["counters"]["finetunes"] == 2
    assert state["counters"]["updates"] == pytest.approx((800 - 200) * 0.25, abs=8)


ARM_MISSING = [m for m in ("mujoco", "metaworld") if importlib.util.find_spec(m) is None]


@pytest.mark.skipif(bool(ARM_MISSING), reason=f"the sim extra is not installed (no {ARM_MISSING})")
def test_smoke_run_on_the_sawyer_arm_writes_its_report(tmp_path: Path) -> None:
    cfg = smoke(
        tmp_path, env="sawyer-push", vae_images=96, num_envs=2, env_steps=300, warmup_steps=150,
        replay_capacity=600, finetune_every=150, eval_every=300, eval_episodes=2, checkpoint_every=300,
        log_every=150,
    )  # fmt: skip
    report = rig.run(cfg, progress=False)
    assert "# RIG on sawyer-push" in report.read_text()
    with open(report.parent / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert any(r.get("final/final_object_distance") for r in rows)
    assert (report.parent / "media" / "final_rollouts.gif").exists()
    assert rl_state(report.parent)["counters"]["env_steps"] == 300


def test_stopped_and_resumed_equals_uninterrupted(tmp_path: Path) -> None:
    whole = rig.run(smoke(tmp_path / "whole"), progress=False).parent
    stopped = rig.run(smoke(tmp_path / "parts"), progress=False, stop_at=400).parent
    assert rl_state(stopped)["counters"]["env_steps"] < 800
    assert not (stopped / "report.md").exists()
    resumed = rig.run(resume=stopped, progress=False).parent
    assert resumed == stopped
    a, b = rl_state(whole), rl_state(resumed)
    assert a["counters"] == b["counters"]
    for part in ("td3", "vae"):
        flat_a, flat_b = _tensors(a[part]), _tensors(b[part])
        assert flat_a.keys() == flat_b.keys()
        for k in flat_a:
            assert torch.equal(flat_a[k], flat_b[k]), f"{part}.{k} differs after resume"
    _, replay_a = checkpoint.load(whole / "checkpoints" / "rl")
    _, replay_b = checkpoint.load(resumed / "checkpoints" / "rl")
    assert replay_a is not None and replay_b is not None
    for k in replay_a:
        np.testing.assert_array_equal(replay_a[k], replay_b[k])


def _tensors(state, prefix: str = "") -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    if isinstance(state, torch.Tensor):
        out[prefix] = state
    elif isinstance(state, dict):
        for k, v in state.items():
            out.update(_tensors(v, f"{prefix}.{k}"))
    elif isinstance(state, list | tuple):
        for i, v in enumerate(state):
            out.update(_tensors(v, f"{prefix}.{i}"))
    return out


def test_cli_rig_smoke_and_eval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["rig", "--preset", "smoke", "--runs-dir", str(tmp_path), "--env-steps", "400", "--device", "cpu"]
    code = main(args)
    assert code == 0
    (run_dir,) = tmp_path.iterdir()
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert config["env_steps"] == 400 and config["preset"] == "smoke"
    assert main(["eval", str(run_dir), "--episodes", "4"]) == 0
    out = capsys.readouterr().out
    assert "success_rate" in out and (run_dir / "eval-seed123456.json").exists()


def test_cli_rig_errors() -> None:
    assert main(["rig", "--preset", "nope"]) == 2
    with pytest.raises(SystemExit):
        main(["rig", "--preset", "smoke", "--bogus", "1"])
    assert main(["rig", "--resume", "/nonexistent/run"]) == 2


def test_image_size_is_one_setting() -> None:
    assert rig.RIGConfig(image_size=84).vae.image_size == 84
    assert rig.config_from_dict(dataclasses.asdict(rig.RIGConfig(image_size=84))).vae.image_size == 84


def test_state_oracle_runs_resumes_and_evaluates_without_a_vae(tmp_path: Path) -> None:
    cfg = smoke(tmp_path, observation="state")
    assert cfg.finetune_every == 0  # nothing to fine-tune
    stopped = rig.run(cfg, progress=False, stop_at=400).parent
    assert stopped.name.startswith("her-state-Push")
    report = rig.run(resume=stopped, progress=False)
    assert "oracle" in report.read_text()
    state = rl_state(stopped)
    assert state["vae"] is None and state["td3"]["sizes"] == (8, 2)  # [state, goal state]
    assert not (stopped / "checkpoints" / "vae.pt").exists()
    _, replay = checkpoint.load(stopped / "checkpoints" / "rl")
    assert replay is not None and "field/state" in replay and "field/image" not in replay  # no images
    metrics = rig.evaluate_run(stopped, episodes=4, seed=5)
    assert metrics["env_steps"] == 800 and 0 <= metrics["success_rate"] <= 1


def test_state_oracle_prior_is_the_envs_goal_distribution() -> None:
    cfg = rig.RIGConfig(observation="state", env="Push")
    bank = rig.goal_state_bank(cfg, n=2000)
    points = bank.points.numpy()
    assert points.shape == (2000, 4)
    assert np.abs(points[:, :2]).max() <= 0.8 + 1e-6 and np.abs(points[:, 2:]).max() <= 0.6 + 1e-6
    assert points[:, 0].std() > 0.3  # spread over the goal region, not a point


def test_pixel_baseline_runs_and_its_reward_is_the_true_state_distance(tmp_path: Path) -> None:
    cfg = smoke(tmp_path, observation="pixels", env_steps=400, eval_every=400, checkpoint_every=400)
    report = rig.run(cfg, progress=False)
    assert report.parent.name.startswith("her-pixels-Push") and "raw pixels" in report.read_text()
    agent = baseline_agent(cfg)
    rig.run_episode_batch(agent)
    batch = agent.sample_batch()
    size = 48 * 48 * 3
    assert batch.obs.dtype == torch.uint8 and batch.obs.shape == (32, 2 * size)
    assert torch.equal(batch.obs[:, size:], batch.next_obs[:, size:])  # one goal per transition
    # goal images and goal states travel together from every source (rollout, prior, future)
    pos = agent.replay.sample_positions(32, np.random.default_rng(0))
    agent.rng, _ = np.random.default_rng(1), agent.prior_generator.manual_seed(7)
    batch = agent._pixel_batch(pos)
    agent.rng, _ = np.random.default_rng(1), agent.prior_generator.manual_seed(7)
    goals, source = relabel_fields(
        agent.replay, pos, cfg.goal_mix, agent.rng,
        pairs={"goal": ("goal_latent", "latent"), "goal_state": ("goal_state", "state")},
        prior_goals=agent.prior_goal_images,
    )  # fmt: skip
    assert set(source.tolist()) == {0, 1, 2}
    assert np.array_equal(batch.obs[:, size:].numpy(), goals["goal"])
    renderer = agent.goal_renderer
    for i in range(0, 32, renderer.num_envs):
        states = goals["goal_state"][i : i + renderer.num_envs]
        images = renderer.render_goal(rig._pad(states, renderer.num_envs))[: len(states)]
        assert np.array_equal(images.reshape(len(states), -1), goals["goal"][i : i + len(states)])
    # the reward is minus the true-state distance of the next state to the goal's state
    next_state = agent.replay.fields["state"][agent.replay.slots(pos + 1)]
    want = -np.linalg.norm(next_state - goals["goal_state"], axis=1)
    assert np.allclose(batch.reward.numpy(), want, atol=1e-5)


@pytest.mark.parametrize("kind", ["fitted", "standard", "data"])
def test_priors_of_the_latent_space(kind: str) -> None:
    from affordkit.generative import BetaVAE, EmpiricalPrior, GaussianPrior

    cfg = rig.RIGConfig(prior=kind, vae=rig.VAEConfig(latent_dim=4))
    torch.manual_seed(0)
    vae = BetaVAE(cfg.vae)
    images = np.random.default_rng(0).integers(0, 256, (50, 48, 48, 3), dtype=np.uint8)
    prior = rig.make_prior(cfg, vae, images)
    encodings = vae.encode_mean(images)
    if kind == "data":  # goals are the training images' own codes
        assert isinstance(prior, EmpiricalPrior) and torch.allclose(prior.points, encodings)
    elif kind == "fitted":
        assert isinstance(prior, GaussianPrior) and torch.allclose(prior.mean, encodings.mean(0), atol=1e-6)
    else:
        assert torch.equal(prior.mean, torch.zeros(4)) and torch.equal(prior.std, torch.ones(4))
    with pytest.raises(rig.ConfigError, match="prior"):
        rig.RIGConfig(prior="nope")  # type: ignore[arg-type]


# ---- CC-RIG: the same pipeline with the context-conditioned VAE ------------------------------------


def ccrig_smoke(tmp_path: Path, **overrides) -> rig.RIGConfig:
    cfg = dataclasses.replace(
        rig.ccrig_smoke_preset(), runs_dir=tmp_path, device="cpu", vae_images=96,
        vae_fit=FitConfig(num_steps=8, batch_size=32, eval_interval=0, media_interval=0, log_interval=4),
    )  # fmt: skip
    return dataclasses.replace(cfg, **overrides)


def test_ccrig_smoke_run_writes_its_run_folder(tmp_path: Path) -> None:
    report = rig.run(ccrig_smoke(tmp_path), progress=False)
    assert report.parent.name.startswith("ccrig-ColorPush") and "# CC-RIG on ColorPush" in report.read_text()
    for name in ("final_rollouts.gif", "imagined_goals.png", "vae_reconstruction.png"):
        assert (report.parent / "media" / name).exists(), name
    with np.load(report.parent / "checkpoints" / "vae_data.npz") as f:  # (s_t, s_0) pairs of one episode
        assert f["images"].shape == f["contexts"].shape == (96, 48, 48, 3)
        assert np.array_equal(f["contexts"][0], f["contexts"][5])  # 6 images per reset share one s_0
    state = rl_state(report.parent)
    assert state["counters"]["env_steps"] == 800 and state["counters"]["finetunes"] == 0


def test_ccrig_policy_sees_its_episode_context_and_imagines_goals_in_it(tmp_path: Path) -> None:
    from affordkit.generative import CCVAE

    cfg = ccrig_smoke(tmp_path, replay_capacity=400)
    torch.manual_seed(0)
    model = CCVAE(cfg.ccvae).eval()
    prior = rig.standard_normal_prior(cfg.ccvae.latent_dim)
    agent = rig.RIGAgent(cfg, model, prior, None, torch.device("cpu"))
    batch = rig.run_episode_batch(agent)
    d, c = cfg.ccvae.latent_dim, cfg.ccvae.context_dim
    latent, goal = batch.fields["latent"], batch.fields["goal_latent"]  # (N, T + 1, d + c)
    assert latent.shape[-1] == goal.shape[-1] == d + c
    # z_c is the code of the episode's first image, the same at every step and in the goal
    contexts = agent.contexts
    assert contexts is not None
    z_c = model.context(contexts).numpy()
    assert np.allclose(latent[:, :, d:], z_c[:, None], atol=1e-6)
    assert np.allclose(goal[:, :, d:], z_c[:, None], atol=1e-6)
    first = batch.fields["latent"][:, 0]
    assert np.allclose(first[:, :d], model.encode_mean(contexts, contexts).numpy(), atol=1e-5)
    # relabeled prior goals carry the z_c of the transition's own episode
    rig.run_episode_batch(agent)  # a second set of scenes
    pos = agent.replay.sample_positions(64, np.random.default_rng(0))
    goals = agent.prior_goals(pos)
    own = agent.replay.fields["latent"][agent.replay.slots(pos)][:, d:]
    assert goals.shape == (64, d + c) and np.array_equal(goals[:, d:], own)
    assert len(np.unique(own.round(5), axis=0)) > 1  # several scenes in the sample


def test_ccrig_data_prior_draws_the_training_pairs_state_codes(tmp_path: Path) -> None:
    from affordkit.generative import CCVAE

    cfg = dataclasses.replace(ccrig_smoke(tmp_path), prior="data")
    torch.manual_seed(0)
    model = CCVAE(cfg.ccvae).eval()
    data = rig.collect_vae_data(dataclasses.replace(cfg, vae_images=36))
    assert isinstance(data, dict)
    prior = rig.make_prior(cfg, model, data)
    codes = model.encode_mean(data["image"], data["context"]).numpy()
    draws = prior.sample(50, torch.Generator().manual_seed(0)).numpy()
    assert draws.shape == (50, cfg.ccvae.latent_dim)  # z_t only; z_c is joined per episode
    # every draw is one of the training pairs' z_t
    assert np.abs(draws[:, None] - codes[None]).max(-1).min(1).max() < 1e-6


@pytest.mark.parametrize(
    "overrides, match",
    [
        (dict(prior="fitted"), "prior standard"),
        (dict(finetune_every=400), "frozen"),
        (dict(observation="state"), "observation='latent'"),
        (dict(latent_model="nope"), "latent_model"),
    ],
)
def test_ccrig_config_errors(overrides: dict, match: str) -> None:
    with pytest.raises(rig.ConfigError, match=match):
        dataclasses.replace(rig.ccrig_preset(), **overrides)


def test_ccrig_command_and_its_presets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ccrig", "--preset", "nope"]) == 2
    assert "known presets: ['default', 'quick', 'smoke']" in capsys.readouterr().err
    assert rig.preset("ccrig-quick").latent_model == "ccvae"
    assert rig.preset("ccrig").goal_mix == rig.GoalMix(rollout=0.2, prior=0.5, future=0.3)


@pytest.mark.parametrize("norm", ["l2", "l1"])
@pytest.mark.parametrize("epsilon", [0.0, 0.5])
def test_reward_settings_set_the_relabeled_reward(tmp_path: Path, norm: str, epsilon: float) -> None:
    """The state oracle's batch: states are its observations, so the reward can be checked against
    the goal half of each input, in the chosen norm, dense or sparse."""
    cfg = smoke(tmp_path, observation="state", reward_norm=norm, reward_epsilon=epsilon)
    agent = baseline_agent(cfg)
    rig.run_episode_batch(agent)
    batch = agent.sample_batch()
    diff = batch.next_obs[:, :4] - batch.next_obs[:, 4:]
    distance, other = diff.norm(dim=1), diff.abs().sum(dim=1)
    if norm == "l1":
        distance, other = other, distance
    if epsilon == 0:
        assert torch.allclose(batch.reward, -distance, atol=1e-5)
        assert not torch.allclose(batch.reward, -other)
    else:
        assert torch.equal(batch.reward, (distance <= epsilon).float() - 1.0)
        assert 0 < (batch.reward == 0).sum() < len(batch.reward)  # future goals reach, others not


def test_reward_norm_is_validated() -> None:
    with pytest.raises(rig.ConfigError, match="reward_norm"):
        rig.RIGConfig(reward_norm="linf")  # type: ignore[arg-type]
    with pytest.raises(rig.ConfigError, match="reward_epsilon"):
        rig.RIGConfig(reward_epsilon=-0.1)


def test_ccrig_swapped_appearance_data_keep_positions_and_change_objects(tmp_path: Path) -> None:
    from affordkit.generative.cc_vae import STATE_INPUT

    cfg = dataclasses.replace(ccrig_smoke(tmp_path), ccvae_swap_appearance=True, vae_images=60)
    data = rig.collect_vae_data(cfg)
    assert isinstance(data, dict) and data[STATE_INPUT].shape == data["image"].shape == (60, 48, 48, 3)
    assert not np.array_equal(data[STATE_INPUT], data["image"])  # other tables' objects
    # the effector (drawn the same on every table) stays where it was: the dark pixels agree
    a, b = data[STATE_INPUT].max(axis=-1) < 60, data["image"].max(axis=-1) < 60
    assert b.sum() > 0 and (a & b).sum() / (a | b).sum() > 0.9  # intersection over union
    # a run keeps them with its VAE data and trains on them
    report = rig.run(cfg, progress=False)
    with np.load(report.parent / "checkpoints" / "vae_data.npz") as f:
        assert np.array_equal(f["state_inputs"], data[STATE_INPUT])
    with pytest.raises(rig.ConfigError, match="latent_model='ccvae'"):
        dataclasses.replace(smoke(tmp_path), ccvae_swap_appearance=True)


def test_a_run_taking_another_runs_latent_space_equals_one_training_its_own(tmp_path: Path) -> None:
    own = rig.run(smoke(tmp_path / "own"), progress=False).parent
    taken = rig.run(smoke(tmp_path / "taken", latent_from=own), progress=False).parent
    for name in ("vae_data.npz", "vae.pt/state.pt"):
        assert (taken / "checkpoints" / name).read_bytes() == (own / "checkpoints" / name).read_bytes()
    a, b = rl_state(own), rl_state(taken)
    assert a["counters"] == b["counters"]
    for part in ("td3", "vae"):  # the VAE is fine-tuned during RL in the smoke preset
        flat_a, flat_b = _tensors(a[part]), _tensors(b[part])
        assert flat_a.keys() == flat_b.keys()
        for k in flat_a:
            assert torch.equal(flat_a[k], flat_b[k]), f"{part}.{k} differs from the run that trained its VAE"
    assert json.loads((own / "summary.json").read_text()) == json.loads((taken / "summary.json").read_text())
    with open(taken / "metrics.csv") as f:
        logged = {k for r in csv.DictReader(f) for k, v in r.items() if v}
    assert not any(k.startswith("vae/") for k in logged)  # no VAE pre-training in this run
    assert (taken / "media" / "imagined_goals.png").exists()
    # resuming the taker does not take again (its artifacts are there) and finishes as it was
    assert rig.run(resume=taken, progress=False).parent == taken


def test_a_run_of_several_seeds_lends_each_seed_its_own_latent_space(tmp_path: Path) -> None:
    cfg = smoke(tmp_path / "both", seeds=2, env_steps=400, finetune_every=0)
    both = rig.run(cfg, progress=False).parent
    one = rig.run(
        smoke(tmp_path / "one", seed=1, env_steps=400, finetune_every=0, latent_from=both), progress=False
    )
    data = "checkpoints/vae.pt/state.pt"
    assert (one.parent / data).read_bytes() == (both / "seed_1" / data).read_bytes()
    assert (one.parent / data).read_bytes() != (both / "seed_0" / data).read_bytes()


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"seed": 3}, r"holds no run of seed 3 \(its seeds: \[0\]\)"),
        ({"vae_images": 64}, r"other settings \(vae_images: 64 here, \d+ there\)"),
        ({"vae": dataclasses.replace(rig.smoke_preset().vae, latent_dim=3)}, r"vae\.latent_dim: 3 here"),
        ({"prior": "standard"}, r"prior: 'standard' here, '\w+' there"),
    ],
)
def test_taking_a_latent_space_trained_otherwise_is_refused(
    tmp_path: Path, overrides: dict, match: str
) -> None:
    source = tmp_path / "source"
    (source / "checkpoints").mkdir(parents=True)
    atomic.write_json(source / "config.json", {"config": dataclasses.asdict(smoke(tmp_path))})
    (source / "checkpoints" / "vae_data.npz").write_bytes(b"")
    (source / "checkpoints" / "vae.pt").mkdir()
    with pytest.raises(ConfigError, match=match):
        rig.latent_source(smoke(tmp_path, latent_from=source, **overrides))
    rig.latent_source(smoke(tmp_path, latent_from=source))  # the same settings are taken
    (source / "checkpoints" / "vae.pt").rmdir()
    with pytest.raises(ConfigError, match=r"has not finished its VAE phase \(no checkpoints/vae\.pt\)"):
        rig.latent_source(smoke(tmp_path, latent_from=source))
    with pytest.raises(ConfigError, match="is not a run folder"):
        rig.latent_source(smoke(tmp_path, latent_from=tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="only RIG and CC-RIG"):
        smoke(tmp_path, latent_from=source, observation="state")
