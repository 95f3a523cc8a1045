"""The CC-VAE of CC-RIG: config checks, shapes at both image sizes, a deterministic context code,
gradient routing of each loss term, the beta ramp, checkpoints, the fit loop on image pairs, and a
tiny learning test on ColorPush pairs (s_0, s_t)."""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from affordkit.envs import make_vector_env
from affordkit.errors import ConfigError
from affordkit.generative import CCVAE, CCVAEConfig, FitConfig, Fittable, HasMedia, fit, split_indices
from affordkit.generative.cc_vae import (
    OUTLINE_CONTRAST,
    STATE_INPUT,
    gradient_error,
    outline_mask,
    random_shift,
)
from affordkit.logging import RunLogger

SIZES = [48, 84]


def images(n: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


def pairs(n: int, size: int = 48, seed: int = 0) -> dict[str, np.ndarray]:
    return {"image": images(n, size, seed), "context": images(n, size, seed + 100)}


def make_model(size: int = 48, **overrides: object) -> CCVAE:
    torch.manual_seed(0)
    return CCVAE(CCVAEConfig(image_size=size, **overrides))


def fit_steps(model: CCVAE, data: dict[str, np.ndarray], num_steps: int) -> dict:
    config = FitConfig(num_steps=num_steps, batch_size=8, log_interval=1, eval_interval=0, media_interval=0)
    return fit(model, data, config, progress=False)


# --------------------------------------------------------------------------------------- config
def test_defaults_are_the_papers() -> None:
    config = CCVAEConfig()
    assert (config.latent_dim, config.context_dim) == (6, 4)
    assert (config.beta_start, config.beta_end, config.context_weight) == (1.0, 50.0, 1.0)
    assert config.context_dropout == 0.5 and config.reduction == "sum"
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.beta_end = 1.0


@pytest.mark.parametrize(
    "bad",
    [
        dict(image_size=64),
        dict(latent_dim=0),
        dict(context_dim=0),
        dict(context_dim=2.5),
        dict(beta_start=-1.0),
        dict(beta_end=float("nan")),
        dict(beta_end=float("inf")),
        dict(beta_ramp_steps=-1),
        dict(beta_ramp_steps=1.5),
        dict(context_weight=-0.5),
        dict(context_dropout=1.0),
        dict(context_dropout=-0.1),
        dict(reconstruction="laplace"),
        dict(reduction="max"),
        dict(decoder="deconv"),
        dict(min_variance=0.0),
        dict(encoder="resnet"),
        dict(encoder="keypoints", keypoints=0),
        dict(decoder="rig", context_every_layer=True),
        dict(decoder="rig", decoder_channels=128),
        dict(decoder="broadcast", decoder_channels=1),
        dict(outline_weight=-1.0),
        dict(outline_weight=float("inf")),
        dict(outline_weight=float("nan")),
        dict(gradient_weight=-0.5),
        dict(gradient_weight=float("inf")),
        dict(decoder="sprite", sprite_size=4),
        dict(decoder="sprite", sprite_size=1),
        dict(decoder="sprite", sprite_size=49),
        dict(decoder="broadcast", sprite_size=13),
        dict(decoder="sprite", context_every_layer=True),
        dict(decoder="sprite", sprite_layers=0),
        dict(decoder="sprite", sprite_layers=2, sprite_fixed=2),
        dict(decoder="broadcast", sprite_fixed=1),
        dict(shift_augment=-1),
        dict(shift_augment=48),
        dict(shift_augment=2.5),
    ],
)
def test_bad_config_raises(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        CCVAEConfig(**bad)


# --------------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("decoder", ["rig", "broadcast", "broadcast_full", "sprite"])
@pytest.mark.parametrize("encoder", ["rig", "keypoints"])
def test_shapes_dtypes_and_ranges(size: int, decoder: str, encoder: str) -> None:
    model = make_model(size, decoder=decoder, encoder=encoder)
    model.eval()
    batch = pairs(3, size)
    mu, logvar = model.encode(batch["image"], batch["context"])
    assert mu.shape == logvar.shape == (3, 6) and mu.dtype == torch.float32
    assert (logvar >= math.log(model.config.min_variance) - 1e-6).all()
    z_c = model.context(batch["context"])
    assert z_c.shape == (3, 4) and not z_c.requires_grad
    assert model.encode_mean(batch["image"], batch["context"]).shape == (3, 6)
    for out in (model.decode(model.sample_prior(3), z_c), model.decode_context(z_c)):
        assert out.shape == (3, 3, size, size) and out.dtype == torch.float32
        assert out.min() >= 0 and out.max() <= 1
    as_float = model.images(batch["image"])  # float (B, 3, H, W) input gives the same code
    assert torch.allclose(model.encode(as_float, batch["context"])[0], mu, atol=1e-5)
    assert model.context(batch["context"][:0]).shape == (0, 4)
    assert model.encode_mean(batch["image"][:0], batch["context"][:0]).shape == (0, 6)


@pytest.mark.parametrize("size", SIZES)
def test_context_is_deterministic_in_eval_mode_and_independent_of_the_state(size: int) -> None:
    model = make_model(size)
    model.train()
    fit_steps(model, pairs(16, size), num_steps=2)  # BatchNorm running statistics move off their start
    model.train()
    context = images(5, size, seed=1)
    first = model.context(context, batch_size=2)  # three chunks
    assert model.training  # the mode is restored
    assert torch.equal(model.context(context, batch_size=2), first)
    assert torch.allclose(model.context(context[3:4])[0], first[3], atol=1e-5)  # no batch dependence
    # in training mode dropout and batch statistics make it random: eval mode is what makes it fixed
    with torch.no_grad():
        x = model.images(context)
        assert not torch.allclose(model.context_encoder(x), model.context_encoder(x))
    # s_0's code and its reconstruction do not depend on the s_t it is paired with ...
    model.eval()
    a = model.loss({"image": images(5, size, seed=2), "context": context}, torch.Generator().manual_seed(0))
    b = model.loss({"image": images(5, size, seed=3), "context": context}, torch.Generator().manual_seed(0))
    assert torch.equal(a["context_reconstruction"], b["context_reconstruction"])
    assert not torch.equal(a["reconstruction"], b["reconstruction"])
    # ... while the posterior of z_t does read z_c
    state = images(5, size, seed=4)
    assert not torch.allclose(model.encode_mean(state, context), model.encode_mean(state, context[::-1]))


def test_recalibrate_context_norm_sets_exact_dropout_free_statistics() -> None:
    model = make_model(48, context_dropout=0.5)
    fit_steps(model, pairs(16), num_steps=3)  # running statistics of dropout-noisy codes
    model.train()
    norm = model.context_encoder.norm
    norm.running_mean.fill_(5.0)  # far from anything the codes give
    norm.running_var.fill_(100.0)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    context = images(7, 48, seed=5)
    out = model.recalibrate_context_norm(context, batch_size=3)  # three chunks
    assert set(out) == {"spread_before", "spread_after"} and out["spread_after"] > out["spread_before"]
    assert model.training  # the mode is restored
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, state[k])}
    assert changed == {"context_encoder.norm.running_mean", "context_encoder.norm.running_var"}
    # the running statistics are those of the pre-norm codes without dropout (eval mode) ...
    model.eval()
    with torch.no_grad():
        encoder = model.context_encoder
        codes = encoder.linear(encoder.conv(model.images(context))).double()
    assert torch.allclose(norm.running_mean.double(), codes.mean(0), atol=1e-5)
    assert torch.allclose(norm.running_var.double(), codes.var(0), rtol=1e-4)
    # ... so eval-mode z_c over those images is standardised, up to BatchNorm's affine map
    z_c = model.context(context)
    standard = (z_c - norm.bias) / norm.weight
    assert torch.allclose(standard.mean(0), torch.zeros(4), atol=1e-4)
    assert torch.allclose(standard.var(0), torch.ones(4), rtol=1e-3)
    # one pass over all the images at once gives the same statistics as chunks
    again = make_model(48, context_dropout=0.5)
    again.load_state_dict(state)
    again.recalibrate_context_norm(context)
    assert torch.allclose(again.context_encoder.norm.running_var, norm.running_var)
    with pytest.raises(ConfigError):
        model.recalibrate_context_norm(context[:1])


