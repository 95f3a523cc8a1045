"""K independent TD3 learners trained together in one process: one seed each, their own parameters,
targets, Adam moments and smoothing-noise generators, and one batched update for all of them.

Every parameter of the K actors (and critics, and targets) is stacked along a leading dimension K,
and each linear layer is one operation over the K networks: with the fast implementation K oneDNN
products under one autograd node (networks/fast.py), with the reference one ``baddbmm``. The fixed
cost of an update (Python, autograd, the optimiser and Polyak steps) is paid once instead of K
times. The loss is the sum of the K learners' own losses,
so each learner's gradient is exactly its own; Adam and Polyak averaging act element by element,
so one optimiser over the stacked tensors is K independent ones. ``TD3Seeds(seeds=[s_1, ..., s_K])``
therefore computes what K ``TD3(seed=s_k)`` learners compute on the same minibatches, equal to float
rounding (tests/algos/test_td3_seeds.py), and ``learner_state_dict(k)`` hands out learner k as a
plain ``TD3`` checkpoint.

Minibatches come stacked, one per learner: ``Batch`` fields of shape (K, B, ...). Networks read
``obs`` directly (the pixel baseline has its own learner, ``td3_pixels.PixelTD3``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor, nn

from affordkit.algos.common import adam, load_optimizer, twin_q_target
from affordkit.algos.td3 import TD3, TD3Config
from affordkit.errors import ConfigError
from affordkit.networks.fast import OneDNNLinear, stacked_linear
from affordkit.types import Batch

NETWORKS = ("actor", "critic", "actor_target", "critic_target")
Stack = dict[str, Any]  # parameter name (as in the single network's state_dict) -> (K, ...) tensor


def stack_parameters(modules: Sequence[nn.Module], trainable: bool) -> Stack:
    """The K modules' parameters stacked along a new leading dimension, by name."""
    names = [name for name, _ in modules[0].named_parameters()]
    stacked = {}
    for name in names:
        value = torch.stack([dict(m.named_parameters())[name].detach() for m in modules]).clone()
        stacked[name] = nn.Parameter(value) if trainable else value
    return stacked


def stacked_mlp(layers: nn.Sequential, params: Stack, prefix: str, x: Tensor) -> Tensor:
    """``layers`` (an ``mlp``: Linear layers and elementwise activations) applied by each of the K
    stacked parameter sets to its own input: x (K, B, in) -> (K, B, out). Layers built as
    ``OneDNNLinear`` run their K products on oneDNN, others as one ``baddbmm``."""
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.Linear):
            weight, bias = params[f"{prefix}{i}.weight"], params[f"{prefix}{i}.bias"]
            x = stacked_linear(x, weight, bias, onednn=isinstance(layer, OneDNNLinear))
        else:
            x = layer(x)
    return x


