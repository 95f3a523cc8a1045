"""What K learners trained together in one process share (``TD3Seeds``, ``AWACSeeds``): parameters
stacked along a leading dimension K, networks applied by each of the K parameter sets to its own
input, and the state of the K learners, whole or one at a time.

Each linear layer of a stacked network is one operation over the K networks: with the fast
implementation K oneDNN products under one autograd node (networks/fast.py), with the reference one
``baddbmm``. A learner's loss is the sum of the K learners' own losses, so each gradient is exactly
the learner's own; Adam (its weight decay included) and Polyak averaging act element by element, so
one optimiser over the stacked tensors is K independent ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from affordkit.algos.common import check_obs, load_optimizer
from affordkit.errors import ConfigError
from affordkit.networks.fast import OneDNNLinear, stacked_linear
from affordkit.networks.mlp import TwinQ
from affordkit.networks.policies import LOG_2PI
from affordkit.types import Batch

Stack = dict[str, Any]  # parameter name (as in the single network's state_dict) -> (K, ...) tensor


def stack_parameters(modules: Sequence[nn.Module], trainable: bool) -> Stack:
    """The K modules' parameters stacked along a new leading dimension, by name."""
    names = [name for name, _ in modules[0].named_parameters()]
    stacked = {}
    for name in names:
        value = torch.stack([dict(m.named_parameters())[name].detach() for m in modules]).clone()
        stacked[name] = nn.Parameter(value) if trainable else value
    return stacked


def stack_buffers(modules: Sequence[nn.Module]) -> Stack:
    """The K modules' buffers (BatchNorm statistics) stacked along a new leading dimension, by name."""
    names = [name for name, _ in modules[0].named_buffers()]
    return {name: torch.stack([dict(m.named_buffers())[name] for m in modules]).clone() for name in names}


def stacked_conv(
    layers: nn.Sequential,
    params: Stack,
    prefix: str,
    x: Tensor,
    k: int,
    training: bool,
    grouped: bool | None = None,
) -> Tensor:
    """``layers`` (a conv trunk: Conv2d, BatchNorm2d, elementwise activations, a final Flatten)
    applied by each of the K stacked parameter sets to its own images, as grouped convolutions:
    x (B, K * C, H, W), learner k's images in channels k * C ... (k + 1) * C - 1 -> (K, B, features).

    Group k of every layer sees only learner k's channels, so each learner's output and gradient
    are its own. BatchNorm normalises each channel over the batch, i.e. over learner k's own batch,
    and with ``training`` updates the stacked running statistics in place (``params`` holds them
    with the layer's buffers' names), as K ``nn.BatchNorm2d`` in training mode would.

    ``grouped``: each conv as one grouped convolution for all K (True), or the K trunks one after
    another on their own contiguous images (False: the same numbers; on one CPU thread the grouped
    convolutions ran at 0.65x the throughput of K learners one after another, docs/speed.md).
    None: grouped on a GPU, one after another on the CPU."""
    for layer in layers:
        if isinstance(layer, nn.Conv2d) and layer.padding_mode != "zeros":
            raise ConfigError(f"stacked_conv: padding_mode={layer.padding_mode!r}; only 'zeros' is stacked")
        if isinstance(layer, nn.BatchNorm2d) and (layer.momentum is None or not layer.track_running_stats):
            raise ConfigError("stacked_conv: BatchNorm2d needs running statistics with a fixed momentum")
    if not layers or not isinstance(layers[-1], nn.Flatten):
        raise ConfigError("stacked_conv: the trunk must end with a Flatten")
    if grouped is None:
        grouped = x.device.type != "cpu"
    if not grouped:
        b, _, h, w = x.shape
        blocks = x.view(b, k, -1, h, w).transpose(0, 1).contiguous()  # (K, B, C, H, W)
        outputs = [
            conv_trunk(layers, {n: v[j] for n, v in params.items()}, prefix, blocks[j], training)
            for j in range(k)
        ]
        return torch.stack(outputs)
    for i, layer in enumerate(layers):
        name = f"{prefix}{i}."
        if isinstance(layer, nn.Conv2d):
            weight, bias = params[name + "weight"], params.get(name + "bias")
            x = F.conv2d(
                x,
                weight.reshape(-1, *weight.shape[2:]),
                None if bias is None else bias.reshape(-1),
                stride=layer.stride,
                padding=layer.padding,
                dilation=layer.dilation,
                groups=k * layer.groups,
            )
        elif isinstance(layer, nn.BatchNorm2d):
            if training:
                params[name + "num_batches_tracked"].add_(1)
            x = F.batch_norm(
                x,
                params[name + "running_mean"].view(-1),
                params[name + "running_var"].view(-1),
                params[name + "weight"].reshape(-1),
                params[name + "bias"].reshape(-1),
                training,
                layer.momentum,  # type: ignore[arg-type]  # checked above: not None
                layer.eps,
            )
        elif isinstance(layer, nn.Flatten):
            x = x.reshape(x.shape[0], k, -1)  # (B, K, C' h w): learner k's channels in a row
        else:
            x = layer(x)
    return x.transpose(0, 1)


