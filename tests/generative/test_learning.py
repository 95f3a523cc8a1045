"""Tiny learning test: the beta-VAE, with its default config, learns a latent that encodes the
Push scene, from 1,024 images of the real env, in about 25 seconds on one CPU thread.

Measured with these settings (seed 0, one thread; docs/methods/vae.md): held-out R^2 of a
quadratic regression from the posterior means to the puck's x, y: 0.86 / 0.69 (linear: 0.64 /
0.41), to the effector's x, y: 0.00 / 0.00 (a budget this small learns the larger puck only; see the
docs page); held-out pixel MSE 1.8 times below the mean image's; held-out KL 6.0 nats. The
thresholds keep a margin below those numbers.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from affordkit.envs import make_vector_env
from affordkit.generative import BetaVAE, FitConfig, VAEConfig, fit

NUM_IMAGES = 1024
NUM_STEPS = 3000


def push_scenes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n images (n, 48, 48, 3) uint8 of Push scenes with the effector and the puck at uniform valid
    positions, and their states (n, 4): effector xy, puck xy."""
    envs = make_vector_env("Push", n, reset_mode="random")
    obs, _ = envs.reset(seed=seed)
    return obs["image"], obs["state"]


def quadratic_features(codes: np.ndarray) -> np.ndarray:
    """(N, d) -> (N, 1 + d + d(d+1)/2): intercept, codes, and their pairwise products."""
    d = codes.shape[1]
    products = [codes[:, i] * codes[:, j] for i in range(d) for j in range(i, d)]
    return np.c_[np.ones(len(codes)), codes, np.stack(products, 1)]


def heldout_r2(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray
) -> np.ndarray:
    """R^2 per target column on the held-out rows of a least-squares quadratic regression fitted on
    the training rows (the VAE's latent encodes positions smoothly, not linearly)."""
    weights, *_ = np.linalg.lstsq(quadratic_features(train_x), train_y, rcond=None)
    residual = test_y - quadratic_features(test_x) @ weights
    return 1.0 - (residual**2).sum(0) / ((test_y - test_y.mean(0)) ** 2).sum(0)


@pytest.mark.slow
def test_vae_latent_encodes_the_push_scene() -> None:
    torch.set_num_threads(1)
    images, states = push_scenes(NUM_IMAGES, seed=0)
    torch.manual_seed(0)
    vae = BetaVAE(VAEConfig())
    config = FitConfig(
        num_steps=NUM_STEPS,
        batch_size=32,  # a quarter of RIG's 128: four times the updates for the time
        heldout_fraction=0.25,
        log_interval=500,
        eval_interval=0,
        media_interval=0,
        seed=0,
    )
    start = time.perf_counter()
    out = fit(vae, images, config, progress=False)
    seconds = time.perf_counter() - start
    train, heldout = out["train_indices"], out["heldout_indices"]

    r2 = heldout_r2(
        vae.encode_mean(images[train]).numpy(),
        states[train],
        vae.encode_mean(images[heldout]).numpy(),
        states[heldout],
    )
    with torch.no_grad():
        target = vae.images(images[heldout])
        mse = (vae.decode(vae.encode_mean(images[heldout])) - target).square().mean().item()
    mean_image = vae.images(images[train]).mean(0, keepdim=True)
    baseline = (mean_image - target).square().mean().item()
    print(
        f"\nheld-out R^2 effector x, y / puck x, y: {np.round(r2, 3).tolist()}; pixel MSE {mse:.5f} "
        f"vs mean image {baseline:.5f} ({baseline / mse:.2f}x); KL {out['heldout']['kl']:.2f}; "
        f"fit {seconds:.1f} s"
    )
    assert r2[2:].mean() > 0.6, r2  # the puck's position is in the latent
    assert baseline / mse > 1.4  # reconstructions beat the mean image
    assert out["heldout"]["kl"] > 2.0  # the posterior has not collapsed