class TD3Seeds:
    """``TD3Seeds(obs_dim, action_dim, TD3Config(), seeds=[0, 1, 2, 3, 4])``: K TD3 learners, one
    update for all. ``update`` takes a ``Batch`` of (K, B, ...) fields and returns metrics of shape
    (K,), one value per learner."""

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        config: TD3Config | None = None,
        *,
        seeds: Sequence[int],
        device: torch.device | str = "cpu",
    ) -> None:
        config = config if config is not None else TD3Config()
        seeds = list(seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise ConfigError(f"seeds={seeds!r}: expected distinct seeds, at least one")
        # K single learners give the initial weights (the same draws as K separate runs) and the
        # networks' layout (with the fast implementation, oneDNN layers where the start-up check
        # passes); only their parameters are kept, stacked
        singles = [TD3(obs_dim, action_dim, config, seed=s, device=device) for s in seeds]
        self.config, self.seeds = config, seeds
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.device = singles[0].device
        self.actor_layers = singles[0].actor
        self.q1_layers, self.q2_layers = singles[0].critic.q1, singles[0].critic.q2
        self.actor = stack_parameters([s.actor for s in singles], trainable=True)
        self.critic = stack_parameters([s.critic for s in singles], trainable=True)
        self.actor_target = stack_parameters([s.actor_target for s in singles], trainable=False)
        self.critic_target = stack_parameters([s.critic_target for s in singles], trainable=False)
        self.actor_optimizer = adam(self.actor.values(), config.actor_lr, config.implementation)
        self.critic_optimizer = adam(self.critic.values(), config.critic_lr, config.implementation)
        self.generators = [s.generator for s in singles]
        self.num_updates = 0

    @property
    def num_seeds(self) -> int:
        return len(self.seeds)

    # ---- networks on stacked parameters ----------------------------------------------------------

    def policy(self, params: Stack, obs: Tensor) -> Tensor:
        return stacked_mlp(self.actor_layers, params, "", obs)

    def q_values(self, params: Stack, obs: Tensor, action: Tensor, both: bool = True) -> tuple[Tensor, ...]:
        x = torch.cat([obs, action], dim=-1)
        q1 = stacked_mlp(self.q1_layers, params, "q1.", x).squeeze(-1)
        if not both:
            return (q1,)
        return q1, stacked_mlp(self.q2_layers, params, "q2.", x).squeeze(-1)

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """pi_k(obs_k) (K, B, action_dim) for obs (K, B, obs_dim)."""
        if obs.dim() != 3 or obs.shape[0] != self.num_seeds or obs.shape[-1] != self.obs_dim:
            raise ConfigError(
                f"obs of shape {tuple(obs.shape)}: expected ({self.num_seeds}, B, {self.obs_dim})"
            )
        return self.policy(self.actor, obs)

    # ---- the update ----------------------------------------------------------------------------------

    def update(self, batch: Batch) -> dict[str, Tensor]:
        """One critic step of every learner, and on every ``policy_delay``-th call an actor step and
        target update of every learner (as ``TD3.update``, K at once)."""
        self._check(batch)
        c = self.config
        self.num_updates += 1
        noise = torch.stack(
            [torch.randn(batch.action.shape[1:], generator=g, device=self.device) for g in self.generators]
        )
        noise = (noise * c.target_noise).clamp_(-c.target_noise_clip, c.target_noise_clip)
        with torch.no_grad():
            next_action = (self.policy(self.actor_target, batch.next_obs) + noise).clamp_(-1.0, 1.0)
            next_q1, next_q2 = self.q_values(self.critic_target, batch.next_obs, next_action)
            target = twin_q_target(batch.reward, batch.done, next_q1, next_q2, c.discount)  # (K, B)
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
        if self.num_updates % c.policy_delay == 0:
            action = self.policy(self.actor, batch.obs)
            (q,) = self.q_values(self.critic, batch.obs, action, both=False)
            actor_losses = -q.mean(1)
            self.actor_optimizer.zero_grad(set_to_none=True)
            actor_losses.sum().backward(inputs=list(self.actor.values()))
            self.actor_optimizer.step()
            metrics["actor/loss"] = actor_losses.detach()
            metrics["actor/action_abs"] = action.detach().abs().mean((1, 2))
            with torch.no_grad():
                for target_params, params in (
                    (self.actor_target, self.actor),
                    (self.critic_target, self.critic),
                ):
                    torch._foreach_lerp_(list(target_params.values()), list(params.values()), c.tau)
        return metrics

    # ---- state ---------------------------------------------------------------------------------------

    def learner_state_dict(self, k: int) -> dict[str, Any]:
        """Learner k as a ``TD3.state_dict()``: load it into ``TD3(..., seed=seeds[k])`` to continue
        that learner alone (copies, not views)."""
        if not 0 <= k < self.num_seeds:
            raise ConfigError(f"k={k}: expected 0 <= k < {self.num_seeds}")

        def one(stack: Stack) -> dict[str, Tensor]:
            return {name: value.detach()[k].clone() for name, value in stack.items()}

        state = self._state(one, lambda optimizer: _one_optimizer(optimizer, k))
        return {**state, "generator": self.generators[k].get_state()}

    def state_dict(self) -> dict[str, Any]:
        """Every learner's state, stacked (tensors shared with the learner: copy before updating)."""
        state = self._state(dict, lambda optimizer: optimizer.state_dict())
        return {**state, "seeds": list(self.seeds), "generators": [g.get_state() for g in self.generators]}

    def _state(
        self, params: Callable[[Stack], dict[str, Tensor]], optimizer: Callable[[torch.optim.Optimizer], Any]
    ) -> dict[str, Any]:
        return {
            "config": asdict(self.config),
            "sizes": (self.obs_dim, self.action_dim),
            **{name: params(getattr(self, name)) for name in NETWORKS},
            "actor_optimizer": optimizer(self.actor_optimizer),
            "critic_optimizer": optimizer(self.critic_optimizer),
            "num_updates": self.num_updates,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue exactly where ``state`` was taken; refuses another config, size or seed list."""
        if (
            TD3Config(**state["config"]) != self.config
            or tuple(state["sizes"]) != (self.obs_dim, self.action_dim)
            or list(state["seeds"]) != self.seeds
        ):
            raise ConfigError(
                f"TD3Seeds state of config {state['config']}, sizes {tuple(state['sizes'])} and seeds "
                f"{state['seeds']}; this learner has {asdict(self.config)}, "
                f"{(self.obs_dim, self.action_dim)} and {self.seeds}"
            )
        with torch.no_grad():
            for name in NETWORKS:
                for key, value in getattr(self, name).items():
                    value.copy_(state[name][key])
        load_optimizer(self.actor_optimizer, state["actor_optimizer"])
        load_optimizer(self.critic_optimizer, state["critic_optimizer"])
        self.num_updates = int(state["num_updates"])
        for g, s in zip(self.generators, state["generators"], strict=True):
            g.set_state(s.cpu())

    def _check(self, batch: Batch) -> None:
        k, b = self.num_seeds, batch.obs.shape[1] if batch.obs.dim() == 3 else -1
        want = {
            "obs": (k, b, self.obs_dim),
            "action": (k, b, self.action_dim),
            "reward": (k, b),
            "next_obs": (k, b, self.obs_dim),
            "done": (k, b),
        }
        for name, shape in want.items():
            got = tuple(getattr(batch, name).shape)
            if got != shape:
                raise ConfigError(f"batch.{name} has shape {got}; expected {shape}")


def _one_optimizer(optimizer: torch.optim.Optimizer, k: int) -> dict[str, Any]:
    """Learner k's share of an Adam over stacked parameters, as an Adam state_dict of its own."""
    full = optimizer.state_dict()
    state = {
        index: {name: (v if name == "step" else v[k]).clone() for name, v in entry.items()}
        for index, entry in full["state"].items()
    }
    return {"state": state, "param_groups": full["param_groups"]}
