"""AWAC and BC contracts: config, shapes, determinism, exact resume, gradient routing, the
advantage weights and the critic target computed by hand, the Gaussian policy's likelihood."""

from __future__ import annotations

import io
import math
from dataclasses import replace

import pytest
import torch

from affordkit.algos import AWAC, BC, AWACConfig, BCConfig, Learner
from affordkit.algos.awac import actor_loss, advantage_weights, advantages, td_target
from affordkit.errors import ConfigError
from affordkit.networks import GaussianPolicy
from affordkit.types import Batch
from tests.algos.test_td3 import all_changed, snapshot, unchanged

OBS_DIM, ACTION_DIM = 6, 2
SMALL = AWACConfig(policy_hidden=(32, 32), q_hidden=(32, 32))
SMALL_BC = BCConfig(policy_hidden=(32, 32))


def make_batch(seed: int, size: int = 16) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(
        obs=torch.randn(size, OBS_DIM, generator=g),
        action=torch.rand(size, ACTION_DIM, generator=g) * 2 - 1,
        reward=-(torch.rand(size, generator=g) < 0.7).float(),
        next_obs=torch.randn(size, OBS_DIM, generator=g),
        done=(torch.rand(size, generator=g) < 0.2).float(),
    )


# ---- config ---------------------------------------------------------------------------------------


def test_config_defaults_are_the_papers() -> None:
    c = AWACConfig()
    assert (c.policy_hidden, c.q_hidden, c.actor_lr, c.critic_lr, c.batch_size) == (
        (256,) * 4, (256, 256), 3e-4, 3e-4, 1024,
    )  # fmt: skip
    assert (c.discount, c.tau, c.beta, c.policy_weight_decay) == (0.99, 5e-3, 0.3, 1e-4)
    assert (c.weighting, c.value_action, c.min_log_std, c.max_log_std) == ("batch_softmax", "mean", -6.0, 0.0)


@pytest.mark.parametrize(
    "bad",
    [
        dict(policy_hidden=()),
        dict(q_hidden=(0,)),
        dict(actor_lr=0.0),
        dict(beta=0.0),
        dict(batch_size=0),
        dict(discount=1.5),
        dict(tau=0.0),
        dict(weighting="softmax"),
        dict(value_action="max"),
        dict(advantage_clip=0.0),
        dict(policy_weight_decay=-1.0),
        dict(min_log_std=0.0, max_log_std=-1.0),
    ],
)
def test_config_rejects_bad_values(bad) -> None:
    with pytest.raises(ConfigError):
        AWACConfig(**bad)


@pytest.mark.parametrize("bad", [dict(lr=0.0), dict(loss="l1"), dict(policy_hidden=[]), dict(batch_size=-1)])
def test_bc_config_rejects_bad_values(bad) -> None:
    with pytest.raises(ConfigError):
        BCConfig(**bad)


def test_config_hidden_list_becomes_tuple() -> None:
    assert AWACConfig(policy_hidden=[8, 8], q_hidden=[4]).policy_hidden == (8, 8)  # type: ignore[arg-type]


# ---- contract (both learners) ---------------------------------------------------------------------


def learners() -> list[AWAC | BC]:
    return [AWAC(OBS_DIM, ACTION_DIM, SMALL, seed=0), BC(OBS_DIM, ACTION_DIM, SMALL_BC, seed=0)]


@pytest.mark.parametrize("index", [0, 1])
def test_contract(index: int) -> None:
    learner = learners()[index]
    assert isinstance(learner, Learner)
    obs = torch.randn(5, OBS_DIM) * 100
    action = learner.act(obs)
    assert action.shape == (5, ACTION_DIM) and not action.requires_grad
    assert torch.all(action.abs() <= 1) and torch.equal(action, learner.act(obs))
    metrics = learner.update(make_batch(1))
    assert metrics and all(v.dim() == 0 and not v.requires_grad for v in metrics.values())
    with pytest.raises(ConfigError):
        learner.act(torch.zeros(3, OBS_DIM + 1))


@pytest.mark.parametrize("index", [0, 1])
@pytest.mark.parametrize("field, shape", [("reward", (16, 1)), ("done", (15,)), ("obs", (16, 5))])
def test_update_rejects_bad_batch_shapes(index: int, field: str, shape: tuple[int, ...]) -> None:
    batch = replace(make_batch(0), **{field: torch.zeros(shape)})
    with pytest.raises(ConfigError, match=field):
        learners()[index].update(batch)


