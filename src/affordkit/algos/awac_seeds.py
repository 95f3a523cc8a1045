"""K independent AWAC learners trained together in one process: one seed each, their own policy,
critics, targets, Adam moments and sampling generator, and one batched update for all of them
(algos/stacked.py: how the K networks are stacked, and why the K learners stay independent).

``AWACSeeds(seeds=[s_1, ..., s_K])`` computes what K ``AWAC(seed=s_k)`` learners compute on the same
minibatches (module docstring of algos/awac.py: advantage weights, critic step, actor step, Polyak
averaging), equal to float rounding (tests/algos/test_awac_seeds.py): each learner's policy samples
come from its own generator in the single learner's order, and its batch softmax runs over its own
minibatch. ``learner_state_dict(k)`` hands out learner k as a plain ``AWAC`` checkpoint.

Minibatches come stacked, one per learner: ``Batch`` fields of shape (K, B, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from affordkit.algos.awac import AWAC, AWACConfig, advantage_weights
from affordkit.algos.common import adam, twin_q_target
from affordkit.algos.stacked import (
    GaussianSeedView,
    Stack,
    StackedGaussianPolicies,
    stack_parameters,
    stacked_twin_q,
)
from affordkit.types import Batch


class AWACSeeds(StackedGaussianPolicies):
    """``AWACSeeds(obs_dim, action_dim, AWACConfig(), seeds=[0, 1, 2, 3, 4])``: K AWAC learners, one
    update for all. ``update`` takes a ``Batch`` of (K, B, ...) fields and returns metrics of shape
    (K,), one value per learner."""

    NETWORKS = ("policy", "critic", "critic_target")
    OPTIMIZERS = ("policy_optimizer", "critic_optimizer")
    config: AWACConfig

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        config: AWACConfig | None = None,
        *,
        seeds: Sequence[int],
        device: torch.device | str = "cpu",
    ) -> None:
        singles = self.adopt(AWAC, obs_dim, action_dim, config or AWACConfig(), seeds, device)
        self.mean_layers = singles[0].policy.mean_net
        self.critic_layers = singles[0].critic
        self.policy = stack_parameters([s.policy for s in singles], trainable=True)
        self.critic = stack_parameters([s.critic for s in singles], trainable=True)
        self.critic_target = stack_parameters([s.critic_target for s in singles], trainable=False)
        c = self.config
        decay = c.policy_weight_decay
        self.policy_optimizer = adam(self.policy.values(), c.actor_lr, c.implementation, decay)
        self.critic_optimizer = adam(self.critic.values(), c.critic_lr, c.implementation)

    # ---- the K Gaussian policies (StackedGaussianPolicies) and critics on stacked parameters ----

    def sample(self, obs: Tensor, generators: Sequence[torch.Generator] | None = None) -> Tensor:
        """One action per row (K, B, action_dim), clipped to [-1, 1]; learner k draws from
        ``generators[k]`` (default: its own)."""
        mean = self.mean(obs)
        eps = self.draws(mean.shape[1:], mean.device, generators)
        return (mean + eps * torch.exp(self.log_std())).clamp(-1.0, 1.0)

    def q_values(self, params: Stack, obs: Tensor, action: Tensor) -> tuple[Tensor, ...]:
        return stacked_twin_q(self.critic_layers, params, obs, action)

    @torch.no_grad()
    def explore(self, obs: Tensor, generators: Sequence[torch.Generator]) -> Tensor:
        """A sample of each pi_k(. | obs_k) with the caller's ``generators`` (one per learner), so
        exploration does not shift the learners' own draws."""
        self.check_obs(obs)
        return self.sample(obs, generators)

    # ---- the update ----------------------------------------------------------------------------------

    def update(self, batch: Batch) -> dict[str, Tensor]:
        """Advantage weights, one critic step, one actor step and the target update of every learner
        (as ``AWAC.update``, K at once)."""
        self.check_batch(batch)
        c = self.config
        self.num_updates += 1
        with torch.no_grad():
            q = torch.minimum(*self.q_values(self.critic, batch.obs, batch.action))
            a_pi = self.mean(batch.obs) if c.value_action == "mean" else self.sample(batch.obs)
            adv = q - torch.minimum(*self.q_values(self.critic, batch.obs, a_pi))  # (K, B)
            weights = advantage_weights(adv, c.beta, c.weighting, c.exp_clip, c.advantage_clip)
            # critic target: y = r + gamma (1 - done) min_i Q_i,targ(s', a'), a' ~ pi(. | s')
            next_action = self.sample(batch.next_obs)
            done = torch.zeros_like(batch.done) if c.ignore_done else batch.done
            next_q1, next_q2 = self.q_values(self.critic_target, batch.next_obs, next_action)
            target = twin_q_target(batch.reward, done, next_q1, next_q2, c.discount)
            if c.target_max is not None:
                target = target.clamp(max=c.target_max)
        q1, q2 = self.q_values(self.critic, batch.obs, batch.action)
        losses = (q1 - target).pow(2).mean(1) + (q2 - target).pow(2).mean(1)  # (K,): each its own
        self.critic_optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        self.critic_optimizer.step()
        metrics = {
            "critic/loss": losses.detach(),
            "critic/q1": q1.detach().mean(1),
            "critic/q2": q2.detach().mean(1),
            "critic/target": target.mean(1),
        }
        log_prob = self.log_prob(batch.obs, batch.action)  # (K, B)
        actor_losses = -(log_prob * weights).mean(1)
        std = self.log_std().detach().exp().mean((1, 2))
        self.policy_optimizer.zero_grad(set_to_none=True)
        actor_losses.sum().backward(inputs=list(self.policy.values()))
        self.policy_optimizer.step()
        size = weights.shape[1]
        metrics |= {
            "actor/loss": actor_losses.detach(),
            "actor/log_prob": log_prob.detach().mean(1),
            "actor/weight_max": weights.amax(1),
            "actor/weight_ess": weights.sum(1).square() / (size * weights.square().sum(1)),
            "actor/std": std,
        }
        with torch.no_grad():
            torch._foreach_lerp_(list(self.critic_target.values()), list(self.critic.values()), c.tau)
        metrics["awac/advantage"] = adv.mean(1)
        return metrics


class AWACSeedView(GaussianSeedView):
    """Learner k of an ``AWACSeeds`` as one ``AWAC``: ``act``, ``explore`` and ``state_dict`` as the
    single learner's."""

    stack: AWACSeeds

    @torch.no_grad()
    def explore(self, obs: Tensor, generator: torch.Generator) -> Tensor:
        """A sample of learner k's policy with ``generator``, as ``AWAC.explore`` draws it."""
        mean = self._mean(obs)
        eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return (mean + eps * torch.exp(self.stack.log_std()[self.k, 0])).clamp(-1.0, 1.0)
