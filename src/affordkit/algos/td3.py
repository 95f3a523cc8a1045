"""TD3: twin delayed deep deterministic policy gradient (Fujimoto, van Hoof, Meger, ICML 2018), the
off-policy learner of RIG and CC-RIG (ALGORITHMS.md, RIG).

A deterministic tanh policy pi(s) in [-1, 1]^A and two Q networks, each with a target copy. One
``update(batch)`` is:

1. Critic step. Target policy smoothing: a' = clip(pi_targ(s') + clip(sigma eps, -c, c), -1, 1);
   clipped double Q: y = r + gamma (1 - done) min(Q_1targ(s', a'), Q_2targ(s', a')); both critics
   regress onto y (mean squared error).
2. Every ``policy_delay``-th update only, the delayed actor step: ascend Q_1(s, pi(s)); then both
   target networks move towards the online ones by Polyak averaging with rate ``tau``.

Goal conditioning lives outside: RIG hands in ``obs = [z, z_g]`` (types.Batch). Exploration noise
is added by the caller (algos/noise.py); ``act`` is the deterministic policy.

Determinism: the initial weights come from ``seed`` (under a forked global RNG, so the caller's
torch RNG is neither used nor advanced) and the smoothing noise from the learner's own generator,
which ``state_dict`` carries along with networks, targets, optimisers and the update counter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from affordkit.algos import common
from affordkit.algos.common import (
    Implementation,
    adam,
    check_implementation,
    hidden_sizes,
    positive_int,
    soft_update,
    target_network,
    twin_q_target,
)
from affordkit.device import resolve_device
from affordkit.errors import ConfigError
from affordkit.networks.fast import linear_class
from affordkit.networks.mlp import TwinQ, mlp
from affordkit.types import Batch

STATE_PARTS = ("actor", "critic", "actor_target", "critic_target", "actor_optimizer", "critic_optimizer")
"""The attributes whose state dicts ``state_dict`` holds (networks, then optimisers)."""


@dataclass(frozen=True)
class TD3Config:
    """TD3 as in RIG (ALGORITHMS.md, RIG; Nair, Pong et al. 2018, appendix, and rlkit v0.1.2)."""

    hidden: tuple[int, ...] = (400, 300)
    """Hidden sizes of the policy and of each Q network, ReLU: [400, 300] in RIG and in TD3."""
    actor_lr: float = 1e-3
    """Adam learning rate of the policy: 1e-3 in RIG (and in the TD3 paper)."""
    critic_lr: float = 1e-3
    """Adam learning rate of the two Q networks: 1e-3 in RIG (and in the TD3 paper)."""
    batch_size: int = 128
    """Transitions per update, read by whoever samples the batch: 128 in RIG (100 in TD3)."""
    discount: float = 0.99
    """Discount gamma of the bootstrap: 0.99 in RIG and TD3."""
    tau: float = 1e-2
    """Polyak rate of the target networks: 1e-2 in the RIG paper; rlkit's default is 5e-3 (as in the
    TD3 paper)."""
    policy_delay: int = 2
    """Critic updates per actor and target update: 2 in RIG and TD3."""
    target_noise: float = 0.2
    """Std of the target policy smoothing noise: 0.2 in RIG and TD3."""
    target_noise_clip: float = 0.5
    """The smoothing noise is clipped to [-c, c]: c = 0.5 in RIG and TD3."""
    implementation: Implementation = "fast"
    """``fast``: oneDNN Linear layers where the start-up check passes and fused Adam; ``reference``:
    ``nn.Linear`` and PyTorch's default Adam. Same update to float rounding, same state layout
    (algos/common.py, docs/speed.md)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", hidden_sizes("hidden", self.hidden))
        for name in ("actor_lr", "critic_lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}={getattr(self, name)!r}: expected > 0")
        for name in ("batch_size", "policy_delay"):
            if not positive_int(getattr(self, name)):
                raise ConfigError(f"{name}={getattr(self, name)!r}: expected a positive integer")
        if not 0 <= self.discount <= 1:
            raise ConfigError(f"discount={self.discount!r}: expected in [0, 1]")
        if not 0 < self.tau <= 1:
            raise ConfigError(f"tau={self.tau!r}: expected in (0, 1]")
        if not self.target_noise >= 0 or not self.target_noise_clip >= 0:
            raise ConfigError(
                f"target_noise={self.target_noise!r} and target_noise_clip={self.target_noise_clip!r}: "
                "expected >= 0"
            )
        check_implementation(self.implementation)


# ---- losses: plain functions of networks and tensors --------------------------------------------


def target_policy_noise(
    shape: tuple[int, ...], scale: float, clip: float, generator: torch.Generator, device: torch.device
) -> Tensor:
    """Target policy smoothing noise clip(scale * eps, -clip, clip), eps ~ N(0, I) (TD3, section 5.3):
    the target then averages Q over a small neighbourhood of the target action, so the critic
    cannot exploit a narrow, wrong peak of its own making."""
    eps = torch.randn(shape, generator=generator, device=device)
    return (eps * scale).clamp_(-clip, clip)


