"""What every learner shares: the ``Learner`` contract, target networks and their Polyak
averaging, the clipped double-Q bootstrap, the checks of sizes, batches and observations, seeded
weight initialisation, and the saving and loading of a learner's state.

These are functions, not a base class (STYLE.md, principle 2): TD3 and AWAC use all of them, BC
all but the target networks and the bootstrap.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

import torch
from torch import Tensor, nn

from affordkit.errors import ConfigError
from affordkit.types import Batch

ModuleT = TypeVar("ModuleT", bound=nn.Module)
ConfigT = TypeVar("ConfigT")

Implementation = Literal["fast", "reference"]
"""How a learner runs its update (docs/speed.md). ``fast``: MLPs on the oneDNN Linear where the
start-up check passes (networks/fast.py) and fused Adam; ``reference``: ``nn.Linear`` and PyTorch's
default Adam. The two compute the same update to float rounding and share their ``state_dict``
layout, so a checkpoint of either loads into the other."""
IMPLEMENTATIONS = ("fast", "reference")


@runtime_checkable
class Learner(Protocol):
    """An agent trained from minibatches. Goal-conditioned callers join observation and goal into
    ``obs`` before calling (types.Batch); exploration noise is the caller's (algos/noise.py)."""

    def update(self, batch: Batch) -> dict[str, Tensor]:
        """One training step on ``batch`` (tensors on the learner's device). Returns detached 0-d
        metric tensors on the device, so the caller chooses when to pay for a host sync."""
        ...

    def act(self, obs: Tensor) -> Tensor:
        """The deterministic (evaluation) action (B, action_dim) in [-1, 1], without gradients."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly: networks, optimisers, counters, RNG."""
        ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a ``state_dict()`` of a learner built with the same config and sizes."""
        ...


def target_network(module: ModuleT) -> ModuleT:
    """A frozen copy of ``module``: same weights, ``requires_grad`` off, so no optimiser or
    backward pass can move it; only :func:`soft_update` does."""
    target = copy.deepcopy(module)
    target.requires_grad_(False)
    return target


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Polyak averaging in place: target <- (1 - tau) * target + tau * source, parameter-wise.

    ``torch._foreach_lerp_`` does the whole network in one fused call per dtype and device instead
    of one small kernel per tensor (lerp computes target + tau * (source - target)). Buffers (such
    as BatchNorm statistics) are not averaged: the MLPs of TD3 and AWAC have none.
    """
    if not 0.0 <= tau <= 1.0:
        raise ConfigError(f"tau={tau!r}: expected in [0, 1]")
    targets: list[Tensor] = list(target.parameters())
    sources: list[Tensor] = list(source.parameters())
    if len(targets) != len(sources) or any(t.shape != s.shape for t, s in zip(targets, sources, strict=True)):
        raise ConfigError("soft_update needs two networks of the same architecture")
    torch._foreach_lerp_(targets, sources, tau)


def twin_q_target(
    reward: Tensor,  # (B,)
    done: Tensor,  # (B,) 1.0 where the episode terminated
    next_q1: Tensor,  # (B,) Q_1 target at (next_obs, next action)
    next_q2: Tensor,  # (B,) Q_2 target at the same pair
    discount: float,
) -> Tensor:
    """Clipped double-Q bootstrap y = r + discount * (1 - done) * min(Q_1', Q_2') (B,)
    (Fujimoto et al. 2018, section 4.2; also AWAC's critic). A terminal transition bootstraps nothing;
    a time-limit truncation must arrive with done = 0 (types.Batch)."""
    return reward + discount * (1.0 - done) * torch.minimum(next_q1, next_q2)


def check_batch(batch: Batch, obs_dim: int, action_dim: int) -> None:
    """Shapes only (no device sync): a (B, 1) reward would silently broadcast to (B, B)."""
    b = batch.obs.shape[0]
    want = {
        "obs": (b, obs_dim),
        "action": (b, action_dim),
        "reward": (b,),
        "next_obs": (b, obs_dim),
        "done": (b,),
    }
    for name, shape in want.items():
        got = tuple(getattr(batch, name).shape)
        if got != shape:
            raise ConfigError(f"batch.{name} has shape {got}; expected {shape}")


def check_sizes(obs_dim: object, action_dim: object, seed: object) -> None:
    """A learner's constructor arguments: positive sizes and a non-negative integer seed."""
    if not positive_int(obs_dim) or not positive_int(action_dim):
        raise ConfigError(f"obs_dim={obs_dim!r}, action_dim={action_dim!r}: expected positive integers")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed={seed!r}: expected a non-negative integer")


def positive_int(value: object) -> bool:
    """An int (not a bool) above zero."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def hidden_sizes(name: str, value: object) -> tuple[int, ...]:
    """A config's hidden sizes as a tuple (a list from JSON or the CLI becomes one), validated."""
    hidden = tuple(value) if isinstance(value, list | tuple) else value
    if not isinstance(hidden, tuple) or not hidden or not all(positive_int(h) for h in hidden):
        raise ConfigError(f"{name}={value!r}: expected a non-empty tuple of positive integers")
    return hidden


