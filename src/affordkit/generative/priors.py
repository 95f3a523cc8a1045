"""The two goal priors of RIG: where imagined goals z_g come from (Nair, Pong et al. 2018, sec. 4).

- ``standard_normal_prior(d)``: N(0, I), the VAE's own prior.
- ``fitted_prior(encodings)``: a per-dimension Gaussian fitted to the posterior means mu(x) of the
  VAE's training images (rlkit's ConvVAETrainer: ``np.mean`` and ``np.std`` of the encoded means,
  so without Bessel's correction). The posterior means of a beta-VAE rarely fill N(0, I):
  they are narrower (each mu is the centre of a posterior of variance > 0) and shifted, so goals
  drawn from the fitted prior look more like real scenes.

A prior is plain data (two tensors), saved and loaded with ``state_dict`` / ``load_state_dict``
like a module, so a checkpoint holds it beside the VAE.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from affordkit.errors import ConfigError


class GaussianPrior:
    """A diagonal Gaussian over latents: ``mean`` (d,) and ``std`` (d,) > 0."""

    def __init__(self, mean: Tensor, std: Tensor) -> None:
        mean = torch.as_tensor(mean, dtype=torch.float32)
        std = torch.as_tensor(std, dtype=torch.float32)
        if mean.ndim != 1 or std.shape != mean.shape:
            raise ConfigError(
                f"a prior needs mean and std of one shape (d,); got {tuple(mean.shape)} and "
                f"{tuple(std.shape)}"
            )
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all() and (std > 0).all()):
            raise ConfigError("a prior needs finite means and positive, finite standard deviations")
        self.mean = mean
        self.std = std

    @property
    def latent_dim(self) -> int:
        return self.mean.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n latents (n, d) on the prior's device; ``generator`` lives on that device too."""
        eps = torch.randn(n, self.latent_dim, generator=generator, device=self.mean.device)
        return self.mean + self.std * eps

    def to(self, device: torch.device | str) -> GaussianPrior:
        return GaussianPrior(self.mean.to(device), self.std.to(device))

    def state_dict(self) -> dict[str, Tensor]:
        """Plain CPU tensors ``mean`` and ``std`` (d,)."""
        return {"mean": self.mean.detach().cpu().clone(), "std": self.std.detach().cpu().clone()}

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        """Replace the parameters by those of ``state_dict()`` (any d; validated)."""
        missing = {"mean", "std"} - set(state)
        if missing:
            raise ConfigError(f"a prior's state needs 'mean' and 'std'; missing {sorted(missing)}")
        loaded = GaussianPrior(state["mean"], state["std"])
        self.mean, self.std = loaded.mean.to(self.mean.device), loaded.std.to(self.mean.device)

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Tensor]) -> GaussianPrior:
        if not {"mean", "std"} <= set(state):
            raise ConfigError(f"a prior's state needs 'mean' and 'std'; got keys {sorted(state)}")
        return cls(state["mean"], state["std"])

    def __repr__(self) -> str:
        return f"GaussianPrior(mean={self.mean.tolist()}, std={self.std.tolist()})"


def standard_normal_prior(latent_dim: int, device: torch.device | str = "cpu") -> GaussianPrior:
    """N(0, I) over ``latent_dim`` dimensions."""
    if not isinstance(latent_dim, int) or latent_dim < 1:
        raise ConfigError(f"latent_dim={latent_dim!r}: expected a positive integer")
    return GaussianPrior(torch.zeros(latent_dim, device=device), torch.ones(latent_dim, device=device))


def fitted_prior(encodings: Tensor, min_std: float = 1e-6) -> GaussianPrior:
    """Per-dimension mean and standard deviation (without Bessel's correction) of ``encodings``
    (N, d), the posterior means of the training images (``BetaVAE.encode_mean``). A dimension the
    VAE left unused has std near 0; it is floored at ``min_std`` so sampling stays defined."""
    x = torch.as_tensor(encodings).detach().float()
    if x.ndim != 2 or len(x) < 2:
        raise ConfigError(f"encodings must have shape (N >= 2, d); got {tuple(x.shape)}")
    return GaussianPrior(x.mean(0), x.std(0, correction=0).clamp_min(min_std))


class EmpiricalPrior:
    """Goals drawn uniformly from a stored set (n, d): the env's own goal distribution for the
    state-space oracle (goal states from resets), and later VAL's presampled goal banks. Saved and
    loaded like ``GaussianPrior``."""

    def __init__(self, points: Tensor) -> None:
        points = torch.as_tensor(points, dtype=torch.float32)
        if points.ndim != 2 or len(points) < 1 or not torch.isfinite(points).all():
            raise ConfigError(
                f"an empirical prior needs finite points of shape (n >= 1, d); got {tuple(points.shape)}"
            )
        self.points = points

    @property
    def latent_dim(self) -> int:
        return self.points.shape[1]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n stored points (n, d), drawn uniformly with replacement."""
        index = torch.randint(len(self.points), (n,), generator=generator, device=self.points.device)
        return self.points[index]

    def state_dict(self) -> dict[str, Tensor]:
        return {"points": self.points.detach().cpu().clone()}

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        if "points" not in state:
            raise ConfigError(f"an empirical prior's state needs 'points'; got keys {sorted(state)}")
        self.points = EmpiricalPrior(state["points"]).points.to(self.points.device)

    def __repr__(self) -> str:
        return f"EmpiricalPrior({len(self.points)} points of dimension {self.latent_dim})"


GoalPrior = GaussianPrior | EmpiricalPrior


def prior_from_state_dict(state: Mapping[str, Tensor]) -> GoalPrior:
    """A ``GaussianPrior`` or ``EmpiricalPrior`` from its ``state_dict()``."""
    if "points" in state:
        return EmpiricalPrior(state["points"])
    return GaussianPrior.from_state_dict(state)
