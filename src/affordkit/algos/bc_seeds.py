"""K independent behaviour-cloning learners trained together in one process: one seed each, their
own policy and Adam moments, and one batched update for all of them (algos/stacked.py: how the K
networks are stacked, and why the K learners stay independent).

``BCSeeds(seeds=[s_1, ..., s_K])`` computes what K ``BC(seed=s_k)`` learners compute on the same
minibatches, equal to float rounding (tests/algos/test_bc_seeds.py): BC draws nothing, so the
learners share no random stream to keep apart. ``learner_state_dict(k)`` hands out learner k as a
plain ``BC`` checkpoint.

Minibatches come stacked, one per learner: ``Batch`` fields of shape (K, B, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from affordkit.algos.bc import BC, BCConfig
from affordkit.algos.common import adam
from affordkit.algos.stacked import GaussianSeedView, StackedGaussianPolicies, stack_parameters
from affordkit.types import Batch


class BCSeeds(StackedGaussianPolicies):
    """``BCSeeds(obs_dim, action_dim, BCConfig(), seeds=[0, 1, 2, 3, 4])``: K BC learners, one update
    for all. ``update`` takes a ``Batch`` of (K, B, ...) fields (it reads obs and action) and returns
    metrics of shape (K,), one value per learner."""

    NETWORKS = ("policy",)
    OPTIMIZERS = ("optimizer",)
    config: BCConfig

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        config: BCConfig | None = None,
        *,
        seeds: Sequence[int],
        device: torch.device | str = "cpu",
    ) -> None:
        singles = self.adopt(BC, obs_dim, action_dim, config or BCConfig(), seeds, device)
        self.mean_layers = singles[0].policy.mean_net
        self.policy = stack_parameters([s.policy for s in singles], trainable=True)
        c = self.config
        self.optimizer = adam(self.policy.values(), c.lr, c.implementation, c.weight_decay)

    def update(self, batch: Batch) -> dict[str, Tensor]:
        """One step of every learner on its own minibatch, as ``BC.update`` (K at once)."""
        self.check_batch(batch)
        self.num_updates += 1
        if self.config.loss == "nll":
            losses = -self.log_prob(batch.obs, batch.action).mean(1)  # (K,): each its own
        else:
            losses = (self.mean(batch.obs) - batch.action).pow(2).sum(-1).mean(1)
        std = self.log_std().detach().exp().mean((1, 2))  # before the step, as BC's metric
        self.optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        self.optimizer.step()
        return {"bc/loss": losses.detach(), "bc/std": std}


class BCSeedView(GaussianSeedView):
    """Learner k of a ``BCSeeds`` as one ``BC``: ``act`` and ``state_dict`` as the single learner's."""

    stack: BCSeeds
