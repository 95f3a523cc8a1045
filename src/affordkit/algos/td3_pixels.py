"""TD3 on images with one conv encoder shared by the actor and the critic: the pixel-space HER
baseline of RIG (Nair, Pong et al. 2018 compare against TD3 + HER on raw pixels).

The encoder belongs to the critic and learns from the TD loss alone; the actor reads its features
detached, so the policy gradient never moves the encoder (the arrangement of SAC-AE, Yarats et al.
2019, and DrQ, Kostrikov et al. 2020: an encoder trained by the actor's loss drifts and hurts the
critic). The target encoder is a Polyak copy of the encoder, and serves both target networks, so
one update costs one target encoding of s', one encoding of s with its backward pass, and MLPs:
about a third of the conv work of an actor and a critic with one encoder each.

One ``update(batch)``, with TD3's losses (algos/td3.py):

1. features f = enc(s) and, without gradients, f' = enc_targ(s');
2. critic step on Q_i(f, a) against y = r + gamma min_i Q_i,targ(f', clip(pi_targ(f') + eps)), which
   moves the Q heads and the encoder;
3. every ``policy_delay``-th update: actor step ascending Q_1(f.detach(), pi(f.detach())), which moves
   the actor head alone; then Polyak averaging of the encoder, Q heads and actor head targets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor, nn

from affordkit.algos.common import (
    adam,
    load_optimizer,
    same_settings,
    seeded_init,
    soft_update,
    target_network,
)
from affordkit.algos.td3 import TD3Config, actor_loss, critic_loss, target_policy_noise, td_target
from affordkit.device import resolve_device
from affordkit.errors import ConfigError
from affordkit.networks.fast import linear_class
from affordkit.networks.mlp import TwinQ, mlp
from affordkit.types import Batch

PARTS = (
    "encoder", "encoder_target", "actor", "actor_target", "critic", "critic_target",
    "actor_optimizer", "critic_optimizer",
)  # fmt: skip


class PixelTD3:
    """``PixelTD3(obs_dim, action_dim, encoder, TD3Config(), seed=0)``; satisfies ``Learner``.

    ``encoder()`` makes the conv encoder and returns (module, feature size); ``obs`` of every batch
    is what that module reads (flat uint8 observation and goal images for ImageGoalEncoder)."""

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        encoder: Callable[[], tuple[nn.Module, int]],
        config: TD3Config | None = None,
        *,
        seed: int,
        device: torch.device | str = "cpu",
    ) -> None:
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"seed={seed!r}: expected a non-negative integer")
        self.config = config = config if config is not None else TD3Config()
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.device = resolve_device(device)
        # the MLP heads take the fast Linear where the learner's implementation does (algos/td3.py)
        linear = linear_class(config.implementation == "fast" and self.device.type == "cpu")
        with seeded_init(seed):
            module, features = encoder()
            self.encoder = module.to(self.device)
            head = mlp(features, config.hidden, action_dim, output_activation=nn.Tanh, linear=linear)
            self.actor = head.to(self.device)
            self.critic = TwinQ(features, action_dim, config.hidden, linear).to(self.device)
        self.encoder_target = target_network(self.encoder)
        self.actor_target = target_network(self.actor)
        self.critic_target = target_network(self.critic)
        self.actor_optimizer = adam(self.actor.parameters(), config.actor_lr, config.implementation)
        critic_parameters = [*self.critic.parameters(), *self.encoder.parameters()]
        self.critic_optimizer = adam(critic_parameters, config.critic_lr, config.implementation)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self.num_updates = 0

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """pi(enc(obs)) (B, action_dim) in [-1, 1]."""
        if obs.shape[-1] != self.obs_dim:
            raise ConfigError(f"obs of shape {tuple(obs.shape)}: expected (B, {self.obs_dim})")
        return self.actor(self.encoder(obs))

    def update(self, batch: Batch) -> dict[str, Tensor]:
        """One critic (and encoder) step; on every ``policy_delay``-th call an actor step and the
        target updates. Metrics as TD3's."""
        for name in ("obs", "next_obs"):
            if getattr(batch, name).shape[-1] != self.obs_dim:
                raise ConfigError(
                    f"batch.{name} of shape {tuple(getattr(batch, name).shape)}: expected (B, {self.obs_dim})"
                )
        c = self.config
        self.num_updates += 1
        with torch.no_grad():
            next_features = self.encoder_target(batch.next_obs)
        features = self.encoder(batch.obs)
        noise = target_policy_noise(
            tuple(batch.action.shape), c.target_noise, c.target_noise_clip, self.generator, self.device
        )
        on_features = Batch(
            obs=features, action=batch.action, reward=batch.reward, next_obs=next_features, done=batch.done
        )
        target = td_target(on_features, self.actor_target, self.critic_target, noise, c.discount)
        loss, metrics = critic_loss(self.critic, on_features, target)
        self.critic_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_optimizer.step()
        if self.num_updates % c.policy_delay == 0:
            metrics |= self.actor_step(features.detach())
            soft_update(self.encoder_target, self.encoder, c.tau)
            soft_update(self.actor_target, self.actor, c.tau)
            soft_update(self.critic_target, self.critic, c.tau)
        return metrics

    def actor_step(self, features: Tensor) -> dict[str, Tensor]:
        """One step of the actor head on detached features; nothing else moves."""
        loss, metrics = actor_loss(self.actor, self.critic, features)
        self.actor_optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=list(self.actor.parameters()))
        self.actor_optimizer.step()
        return metrics

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {name: getattr(self, name).state_dict() for name in PARTS}
        return {
            **state,
            "config": asdict(self.config),
            "sizes": (self.obs_dim, self.action_dim),
            "num_updates": self.num_updates,
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if not same_settings(TD3Config(**state["config"]), self.config) or tuple(state["sizes"]) != (
            self.obs_dim,
            self.action_dim,
        ):
            raise ConfigError(
                f"PixelTD3 state of config {state['config']} and sizes {tuple(state['sizes'])}; this "
                f"learner has {asdict(self.config)} and {(self.obs_dim, self.action_dim)}"
            )
        for name in PARTS:
            part = getattr(self, name)
            if isinstance(part, torch.optim.Optimizer):
                load_optimizer(part, state[name])
            else:
                part.load_state_dict(state[name])
        self.num_updates = int(state["num_updates"])
        self.generator.set_state(state["generator"].cpu())
