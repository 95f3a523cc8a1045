"""K independent TD3 learners trained together in one process: one seed each, their own parameters,
targets, Adam moments and smoothing-noise generators, and one batched update for all of them
(algos/stacked.py: how the K networks are stacked, and why the K learners stay independent).

The fixed cost of an update (Python, autograd, the optimiser and Polyak steps) is paid once instead
of K times. ``TD3Seeds(seeds=[s_1, ..., s_K])`` computes what K ``TD3(seed=s_k)`` learners compute
on the same minibatches, equal to float rounding (tests/algos/test_td3_seeds.py), and
``learner_state_dict(k)`` hands out learner k as a plain ``TD3`` checkpoint.

Minibatches come stacked, one per learner: ``Batch`` fields of shape (K, B, ...). Networks read
``obs`` directly; the pixel baseline's stacked form, with its conv encoder, is
``td3_pixels_seeds.PixelTD3Seeds``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import Tensor

from affordkit.algos import common
from affordkit.algos.common import adam, twin_q_target
from affordkit.algos.stacked import (
    LearnerView,
    Stack,
    StackedLearners,
    stack_parameters,
    stacked_mlp,
    stacked_twin_q,
)
from affordkit.algos.td3 import TD3, TD3Config
from affordkit.types import Batch


class TD3Seeds(StackedLearners):
    """``TD3Seeds(obs_dim, action_dim, TD3Config(), seeds=[0, 1, 2, 3, 4])``: K TD3 learners, one
    update for all. ``update`` takes a ``Batch`` of (K, B, ...) fields and returns metrics of shape
    (K,), one value per learner."""

    NETWORKS: ClassVar[tuple[str, ...]] = ("actor", "critic", "actor_target", "critic_target")
    OPTIMIZERS = ("actor_optimizer", "critic_optimizer")
    config: TD3Config

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        config: TD3Config | None = None,
        *,
        seeds: Sequence[int],
        device: torch.device | str = "cpu",
    ) -> None:
        singles = self.adopt(TD3, obs_dim, action_dim, config or TD3Config(), seeds, device)
        self.actor_layers = singles[0].actor
        self.critic_layers = singles[0].critic
        self.actor = stack_parameters([s.actor for s in singles], trainable=True)
        self.critic = stack_parameters([s.critic for s in singles], trainable=True)
        self.actor_target = stack_parameters([s.actor_target for s in singles], trainable=False)
        self.critic_target = stack_parameters([s.critic_target for s in singles], trainable=False)
        c = self.config
        self.actor_optimizer = adam(self.actor.values(), c.actor_lr, c.implementation)
        self.critic_optimizer = adam(self.critic.values(), c.critic_lr, c.implementation)

    # ---- networks on stacked parameters ----------------------------------------------------------

    def policy(self, params: Stack, obs: Tensor) -> Tensor:
        return stacked_mlp(self.actor_layers, params, "", obs)

    def q_values(self, params: Stack, obs: Tensor, action: Tensor, both: bool = True) -> tuple[Tensor, ...]:
        return stacked_twin_q(self.critic_layers, params, obs, action, both)

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """pi_k(obs_k) (K, B, action_dim) for obs (K, B, obs_dim)."""
        self.check_obs(obs)
        return self.policy(self.actor, obs)

    # ---- the update ----------------------------------------------------------------------------------

    def update(self, batch: Batch) -> dict[str, Tensor]:
        """One critic step of every learner, and on every ``policy_delay``-th call an actor step and
        target update of every learner (as ``TD3.update``, K at once)."""
        self.check_batch(batch)
        self.num_updates += 1
        return self.td3_step(batch, batch.obs, batch.next_obs)

    def target_pairs(self) -> list[tuple[list[Tensor], list[Tensor]]]:
        """(targets, sources) that Polyak averaging moves together."""
        return [
            (list(self.actor_target.values()), list(self.actor.values())),
            (list(self.critic_target.values()), list(self.critic.values())),
        ]

    def td3_step(self, batch: Batch, obs: Tensor, next_obs: Tensor) -> dict[str, Tensor]:
        """TD3's losses on the networks' inputs ``obs`` and ``next_obs`` (K, B, d): ``batch``'s own
        or features computed from it (``obs`` may carry gradients into an encoder, which the critic
        optimiser then moves; the actor reads it detached)."""
        c = self.config
        noise = self.draws(batch.action.shape[1:], self.device)
        noise = (noise * c.target_noise).clamp_(-c.target_noise_clip, c.target_noise_clip)
        with torch.no_grad():
            next_action = (self.policy(self.actor_target, next_obs) + noise).clamp_(-1.0, 1.0)
            next_q1, next_q2 = self.q_values(self.critic_target, next_obs, next_action)
            target = twin_q_target(batch.reward, batch.done, next_q1, next_q2, c.discount)  # (K, B)
        q1, q2 = self.q_values(self.critic, obs, batch.action)
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
        if self.num_updates % c.policy_delay == 0:
            obs = obs.detach()
            action = self.policy(self.actor, obs)
            (q,) = self.q_values(self.critic, obs, action, both=False)
            actor_losses = -q.mean(1)
            self.actor_optimizer.zero_grad(set_to_none=True)
            actor_losses.sum().backward(inputs=list(self.actor.values()))
            self.actor_optimizer.step()
            metrics["actor/loss"] = actor_losses.detach()
            metrics["actor/action_abs"] = action.detach().abs().mean((1, 2))
            with torch.no_grad():
                for targets, sources in self.target_pairs():
                    torch._foreach_lerp_(targets, sources, c.tau)
        return metrics


class TD3SeedView(LearnerView):
    """Learner k of a ``TD3Seeds`` as one ``TD3``: ``act`` and ``state_dict`` as the single
    learner's."""

    stack: TD3Seeds

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """Learner k's deterministic action (B, action_dim), as ``TD3.act``."""
        common.check_obs(obs, self.stack.obs_dim)
        return self.stack.policy(self.own(self.stack.actor), obs[None])[0]
