"""K BC learners trained together equal K separate BC learners on the same minibatches, and each
one can be taken out and continued alone."""

from __future__ import annotations

import pytest
import torch

from affordkit.algos import BC, BCConfig
from affordkit.algos.bc_seeds import BCSeeds, BCSeedView
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


def config(loss: str = "nll", implementation: str = "fast") -> BCConfig:
    return BCConfig(policy_hidden=(32, 24), loss=loss, implementation=implementation)  # type: ignore[arg-type]


@pytest.mark.parametrize("implementation", ["reference", "fast"])
@pytest.mark.parametrize("loss", ["nll", "mse"])
def test_k_learners_together_equal_k_separate_runs(loss: str, implementation: str) -> None:
    c = config(loss, implementation)
    singles = [BC(OBS_DIM, ACTION_DIM, c, seed=s) for s in SEEDS]
    together = BCSeeds(OBS_DIM, ACTION_DIM, c, seeds=SEEDS)
    check_together_equals_singles(together, singles, "policy", steps=4)
    obs = torch.randn(5, OBS_DIM)
    for k, single in enumerate(singles):  # learner k's view acts as the single learner
        view = BCSeedView(together, k)
        torch.testing.assert_close(view.act(obs), single.act(obs), rtol=1e-4, atol=1e-5)
        assert_close_states(view.state_dict(), single.state_dict())
        assert "generator" not in view.state_dict()  # BC draws nothing
    with pytest.raises(ConfigError, match="k=3"):
        BCSeedView(together, len(SEEDS))


def test_learners_differ_and_a_learner_taken_out_continues_alone() -> None:
    together = BCSeeds(OBS_DIM, ACTION_DIM, config(), seeds=SEEDS)
    for step in range(3):
        together.update(stacked(batches(step)))
    weights = together.policy["mean_net.0.weight"]
    assert not torch.allclose(weights[0], weights[1])  # own seeds, not copies of one learner
    check_taken_out(together, BC(OBS_DIM, ACTION_DIM, config(), seed=SEEDS[1]), ["bc/loss", "bc/std"])


def test_restored_learners_continue_bit_identically() -> None:
    check_restore(lambda seeds: BCSeeds(OBS_DIM, ACTION_DIM, config(), seeds=seeds))
    a = BCSeeds(OBS_DIM, ACTION_DIM, config(), seeds=SEEDS)
    with pytest.raises(ConfigError):  # another config
        BCSeeds(OBS_DIM, ACTION_DIM, config("mse"), seeds=SEEDS).load_state_dict(a.state_dict())


def test_bad_seeds_and_shapes_are_refused() -> None:
    check_refusals(lambda seeds: BCSeeds(OBS_DIM, ACTION_DIM, config(), seeds=seeds))
