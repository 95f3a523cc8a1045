"""AWAC: advantage-weighted actor-critic (Nair, Gupta, Dalal, Levine, 2020), the offline-to-online
learner of AWAC and VAL (ALGORITHMS.md, AWAC).

A Gaussian policy (tanh mean, state-independent log-std; networks/policies.py) and two Q networks
with target copies. One ``update(batch)`` is:

1. Advantage weights, without gradients, from the critics before this step:
   A(s, a) = min_i Q_i(s, a) - V(s) for the batch's own action a, with V(s) = min_i Q_i(s, a_pi) at
   the policy's mean action (``value_action="mean"``: hand tasks and VAL) or at one sampled action
   (``"sample"``: the MuJoCo setting, CORL, d3rlpy). Optionally A <- min(A, advantage_clip) (0.5 on
   the hand tasks, 2 in VAL). Then w = B softmax(A / lambda) over the batch (``"batch_softmax"``,
   rlkit and d3rlpy) or w = min(exp(A / lambda), exp_clip) (``"clipped_exp"``, CORL). Z(s) is
   dropped: the paper found estimating it hurt.
2. Critic step: y = r + gamma (1 - done) min_i Q_i,targ(s', a'), a' ~ pi(. | s'), no entropy term;
   with ``target_max`` the target is clamped from above (0 for -1/0 rewards, whose true values are
   never positive); ``ignore_done`` bootstraps through terminations (AWAC's setting for -1/0
   sparse rewards, where reaching the goal ends nothing).
3. Actor step: maximise sum_b w_b log pi(a_b | s_b) / B, the data's own actions weighted by their
   advantage: pi* proportional to pi_beta exp(A / lambda). Adam's weight decay on the policy only.
4. Polyak averaging of the critic targets (the policy has no target).

Determinism: weights come from ``seed`` under a forked global RNG; policy samples (the critic's
a' and, with ``value_action="sample"``, V) come from the learner's own generator, which
``state_dict`` carries with networks, targets, optimisers and the update counter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from affordkit.algos import common
from affordkit.algos.common import (
    Implementation,
    adam,
    check_implementation,
    hidden_sizes,
    positive_int,
    soft_update,
    target_network,
)
from affordkit.algos.common import twin_q_target as bootstrap
from affordkit.device import resolve_device
from affordkit.errors import ConfigError
from affordkit.networks.fast import linear_class
from affordkit.networks.mlp import TwinQ
from affordkit.networks.policies import GaussianPolicy
from affordkit.types import Batch

STATE_PARTS = ("policy", "critic", "critic_target", "policy_optimizer", "critic_optimizer")
"""The attributes whose state dicts ``state_dict`` holds (networks, then optimisers)."""

Weighting = Literal["batch_softmax", "clipped_exp"]
ValueAction = Literal["mean", "sample"]


@dataclass(frozen=True)
class AWACConfig:
    """AWAC's settings; defaults are the paper's manipulation ones (ALGORITHMS.md, AWAC)."""

    policy_hidden: tuple[int, ...] = (256, 256, 256, 256)
    """Hidden sizes of the policy's mean network: [256] * 4 in the paper and VAL ([256, 256] in the
    MuJoCo code)."""
    q_hidden: tuple[int, ...] = (256, 256)
    """Hidden sizes of each Q network: [256, 256]."""
    actor_lr: float = 3e-4
    """Adam learning rate of the policy: 3e-4."""
    critic_lr: float = 3e-4
    """Adam learning rate of the Q networks: 3e-4."""
    batch_size: int = 1024
    """Transitions per update, read by whoever samples the batch: 1024."""
    discount: float = 0.99
    """Discount gamma: 0.99."""
    tau: float = 5e-3
    """Polyak rate of the critic targets: 5e-3."""
    beta: float = 0.3
    """Temperature lambda of the advantage weights: 0.3 for manipulation and VAL, 1.0 for MuJoCo in
    the paper; 0.5 and 2 in the code examples."""
    weighting: Weighting = "batch_softmax"
    """``batch_softmax``: w = B softmax(A / lambda) over the batch (rlkit, d3rlpy);
    ``clipped_exp``: w = min(exp(A / lambda), exp_clip) (CORL)."""
    exp_clip: float = 100.0
    """Upper bound of the weights with ``clipped_exp``: 100 in CORL."""
    advantage_clip: float | None = None
    """A <- min(A, advantage_clip) before weighting: 0.5 on the hand tasks, 2 in VAL; None: off."""
    value_action: ValueAction = "mean"
    """V(s) = min Q(s, a) at the policy's mean action (hand tasks, VAL) or one sampled action."""
    target_max: float | None = None
    """Clamp the critic target from above: 0 for -1/0 rewards (AWAC and VAL); None: off."""
    ignore_done: bool = False
    """Bootstrap through terminations, as AWAC does for -1/0 sparse rewards."""
    policy_weight_decay: float = 1e-4
    """Adam weight decay of the policy: 1e-4."""
    min_log_std: float = -6.0
    """Lower bound of the policy's log-std: -6."""
    max_log_std: float = 0.0
    """Upper bound of the policy's log-std: 0."""
    implementation: Implementation = "fast"
    """``fast``: oneDNN Linear layers where the start-up check passes and fused Adam; ``reference``:
    ``nn.Linear`` and PyTorch's default Adam (algos/common.py, docs/speed.md)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy_hidden", hidden_sizes("policy_hidden", self.policy_hidden))
        object.__setattr__(self, "q_hidden", hidden_sizes("q_hidden", self.q_hidden))
        for name in ("actor_lr", "critic_lr", "beta", "exp_clip"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}={getattr(self, name)!r}: expected > 0")
        if not positive_int(self.batch_size):
            raise ConfigError(f"batch_size={self.batch_size!r}: expected a positive integer")
        if not 0 <= self.discount <= 1:
            raise ConfigError(f"discount={self.discount!r}: expected in [0, 1]")
        if not 0 < self.tau <= 1:
            raise ConfigError(f"tau={self.tau!r}: expected in (0, 1]")
        if self.weighting not in ("batch_softmax", "clipped_exp"):
            raise ConfigError(
                f"weighting={self.weighting!r}; accepted values: ['batch_softmax', 'clipped_exp']"
            )
        if self.value_action not in ("mean", "sample"):
            raise ConfigError(f"value_action={self.value_action!r}; accepted values: ['mean', 'sample']")
        if self.advantage_clip is not None and not self.advantage_clip > 0:
            raise ConfigError(f"advantage_clip={self.advantage_clip!r}: expected > 0 or None")
        if not self.policy_weight_decay >= 0:
            raise ConfigError(f"policy_weight_decay={self.policy_weight_decay!r}: expected >= 0")
        if not self.min_log_std < self.max_log_std:
            raise ConfigError(f"min_log_std={self.min_log_std} must be below max_log_std={self.max_log_std}")
        check_implementation(self.implementation)


# ---- losses: plain functions of networks and tensors --------------------------------------------


def advantage_weights(
    advantage: Tensor, beta: float, weighting: Weighting, exp_clip: float = 100.0, clip: float | None = None
) -> Tensor:
    """Weights w (..., B) of the actor's log-likelihoods from advantages A (..., B) (module docstring,
    1); the batch softmax runs over the last dimension (one batch per row for stacked learners)."""
    if clip is not None:
        advantage = advantage.clamp(max=clip)
    scores = advantage / beta
    if weighting == "batch_softmax":
        return torch.softmax(scores, dim=-1) * scores.shape[-1]
    return torch.exp(scores).clamp(max=exp_clip)


@torch.no_grad()
def advantages(
    policy: GaussianPolicy, critic: TwinQ, obs: Tensor, action: Tensor, value_action: ValueAction,
    generator: torch.Generator,
) -> Tensor:  # fmt: skip
    """A(s, a) = min Q(s, a) - min Q(s, a_pi) (B,), a_pi the mean or a sample of pi(. | s)."""
    q = torch.minimum(*critic(obs, action))
    a_pi = policy.mean(obs) if value_action == "mean" else policy.sample(obs, generator)
    return q - torch.minimum(*critic(obs, a_pi))


@torch.no_grad()
def td_target(
    batch: Batch, policy: GaussianPolicy, critic_target: TwinQ, config: AWACConfig, generator: torch.Generator
) -> Tensor:
    """y = r + gamma (1 - done) min_i Q_i,targ(s', a'), a' ~ pi(. | s'), clamped by ``target_max``."""
    next_action = policy.sample(batch.next_obs, generator)
    done = torch.zeros_like(batch.done) if config.ignore_done else batch.done
    next_q1, next_q2 = critic_target(batch.next_obs, next_action)
    y = bootstrap(batch.reward, done, next_q1, next_q2, config.discount)
    return y if config.target_max is None else y.clamp(max=config.target_max)


def critic_loss(critic: TwinQ, batch: Batch, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """Sum of both critics' mean squared errors to the shared target (B,)."""
    q1, q2 = critic(batch.obs, batch.action)
    loss = (q1 - target).pow(2).mean() + (q2 - target).pow(2).mean()
    return loss, {
        "critic/loss": loss.detach(),
        "critic/q1": q1.detach().mean(),
        "critic/q2": q2.detach().mean(),
        "critic/target": target.mean(),
    }


