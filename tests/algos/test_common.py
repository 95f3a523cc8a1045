"""Shared learner pieces: Polyak averaging, frozen target copies, the clipped double-Q bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from affordkit.algos import soft_update, target_network, twin_q_target
from affordkit.algos.common import check_obs, learner_state, load_learner_state, seeded_init
from affordkit.device import resolve_device
from affordkit.errors import ConfigError
from affordkit.networks import TwinQ, mlp


def test_soft_update_is_polyak_averaging() -> None:
    torch.manual_seed(0)
    source, target = mlp(3, (32,), 2), mlp(3, (32,), 2)
    old = [p.detach().clone() for p in target.parameters()]
    soft_update(target, source, 0.01)
    for t, o, s in zip(target.parameters(), old, source.parameters(), strict=True):
        assert torch.equal(t, torch.lerp(o, s, 0.01))  # bit for bit: the fused kernel is lerp
        want = 0.99 * o.double() + 0.01 * s.double()  # the textbook form, up to float32 rounding
        assert torch.allclose(t.double(), want, rtol=0, atol=1e-7)


@pytest.mark.parametrize("tau", [0.0, 1.0])
def test_soft_update_ends(tau: float) -> None:
    source, target = mlp(3, (4,), 2), mlp(3, (4,), 2)
    before = [p.detach().clone() for p in target.parameters()]
    soft_update(target, source, tau)
    want = before if tau == 0 else [p.detach() for p in source.parameters()]
    assert all(torch.equal(t, w) for t, w in zip(target.parameters(), want, strict=True))


def test_soft_update_rejects_mismatch_and_bad_tau() -> None:
    with pytest.raises(ConfigError):
        soft_update(mlp(3, (4,), 2), mlp(3, (5,), 2), 0.1)
    with pytest.raises(ConfigError):
        soft_update(mlp(3, (4,), 2), mlp(3, (4,), 2), 1.5)


def test_target_network_is_a_frozen_copy() -> None:
    online = TwinQ(4, 2, (8,))
    target = target_network(online)
    assert all(not p.requires_grad for p in target.parameters())
    assert all(p.requires_grad for p in online.parameters())
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        assert torch.equal(t, o) and t.data_ptr() != o.data_ptr()


def test_twin_q_target_takes_the_minimum_and_masks_terminals() -> None:
    reward = torch.tensor([1.0, -2.0, 0.5])
    done = torch.tensor([0.0, 1.0, 0.0])
    q1 = torch.tensor([10.0, 100.0, -4.0])
    q2 = torch.tensor([8.0, -100.0, -3.0])
    y = twin_q_target(reward, done, q1, q2, discount=0.5)
    assert torch.equal(y, torch.tensor([1.0 + 0.5 * 8.0, -2.0, 0.5 + 0.5 * -4.0]))


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError):
        resolve_device("not-a-device")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError):
            resolve_device("cuda")


def test_seeded_init_neither_uses_nor_advances_the_global_rng() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    with seeded_init(5):
        a = torch.randn(3)
    assert torch.equal(torch.random.get_rng_state(), before)
    with seeded_init(5):
        assert torch.equal(torch.randn(3), a)


def test_check_obs() -> None:
    check_obs(torch.zeros(4, 3), 3)
    with pytest.raises(ConfigError, match=r"obs of shape \(4, 2\): expected \(B, 3\)"):
        check_obs(torch.zeros(4, 2), 3)


@dataclass(frozen=True)
class _Config:
    width: int = 2


class _Learner:
    def __init__(self, width: int = 2) -> None:
        self.config = _Config(width)
        self.obs_dim, self.action_dim = 3, width
        self.net = mlp(3, (4,), width)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-3)
        self.generator = torch.Generator().manual_seed(0)
        self.num_updates = 0


def test_learner_state_round_trip_and_refusal() -> None:
    source = _Learner()
    source.num_updates = 7
    torch.randn(2, generator=source.generator)
    state = learner_state(source, ("net", "optimizer"), source.generator)
    assert list(state) == ["config", "sizes", "net", "optimizer", "num_updates", "generator"]
    target = _Learner()
    load_learner_state(target, state, ("net", "optimizer"), target.generator)
    assert target.num_updates == 7
    for p, q in zip(target.net.parameters(), source.net.parameters(), strict=True):
        assert torch.equal(p, q)
    assert torch.equal(torch.randn(2, generator=target.generator), torch.randn(2, generator=source.generator))
    assert "generator" not in learner_state(source, ("net",))
    with pytest.raises(ConfigError, match=r"_Learner state of config \{'width': 2\} and sizes \(3, 2\)"):
        load_learner_state(_Learner(width=3), state, ("net", "optimizer"))
