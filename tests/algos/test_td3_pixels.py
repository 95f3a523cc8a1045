"""The pixel baseline's learner: one conv encoder, trained by the critic, read detached by the actor."""

from __future__ import annotations

import copy

import torch
from torch import nn

from affordkit.algos.td3 import TD3Config
from affordkit.algos.td3_pixels import PixelTD3
from affordkit.networks.conv import ImageGoalEncoder
from affordkit.types import Batch

SIZE = 2 * 48 * 48 * 3
SMALL = TD3Config(hidden=(32, 32))


def encoder() -> tuple[nn.Module, int]:
    module = ImageGoalEncoder(48)
    return module, module.feature_dim


def learner(seed: int = 0) -> PixelTD3:
    return PixelTD3(SIZE, 2, encoder, SMALL, seed=seed)


def batch(seed: int, size: int = 8) -> Batch:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (2, size, SIZE), generator=g, dtype=torch.uint8)
    action = torch.rand(size, 2, generator=g) * 2 - 1
    return Batch(obs=images[0], action=action, reward=torch.randn(size, generator=g), next_obs=images[1],
                 done=torch.zeros(size))  # fmt: skip


def params(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(module: nn.Module, before: list[torch.Tensor]) -> bool:
    return all(torch.equal(p, b) for p, b in zip(module.parameters(), before, strict=True))


def moved(module: nn.Module, before: list[torch.Tensor]) -> bool:
    return all(not torch.equal(p, b) for p, b in zip(module.parameters(), before, strict=True))


PARTS = ("encoder", "actor", "critic", "encoder_target", "actor_target", "critic_target")


def test_critic_update_moves_encoder_and_q_heads_only_then_actor_moves_alone() -> None:
    agent = learner()
    before = {n: params(getattr(agent, n)) for n in PARTS}
    agent.update(batch(0))  # a critic-only update (policy delay 2)
    assert moved(agent.encoder, before["encoder"]) and moved(agent.critic, before["critic"])
    for n in ("actor", "encoder_target", "actor_target", "critic_target"):
        assert same(getattr(agent, n), before[n]), n
    before = {n: params(getattr(agent, n)) for n in PARTS}
    features = agent.encoder(batch(1).obs).detach()
    agent.actor_step(features)
    assert moved(agent.actor, before["actor"])
    for n in ("encoder", "critic", "encoder_target", "actor_target", "critic_target"):
        assert same(getattr(agent, n), before[n]), n  # the policy gradient never reaches the encoder


def test_targets_follow_by_polyak_averaging_on_the_delayed_update() -> None:
    agent = learner()
    agent.update(batch(0))
    old = {n: params(getattr(agent, n)) for n in ("encoder_target", "actor_target", "critic_target")}
    agent.update(batch(1))
    for target, online in (
        ("encoder_target", "encoder"),
        ("actor_target", "actor"),
        ("critic_target", "critic"),
    ):
        pairs = zip(getattr(agent, target).parameters(), getattr(agent, online).parameters(), strict=True)
        for (t, s), was in zip(pairs, old[target], strict=True):
            assert torch.equal(t, torch.lerp(was, s, SMALL.tau))


def test_act_is_bounded_and_restore_continues_identically() -> None:
    agent = learner()
    assert agent.act(batch(0).obs).abs().max() <= 1
    agent.update(batch(0))
    state = copy.deepcopy(agent.state_dict())
    twin = learner(seed=1)
    twin.load_state_dict(state)
    for b in (batch(2), batch(3)):
        a, c = agent.update(b), twin.update(b)
        assert torch.equal(a["critic/loss"], c["critic/loss"])
    for n in PARTS:
        pairs = zip(getattr(agent, n).parameters(), getattr(twin, n).parameters(), strict=True)
        assert all(torch.equal(p, q) for p, q in pairs), n