# ------------------------------------------------------------------------------ gradient routing
GROUPS = {
    "state_encoder": ("encoder.", "mu_head.", "logvar_head."),
    "decoder": ("decoder.",),
    "context_encoder": ("context_encoder.",),
    "context_decoder": ("context_decoder.",),
}


def reached(model: CCVAE, term: str) -> dict[str, set[bool]]:
    """Backpropagate one loss term from a fresh batch; for each group of parameters, whether each
    parameter got a nonzero gradient."""
    model.zero_grad(set_to_none=True)
    model.train()
    out = model.loss(pairs(8, model.config.image_size), torch.Generator().manual_seed(0))
    out[term].backward()
    result: dict[str, set[bool]] = {group: set() for group in GROUPS}
    for name, p in model.named_parameters():
        group = next(g for g, prefixes in GROUPS.items() if name.startswith(prefixes))
        result[group].add(p.grad is not None and bool(p.grad.abs().sum() > 0))
    return result


@pytest.mark.parametrize(
    "decoder, every_layer, channels",
    [
        ("rig", False, 64),
        ("broadcast", False, 64),
        ("broadcast", True, 64),
        ("broadcast", False, 128),
        ("broadcast_full", False, 64),
        ("sprite", False, 64),
        ("sprite", False, 128),
    ],
)
@pytest.mark.parametrize("encoder", ["rig", "keypoints"])
def test_gradient_routing(decoder: str, every_layer: bool, channels: int, encoder: str) -> None:
    model = make_model(
        48, decoder=decoder, encoder=encoder, context_every_layer=every_layer, decoder_channels=channels
    )
    if channels != 64:  # the state decoder is that wide, the context decoder keeps 64
        net = model.decoder.where.net if decoder == "sprite" else model.decoder.net
        assert net[0].out_channels == channels and net[4].out_channels == channels // 2
        assert model.context_decoder.net[0].out_channels == 64
    # the context decoder's term trains e_0 and the context decoder, nothing of s_t's path
    assert reached(model, "context_reconstruction") == {
        "state_encoder": {False},
        "decoder": {False},
        "context_encoder": {True},
        "context_decoder": {True},
    }
    # the KL shapes the encoders (z_c feeds the posterior), never a decoder
    assert reached(model, "kl") == {
        "state_encoder": {True},
        "decoder": {False},
        "context_encoder": {True},
        "context_decoder": {False},
    }
    # s_t's reconstruction trains both encoders and its decoder, not the context decoder
    assert reached(model, "reconstruction") == {
        "state_encoder": {True},
        "decoder": {True},
        "context_encoder": {True},
        "context_decoder": {False},
    }
    assert all(v == {True} for v in reached(model, "loss").values())  # every parameter learns