@pytest.mark.parametrize("index", [0, 1])
def test_same_seed_same_learner_and_global_rng_untouched(index: int) -> None:
    torch.manual_seed(7)
    before = torch.get_rng_state()
    a, b = learners()[index], learners()[index]
    assert torch.equal(torch.get_rng_state(), before)
    for _ in range(3):
        ma, mb = a.update(make_batch(2)), b.update(make_batch(2))
        assert all(torch.equal(ma[k], mb[k]) for k in ma)
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("index", [0, 1])
def test_restored_learner_continues_bit_identically(index: int) -> None:
    a = learners()[index]
    for i in range(3):
        a.update(make_batch(i))
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    b = learners()[index]
    b.load_state_dict(torch.load(io.BytesIO(buf.getvalue()), weights_only=False))
    for i in range(3, 6):
        ma, mb = a.update(make_batch(i)), b.update(make_batch(i))
        assert all(torch.equal(ma[k], mb[k]) for k in ma), i
    assert all(torch.equal(p, q) for p, q in zip(a.policy.parameters(), b.policy.parameters(), strict=True))


def test_load_refuses_another_config_or_size() -> None:
    state = AWAC(OBS_DIM, ACTION_DIM, SMALL, seed=0).state_dict()
    with pytest.raises(ConfigError):
        AWAC(OBS_DIM, ACTION_DIM, replace(SMALL, beta=1.0), seed=0).load_state_dict(state)
    with pytest.raises(ConfigError):
        AWAC(OBS_DIM + 1, ACTION_DIM, SMALL, seed=0).load_state_dict(state)
    with pytest.raises(ConfigError):
        BC(OBS_DIM, ACTION_DIM, replace(SMALL_BC, loss="mse"), seed=0).load_state_dict(
            BC(OBS_DIM, ACTION_DIM, SMALL_BC, seed=0).state_dict()
        )


# ---- gradient routing -----------------------------------------------------------------------------


def test_critic_step_moves_only_the_critic() -> None:
    awac = AWAC(OBS_DIM, ACTION_DIM, SMALL, seed=0)
    policy, critic, target = snapshot(awac.policy), snapshot(awac.critic), snapshot(awac.critic_target)
    awac.critic_step(make_batch(0))
    assert all_changed(awac.critic, critic)
    assert unchanged(awac.policy, policy) and unchanged(awac.critic_target, target)
    assert all(p.grad is None for p in awac.policy.parameters())


def test_actor_step_moves_only_the_policy() -> None:
    awac = AWAC(OBS_DIM, ACTION_DIM, SMALL, seed=0)
    batch = make_batch(0)
    policy, critic, target = snapshot(awac.policy), snapshot(awac.critic), snapshot(awac.critic_target)
    weights = advantage_weights(
        advantages(awac.policy, awac.critic, batch.obs, batch.action, "mean", awac.generator),
        0.3,
        "batch_softmax",
    )
    awac.actor_step(batch.obs, batch.action, weights)
    assert all_changed(awac.policy, policy)
    assert unchanged(awac.critic, critic) and unchanged(awac.critic_target, target)
    assert all(p.grad is None for p in awac.critic.parameters())


def test_advantages_carry_no_gradient_and_the_actor_loss_reaches_only_the_policy() -> None:
    awac = AWAC(OBS_DIM, ACTION_DIM, SMALL, seed=0)
    batch = make_batch(3)
    adv = advantages(awac.policy, awac.critic, batch.obs, batch.action, "sample", awac.generator)
    assert not adv.requires_grad
    loss, _ = actor_loss(awac.policy, batch.obs, batch.action, advantage_weights(adv, 0.3, "batch_softmax"))
    grads = torch.autograd.grad(loss, list(awac.policy.parameters()))
    assert all(g.abs().sum() > 0 for g in grads)  # the mean network and the log-std both learn
    assert all(not p.requires_grad for p in awac.critic_target.parameters())


def test_targets_move_only_by_polyak_averaging() -> None:
    awac = AWAC(OBS_DIM, ACTION_DIM, replace(SMALL, tau=0.25), seed=0)
    before = snapshot(awac.critic_target)
    awac.update(make_batch(0))
    for t, b, c in zip(awac.critic_target.parameters(), before, awac.critic.parameters(), strict=True):
        torch.testing.assert_close(t, 0.75 * b + 0.25 * c)


def test_policy_weight_decay_reaches_the_policy_optimizer_only() -> None:
    awac = AWAC(OBS_DIM, ACTION_DIM, SMALL, seed=0)
    assert awac.policy_optimizer.param_groups[0]["weight_decay"] == 1e-4
    assert awac.critic_optimizer.param_groups[0]["weight_decay"] == 0


# ---- numbers by hand ------------------------------------------------------------------------------


def test_advantage_weights_by_hand() -> None:
    adv = torch.tensor([0.3, -0.6, 0.0, 1.2])
    beta = 0.3
    e = [math.exp(a / beta) for a in (0.3, -0.6, 0.0, 1.2)]
    softmax = [4 * x / sum(e) for x in e]
    torch.testing.assert_close(advantage_weights(adv, beta, "batch_softmax"), torch.tensor(softmax))
    assert float(advantage_weights(adv, beta, "batch_softmax").sum()) == pytest.approx(4.0)
    # exp(1.2 / 0.3) = 54.6 is clipped at 20
    torch.testing.assert_close(
        advantage_weights(adv, beta, "clipped_exp", exp_clip=20.0), torch.tensor([e[0], e[1], e[2], 20.0])
    )
    # advantage clip at 0.5 first: 1.2 -> 0.5
    e_clip = [math.exp(a / beta) for a in (0.3, -0.6, 0.0, 0.5)]
    torch.testing.assert_close(
        advantage_weights(adv, beta, "batch_softmax", clip=0.5),
        torch.tensor([4 * x / sum(e_clip) for x in e_clip]),
    )


