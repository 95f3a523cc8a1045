"""Contract tests of the beta-VAE over both image sizes, both likelihoods and both reductions."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from affordkit.errors import ConfigError
from affordkit.generative import BetaVAE, VAEConfig

SIZES = [48, 84]


def images(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


def make_vae(size: int = 48, **overrides: object) -> BetaVAE:
    torch.manual_seed(0)
    return BetaVAE(VAEConfig(image_size=size, **overrides))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("decoder", ["rig", "broadcast", "broadcast_full"])
@pytest.mark.parametrize("encoder", ["rig", "keypoints"])
def test_shapes_dtypes_and_ranges(size: int, decoder: str, encoder: str) -> None:
    vae = make_vae(size, latent_dim=5, decoder=decoder, encoder=encoder)
    x = images(3, size)
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (3, 5) and mu.dtype == torch.float32
    assert (logvar >= math.log(vae.config.min_variance) - 1e-6).all()  # the floored variance
    out = vae.decode(vae.sample_prior(4, torch.Generator().manual_seed(0)))
    assert out.shape == (4, 3, size, size) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    float_images = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255
    assert torch.allclose(vae.encode(float_images)[0], mu, atol=1e-5)  # both input forms give the same code


@pytest.mark.parametrize("size", SIZES)
def test_encode_mean_is_deterministic_in_eval_mode_and_batch_independent(size: int) -> None:
    vae = make_vae(size)
    vae.train()
    x = images(5, size)
    first = vae.encode_mean(x, batch_size=2)  # three chunks
    assert first.shape == (5, 4) and not first.requires_grad
    assert vae.training  # the mode is restored
    assert torch.equal(vae.encode_mean(x, batch_size=2), first)
    assert torch.allclose(vae.encode_mean(x, batch_size=5), first, atol=1e-6)
    vae.eval()
    assert torch.allclose(vae.encode(x)[0], first, atol=1e-6)
    assert torch.allclose(vae.encode_mean(x[2:3])[0], first[2], atol=1e-6)  # BatchNorm's running statistics
    assert vae.encode_mean(x[:0]).shape == (0, 4)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("reconstruction", ["gaussian", "bernoulli"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_loss_terms(size: int, reconstruction: str, reduction: str) -> None:
    vae = make_vae(size, reconstruction=reconstruction, reduction=reduction, beta=2.0, beta_warmup_steps=0)
    x = images(4, size)
    out = vae.loss(x, torch.Generator().manual_seed(0))
    assert {"loss", "reconstruction", "kl", "beta", "pixel_mse"} <= set(out)
    assert all(v.ndim == 0 and torch.isfinite(v) for v in out.values())
    assert out["reconstruction"] > 0 and out["kl"] >= 0
    assert torch.allclose(out["loss"], out["reconstruction"] + 2.0 * out["kl"])
    again = vae.loss(x, torch.Generator().manual_seed(0))
    assert torch.equal(again["loss"], out["loss"])  # the generator fixes the noise
    other = vae.loss(x, torch.Generator().manual_seed(1))
    assert not torch.equal(other["reconstruction"], out["reconstruction"])


@pytest.mark.parametrize("size", SIZES)
def test_sum_is_mean_times_pixels(size: int) -> None:
    """What beta means under each reduction (VAEConfig's docstring): only the reconstruction scales."""
    x = images(3, size)
    summed = make_vae(size, reduction="sum").loss(x, torch.Generator().manual_seed(0))
    averaged = make_vae(size, reduction="mean").loss(x, torch.Generator().manual_seed(0))
    pixels = 3 * size * size
    assert torch.allclose(summed["reconstruction"], averaged["reconstruction"] * pixels, rtol=1e-5)
    assert torch.allclose(summed["kl"], averaged["kl"])


def test_kl_warmup_counts_training_updates_only() -> None:
    vae = make_vae(48, beta=4.0, beta_warmup_steps=4)
    x = images(2, 48)
    vae.train()
    betas = [vae.loss(x)["beta"].item() for _ in range(6)]
    assert betas == [0.0, 1.0, 2.0, 3.0, 4.0, 4.0]
    with torch.no_grad():
        vae.loss(x)
    vae.eval()
    vae.loss(x)
    assert vae.num_updates.item() == 6  # held-out losses and eval mode do not count
    again = make_vae(48, beta=4.0, beta_warmup_steps=4)
    again.load_state_dict(vae.state_dict())  # a checkpoint carries the warm-up
    assert again.current_beta().item() == 4.0


def test_gaussian_reconstruction_is_half_the_squared_error() -> None:
    vae = make_vae(48, reconstruction="gaussian", reduction="mean")
    out = vae.loss(images(3, 48), torch.Generator().manual_seed(0))
    assert torch.allclose(out["reconstruction"], 0.5 * out["pixel_mse"], rtol=1e-5)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("decoder", ["rig", "broadcast", "broadcast_full"])
@pytest.mark.parametrize("encoder", ["rig", "keypoints"])
def test_gradient_reaches_every_parameter(size: int, decoder: str, encoder: str) -> None:
    vae = make_vae(size, decoder=decoder, encoder=encoder)
    vae.train()
    vae.loss(images(8, size), torch.Generator().manual_seed(0))["loss"].backward()
    names = [name for name, _ in vae.named_parameters()]
    assert any(n.startswith("encoder.") for n in names) and any(n.startswith("decoder.") for n in names)
    for name, p in vae.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"


def test_sample_prior_is_reproducible() -> None:
    vae = make_vae(48, latent_dim=3)
    a = vae.sample_prior(6, torch.Generator().manual_seed(4))
    b = vae.sample_prior(6, torch.Generator().manual_seed(4))
    assert a.shape == (6, 3) and torch.equal(a, b)


@pytest.mark.parametrize("size", SIZES)
def test_media_grids(size: int) -> None:
    vae = make_vae(size)
    vae.train()
    grids = vae.media(images(3, size))
    assert set(grids) == {"reconstruction", "prior_samples"}
    for grid in grids.values():
        assert grid.dtype == np.uint8 and grid.ndim == 3 and grid.shape[-1] == 3
    assert vae.training


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 84, 84, 3), np.uint8),
        np.zeros((2, 48, 48, 3), np.float32),
        np.zeros((2, 48, 48, 3), np.int64),
        torch.zeros(2, 3, 48, 48, dtype=torch.int16),
    ],
)
def test_bad_images_raise(bad: object) -> None:
    vae = make_vae(48)
    with pytest.raises(ConfigError, match="images"):
        vae.loss(bad)
    with pytest.raises(ConfigError, match="images"):
        vae.encode_mean(bad)


@pytest.mark.parametrize(
    "bad",
    [
        dict(image_size=64),
        dict(latent_dim=0),
        dict(beta=-1.0),
        dict(beta_warmup_steps=-1),
        dict(reconstruction="laplace"),
        dict(reduction="max"),
        dict(decoder="deconv"),
        dict(min_variance=0.0),
        dict(encoder="resnet"),
        dict(encoder="keypoints", keypoints=0),
    ],
)
def test_bad_config_raises(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        VAEConfig(**bad)


def test_config_is_frozen() -> None:
    config = VAEConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.beta = 1.0  # type: ignore[misc]