def test_a_state_code_that_does_not_read_the_context() -> None:
    """``state_reads_context=False``: mu(s_t) is the same under every context, and the KL no longer
    reaches the context encoder; z_c still feeds both decoders."""
    model = make_model(48, state_reads_context=False)
    state, context = images(5, 48, seed=4), images(5, 48, seed=1)
    fit_steps(model, pairs(16, 48), num_steps=2)
    assert torch.equal(model.encode_mean(state, context), model.encode_mean(state, context[::-1]))
    assert model.mu_head.in_features == make_model(48).mu_head.in_features - model.config.context_dim
    assert reached(model, "kl")["context_encoder"] == {False}
    assert reached(model, "reconstruction")["context_encoder"] == {True}  # through the decoder


# ---------------------------------------------------------------------------------- loss, ramp
@pytest.mark.parametrize("reconstruction", ["gaussian", "bernoulli"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_loss_terms(reconstruction: str, reduction: str) -> None:
    model = make_model(
        48,
        reconstruction=reconstruction,
        reduction=reduction,
        context_weight=0.5,
        beta_end=3.0,
        beta_ramp_steps=0,
    )
    model.eval()
    batch = pairs(4)
    out = model.loss(batch, torch.Generator().manual_seed(0))
    keys = {
        "loss",
        "reconstruction",
        "context_reconstruction",
        "kl",
        "beta",
        "pixel_mse",
        "context_pixel_mse",
    }
    assert set(out) == keys
    assert all(v.ndim == 0 and torch.isfinite(v) for v in out.values())
    assert out["reconstruction"] > 0 and out["context_reconstruction"] > 0 and out["kl"] >= 0
    expected = out["reconstruction"] + 0.5 * out["context_reconstruction"] + 3.0 * out["kl"]
    assert torch.allclose(out["loss"], expected)
    assert torch.equal(model.loss(batch, torch.Generator().manual_seed(0))["loss"], out["loss"])
    other = model.loss(batch, torch.Generator().manual_seed(1))
    assert not torch.equal(other["reconstruction"], out["reconstruction"])  # the generator draws z_t
    assert torch.equal(other["context_reconstruction"], out["context_reconstruction"])  # z_c has no noise
    if reconstruction == "gaussian" and reduction == "mean":
        assert torch.allclose(out["reconstruction"], 0.5 * out["pixel_mse"], rtol=1e-5)
        assert torch.allclose(out["context_reconstruction"], 0.5 * out["context_pixel_mse"], rtol=1e-5)


def test_outline_mask_marks_both_sides_of_every_edge() -> None:
    image = torch.full((1, 3, 9, 9), 0.8)
    image[0, 0, 3:6, 3:6] = 0.2  # a 3x3 square differing in the red channel only
    mask = outline_mask(image)
    assert mask.shape == (1, 1, 9, 9)
    expected = torch.zeros(9, 9)
    expected[2:7, 2:7] = 1.0  # the square's rim and the ring of background around it
    expected[4, 4] = 0.0  # the square's centre sees only the square
    assert torch.equal(mask[0, 0], expected)
    assert outline_mask(torch.full((2, 3, 5, 5), 0.3)).sum() == 0  # a flat image has no outline
    faint = image.clone()
    faint[0, 0, 3:6, 3:6] = 0.8 - OUTLINE_CONTRAST / 2
    assert outline_mask(faint).sum() == 0  # below the contrast threshold


def plain_and_weighted(
    batch: dict[str, np.ndarray], field: str, value: float, **overrides: object
) -> tuple[CCVAE, dict[str, Tensor], dict[str, Tensor]]:
    """One model with ``field`` = 0 and the same weights with ``field`` = value: the first model
    and both models' eval-mode losses on ``batch`` under the same noise."""
    plain, weighted = (make_model(48, beta_ramp_steps=0, **overrides, **{field: w}) for w in (0.0, value))
    weighted.load_state_dict(plain.state_dict())
    plain.eval(), weighted.eval()
    out_plain = plain.loss(batch, torch.Generator().manual_seed(0))
    return plain, out_plain, weighted.loss(batch, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("reconstruction", ["gaussian", "bernoulli"])
def test_outline_weight_scales_the_outline_pixels_likelihood(reconstruction: str) -> None:
    batch = pairs(3)
    plain, out_plain, out_weighted = plain_and_weighted(
        batch, "outline_weight", 4.0, reconstruction=reconstruction
    )
    assert torch.equal(out_plain["kl"], out_weighted["kl"])  # the same model and noise
    # by hand: the per-value nll times 1 + 4 * mask, summed per image, averaged over the batch
    context = plain.images(batch["context"])
    with torch.no_grad():
        z_c = plain.context_encoder(context)
        logits = plain.context_decoder(z_c)
    if reconstruction == "bernoulli":
        per_value = torch.nn.functional.binary_cross_entropy_with_logits(logits, context, reduction="none")
    else:
        per_value = 0.5 * (torch.sigmoid(logits) - context).square()
    manual = (per_value * (1 + 4.0 * outline_mask(context))).flatten(1).sum(1).mean()
    assert torch.allclose(out_weighted["context_reconstruction"], manual, rtol=1e-5)
    assert out_weighted["reconstruction"] > out_plain["reconstruction"]  # random images: outlines everywhere


def test_gradient_error_by_hand() -> None:
    target = torch.zeros(1, 1, 2, 3)
    images = torch.tensor([[[[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]]]])
    # row differences: (-1, 0) and (0, 2); column differences: (-1, 0, 2); half the sum of squares
    assert gradient_error(images, target).item() == pytest.approx(0.5 * (1 + 4 + 1 + 4))
    flat_error = torch.full((2, 3, 5, 5), 0.3)
    assert torch.equal(gradient_error(flat_error, torch.zeros_like(flat_error)), torch.zeros(2))


def test_gradient_term_keeps_the_mean_image_where_outline_weights_do_not() -> None:
    """Over targets that are either of two images, the decoder's best image under the plain or the
    gradient-weighted Gaussian likelihood is their mean; under outline weights it is not (the
    weights follow the target)."""
    first = torch.zeros(1, 3, 10, 10)
    first[..., 1:6, 1:6] = 1.0  # a bright square in one place ...
    second = torch.zeros(1, 3, 10, 10)
    second[..., 4:9, 4:9] = 1.0  # ... or moved: pixel (3, 3) is inside the first, on the second's outline
    targets = torch.cat([first, second])

    def best_image(config: CCVAEConfig) -> Tensor:
        model = CCVAE(config)
        logits = torch.zeros(1, 3, 10, 10, requires_grad=True)
        optimizer = torch.optim.LBFGS(
            [logits], max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe"
        )

        def closure() -> Tensor:
            optimizer.zero_grad()
            loss = model._nll(logits.expand(2, -1, -1, -1), targets)
            loss.backward()
            return loss

        optimizer.step(closure)
        return torch.sigmoid(logits.detach())[0]

    mean = targets.mean(0)
    for config in (
        CCVAEConfig(reconstruction="gaussian"),
        CCVAEConfig(reconstruction="gaussian", gradient_weight=10.0),
        CCVAEConfig(reconstruction="bernoulli", gradient_weight=10.0),
    ):
        assert torch.allclose(best_image(config), mean, atol=2e-3), config
    outlined = best_image(CCVAEConfig(reconstruction="gaussian", outline_weight=9.0))
    assert outlined[0, 3, 3] < 0.2  # weight 1 on the value 1, weight 10 on the value 0: 1 / 11


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_gradient_weight_adds_the_gradient_term(reduction: str) -> None:
    batch = pairs(3)
    plain, out_plain, out_weighted = plain_and_weighted(batch, "gradient_weight", 2.5, reduction=reduction)
    context = plain.images(batch["context"])
    with torch.no_grad():
        recon = torch.sigmoid(plain.context_decoder(plain.context_encoder(context)))
    extra = 2.5 * gradient_error(recon, context).mean()
    if reduction == "mean":
        extra = extra / (3 * 48 * 48)
    assert torch.allclose(
        out_weighted["context_reconstruction"], out_plain["context_reconstruction"] + extra, rtol=1e-5
    )
    assert out_weighted["reconstruction"] > out_plain["reconstruction"]


def test_beta_ramps_linearly_over_training_updates() -> None:
    model = make_model(48, beta_start=1.0, beta_end=5.0, beta_ramp_steps=4)
    batch = pairs(4)
    model.train()
    betas = [model.loss(batch)["beta"].item() for _ in range(6)]
    assert betas == [1.0, 2.0, 3.0, 4.0, 5.0, 5.0]
    with torch.no_grad():
        model.loss(batch)
    model.eval()
    model.loss(batch)
    assert model.num_updates.item() == 6  # held-out losses and eval mode do not count
    assert make_model(48, beta_start=1.0, beta_end=50.0, beta_ramp_steps=0).current_beta().item() == 50.0
    halfway = make_model(48, beta_start=1.0, beta_end=50.0, beta_ramp_steps=1000)
    halfway.num_updates.fill_(500)
    assert halfway.current_beta().item() == pytest.approx(25.5)


def test_state_dict_round_trip() -> None:
    model = make_model(48, beta_ramp_steps=10)
    batch = pairs(16)
    fit_steps(model, batch, num_steps=3)
    state = model.state_dict()
    assert {"num_updates", "context_encoder.norm.running_mean", "context_decoder.fc.weight"} <= set(state)
    torch.manual_seed(1)
    again = CCVAE(model.config)
    assert not torch.equal(again.context(batch["context"]), model.context(batch["context"]))
    again.load_state_dict(state)
    again.eval()
    model.eval()
    assert again.num_updates.item() == model.num_updates.item() == 3
    assert torch.equal(again.current_beta(), model.current_beta())
    z_c = model.context(batch["context"])
    assert torch.equal(again.context(batch["context"]), z_c)
    assert torch.equal(
        again.encode_mean(batch["image"], batch["context"]),
        model.encode_mean(batch["image"], batch["context"]),
    )
    z = model.sample_prior(16, torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(again.decode(z, z_c), model.decode(z, z_c))
        assert torch.equal(again.decode_context(z_c), model.decode_context(z_c))


# ------------------------------------------------------------------------------ fit and media
@pytest.mark.parametrize("size", SIZES)
def test_media_grids(size: int) -> None:
    model = make_model(size)
    model.train()
    grids = model.media(pairs(3, size), num_images=8, num_goals=2)
    assert set(grids) == {"reconstruction", "imagined_goals"}
    tile = size * (2 if size == 48 else 1) + 2  # upscaled image and padding
    assert grids["reconstruction"].shape == (4 * tile + 2, 3 * tile + 2, 3)  # s_0, its image, s_t, its image
    assert grids["imagined_goals"].shape == (3 * tile + 2, 3 * tile + 2, 3)  # contexts, then 2 goals
    assert all(g.dtype == np.uint8 for g in grids.values())
    assert model.training
    again = model.media(pairs(3, size), num_images=8, num_goals=2)
    assert np.array_equal(again["imagined_goals"], grids["imagined_goals"])  # the same z_g every call


def test_fit_trains_on_pairs_and_logs_media(tmp_path: Path) -> None:
    model = make_model(48, beta_ramp_steps=100)
    assert isinstance(model, Fittable) and isinstance(model, HasMedia)
    with RunLogger(tmp_path, method="test", env="pairs", seed=0, tensorboard=False) as logger:
        config = FitConfig(
            num_steps=4, batch_size=8, log_interval=2, eval_interval=0, media_interval=4, log_prefix="ccvae"
        )
        out = fit(model, pairs(20), config, logger=logger, progress=False)
    assert {"loss", "context_reconstruction", "context_pixel_mse", "beta"} <= set(out["heldout"])
    assert model.num_updates.item() == 4 and not model.training
    media = sorted(p.name for p in (tmp_path / "media" / "ccvae").iterdir())
    assert media == ["imagined_goals_00000004.png", "reconstruction_00000004.png"]


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 48, 48, 3), np.uint8),  # not a mapping
        {"image": np.zeros((2, 48, 48, 3), np.uint8)},  # no context
        {"image": np.zeros((2, 48, 48, 3), np.uint8), "context": np.zeros((3, 48, 48, 3), np.uint8)},
        {"image": np.zeros((2, 84, 84, 3), np.uint8), "context": np.zeros((2, 84, 84, 3), np.uint8)},
    ],
)
def test_bad_batches_raise(bad: object) -> None:
    with pytest.raises(ConfigError):
        make_model(48).loss(bad)


