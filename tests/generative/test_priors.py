"""Goal priors: N(0, I), the Gaussian fitted to the training encodings, and stored goal sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from affordkit.errors import ConfigError
from affordkit.generative import (
    EmpiricalPrior,
    GaussianPrior,
    fitted_prior,
    prior_from_state_dict,
    standard_normal_prior,
)


def encodings(n: int = 500) -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.from_numpy(rng.normal([1.0, -2.0, 0.0], [0.5, 2.0, 0.1], size=(n, 3)).astype(np.float32))


def test_fitted_prior_matches_the_encodings() -> None:
    z = encodings()
    prior = fitted_prior(z)
    assert np.allclose(prior.mean.numpy(), z.numpy().mean(0), atol=1e-6)
    assert np.allclose(prior.std.numpy(), z.numpy().std(0), atol=1e-6)  # NumPy's std: no Bessel correction
    samples = prior.sample(20_000, torch.Generator().manual_seed(0))
    assert torch.allclose(samples.mean(0), prior.mean, atol=0.05)
    assert torch.allclose(samples.std(0), prior.std, rtol=0.05)


def test_standard_normal_prior() -> None:
    prior = standard_normal_prior(4)
    assert torch.equal(prior.mean, torch.zeros(4)) and torch.equal(prior.std, torch.ones(4))
    samples = prior.sample(20_000, torch.Generator().manual_seed(0))
    assert samples.shape == (20_000, 4)
    assert samples.mean(0).abs().max() < 0.05 and (samples.std(0) - 1).abs().max() < 0.05


def test_samples_are_reproducible_under_a_generator() -> None:
    prior = fitted_prior(encodings())
    a = prior.sample(7, torch.Generator().manual_seed(3))
    b = prior.sample(7, torch.Generator().manual_seed(3))
    c = prior.sample(7, torch.Generator().manual_seed(4))
    assert a.shape == (7, 3) and torch.equal(a, b) and not torch.equal(a, c)


def test_state_dict_round_trip(tmp_path) -> None:
    prior = fitted_prior(encodings())
    torch.save(prior.state_dict(), tmp_path / "prior.pt")
    state = torch.load(tmp_path / "prior.pt", weights_only=True)  # plain tensors: no pickle needed
    loaded = standard_normal_prior(3)
    loaded.load_state_dict(state)
    g = torch.Generator()
    assert torch.equal(loaded.sample(5, g.manual_seed(0)), prior.sample(5, g.manual_seed(0)))
    assert torch.equal(GaussianPrior.from_state_dict(state).std, prior.std)


def test_unused_dimension_is_floored() -> None:
    z = encodings()
    z[:, 2] = 0.25  # a collapsed latent dimension
    prior = fitted_prior(z)
    assert prior.std[2] > 0 and torch.isfinite(prior.sample(3)).all()


@pytest.mark.parametrize(
    "make",
    [
        lambda: GaussianPrior(torch.zeros(3), torch.ones(2)),
        lambda: GaussianPrior(torch.zeros(3), -torch.ones(3)),
        lambda: GaussianPrior(torch.zeros(2, 2), torch.ones(2, 2)),
        lambda: fitted_prior(torch.zeros(1, 3)),
        lambda: standard_normal_prior(0),
        lambda: standard_normal_prior(2).load_state_dict({"mean": torch.zeros(2)}),
    ],
)
def test_bad_input_raises(make) -> None:
    with pytest.raises(ConfigError):
        make()


def test_empirical_prior_draws_only_stored_points_uniformly() -> None:
    points = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    prior = EmpiricalPrior(points)
    samples = prior.sample(3000, torch.Generator().manual_seed(0))
    assert samples.shape == (3000, 2) and prior.latent_dim == 2
    index = (samples[:, 0] / 2).long()
    assert torch.equal(samples, points[index])  # every sample is one of the points
    counts = torch.bincount(index, minlength=3).float() / 3000
    assert torch.allclose(counts, torch.full((3,), 1 / 3), atol=0.04)
    again = prior.sample(3000, torch.Generator().manual_seed(0))
    assert torch.equal(samples, again)


def test_empirical_prior_state_round_trip_and_dispatch() -> None:
    prior = EmpiricalPrior(torch.randn(5, 3))
    loaded = prior_from_state_dict(prior.state_dict())
    assert isinstance(loaded, EmpiricalPrior) and torch.equal(loaded.points, prior.points)
    assert isinstance(prior_from_state_dict(standard_normal_prior(3).state_dict()), GaussianPrior)
    with pytest.raises(ConfigError, match="points"):
        EmpiricalPrior(torch.zeros(0, 3))
    with pytest.raises(ConfigError, match="finite"):
        EmpiricalPrior(torch.tensor([[float("nan"), 0.0]]))