def conv_trunk(layers: nn.Sequential, params: Stack, prefix: str, x: Tensor, training: bool) -> Tensor:
    """``layers`` (as :func:`stacked_conv`'s) with one learner's parameters ``params`` (views into
    the stacked ones: BatchNorm's running statistics are updated through them): x (B, C, H, W) ->
    (B, features)."""
    for i, layer in enumerate(layers):
        name = f"{prefix}{i}."
        if isinstance(layer, nn.Conv2d):
            x = F.conv2d(
                x,
                params[name + "weight"],
                params.get(name + "bias"),
                stride=layer.stride,
                padding=layer.padding,
                dilation=layer.dilation,
                groups=layer.groups,
            )
        elif isinstance(layer, nn.BatchNorm2d):
            if training:
                params[name + "num_batches_tracked"].add_(1)
            x = F.batch_norm(
                x,
                params[name + "running_mean"],
                params[name + "running_var"],
                params[name + "weight"],
                params[name + "bias"],
                training,
                layer.momentum,  # type: ignore[arg-type]  # checked by stacked_conv: not None
                layer.eps,
            )
        else:
            x = layer(x)
    return x


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


def stacked_twin_q(
    critic: TwinQ, params: Stack, obs: Tensor, action: Tensor, both: bool = True
) -> tuple[Tensor, ...]:
    """Q_1 and Q_2 (K, B) of the K stacked critics of ``critic``'s layout (Q_1 alone when not
    ``both``)."""
    x = torch.cat([obs, action], dim=-1)
    q1 = stacked_mlp(critic.q1, params, "q1.", x).squeeze(-1)
    if not both:
        return (q1,)
    return q1, stacked_mlp(critic.q2, params, "q2.", x).squeeze(-1)


def check_seeds(seeds: Sequence[int]) -> list[int]:
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds={seeds!r}: expected distinct seeds, at least one")
    return seeds


def one_optimizer(optimizer: torch.optim.Optimizer, k: int) -> dict[str, Any]:
    """Learner k's share of an Adam over stacked parameters, as an Adam state_dict of its own."""
    full = optimizer.state_dict()
    state = {
        index: {name: (v if name == "step" else v[k]).clone() for name, v in entry.items()}
        for index, entry in full["state"].items()
    }
    return {"state": state, "param_groups": full["param_groups"]}


