"""K TD3 learners trained together equal K separate TD3 learners on the same minibatches, and each
one can be taken out and continued alone."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import torch

from affordkit.algos import TD3, TD3Config
from affordkit.algos.td3_seeds import TD3Seeds, TD3SeedView
from affordkit.errors import ConfigError
from affordkit.types import Batch
from tests.algos.test_fast_path import tensors

OBS_DIM, ACTION_DIM = 6, 2
CONFIG = TD3Config(hidden=(32, 24))
SEEDS = [3, 0, 11]


def batches(seed: int, k: int = len(SEEDS), size: int = 16) -> list[Batch]:
    g = torch.Generator().manual_seed(seed)
    return [
        Batch(
            obs=torch.randn(size, OBS_DIM, generator=g),
            action=torch.rand(size, ACTION_DIM, generator=g) * 2 - 1,
            reward=torch.randn(size, generator=g),
            next_obs=torch.randn(size, OBS_DIM, generator=g),
            done=(torch.rand(size, generator=g) < 0.2).float(),
        )
        for _ in range(k)
    ]


def stacked(parts: list[Batch]) -> Batch:
    return Batch(
        *(
            torch.stack([getattr(b, f) for b in parts])
            for f in ("obs", "action", "reward", "next_obs", "done")
        )
    )


def assert_close_states(a, b) -> None:
    fa, fb = dict(tensors(a)), dict(tensors(b))
    assert fa.keys() == fb.keys()
    for key in fa:
        torch.testing.assert_close(fa[key], fb[key], rtol=1e-4, atol=1e-5, msg=key)


def check_together_equals_singles(
    together: Any,
    singles: list[Any],
    network: str,
    steps: int,
    minibatches: Callable[[int], list[Batch]] = batches,
    obs: torch.Tensor | None = None,
    compare: Callable[[Any, Any], None] = assert_close_states,
) -> None:
    """The K stacked learners start with the singles' weights of ``network``, and after ``steps``
    updates on the same ``minibatches(step)`` match them in metrics, whole states (``compare``) and
    actions on ``obs`` (K, N, obs_dim)."""
    for k, single in enumerate(singles):
        compare(together.learner_state_dict(k)[network], single.state_dict()[network])
    for step in range(steps):
        parts = minibatches(step)
        metrics = together.update(stacked(parts))
        for k, (single, part) in enumerate(zip(singles, parts, strict=True)):
            own = single.update(part)
            assert own.keys() == metrics.keys()
            for key, value in own.items():
                torch.testing.assert_close(metrics[key][k], value, rtol=1e-4, atol=1e-5, msg=key)
    obs = torch.randn(len(SEEDS), 5, OBS_DIM) if obs is None else obs
    for k, single in enumerate(singles):
        compare(together.learner_state_dict(k), single.state_dict())
    actions = together.act(obs)
    for k, single in enumerate(singles):
        torch.testing.assert_close(actions[k], single.act(obs[k]), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("implementation", ["reference", "fast"])
def test_k_learners_together_equal_k_separate_runs(implementation: str) -> None:
    config = TD3Config(hidden=(32, 24), implementation=implementation)  # type: ignore[arg-type]
    singles = [TD3(OBS_DIM, ACTION_DIM, config, seed=s) for s in SEEDS]
    together = TD3Seeds(OBS_DIM, ACTION_DIM, config, seeds=SEEDS)
    check_together_equals_singles(together, singles, "actor", steps=5)  # two actor steps among them
    obs = torch.randn(5, OBS_DIM)
    for k, single in enumerate(singles):  # learner k's view acts as the single learner
        view = TD3SeedView(together, k)
        torch.testing.assert_close(view.act(obs), single.act(obs), rtol=1e-4, atol=1e-5)
        assert_close_states(view.state_dict(), single.state_dict())
    with pytest.raises(ConfigError, match="k=-1"):
        TD3SeedView(together, -1)


def test_a_learner_taken_out_continues_alone() -> None:
    together = TD3Seeds(OBS_DIM, ACTION_DIM, CONFIG, seeds=SEEDS)
    for step in range(3):
        together.update(stacked(batches(step)))
    check_taken_out(together, TD3(OBS_DIM, ACTION_DIM, CONFIG, seed=SEEDS[1]), ["critic/loss"])


def check_taken_out(together: Any, alone: Any, keys: list[str]) -> None:
    """Learner 1 of ``together``, loaded into the single learner ``alone``, makes the same next
    update as it does inside ``together`` (the metrics ``keys``, then the whole state)."""
    alone.load_state_dict(together.learner_state_dict(1))
    parts = batches(10)
    metrics = together.update(stacked(parts))
    own = alone.update(parts[1])
    for key in keys:
        torch.testing.assert_close(metrics[key][1], own[key], rtol=1e-4, atol=1e-5, msg=key)
    assert_close_states(together.learner_state_dict(1), alone.state_dict())


def check_restore(
    make: Callable[[list[int]], Any], minibatches: Callable[[int], list[Batch]] = batches
) -> None:
    """Learners from ``make(seeds)``, restored from a state_dict, continue bit-identically on the
    ``minibatches(step)``; a state of other seeds is refused."""
    a = make(SEEDS)
    for step in range(3):
        a.update(stacked(minibatches(step)))
    b = make(SEEDS)
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    for step in range(3, 6):
        ma, mb = a.update(stacked(minibatches(step))), b.update(stacked(minibatches(step)))
        for key in ma:
            assert torch.equal(ma[key], mb[key]), key
    for (key, x), (_, y) in zip(tensors(a.state_dict()), tensors(b.state_dict()), strict=True):
        assert torch.equal(x, y), key
    with pytest.raises(ConfigError):
        make([0, 1]).load_state_dict(a.state_dict())


def test_restored_learners_continue_bit_identically() -> None:
    check_restore(lambda seeds: TD3Seeds(OBS_DIM, ACTION_DIM, CONFIG, seeds=seeds))


def check_refusals(make: Callable[[list[int]], Any]) -> Any:
    """Learners from ``make(seeds)`` refuse no seeds, repeated seeds, a minibatch per learner for
    another number of learners, an unstacked minibatch and unstacked observations; returns one."""
    for seeds in ([], [1, 1]):
        with pytest.raises(ConfigError):
            make(seeds)
    together = make(SEEDS)
    with pytest.raises(ConfigError):
        together.update(stacked(batches(0, k=2)))
    with pytest.raises(ConfigError):
        together.update(batches(0)[0])
    with pytest.raises(ConfigError):
        together.act(torch.randn(5, OBS_DIM))
    return together


def test_bad_seeds_and_shapes_are_refused() -> None:
    check_refusals(lambda seeds: TD3Seeds(OBS_DIM, ACTION_DIM, CONFIG, seeds=seeds))