def actor_loss(
    policy: GaussianPolicy, obs: Tensor, action: Tensor, weights: Tensor
) -> tuple[Tensor, dict[str, Tensor]]:
    """-mean_b w_b log pi(a_b | s_b): weighted maximum likelihood of the data's actions."""
    log_prob = policy.log_prob(obs, action)  # (B,)
    loss = -(log_prob * weights).mean()
    return loss, {
        "actor/loss": loss.detach(),
        "actor/log_prob": log_prob.detach().mean(),
        "actor/weight_max": weights.max(),
        # effective sample size of the weights as a fraction of the batch, (sum w)^2 / (B sum w^2):
        # 1 when all weights are equal, 1/B when one transition carries the whole batch
        "actor/weight_ess": weights.sum().square() / (weights.numel() * weights.square().sum()),
        "actor/std": policy.log_std().detach().exp().mean(),
    }


# ---- the learner ---------------------------------------------------------------------------------


class AWAC:
    """``AWAC(obs_dim, action_dim, AWACConfig(), seed=0, device="cpu")``; satisfies ``Learner``."""

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        config: AWACConfig | None = None,
        *,
        seed: int,
        device: torch.device | str = "cpu",
    ) -> None:
        common.check_sizes(obs_dim, action_dim, seed)
        self.config = c = config if config is not None else AWACConfig()
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.device = resolve_device(device)
        linear = linear_class(c.implementation == "fast" and self.device.type == "cpu")
        with common.seeded_init(seed):
            self.policy = GaussianPolicy(
                obs_dim, action_dim, c.policy_hidden, c.min_log_std, c.max_log_std, linear
            )
            self.critic = TwinQ(obs_dim, action_dim, c.q_hidden, linear)
        self.policy.to(self.device)
        self.critic.to(self.device)
        self.critic_target = target_network(self.critic)
        self.policy_optimizer = adam(
            self.policy.parameters(), c.actor_lr, c.implementation, c.policy_weight_decay
        )
        self.critic_optimizer = adam(self.critic.parameters(), c.critic_lr, c.implementation)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self.num_updates = 0

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """The policy's mean (B, action_dim) in [-1, 1]: the evaluation action."""
        common.check_obs(obs, self.obs_dim)
        return self.policy.mean(obs)

    @torch.no_grad()
    def explore(self, obs: Tensor, generator: torch.Generator) -> Tensor:
        """A sample of pi(. | obs), clipped to [-1, 1]: AWAC explores with its own Gaussian, no added
        noise. ``generator`` is the caller's, so exploration does not shift the learner's draws."""
        return self.policy.sample(obs, generator)

    def update(self, batch: Batch) -> dict[str, Tensor]:
        """Advantage weights from the current critics, then one critic step, one actor step and the
        target update. Metrics: ``critic/*``, ``actor/*``, ``awac/advantage``."""
        common.check_batch(batch, self.obs_dim, self.action_dim)
        c = self.config
        self.num_updates += 1
        adv = advantages(self.policy, self.critic, batch.obs, batch.action, c.value_action, self.generator)
        weights = advantage_weights(adv, c.beta, c.weighting, c.exp_clip, c.advantage_clip)
        metrics = self.critic_step(batch)
        metrics |= self.actor_step(batch.obs, batch.action, weights)
        soft_update(self.critic_target, self.critic, c.tau)
        metrics["awac/advantage"] = adv.mean()
        return metrics

    def critic_step(self, batch: Batch) -> dict[str, Tensor]:
        """One optimiser step of both Q networks; nothing else moves."""
        target = td_target(batch, self.policy, self.critic_target, self.config, self.generator)
        loss, metrics = critic_loss(self.critic, batch, target)
        self.critic_optimizer.zero_grad(set_to_none=True)
        loss.backward()  # only critic parameters are in the graph
        self.critic_optimizer.step()
        return metrics

    def actor_step(self, obs: Tensor, action: Tensor, weights: Tensor) -> dict[str, Tensor]:
        """One optimiser step of the policy; the weights are constants."""
        loss, metrics = actor_loss(self.policy, obs, action, weights.detach())
        self.policy_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.policy_optimizer.step()
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """Networks, target, optimisers, update counter and generator (tensors shared with the
        learner: save or copy them before updating further)."""
        return common.learner_state(self, STATE_PARTS, self.generator)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue exactly where ``state`` was taken; refuses a state of another config or size."""
        common.load_learner_state(self, state, STATE_PARTS, self.generator)