def check_obs(obs: Tensor, obs_dim: int) -> None:
    """An ``act`` input: observations (B, obs_dim)."""
    if obs.shape[-1] != obs_dim:
        raise ConfigError(f"obs of shape {tuple(obs.shape)}: expected (B, {obs_dim})")


@contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Build networks inside: their initial weights come from ``seed``, under a forked global RNG, so
    the caller's torch RNG is neither used nor advanced."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class LearnerFields(Protocol):
    """What :func:`learner_state` reads of a learner besides its parts."""

    config: Any  # a frozen dataclass
    obs_dim: int
    action_dim: int
    num_updates: int


def learner_state(
    learner: LearnerFields, parts: Sequence[str], generator: torch.Generator | None = None
) -> dict[str, Any]:
    """A learner's ``state_dict()``: its config and (obs_dim, action_dim), the state dict of each of
    its attributes named in ``parts`` (networks, optimisers), its update counter and ``generator``'s
    state, if given. Tensors are shared with the learner (as ``nn.Module.state_dict``): save or copy
    them before updating further."""
    state: dict[str, Any] = {
        "config": asdict(learner.config),
        "sizes": (learner.obs_dim, learner.action_dim),
    }
    state.update({name: getattr(learner, name).state_dict() for name in parts})
    state["num_updates"] = learner.num_updates
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def load_learner_state(
    learner: LearnerFields,
    state: Mapping[str, Any],
    parts: Sequence[str],
    generator: torch.Generator | None = None,
) -> None:
    """Continue exactly where a :func:`learner_state` of ``learner`` was taken. Refuses
    (ConfigError) a state of another config or other sizes."""
    config, sizes = learner.config, (learner.obs_dim, learner.action_dim)
    if not same_settings(type(config)(**state["config"]), config) or tuple(state["sizes"]) != sizes:
        raise ConfigError(
            f"{type(learner).__name__} state of config {state['config']} and sizes "
            f"{tuple(state['sizes'])}; this learner has {asdict(config)} and {sizes}"
        )
    for name in parts:
        part = getattr(learner, name)
        if isinstance(part, torch.optim.Optimizer):  # keeps the learner's own kernel choice
            load_optimizer(part, state[name])
        else:
            part.load_state_dict(state[name])
    learner.num_updates = int(state["num_updates"])
    if generator is not None:
        generator.set_state(state["generator"].cpu())


def check_implementation(value: object) -> None:
    """A config's ``implementation`` field: one of :data:`IMPLEMENTATIONS`."""
    if value not in IMPLEMENTATIONS:
        raise ConfigError(f"implementation={value!r}; accepted values: {list(IMPLEMENTATIONS)}")


def same_settings(saved: ConfigT, current: ConfigT) -> bool:
    """Whether two learner configs describe the same learner, ``implementation`` aside: the fast and
    the reference update share their state layout, so a checkpoint moves between them."""
    if not dataclasses.is_dataclass(saved) or not dataclasses.is_dataclass(current):
        return saved == current
    fields = {f.name for f in dataclasses.fields(saved)} - {"implementation"}
    return all(getattr(saved, name) == getattr(current, name) for name in fields)


def adam(
    params: Iterable[nn.Parameter], lr: float, implementation: Implementation, weight_decay: float = 0.0
) -> torch.optim.Adam:
    """Adam as a learner's ``implementation`` runs it: ``fast`` uses the fused kernel (one pass over
    all parameters, where the default steps tensor by tensor on CPU) when every parameter is a
    float32 tensor on a CPU or CUDA device; ``reference`` is PyTorch's default."""
    params = list(params)
    fused = implementation == "fast" and all(
        p.dtype == torch.float32 and p.device.type in ("cpu", "cuda") for p in params
    )
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True if fused else None)


def load_optimizer(optimizer: torch.optim.Optimizer, state: Mapping[str, Any]) -> None:
    """``optimizer.load_state_dict(state)``, keeping the optimizer's own kernel choice: loading
    replaces the param-group options with the saved ones, ``fused`` and ``foreach`` included, which
    would hand a reference optimizer a fast checkpoint's kernel (and back)."""
    kernels = [{k: group.get(k) for k in ("fused", "foreach")} for group in optimizer.param_groups]
    optimizer.load_state_dict(dict(state))
    for group, own in zip(optimizer.param_groups, kernels, strict=True):
        group.update(own)
        if own["fused"]:  # the fused kernel keeps its step counts beside the parameters
            for p in group["params"]:
                step = optimizer.state.get(p, {}).get("step")
                if isinstance(step, Tensor):
                    optimizer.state[p]["step"] = step.to(device=p.device, dtype=torch.float32)