class StackedLearners:
    """The state of K stacked learners. A subclass names its stacked networks (``NETWORKS``,
    attributes holding a ``Stack``) and optimisers (``OPTIMIZERS``) by the keys of the single
    learner's ``state_dict``, and sets ``config``, ``seeds``, ``obs_dim``, ``action_dim``,
    ``generators`` (one per learner; none for learners that draw nothing, such as BC) and
    ``num_updates``."""

    NETWORKS: ClassVar[tuple[str, ...]]
    OPTIMIZERS: ClassVar[tuple[str, ...]]
    config: Any
    seeds: list[int]
    obs_dim: int
    action_dim: int
    generators: list[torch.Generator]
    num_updates: int

    @property
    def num_seeds(self) -> int:
        return len(self.seeds)

    def adopt(
        self,
        single: Callable[..., Any],
        obs_dim: int,
        action_dim: int,
        config: Any,
        seeds: Sequence[int],
        device: torch.device | str,
    ) -> list[Any]:
        """K single learners ``single(obs_dim, action_dim, config, seed=s, device=device)``, one per
        seed: they give the initial weights (the same draws as K separate runs), the networks' layout
        (with the fast implementation, oneDNN layers where the start-up check passes) and the
        generators; the subclass keeps their parameters, stacked. Sets the common fields."""
        self.seeds = check_seeds(seeds)
        singles = [single(obs_dim, action_dim, config, seed=s, device=device) for s in self.seeds]
        self.config, self.obs_dim, self.action_dim = config, obs_dim, action_dim
        self.device: torch.device = singles[0].device
        self.generators = [s.generator for s in singles if getattr(s, "generator", None) is not None]
        self.num_updates = 0
        return singles

    def learner_state_dict(self, k: int) -> dict[str, Any]:
        """Learner k as the single learner's ``state_dict()``: load it into the single learner of
        ``seeds[k]`` to continue that learner alone (copies, not views)."""
        if not 0 <= k < self.num_seeds:
            raise ConfigError(f"k={k}: expected 0 <= k < {self.num_seeds}")

        def one(stack: Stack) -> dict[str, Tensor]:
            return {name: value.detach()[k].clone() for name, value in stack.items()}

        state = self._state(one, lambda optimizer: one_optimizer(optimizer, k))
        return {**state, "generator": self.generators[k].get_state()} if self.generators else state

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
            **{name: params(getattr(self, name)) for name in self.NETWORKS},
            **{name: optimizer(getattr(self, name)) for name in self.OPTIMIZERS},
            "num_updates": self.num_updates,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue exactly where ``state`` was taken; refuses another config, size or seed list."""
        if (
            type(self.config)(**state["config"]) != self.config
            or tuple(state["sizes"]) != (self.obs_dim, self.action_dim)
            or list(state["seeds"]) != self.seeds
        ):
            raise ConfigError(
                f"{type(self).__name__} state of config {state['config']}, sizes {tuple(state['sizes'])} "
                f"and seeds {state['seeds']}; this learner has {asdict(self.config)}, "
                f"{(self.obs_dim, self.action_dim)} and {self.seeds}"
            )
        with torch.no_grad():
            for name in self.NETWORKS:
                for key, value in getattr(self, name).items():
                    value.copy_(state[name][key])
        for name in self.OPTIMIZERS:
            load_optimizer(getattr(self, name), state[name])
        self.num_updates = int(state["num_updates"])
        for g, s in zip(self.generators, state["generators"], strict=True):
            g.set_state(s.cpu())

    def check_obs(self, obs: Tensor) -> None:
        if obs.dim() != 3 or obs.shape[0] != self.num_seeds or obs.shape[-1] != self.obs_dim:
            raise ConfigError(
                f"obs of shape {tuple(obs.shape)}: expected ({self.num_seeds}, B, {self.obs_dim})"
            )

    def check_batch(self, batch: Batch) -> None:
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

    def draws(
        self, shape: Sequence[int], device: torch.device, generators: Sequence[torch.Generator] | None = None
    ) -> Tensor:
        """One standard normal draw of ``shape`` from each learner's own generator (or from
        ``generators[k]``), stacked (K, ...): what each single learner would draw at this point."""
        generators = self.generators if generators is None else list(generators)
        if len(generators) != self.num_seeds:
            raise ConfigError(f"{len(generators)} generators for {self.num_seeds} learners")
        return torch.stack([torch.randn(tuple(shape), generator=g, device=device) for g in generators])


class StackedGaussianPolicies(StackedLearners):
    """K stacked Gaussian policies of ``networks/policies.py``'s layout (a tanh-squashed MLP mean
    and a state-independent log-std), the actors of ``AWACSeeds`` and ``BCSeeds``. The subclass
    stacks its policies into ``policy`` and sets ``mean_layers`` (one single policy's ``mean_net``);
    ``config`` has ``min_log_std`` and ``max_log_std``."""

    policy: Stack
    mean_layers: nn.Sequential

    def mean(self, obs: Tensor) -> Tensor:
        """tanh(MLP_k(obs_k)) (K, B, action_dim)."""
        return stacked_mlp(self.mean_layers, self.policy, "mean_net.", obs)

    def log_std(self) -> Tensor:
        """(K, 1, action_dim), in [min_log_std, max_log_std]."""
        c = self.config
        logits = self.policy["log_std_logits"]
        return (c.min_log_std + torch.sigmoid(logits) * (c.max_log_std - c.min_log_std)).unsqueeze(1)

    def log_prob(self, obs: Tensor, action: Tensor) -> Tensor:
        """log pi_k(action_k | obs_k) (K, B)."""
        log_std = self.log_std()
        z = (action - self.mean(obs)) * torch.exp(-log_std)
        return (-0.5 * z.pow(2) - log_std - 0.5 * LOG_2PI).sum(-1)

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """The policies' means (K, B, action_dim) for obs (K, B, obs_dim): the evaluation actions."""
        self.check_obs(obs)
        return self.mean(obs)


class LearnerView:
    """Learner k of a stack of learners, seen as one single learner by what acts with it (a method's
    agent k): ``state_dict`` is the single learner's checkpoint; subclasses add ``act`` (and
    ``explore``) on learner k's current parameters (``own``). Its updates go through the stack,
    together with the other learners'."""

    def __init__(self, stack: StackedLearners, k: int) -> None:
        if not 0 <= k < stack.num_seeds:
            raise ConfigError(f"k={k}: expected 0 <= k < {stack.num_seeds}")
        self.stack, self.k = stack, k

    @property
    def device(self) -> torch.device:
        return self.stack.device

    def own(self, params: Stack) -> Stack:
        """Learner k's slice (1, ...) of stacked ``params``: a stack of one for ``stacked_mlp``."""
        return {name: value[self.k : self.k + 1] for name, value in params.items()}

    def state_dict(self) -> dict[str, Any]:
        return self.stack.learner_state_dict(self.k)


class GaussianSeedView(LearnerView):
    """Learner k of a ``StackedGaussianPolicies`` as its single learner: ``act`` is the policy's
    mean, on learner k's current parameters."""

    stack: StackedGaussianPolicies

    def _mean(self, obs: Tensor) -> Tensor:
        check_obs(obs, self.stack.obs_dim)
        return stacked_mlp(self.stack.mean_layers, self.own(self.stack.policy), "mean_net.", obs[None])[0]

    @torch.no_grad()
    def act(self, obs: Tensor) -> Tensor:
        """Learner k's policy mean (B, action_dim), as the single learner's ``act``."""
        return self._mean(obs)