@torch.no_grad()
def td_target(
    batch: Batch, actor_target: nn.Module, critic_target: TwinQ, noise: Tensor, discount: float
) -> Tensor:
    """y = r + gamma (1 - done) min_i Q_i,targ(s', clip(pi_targ(s') + noise, -1, 1)) (B,), without
    gradients: the regression target is a constant."""
    next_action = (actor_target(batch.next_obs) + noise).clamp_(-1.0, 1.0)  # (B, A)
    next_q1, next_q2 = critic_target(batch.next_obs, next_action)  # (B,), (B,)
    return twin_q_target(batch.reward, batch.done, next_q1, next_q2, discount)


def critic_loss(critic: TwinQ, batch: Batch, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """Sum of both critics' mean squared errors to the shared target (B,) (TD3, algorithm 1). One
    optimiser over both networks is the same as one each: the two share no parameter."""
    q1, q2 = critic(batch.obs, batch.action)  # (B,), (B,)
    loss = (q1 - target).pow(2).mean() + (q2 - target).pow(2).mean()
    metrics = {
        "critic/loss": loss.detach(),
        "critic/q1": q1.detach().mean(),
        "critic/q2": q2.detach().mean(),
        "critic/target": target.mean(),
    }
    return loss, metrics


def actor_loss(actor: nn.Module, critic: TwinQ, obs: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """Deterministic policy gradient: maximise Q_1(s, pi(s)) (TD3 uses Q_1 alone). The gradient
    flows through the critic into the actor; the caller keeps it out of the critic's parameters."""
    action = actor(obs)  # (B, A) in [-1, 1]
    loss = -critic.q1_value(obs, action).mean()
    # mean |a| near 1 means the tanh saturates, where the policy gradient fades
    return loss, {"actor/loss": loss.detach(), "actor/action_abs": action.detach().abs().mean()}


# ---- the learner ---------------------------------------------------------------------------------


class TD3:
    """``TD3(obs_dim, action_dim, TD3Config(), seed=0, device="cpu")``; satisfies ``Learner``."""

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        config: TD3Config | None = None,
        *,
        seed: int,
        device: torch.device | str = "cpu",
    ) -> None:
        common.check_sizes(obs_dim, action_dim, seed)
        self.config = config = config if config is not None else TD3Config()
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.device = resolve_device(device)
        fast = config.implementation == "fast" and self.device.type == "cpu"
        linear = linear_class(fast)  # same initialisation and state either way
        with common.seeded_init(seed):
            self.actor = mlp(obs_dim, config.hidden, action_dim, output_activation=nn.Tanh, linear=linear)
            self.critic = TwinQ(obs_dim, action_dim, config.hidden, linear)
            self.actor.to(self.device)
            self.critic.to(self.device)
        self.actor_target = target_network(self.actor)
        self.critic_target = target_network(self.critic)
        self.actor_optimizer = adam(self.actor.parameters(), config.actor_lr, config.implementation)
        self.critic_optimizer = adam(self.critic.parameters(), config.critic_lr, config.implementation)
        self.generator = torch.Generator(device=self.device)  # target smoothing noise only
        self.generator.manual_seed(seed)
        self.num_updates = 0  # critic steps so far; the actor steps on every policy_delay-th

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """pi(obs) (B, action_dim) in [-1, 1] for obs (B, obs_dim) on ``self.device``."""
        common.check_obs(obs, self.obs_dim)
        return self.actor(obs)

    def update(self, batch: Batch) -> dict[str, Tensor]:
        """One critic step, and on every ``policy_delay``-th call an actor step and target update.

        Metrics (detached 0-d tensors on the device): always ``critic/*``; ``actor/*`` only on the
        updates that stepped the actor."""
        common.check_batch(batch, self.obs_dim, self.action_dim)
        self.num_updates += 1
        metrics = self.critic_step(batch)
        if self.num_updates % self.config.policy_delay == 0:
            metrics |= self.actor_step(batch.obs)
            soft_update(self.actor_target, self.actor, self.config.tau)
            soft_update(self.critic_target, self.critic, self.config.tau)
        return metrics

    def critic_step(self, batch: Batch) -> dict[str, Tensor]:
        """One optimiser step of both Q networks; nothing else moves."""
        c = self.config
        noise = target_policy_noise(
            tuple(batch.action.shape), c.target_noise, c.target_noise_clip, self.generator, self.device
        )
        target = td_target(batch, self.actor_target, self.critic_target, noise, c.discount)
        loss, metrics = critic_loss(self.critic, batch, target)
        self.critic_optimizer.zero_grad(set_to_none=True)
        loss.backward()  # the graph holds only critic parameters: the target was built without one
        self.critic_optimizer.step()
        return metrics

    def actor_step(self, obs: Tensor) -> dict[str, Tensor]:
        """One optimiser step of the policy; nothing else moves."""
        loss, metrics = actor_loss(self.actor, self.critic, obs)
        self.actor_optimizer.zero_grad(set_to_none=True)
        # inputs=: the gradient passes through the critic but accumulates only in the actor; the
        # critic's weight gradients are never computed, and no stale ones wait in its .grad
        loss.backward(inputs=list(self.actor.parameters()))
        self.actor_optimizer.step()
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """Networks, targets, optimisers, update counter and noise generator. Tensors are shared
        with the learner (as ``nn.Module.state_dict``): save or copy them before updating further."""
        return common.learner_state(self, STATE_PARTS, self.generator)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue exactly where ``state`` was taken; refuses a state of another config or size.
        The ``implementation`` may differ (same layout): the run then continues equal to float
        rounding rather than bit for bit."""
        common.load_learner_state(self, state, STATE_PARTS, self.generator)