# -------------------------------------------------------------------------------------- learning
NUM_PAIRS = 1024
NUM_STEPS = 400
MAX_STEPS_AFTER_RESET = 10


def color_push_pairs(n: int, seed: int) -> dict[str, np.ndarray]:
    """n pairs from ColorPush episodes (a random colour and shape per episode, ColorPush's fixed
    start positions): s_0 the reset image, s_t the image after t ~ U{1..10} random steps of the same
    episode."""
    envs = make_vector_env("ColorPush", n, autoreset_mode="disabled")
    obs, _ = envs.reset(seed=seed)
    context = obs["image"]
    rng = np.random.default_rng(seed)
    t = rng.integers(1, MAX_STEPS_AFTER_RESET + 1, size=n)
    later = np.empty_like(context)
    for step in range(1, MAX_STEPS_AFTER_RESET + 1):
        obs, *_ = envs.step(rng.uniform(-1.0, 1.0, size=(n, 2)))
        later[t == step] = obs["image"][t == step]
    return {"image": later, "context": context}


@pytest.mark.slow
def test_cc_vae_learns_color_push_pairs() -> None:
    torch.set_num_threads(1)
    data = color_push_pairs(NUM_PAIRS, seed=0)
    assert not np.array_equal(data["image"], data["context"])
    torch.manual_seed(0)
    model = CCVAE(CCVAEConfig(beta_ramp_steps=NUM_STEPS))  # the paper's 1 -> 50, over this short run
    config = FitConfig(
        num_steps=NUM_STEPS,
        batch_size=32,
        heldout_fraction=0.25,
        log_interval=100,
        eval_interval=0,
        media_interval=0,
        seed=0,
    )
    _, heldout = split_indices(NUM_PAIRS, config.heldout_fraction, config.seed)
    heldout_batch = {k: torch.from_numpy(v[heldout]) for k, v in data.items()}

    def heldout_metrics() -> tuple[float, float]:
        """Held-out loss, and the pixel MSE of the context decoder's image of s_0 from z_c."""
        model.eval()
        with torch.no_grad():
            loss = model.loss(heldout_batch, torch.Generator().manual_seed(3))["loss"].item()
            target = model.images(heldout_batch["context"])
            mse = (model.decode_context(model.context(heldout_batch["context"])) - target).square().mean()
        return loss, mse.item()

    loss_before, context_mse_before = heldout_metrics()
    start = time.perf_counter()
    out = fit(model, data, config, progress=False)
    seconds = time.perf_counter() - start
    loss_after, context_mse_after = heldout_metrics()
    print(
        f"\nheld-out loss {loss_before:.0f} -> {loss_after:.0f} (fit's {out['heldout']['loss']:.0f}); "
        f"context decoder pixel MSE {context_mse_before:.4f} -> {context_mse_after:.4f}; fit {seconds:.1f} s"
    )
    assert loss_after == pytest.approx(out["heldout"]["loss"], rel=1e-4)  # the same held-out rows
    assert loss_after < 0.7 * loss_before
    assert context_mse_after < 0.2 * context_mse_before