def test_advantages_by_hand_on_a_fixed_batch() -> None:
    awac = AWAC(OBS_DIM, ACTION_DIM, SMALL, seed=0)
    batch = make_batch(4)
    adv = advantages(awac.policy, awac.critic, batch.obs, batch.action, "mean", awac.generator)
    with torch.no_grad():
        q1, q2 = awac.critic(batch.obs, batch.action)
        mean = torch.tanh(awac.policy.mean_net[:-1](batch.obs))
        v1, v2 = awac.critic(batch.obs, mean)
    torch.testing.assert_close(adv, torch.minimum(q1, q2) - torch.minimum(v1, v2))


def test_actor_loss_by_hand() -> None:
    policy = GaussianPolicy(OBS_DIM, ACTION_DIM, (8,))
    batch = make_batch(5, size=4)
    weights = torch.tensor([0.5, 1.5, 1.0, 1.0])
    loss, _ = actor_loss(policy, batch.obs, batch.action, weights)
    with torch.no_grad():
        mean, std = policy.mean(batch.obs), math.exp(-3.0)  # sigmoid(0) puts log-std mid-range
        log_prob = torch.distributions.Normal(mean, std).log_prob(batch.action).sum(-1)
    torch.testing.assert_close(loss, -(weights * log_prob).mean())


@pytest.mark.parametrize("ignore_done, target_max", [(False, None), (True, 0.0)])
def test_critic_target_by_hand(ignore_done: bool, target_max: float | None) -> None:
    config = replace(SMALL, ignore_done=ignore_done, target_max=target_max, discount=0.9)
    awac = AWAC(OBS_DIM, ACTION_DIM, config, seed=0)
    with torch.no_grad():  # a critic target that predicts positive values, so the clamp matters
        awac.critic_target.q1[-1].bias.fill_(3.0)
        awac.critic_target.q2[-1].bias.fill_(2.0)
    batch = make_batch(6)
    g = torch.Generator().manual_seed(11)
    y = td_target(batch, awac.policy, awac.critic_target, config, g)
    g.manual_seed(11)
    with torch.no_grad():
        a = awac.policy.sample(batch.next_obs, g)
        q = torch.minimum(*awac.critic_target(batch.next_obs, a))
    done = torch.zeros(16) if ignore_done else batch.done
    want = batch.reward + 0.9 * (1 - done) * q
    if target_max is not None:
        want = want.clamp(max=target_max)
        assert torch.all(y <= 0)
    torch.testing.assert_close(y, want)


def test_gaussian_policy_log_prob_and_samples() -> None:
    policy = GaussianPolicy(3, 2, (8,), min_log_std=-4.0, max_log_std=-1.0)
    with torch.no_grad():
        policy.log_std_logits.copy_(torch.tensor([10.0, -10.0]))
    torch.testing.assert_close(policy.log_std(), torch.tensor([-1.0, -4.0]), atol=1e-3, rtol=0)
    obs = torch.randn(4096, 3)
    samples = policy.sample(obs, torch.Generator().manual_seed(0))
    assert torch.all(samples.abs() <= 1)
    residual = (samples - policy.mean(obs)).detach()
    inside = (policy.mean(obs).abs() < 0.6).all(-1)  # away from the clip
    assert residual[inside].std(0)[0] == pytest.approx(math.exp(-1.0), rel=0.1)
    assert residual[inside].std(0)[1] == pytest.approx(math.exp(-4.0), rel=0.1)


def test_weight_effective_sample_size_by_hand() -> None:
    awac = AWAC(OBS_DIM, ACTION_DIM, SMALL, seed=0)
    batch = make_batch(4)
    n = batch.obs.shape[0]
    equal = torch.ones(n)
    _, m = actor_loss(awac.policy, batch.obs, batch.action, equal)
    torch.testing.assert_close(m["actor/weight_ess"], torch.tensor(1.0))
    one = torch.zeros(n)
    one[2] = float(n)  # one transition carries the whole batch
    _, m = actor_loss(awac.policy, batch.obs, batch.action, one)
    torch.testing.assert_close(m["actor/weight_ess"], torch.tensor(1.0 / n))
    half = torch.tensor([2.0, 0.0] * (n // 2) + [2.0] * (n % 2))  # half the batch, equal weights
    _, m = actor_loss(awac.policy, batch.obs, batch.action, half)
    k = int((half > 0).sum())
    torch.testing.assert_close(m["actor/weight_ess"], torch.tensor(k / n))
