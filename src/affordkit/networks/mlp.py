"""Multilayer perceptrons and the twin Q critic of TD3 (and, later, AWAC).

RIG's networks are plain ReLU MLPs with hidden sizes [400, 300] (ALGORITHMS.md, RIG): the
deterministic policy is ``mlp(obs_dim, hidden, action_dim, output_activation=nn.Tanh)``, the critic
is :class:`TwinQ`. Weights keep PyTorch's default initialisation, as in the TD3 authors' code
(Fujimoto et al. 2018); rlkit instead draws the last layer from U(-3e-3, 3e-3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from affordkit.errors import ConfigError

Activation = Callable[[], nn.Module]  # a module class such as nn.ReLU, or any factory of modules
LinearFactory = Callable[[int, int], nn.Linear]  # nn.Linear, or networks/fast.OneDNNLinear


def mlp(
    in_dim: int,
    hidden: Sequence[int],
    out_dim: int,
    activation: Activation = nn.ReLU,
    output_activation: Activation | None = None,
    linear: LinearFactory = nn.Linear,
) -> nn.Sequential:
    """Linear layers of sizes ``in_dim -> *hidden -> out_dim``, ``activation`` after every hidden
    layer and ``output_activation`` (if any) after the last. ``hidden=()`` gives one linear layer.
    ``linear`` makes the layers: any ``nn.Linear`` subclass keeps the initialisation and the
    ``state_dict`` keys (networks/fast.py)."""
    for name, value in (("in_dim", in_dim), ("out_dim", out_dim)):
        if not _positive_int(value):
            raise ConfigError(f"{name}={value!r}: expected a positive integer")
    if not all(_positive_int(h) for h in hidden):
        raise ConfigError(f"hidden={tuple(hidden)!r}: expected positive integers")
    layers: list[nn.Module] = []
    width = in_dim
    for size in hidden:
        layers += [linear(width, size), activation()]
        width = size
    layers.append(linear(width, out_dim))
    if output_activation is not None:
        layers.append(output_activation())
    return nn.Sequential(*layers)


class TwinQ(nn.Module):
    """Two independent Q networks on the same input, ``Q_i(obs, action) -> (B,)``.

    Clipped double Q-learning (Fujimoto et al. 2018) bootstraps from the smaller of the two
    target values, against the over-estimation a single critic drifts into. The two networks share
    nothing but their input.
    """

    def __init__(
        self, obs_dim: int, action_dim: int, hidden: Sequence[int], linear: LinearFactory = nn.Linear
    ) -> None:
        super().__init__()
        self.obs_dim = obs_dim
        self.action_dim = action_dim
        self.q1 = mlp(obs_dim + action_dim, hidden, 1, linear=linear)
        self.q2 = mlp(obs_dim + action_dim, hidden, 1, linear=linear)

    def forward(self, obs: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        x = torch.cat([obs, action], dim=-1)  # (B, obs_dim + action_dim)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)  # (B,), (B,)

    def q1_value(self, obs: Tensor, action: Tensor) -> Tensor:
        """Q_1 alone (B,): TD3's actor ascends Q_1 only, which saves the second network's pass."""
        return self.q1(torch.cat([obs, action], dim=-1)).squeeze(-1)


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