def test_state_input_replaces_the_state_encoders_image_only() -> None:
    from affordkit.generative.cc_vae import STATE_INPUT

    model = make_model(48, decoder="broadcast")
    model.eval()  # no ramp step between the calls compared
    batch = pairs(4, 48)
    plain = model.loss(batch, torch.Generator().manual_seed(1))
    same = model.loss(batch | {STATE_INPUT: batch["image"]}, torch.Generator().manual_seed(1))
    for key in ("loss", "reconstruction", "kl", "context_reconstruction"):
        assert torch.allclose(plain[key], same[key]), key
    other = pairs(4, 48, seed=7)["image"]
    swapped = model.loss(batch | {STATE_INPUT: other}, torch.Generator().manual_seed(1))
    assert not torch.allclose(swapped["kl"], plain["kl"])  # z_t now comes from the other images
    assert torch.allclose(swapped["context_reconstruction"], plain["context_reconstruction"])
    with pytest.raises(ConfigError, match="pairs need one each"):
        model.loss(batch | {STATE_INPUT: other[:2]})


# ------------------------------------------------------------------------------ shift augmentation
def test_random_shift_moves_every_batch_by_one_offset_per_row() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 16, 16, generator=gen)
    a, b = random_shift([x, 1.0 - x], 3, torch.Generator().manual_seed(1))
    torch.testing.assert_close(b, 1.0 - a)  # the same offset for both batches of a row
    padded = torch.nn.functional.pad(x, (3, 3, 3, 3), mode="replicate")
    seen = set()
    for i in range(6):  # each row is a 16x16 window of its padded image: a whole-pixel shift
        windows = [
            (dy, dx)
            for dy in range(7)
            for dx in range(7)
            if torch.equal(padded[i, :, dy : dy + 16, dx : dx + 16], a[i])
        ]
        assert len(windows) == 1
        seen.add(windows[0])
    assert len(seen) > 1  # rows get their own offsets


