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

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from affordkit.algos.common import (
    Implementation,
    adam,
    check_implementation,
    load_optimizer,
    same_settings,
    soft_update,
    target_network,
    twin_q_target,
)
from affordkit.device import resolve_device
from affordkit.errors import ConfigError
from affordkit.networks.fast import linear_class
from affordkit.networks.mlp import EncodedTwinQ, TwinQ, mlp
from affordkit.types import Batch


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
        hidden = tuple(self.hidden) if isinstance(self.hidden, list | tuple) else self.hidden
        if not isinstance(hidden, tuple) or not hidden or not all(_positive_int(h) for h in hidden):
            raise ConfigError(f"hidden={self.hidden!r}: expected a non-empty tuple of positive integers")
        object.__setattr__(self, "hidden", hidden)  # a list from JSON or the CLI becomes a tuple
        for name in ("actor_lr", "critic_lr"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}={getattr(self, name)!r}: expected > 0")
        for name in ("batch_size", "policy_delay"):
            if not _positive_int(getattr(self, name)):
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
        encoder: Callable[[], tuple[nn.Module, int]] | None = None,
    ) -> None:
        """``encoder``, when given, makes a fresh (module, feature size) pair; the actor and the
        critic then each get their own, in front of their MLPs, trained end to end by their own
        losses (the pixel-space baseline). Without it the networks read ``obs`` directly."""
        if not _positive_int(obs_dim) or not _positive_int(action_dim):
            raise ConfigError(f"obs_dim={obs_dim!r}, action_dim={action_dim!r}: expected positive integers")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"seed={seed!r}: expected a non-negative integer")
        self.config = config = config if config is not None else TD3Config()
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.device = resolve_device(device)
        fast = config.implementation == "fast" and self.device.type == "cpu"
        linear = linear_class(fast)  # same initialisation and state either way
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if encoder is None:
                self.actor = mlp(obs_dim, config.hidden, action_dim, output_activation=nn.Tanh, linear=linear)
                self.critic = TwinQ(obs_dim, action_dim, config.hidden, linear)
            else:
                actor_encoder, features = encoder()
                head = mlp(features, config.hidden, action_dim, output_activation=nn.Tanh, linear=linear)
                self.actor = nn.Sequential(actor_encoder, *head)
                critic_encoder, features = encoder()
                self.critic = EncodedTwinQ(critic_encoder, features, action_dim, config.hidden, linear)
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
        if obs.shape[-1] != self.obs_dim:
            raise ConfigError(f"obs of shape {tuple(obs.shape)}: expected (B, {self.obs_dim})")
        return self.actor(obs)

    def update(self, batch: Batch) -> dict[str, Tensor]:
        """One critic step, and on every ``policy_delay``-th call an actor step and target update.

        Metrics (detached 0-d tensors on the device): always ``critic/*``; ``actor/*`` only on the
        updates that stepped the actor."""
        self._check(batch)
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
        return {
            "config": asdict(self.config),
            "sizes": (self.obs_dim, self.action_dim),
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "actor_target": self.actor_target.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "num_updates": self.num_updates,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue exactly where ``state`` was taken; refuses a state of another config or size.
        The ``implementation`` may differ (same layout): the run then continues equal to float
        rounding rather than bit for bit."""
        if not same_settings(TD3Config(**state["config"]), self.config) or tuple(state["sizes"]) != (
            self.obs_dim,
            self.action_dim,
        ):
            raise ConfigError(
                f"TD3 state of config {state['config']} and sizes {tuple(state['sizes'])}; this learner "
                f"has {asdict(self.config)} and {(self.obs_dim, self.action_dim)}"
            )
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.actor_target.load_state_dict(state["actor_target"])
        self.critic_target.load_state_dict(state["critic_target"])
        load_optimizer(self.actor_optimizer, state["actor_optimizer"])
        load_optimizer(self.critic_optimizer, state["critic_optimizer"])
        self.num_updates = int(state["num_updates"])
        self.generator.set_state(state["generator"].cpu())

    def _check(self, batch: Batch) -> None:
        """Shapes only (no device sync): a (B, 1) reward would silently broadcast to (B, B)."""
        b = batch.obs.shape[0]
        want = {
            "obs": (b, self.obs_dim),
            "action": (b, self.action_dim),
            "reward": (b,),
            "next_obs": (b, self.obs_dim),
            "done": (b,),
        }
        for name, shape in want.items():
            got = tuple(getattr(batch, name).shape)
            if got != shape:
                raise ConfigError(f"batch.{name} has shape {got}; expected {shape}")


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
