"""Behaviour cloning: the baseline AWAC must beat on the same data, and the learner of Bridge Data.

The same Gaussian policy as AWAC (networks/policies.py), trained to maximise the likelihood of the
data's actions, -mean log pi(a | s) (``loss="nll"``), or to regress its mean onto them
(``loss="mse"``, Bridge Data's loss on normalised actions). That is AWAC's actor step with every
weight 1: the difference between the two is exactly the advantage weighting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from affordkit.algos import common
from affordkit.algos.common import hidden_sizes, positive_int
from affordkit.device import resolve_device
from affordkit.errors import ConfigError
from affordkit.networks.fast import linear_class
from affordkit.networks.policies import GaussianPolicy
from affordkit.types import Batch

STATE_PARTS = ("policy", "optimizer")
"""The attributes whose state dicts ``state_dict`` holds (networks, then optimisers)."""

BCLoss = Literal["nll", "mse"]


@dataclass(frozen=True)
class BCConfig:
    """Behaviour cloning with AWAC's policy and optimiser settings by default."""

    policy_hidden: tuple[int, ...] = (256, 256, 256, 256)
    """Hidden sizes of the policy's mean network (AWAC's policy)."""
    lr: float = 3e-4
    """Adam learning rate: 3e-4 (AWAC's actor)."""
    batch_size: int = 1024
    """Transitions per update, read by whoever samples the batch."""
    weight_decay: float = 1e-4
    """Adam weight decay (AWAC's policy weight decay)."""
    loss: BCLoss = "nll"
    """``nll``: -log pi(a | s) (learns the std too); ``mse``: ||mean(s) - a||^2."""
    min_log_std: float = -6.0
    """Lower bound of the policy's log-std."""
    max_log_std: float = 0.0
    """Upper bound of the policy's log-std."""
    implementation: common.Implementation = "fast"
    """``fast``: oneDNN Linear layers where the start-up check passes and fused Adam; ``reference``:
    ``nn.Linear`` and PyTorch's default Adam (algos/common.py, docs/speed.md)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy_hidden", hidden_sizes("policy_hidden", self.policy_hidden))
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr!r}: expected > 0")
        if not positive_int(self.batch_size):
            raise ConfigError(f"batch_size={self.batch_size!r}: expected a positive integer")
        if not self.weight_decay >= 0:
            raise ConfigError(f"weight_decay={self.weight_decay!r}: expected >= 0")
        if self.loss not in ("nll", "mse"):
            raise ConfigError(f"loss={self.loss!r}; accepted values: ['nll', 'mse']")
        if not self.min_log_std < self.max_log_std:
            raise ConfigError(f"min_log_std={self.min_log_std} must be below max_log_std={self.max_log_std}")
        common.check_implementation(self.implementation)


def bc_loss(
    policy: GaussianPolicy, obs: Tensor, action: Tensor, loss: BCLoss
) -> tuple[Tensor, dict[str, Tensor]]:
    """The BC objective on (obs (B, O), action (B, A)) and its metrics."""
    if loss == "nll":
        value = -policy.log_prob(obs, action).mean()
    else:
        value = (policy.mean(obs) - action).pow(2).sum(-1).mean()
    return value, {"bc/loss": value.detach(), "bc/std": policy.log_std().detach().exp().mean()}


class BC:
    """``BC(obs_dim, action_dim, BCConfig(), seed=0)``; satisfies ``Learner`` (reads obs and action
    of a batch, nothing else)."""

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        config: BCConfig | None = None,
        *,
        seed: int,
        device: torch.device | str = "cpu",
    ) -> None:
        common.check_sizes(obs_dim, action_dim, seed)
        self.config = c = config if config is not None else BCConfig()
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.device = resolve_device(device)
        linear = linear_class(c.implementation == "fast" and self.device.type == "cpu")
        with common.seeded_init(seed):
            self.policy = GaussianPolicy(
                obs_dim, action_dim, c.policy_hidden, c.min_log_std, c.max_log_std, linear
            )
        self.policy.to(self.device)
        self.optimizer = common.adam(self.policy.parameters(), c.lr, c.implementation, c.weight_decay)
        self.num_updates = 0

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """The policy's mean (B, action_dim) in [-1, 1]."""
        common.check_obs(obs, self.obs_dim)
        return self.policy.mean(obs)

    def update(self, batch: Batch) -> dict[str, Tensor]:
        common.check_batch(batch, self.obs_dim, self.action_dim)
        self.num_updates += 1
        loss, metrics = bc_loss(self.policy, batch.obs, batch.action, self.config.loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return common.learner_state(self, STATE_PARTS)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        common.load_learner_state(self, state, STATE_PARTS)