def test_shift_augment_shifts_s_t_and_the_state_input_in_training_only() -> None:
    plain, shifted = make_model(), make_model(shift_augment=4)
    shifted.load_state_dict(plain.state_dict())
    batch = pairs(8) | {STATE_INPUT: images(8, 48, seed=7)}
    for model in (plain, shifted):
        model.eval()
    evaluation = [m.loss(batch, torch.Generator().manual_seed(0))["loss"] for m in (plain, shifted)]
    torch.testing.assert_close(evaluation[0], evaluation[1])  # eval mode: no shift
    for model in (plain, shifted):
        model.train()
    torch.manual_seed(0)
    a = plain.loss(batch, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    b = shifted.loss(batch, torch.Generator().manual_seed(0))
    assert not torch.allclose(a["reconstruction"], b["reconstruction"])
    # s_0 is never shifted: the context decoder's term is the plain model's
    torch.testing.assert_close(a["context_reconstruction"], b["context_reconstruction"])


# ------------------------------------------------------------------------------- sprite decoder
def test_sprite_where_entropy_term_ramps_in_and_joins_the_loss() -> None:
    model = make_model(decoder="sprite", where_entropy_weight=2.0, where_entropy_start=4)
    model.train()
    batch = pairs(4)
    seen = []
    for _ in range(10):
        out = model.loss(batch, torch.Generator().manual_seed(0))
        weight = float(out["where_entropy_weight"])
        base = out["reconstruction"] + out["context_reconstruction"] + out["beta"] * out["kl"]
        torch.testing.assert_close(out["loss"], base + weight * out["where_entropy"])
        assert 0 < float(out["where_entropy"]) <= 2 * math.log(48 * 48) + 1e-3  # two maps
        seen.append(weight)
    assert seen == pytest.approx([0, 0, 0, 0, 0, 0.5, 1.0, 1.5, 2.0, 2.0])  # 0 up to update 4, full at 8
    assert "where_entropy" not in make_model(decoder="broadcast").loss(batch)  # sprite decoder only
    with pytest.raises(ConfigError, match="sprite"):
        CCVAEConfig(decoder="broadcast", where_entropy_weight=1.0)
    with pytest.raises(ConfigError, match="sprite"):
        CCVAEConfig(decoder="rig", sprite_mode_decode=True)


def test_sprite_mode_decode_draws_each_sprite_once_at_its_maps_peak_in_eval_mode_only() -> None:
    soft, mode = make_model(decoder="sprite"), make_model(decoder="sprite", sprite_mode_decode=True)
    mode.load_state_dict(soft.state_dict())
    z, z_c = torch.randn(3, 6), torch.randn(3, 4)
    x = torch.cat([z, z_c], dim=1)
    for model in (soft, mode):
        model.train()
    torch.testing.assert_close(mode.decoder.layers(x)["where"], soft.decoder.layers(x)["where"])
    for model in (soft, mode):
        model.eval()
    with torch.no_grad():
        where, peak = mode.decoder.layers(x)["where"], soft.decoder.layers(x)["where"]
    assert set(where.unique().tolist()) == {0.0, 1.0} and torch.equal(
        where.flatten(2).sum(2), torch.ones(3, 2)
    )
    assert torch.equal(where.flatten(2).argmax(2), peak.flatten(2).argmax(2))
    assert not torch.allclose(mode.decode(z, z_c), soft.decode(z, z_c))


def test_sprite_straight_through_draws_modes_in_training_from_its_start_with_gradients() -> None:
    model = make_model(decoder="sprite", where_straight_through_start=2)
    model.train()
    batch = pairs(4)
    x = torch.cat([torch.randn(4, 6), torch.randn(4, 4)], dim=1)
    for update in range(3):
        model.loss(batch, torch.Generator().manual_seed(0))  # sets the mode for the next update
        where = model.decoder.layers(x)["where"]
        flat = where.detach().flatten(2)
        one_hot = torch.nn.functional.one_hot(flat.argmax(2), flat.shape[2]).float()
        hard = torch.allclose(flat, one_hot, atol=1e-6)  # up to the rounding of hard + soft - soft
        assert model.decoder.straight_through == (update >= 2) and hard == (update >= 2)
    model.zero_grad(set_to_none=True)
    model.loss(batch, torch.Generator().manual_seed(0))["loss"].backward()
    where_grads = [p.grad for p in model.decoder.where.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in where_grads)  # the softmax's gradient flows
    with pytest.raises(ConfigError, match="sprite"):
        CCVAEConfig(decoder="broadcast", where_straight_through_start=5)


def test_sprite_straight_through_gated_by_mse_waits_for_the_running_mse_then_stays_on() -> None:
    model = make_model(decoder="sprite", where_straight_through_start=2, where_straight_through_mse=0.5)
    model.train()
    batch = pairs(4)
    seen = []
    for update in range(6):
        if update == 3:
            model.mse_average.fill_(0.1)  # as if the bodies were drawn well by now
        if update == 5:
            model.mse_average.fill_(0.9)  # worse again: the switch stays on
        seen.append(bool(model.loss(batch, torch.Generator().manual_seed(0))["straight_through"]))
    # updates 0-1 before the start; 2 past it with the running MSE still high (it starts at 1)
    assert seen == [False, False, False, True, True, True]
    state = model.state_dict()
    assert bool(state["straight_through_on"]) and "mse_average" in state  # a resumed run keeps it
    assert "straight_through_on" not in make_model(decoder="sprite").state_dict()  # old checkpoints load
    with torch.no_grad():
        model.eval()
        assert not bool(torch.as_tensor(model.loss(batch)["straight_through"]))  # eval: soft maps
    with pytest.raises(ConfigError, match="where_straight_through_start"):
        CCVAEConfig(decoder="sprite", where_straight_through_mse=0.01)
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        CCVAEConfig(decoder="sprite", where_straight_through_start=2, where_straight_through_mse=-0.1)


def test_sprite_split_gradients_route_the_mode_picture_to_the_sprites_and_the_soft_one_to_the_maps() -> None:
    model = make_model(decoder="sprite", where_straight_through_start=1, where_split_gradients=True)
    model.train()
    batch = pairs(4)
    first = model.loss(batch, torch.Generator().manual_seed(0))  # update 0: soft, one picture
    assert float(first["map_reconstruction"]) == 0.0 and float(first["straight_through"]) == 0.0
    model.loss(batch, torch.Generator().manual_seed(0))  # from update 1 on: split
    x = torch.cat([torch.randn(4, 6), torch.randn(4, 4)], dim=1)
    decoder = model.decoder

    def grads(key: str) -> tuple[bool, bool]:
        decoder.zero_grad(set_to_none=True)
        decoder.layers(x)[key].square().sum().backward()
        where = any(p.grad is not None and p.grad.abs().sum() > 0 for p in decoder.where.parameters())
        sprite = any(p.grad is not None and p.grad.abs().sum() > 0 for p in decoder.sprite_net.parameters())
        return where, sprite

    assert grads("image") == (False, True)  # drawn at the modes: the sprites learn, the maps do not
    assert grads("image_soft") == (True, False)  # drawn with the soft maps: only the maps learn
    parts = decoder.layers(x)
    flat = parts["where"].detach().flatten(2)
    assert not torch.allclose(flat, torch.nn.functional.one_hot(flat.argmax(2), flat.shape[2]).float())
    out = model.loss(batch, torch.Generator().manual_seed(0))
    assert float(out["map_reconstruction"]) > 0.0 and float(out["straight_through"]) == 1.0
    model.eval()
    assert "image_soft" not in decoder.layers(x)  # eval: one picture, as before
    with pytest.raises(ConfigError, match="where_straight_through_start"):
        CCVAEConfig(decoder="sprite", where_split_gradients=True)
