"""TD3 contracts: config, shapes, determinism, exact resume, gradient routing, Polyak targets,
policy delay, and the critic target computed by hand."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
import torch
from torch import Tensor, nn

from affordkit.algos import TD3, Learner, TD3Config
from affordkit.algos.td3 import actor_loss, critic_loss, target_policy_noise, td_target
from affordkit.errors import ConfigError
from affordkit.types import Batch

OBS_DIM, ACTION_DIM = 6, 2
SMALL = TD3Config(hidden=(32, 32))  # RIG's algorithm at a test's size


def make_batch(seed: int, size: int = 16, device: str = "cpu") -> Batch:
    g = torch.Generator().manual_seed(seed)
    batch = Batch(
        obs=torch.randn(size, OBS_DIM, generator=g),
        action=torch.rand(size, ACTION_DIM, generator=g) * 2 - 1,
        reward=torch.randn(size, generator=g),
        next_obs=torch.randn(size, OBS_DIM, generator=g),
        done=(torch.rand(size, generator=g) < 0.2).float(),
    )
    return Batch(*(getattr(batch, f).to(device) for f in ("obs", "action", "reward", "next_obs", "done")))


def snapshot(module: nn.Module) -> list[Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def unchanged(module: nn.Module, before: list[Tensor]) -> bool:
    return all(torch.equal(p, b) for p, b in zip(module.parameters(), before, strict=True))


def all_changed(module: nn.Module, before: list[Tensor]) -> bool:
    return all(not torch.equal(p, b) for p, b in zip(module.parameters(), before, strict=True))


NETWORKS = ("actor", "critic", "actor_target", "critic_target")


# ---- config ---------------------------------------------------------------------------------------


def test_config_defaults_are_rigs() -> None:
    c = TD3Config()
    assert (c.hidden, c.actor_lr, c.critic_lr, c.batch_size) == ((400, 300), 1e-3, 1e-3, 128)
    assert (c.discount, c.tau, c.policy_delay) == (0.99, 1e-2, 2)
    assert (c.target_noise, c.target_noise_clip) == (0.2, 0.5)


@pytest.mark.parametrize(
    "bad",
    [
        dict(hidden=()),
        dict(hidden=(400, 0)),
        dict(hidden=(400.0,)),
        dict(actor_lr=0.0),
        dict(critic_lr=-1e-3),
        dict(batch_size=0),
        dict(discount=1.5),
        dict(tau=0.0),
        dict(tau=2.0),
        dict(policy_delay=0),
        dict(policy_delay=1.5),
        dict(target_noise=-0.1),
        dict(target_noise_clip=float("nan")),
    ],
)
def test_config_rejects_bad_values(bad) -> None:
    with pytest.raises(ConfigError):
        TD3Config(**bad)


def test_config_hidden_list_becomes_tuple() -> None:
    assert TD3Config(hidden=[64, 64]).hidden == (64, 64)  # type: ignore[arg-type]


def test_learner_rejects_bad_sizes_and_seeds() -> None:
    with pytest.raises(ConfigError):
        TD3(0, ACTION_DIM, SMALL, seed=0)
    with pytest.raises(ConfigError):
        TD3(OBS_DIM, ACTION_DIM, SMALL, seed=-1)


# ---- contract -------------------------------------------------------------------------------------


def test_satisfies_learner_protocol() -> None:
    assert isinstance(TD3(OBS_DIM, ACTION_DIM, SMALL, seed=0), Learner)


def test_default_networks_are_rigs() -> None:
    learner = TD3(OBS_DIM, ACTION_DIM, seed=0)
    widths = [m.out_features for m in learner.actor if isinstance(m, nn.Linear)]
    assert widths == [400, 300, ACTION_DIM] and isinstance(learner.actor[-1], nn.Tanh)
    assert [m.out_features for m in learner.critic.q1 if isinstance(m, nn.Linear)] == [400, 300, 1]


def test_act_is_deterministic_bounded_and_gradient_free() -> None:
    learner = TD3(OBS_DIM, ACTION_DIM, SMALL, seed=0)
    obs = torch.randn(64, OBS_DIM) * 1e4  # drives the tanh into saturation
    action = learner.act(obs)
    assert action.shape == (64, ACTION_DIM) and action.dtype == torch.float32
    assert not action.requires_grad
    assert action.min() >= -1 and action.max() <= 1
    assert torch.equal(action, learner.act(obs))
    with pytest.raises(ConfigError):
        learner.act(torch.randn(3, OBS_DIM + 1))


def test_update_metrics_are_detached_scalars() -> None:
    learner = TD3(OBS_DIM, ACTION_DIM, SMALL, seed=0)
    critic_keys = {"critic/loss", "critic/q1", "critic/q2", "critic/target"}
    first, second = learner.update(make_batch(0)), learner.update(make_batch(1))
    assert set(first) == critic_keys  # the actor waits for policy_delay = 2
    assert set(second) == critic_keys | {"actor/loss", "actor/action_abs"}
    for value in second.values():
        assert isinstance(value, Tensor) and value.shape == () and value.dtype == torch.float32
        assert not value.requires_grad and torch.isfinite(value)


@pytest.mark.parametrize("field, shape", [("reward", (16, 1)), ("done", (15,)), ("obs", (16, OBS_DIM + 1))])
def test_update_rejects_bad_batch_shapes(field: str, shape: tuple[int, ...]) -> None:
    batch = replace(make_batch(0), **{field: torch.zeros(shape)})
    with pytest.raises(ConfigError):
        TD3(OBS_DIM, ACTION_DIM, SMALL, seed=0).update(batch)


def test_same_seed_same_learner_and_global_rng_untouched() -> None:
    torch.manual_seed(123)
    rng_before = torch.get_rng_state()
    a = TD3(OBS_DIM, ACTION_DIM, SMALL, seed=7)
    b = TD3(OBS_DIM, ACTION_DIM, SMALL, seed=7)
    for i in range(5):
        ma, mb = a.update(make_batch(i)), b.update(make_batch(i))
        assert all(torch.equal(ma[k], mb[k]) for k in ma)
    assert torch.equal(torch.get_rng_state(), rng_before)  # weights and noise use their own RNGs
    for name in NETWORKS:
        assert unchanged(getattr(a, name), snapshot(getattr(b, name)))
    c = TD3(OBS_DIM, ACTION_DIM, SMALL, seed=8)
    assert not unchanged(c.actor, snapshot(TD3(OBS_DIM, ACTION_DIM, SMALL, seed=7).actor))


def test_restored_learner_continues_bit_identically() -> None:
    config = replace(SMALL, policy_delay=3)  # 4 updates before the save: mid-way between actor steps
    original = TD3(OBS_DIM, ACTION_DIM, config, seed=0)
    for i in range(4):
        original.update(make_batch(i))
    buffer = io.BytesIO()
    torch.save(original.state_dict(), buffer)  # as a checkpoint does; the state shares tensors
    buffer.seek(0)
    restored = TD3(OBS_DIM, ACTION_DIM, config, seed=99)  # other weights and noise until loaded
    restored.load_state_dict(torch.load(buffer, weights_only=False))
    assert restored.num_updates == 4
    for i in range(4, 11):
        mo, mr = original.update(make_batch(i)), restored.update(make_batch(i))
        assert mo.keys() == mr.keys() and all(torch.equal(mo[k], mr[k]) for k in mo)
    for name in NETWORKS:
        assert unchanged(getattr(restored, name), snapshot(getattr(original, name))), name
    for opt in ("actor_optimizer", "critic_optimizer"):
        so, sr = getattr(original, opt).state_dict()["state"], getattr(restored, opt).state_dict()["state"]
        assert so.keys() == sr.keys()
        assert all(torch.equal(so[k][f], sr[k][f]) for k in so for f in so[k])
    assert torch.equal(original.generator.get_state(), restored.generator.get_state())


def test_load_refuses_another_config_or_size() -> None:
    state = TD3(OBS_DIM, ACTION_DIM, SMALL, seed=0).state_dict()
    with pytest.raises(ConfigError):
        TD3(OBS_DIM, ACTION_DIM, replace(SMALL, tau=5e-3), seed=0).load_state_dict(state)
    with pytest.raises(ConfigError):
        TD3(OBS_DIM + 1, ACTION_DIM, SMALL, seed=0).load_state_dict(state)


# ---- gradient routing -----------------------------------------------------------------------------


def test_critic_step_moves_only_the_critic() -> None:
    learner = TD3(OBS_DIM, ACTION_DIM, SMALL, seed=0)
    before = {name: snapshot(getattr(learner, name)) for name in NETWORKS}
    learner.critic_step(make_batch(0))
    assert all_changed(learner.critic, before["critic"])
    for name in ("actor", "actor_target", "critic_target"):
        assert unchanged(getattr(learner, name), before[name]), name
    assert all(p.grad is None for p in learner.actor.parameters())


def test_actor_step_moves_only_the_actor() -> None:
    learner = TD3(OBS_DIM, ACTION_DIM, SMALL, seed=0)
    before = {name: snapshot(getattr(learner, name)) for name in NETWORKS}
    learner.actor_step(make_batch(0).obs)
    assert all_changed(learner.actor, before["actor"])
    for name in ("critic", "actor_target", "critic_target"):
        assert unchanged(getattr(learner, name), before[name]), name
    # the actor's gradient passed through the critic without accumulating there
    assert all(p.grad is None for p in learner.critic.parameters())


def test_gradient_flow_of_the_losses() -> None:
    learner = TD3(OBS_DIM, ACTION_DIM, SMALL, seed=0)
    batch = make_batch(0)
    noise = torch.zeros_like(batch.action)
    target = td_target(batch, learner.actor_target, learner.critic_target, noise, 0.99)
    assert not target.requires_grad
    loss, _ = critic_loss(learner.critic, batch, target)
    actor_params, critic_params = list(learner.actor.parameters()), list(learner.critic.parameters())
    actor_grads = torch.autograd.grad(loss, actor_params, retain_graph=True, allow_unused=True)
    assert all(g is None for g in actor_grads)
    assert all(g.abs().sum() > 0 for g in torch.autograd.grad(loss, critic_params))
    targets = [*learner.actor_target.parameters(), *learner.critic_target.parameters()]
    assert not any(p.requires_grad for p in targets)  # no loss can reach the targets at all

    loss, _ = actor_loss(learner.actor, learner.critic, batch.obs)
    grads = torch.autograd.grad(loss, list(learner.actor.parameters()), retain_graph=True)
    assert all(g.abs().sum() > 0 for g in grads), "the policy gradient must reach every actor layer"
    q2_grads = torch.autograd.grad(loss, list(learner.critic.q2.parameters()), allow_unused=True)
    assert all(g is None for g in q2_grads), "TD3's actor ascends Q_1 only"


def test_targets_move_only_by_polyak_averaging() -> None:
    learner = TD3(OBS_DIM, ACTION_DIM, SMALL, seed=0)
    tau = SMALL.tau
    targets = {"actor_target": "actor", "critic_target": "critic"}
    old = {name: snapshot(getattr(learner, name)) for name in targets}
    learner.update(make_batch(0))  # a critic-only update
    assert all(unchanged(getattr(learner, name), old[name]) for name in targets)
    learner.update(make_batch(1))  # the delayed update: actor step, then both targets
    for name, online in targets.items():
        target_params = getattr(learner, name).parameters()
        online_params = getattr(learner, online).parameters()
        for target, source, was in zip(target_params, online_params, old[name], strict=True):
            assert torch.equal(target, torch.lerp(was, source, tau))
            want = (1 - tau) * was.double() + tau * source.double()
            assert torch.allclose(target.double(), want, rtol=0, atol=1e-7)


def test_actor_and_targets_wait_policy_delay_critic_steps() -> None:
    learner = TD3(OBS_DIM, ACTION_DIM, replace(SMALL, policy_delay=3), seed=0)
    for i in range(1, 10):
        before = {name: snapshot(getattr(learner, name)) for name in NETWORKS}
        metrics = learner.update(make_batch(i))
        delayed = i % 3 == 0
        assert all_changed(learner.critic, before["critic"])
        for name in ("actor", "actor_target", "critic_target"):
            assert unchanged(getattr(learner, name), before[name]) != delayed, (i, name)
        assert ("actor/loss" in metrics) == delayed
    assert learner.num_updates == 9


# ---- the critic target, by hand -------------------------------------------------------------------


class SliceActor(nn.Module):
    """pi(s) = the first two entries of s."""

    def forward(self, obs: Tensor) -> Tensor:
        return obs[:, :2]


class LinearTwin(nn.Module):
    """Q_1(s, a) = a_0 + a_1 + 1, Q_2(s, a) = 2 a_0 - a_1."""

    def forward(self, obs: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        return action[:, 0] + action[:, 1] + 1, 2 * action[:, 0] - action[:, 1]


def test_critic_target_by_hand() -> None:
    next_obs = torch.tensor([[0.9, -0.2], [0.3, 0.0], [-0.8, 0.7]])
    batch = Batch(
        obs=torch.zeros(3, 2),
        action=torch.zeros(3, 2),
        reward=torch.tensor([1.0, 2.0, -1.0]),
        next_obs=next_obs,
        done=torch.tensor([0.0, 0.0, 1.0]),
    )
    noise = torch.tensor([[0.5, 0.5], [-0.5, 0.1], [0.3, -0.5]])
    # a' = clip(pi(s') + noise, -1, 1) = [[1.0, 0.3], [-0.2, 0.1], [-0.5, 0.2]]
    # Q_1 = [2.3, 0.9, 0.7], Q_2 = [1.7, -0.5, -1.2], min = [1.7, -0.5, -1.2]
    # y = r + 0.9 (1 - done) min = [1 + 1.53, 2 - 0.45, -1 (terminal: no bootstrap)]
    y = td_target(batch, SliceActor(), LinearTwin(), noise, discount=0.9)  # type: ignore[arg-type]
    assert torch.allclose(y, torch.tensor([2.53, 1.55, -1.0]), rtol=0, atol=1e-6)


def test_target_noise_is_clipped_gaussian() -> None:
    g = torch.Generator().manual_seed(0)
    noise = target_policy_noise((4096, 2), scale=0.2, clip=0.5, generator=g, device=torch.device("cpu"))
    raw = torch.randn((4096, 2), generator=torch.Generator().manual_seed(0)) * 0.2
    assert torch.equal(noise, raw.clamp(-0.5, 0.5))
    assert noise.abs().max() == 0.5  # 0.2 * 2.5 sigma: about 1% of draws hit the clip
    assert 0.18 < noise.std() < 0.2


def test_learner_regresses_onto_the_target_it_draws() -> None:
    learner = TD3(OBS_DIM, ACTION_DIM, SMALL, seed=0)
    batch = make_batch(0)
    g = torch.Generator().manual_seed(0)
    g.set_state(learner.generator.get_state())
    c = SMALL
    noise = target_policy_noise((16, ACTION_DIM), c.target_noise, c.target_noise_clip, g, learner.device)
    want = td_target(batch, learner.actor_target, learner.critic_target, noise, SMALL.discount)
    assert torch.equal(learner.update(batch)["critic/target"], want.mean())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_learner_matches_its_contract() -> None:
    learner = TD3(OBS_DIM, ACTION_DIM, SMALL, seed=0, device="cuda")
    for i in range(4):
        metrics = learner.update(make_batch(i, device="cuda"))
    assert all(v.device.type == "cuda" for v in metrics.values())
    action = learner.act(torch.randn(5, OBS_DIM, device="cuda"))
    assert action.device.type == "cuda" and action.abs().max() <= 1
    state = learner.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    restored = TD3(OBS_DIM, ACTION_DIM, SMALL, seed=1, device="cuda")
    restored.load_state_dict(torch.load(buffer, map_location="cpu", weights_only=False))
    batch = make_batch(9, device="cuda")
    mo, mr = learner.update(batch), restored.update(batch)
    assert all(torch.equal(mo[k], mr[k]) for k in mo)
