"""K AWAC learners trained together equal K separate AWAC learners on the same minibatches, and
each one can be taken out and continued alone."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from affordkit.algos import AWAC, AWACConfig
from affordkit.algos.awac_seeds import AWACSeeds, AWACSeedView
from affordkit.errors import ConfigError
from tests.algos.test_td3_seeds import (
    ACTION_DIM,
    OBS_DIM,
    SEEDS,
    assert_close_states,
    batches,
    check_refusals,
    check_restore,
    check_taken_out,
    check_together_equals_singles,
    stacked,
)

SMALL = {"policy_hidden": (32, 24), "q_hidden": (24, 24)}
CONFIGS = {
    "defaults": AWACConfig(**SMALL),  # type: ignore[arg-type]
    # every branch the defaults leave out: a sampled V(s) (one more generator draw per update),
    # clipped exponential weights, the advantage clip, the target clamp and bootstrapping through done
    "sampled": AWACConfig(
        **SMALL,  # type: ignore[arg-type]
        value_action="sample",
        weighting="clipped_exp",
        exp_clip=20.0,
        advantage_clip=0.5,
        target_max=0.0,
        ignore_done=True,
    ),
}


@pytest.mark.parametrize("implementation", ["reference", "fast"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_k_learners_together_equal_k_separate_runs(name: str, implementation: str) -> None:
    config = dataclasses.replace(CONFIGS[name], implementation=implementation)  # type: ignore[arg-type]
    singles = [AWAC(OBS_DIM, ACTION_DIM, config, seed=s) for s in SEEDS]
    together = AWACSeeds(OBS_DIM, ACTION_DIM, config, seeds=SEEDS)
    check_together_equals_singles(together, singles, "policy", steps=4)
    obs = torch.randn(len(SEEDS), 5, OBS_DIM)
    actions = together.explore(obs, [torch.Generator().manual_seed(7 + k) for k in range(len(SEEDS))])
    for k, single in enumerate(singles):  # exploration draws from the caller's generators
        own = single.explore(obs[k], torch.Generator().manual_seed(7 + k))
        torch.testing.assert_close(actions[k], own, rtol=1e-4, atol=1e-5)
        # learner k's view acts and explores as the single learner (what a method's agent k uses)
        view = AWACSeedView(together, k)
        torch.testing.assert_close(view.act(obs[k]), single.act(obs[k]), rtol=1e-4, atol=1e-5)
        explored = view.explore(obs[k], torch.Generator().manual_seed(7 + k))
        torch.testing.assert_close(explored, own, rtol=1e-4, atol=1e-5)
        assert_close_states(view.state_dict(), single.state_dict())
    with pytest.raises(ConfigError, match="k=3"):
        AWACSeedView(together, len(SEEDS))


def test_learners_differ_and_a_learner_taken_out_continues_alone() -> None:
    config = CONFIGS["sampled"]
    together = AWACSeeds(OBS_DIM, ACTION_DIM, config, seeds=SEEDS)
    for step in range(3):
        together.update(stacked(batches(step)))
    weights = together.policy["mean_net.0.weight"]
    assert not torch.allclose(weights[0], weights[1])  # own seeds, not copies of one learner
    alone = AWAC(OBS_DIM, ACTION_DIM, config, seed=SEEDS[1])
    check_taken_out(together, alone, ["critic/loss", "actor/loss"])


def test_restored_learners_continue_bit_identically() -> None:
    check_restore(lambda seeds: AWACSeeds(OBS_DIM, ACTION_DIM, CONFIGS["sampled"], seeds=seeds))
    a = AWACSeeds(OBS_DIM, ACTION_DIM, CONFIGS["sampled"], seeds=SEEDS)
    with pytest.raises(ConfigError):  # another config
        AWACSeeds(OBS_DIM, ACTION_DIM, CONFIGS["defaults"], seeds=SEEDS).load_state_dict(a.state_dict())


def test_bad_seeds_shapes_and_generators_are_refused() -> None:
    together = check_refusals(lambda seeds: AWACSeeds(OBS_DIM, ACTION_DIM, CONFIGS["defaults"], seeds=seeds))
    with pytest.raises(ConfigError):
        together.explore(torch.randn(len(SEEDS), 5, OBS_DIM), [torch.Generator()])
