"""The Gaussian policy of AWAC and BC: a tanh-bounded mean and a state-independent log-std.

pi(a | s) = N(tanh(MLP(s)), diag(sigma^2)) with log sigma = min + sigmoid(theta) (max - min), theta
one learnt parameter per action dimension (ALGORITHMS.md, AWAC; rlkit's GaussianPolicy with
min_log_std -6 and max_log_std 0). The distribution itself is not squashed: its likelihood is the
plain Gaussian one, and a sample may leave [-1, 1] (``sample`` clips it, as the env would).
Evaluation acts with the mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from affordkit.errors import ConfigError
from affordkit.networks.mlp import LinearFactory, mlp

LOG_2PI = math.log(2 * math.pi)


class GaussianPolicy(nn.Module):
    """``GaussianPolicy(obs_dim, action_dim, hidden)``; ``log_prob``, ``mean``, ``sample``."""

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden: Sequence[int],
        min_log_std: float = -6.0,
        max_log_std: float = 0.0,
        linear: LinearFactory = nn.Linear,
    ) -> None:
        super().__init__()
        if not min_log_std < max_log_std:
            raise ConfigError(f"min_log_std={min_log_std} must be below max_log_std={max_log_std}")
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.min_log_std, self.max_log_std = float(min_log_std), float(max_log_std)
        self.mean_net = mlp(obs_dim, hidden, action_dim, output_activation=nn.Tanh, linear=linear)
        # theta = 0 starts at the middle of the range: log sigma = -3 with the defaults
        self.log_std_logits = nn.Parameter(torch.zeros(action_dim))

    def log_std(self) -> Tensor:
        """(action_dim,), in [min_log_std, max_log_std]."""
        return self.min_log_std + torch.sigmoid(self.log_std_logits) * (self.max_log_std - self.min_log_std)

    def mean(self, obs: Tensor) -> Tensor:
        """tanh(MLP(obs)) (B, action_dim) in [-1, 1]."""
        result: Tensor = self.mean_net(obs)
        return result

    def forward(self, obs: Tensor) -> Tensor:
        return self.mean(obs)

    def log_prob(self, obs: Tensor, action: Tensor) -> Tensor:
        """log pi(action | obs) (B,), summed over action dimensions."""
        log_std = self.log_std()  # (A,)
        z = (action - self.mean(obs)) * torch.exp(-log_std)  # (B, A)
        return (-0.5 * z.pow(2) - log_std - 0.5 * LOG_2PI).sum(-1)

    def sample(self, obs: Tensor, generator: torch.Generator) -> Tensor:
        """One action per row (B, action_dim) drawn with ``generator``, clipped to [-1, 1]."""
        mean = self.mean(obs)
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return (mean + eps * torch.exp(self.log_std())).clamp(-1.0, 1.0)
