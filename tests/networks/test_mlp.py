"""MLP and twin-critic contracts: layer layout, shapes, independence of the two Q networks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from affordkit.errors import ConfigError
from affordkit.networks import TwinQ, mlp


def test_mlp_layout_and_shapes() -> None:
    net = mlp(5, (400, 300), 2, output_activation=nn.Tanh)
    kinds = [type(m) for m in net]
    assert kinds == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear, nn.Tanh]
    assert [m.out_features for m in net if isinstance(m, nn.Linear)] == [400, 300, 2]
    out = net(torch.randn(7, 5))
    assert out.shape == (7, 2) and out.dtype == torch.float32
    assert out.abs().max() <= 1


def test_mlp_without_hidden_layers_is_one_linear_layer() -> None:
    net = mlp(3, (), 4)
    assert len(net) == 1 and isinstance(net[0], nn.Linear)


def test_mlp_takes_other_activations() -> None:
    net = mlp(3, [8], 1, activation=nn.ELU)
    assert isinstance(net[1], nn.ELU)


@pytest.mark.parametrize(
    "args", [(0, (4,), 1), (3, (4,), 0), (3, (0,), 1), (3, (4, -1), 1), (3.0, (4,), 1), (True, (4,), 1)]
)
def test_mlp_rejects_bad_sizes(args) -> None:
    with pytest.raises(ConfigError):
        mlp(*args)


def test_twin_q_shapes_and_independence() -> None:
    torch.manual_seed(0)
    critic = TwinQ(obs_dim=6, action_dim=2, hidden=(16, 16))
    obs, action = torch.randn(9, 6), torch.rand(9, 2) * 2 - 1
    q1, q2 = critic(obs, action)
    assert q1.shape == q2.shape == (9,)
    assert not torch.equal(q1, q2), "the two critics must start from different weights"
    assert torch.equal(critic.q1_value(obs, action), q1)
    # the two networks share no parameter: Q_1's loss gives Q_2 no gradient
    q1.sum().backward()
    assert all(p.grad is None for p in critic.q2.parameters())
    assert all(p.grad is not None for p in critic.q1.parameters())
