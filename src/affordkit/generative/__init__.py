"""Generative models of images (RIG's beta-VAE, CC-RIG's context-conditioned CC-VAE; VQ-VAE and
PixelCNN later), their goal priors, and the one fit loop they share."""

from affordkit.generative.cc_vae import CCVAE, CCVAEConfig
from affordkit.generative.fit import FitConfig, Fittable, HasMedia, fit, fit_best_of, split_indices
from affordkit.generative.priors import (
    EmpiricalPrior,
    GaussianPrior,
    GoalPrior,
    fitted_prior,
    prior_from_state_dict,
    standard_normal_prior,
)
from affordkit.generative.vae import BetaVAE, VAEConfig

__all__ = [
    "BetaVAE",
    "CCVAE",
    "CCVAEConfig",
    "EmpiricalPrior",
    "FitConfig",
    "Fittable",
    "GaussianPrior",
    "GoalPrior",
    "HasMedia",
    "VAEConfig",
    "fit",
    "fit_best_of",
    "fitted_prior",
    "prior_from_state_dict",
    "split_indices",
    "standard_normal_prior",
]
