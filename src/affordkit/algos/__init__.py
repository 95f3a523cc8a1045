"""Learners that train from minibatches (TD3, AWAC, BC), the functions they share,
and exploration noise for their rollouts."""

from affordkit.algos.awac import AWAC, AWACConfig
from affordkit.algos.bc import BC, BCConfig
from affordkit.algos.common import Learner, soft_update, target_network, twin_q_target
from affordkit.algos.noise import (
    ExplorationNoise,
    GaussianNoise,
    GaussianNoiseConfig,
    NoiseConfig,
    OrnsteinUhlenbeckNoise,
    OUNoiseConfig,
    make_noise,
    noisy_action,
)
from affordkit.algos.td3 import TD3, TD3Config

__all__ = [
    "AWAC",
    "BC",
    "AWACConfig",
    "BCConfig",
    "TD3",
    "ExplorationNoise",
    "GaussianNoise",
    "GaussianNoiseConfig",
    "Learner",
    "NoiseConfig",
    "OUNoiseConfig",
    "OrnsteinUhlenbeckNoise",
    "TD3Config",
    "make_noise",
    "noisy_action",
    "soft_update",
    "target_network",
    "twin_q_target",
]
