"""The beta-VAE of RIG: images -> a small latent space where goals are imagined and distances
become rewards (Nair, Pong et al., "Visual Reinforcement Learning with Imagined Goals", 2018).

Loss per image, averaged over the batch::

    reconstruction(x, decode(z)) + beta_t * KL(q(z | x) || N(0, I)),   z = mu + exp(logvar / 2) * eps

- ``reconstruction``: the negative log-likelihood of the image under a Bernoulli (binary cross-
  entropy on the decoder's logits) or a Gaussian with identity variance (half the squared error;
  the constant 0.5 log 2 pi per pixel is dropped), summed or averaged over the 3HW pixel values.
- ``kl``: the analytic KL of the diagonal Gaussian posterior, summed over latent dimensions.
- beta_t: ``beta`` after the KL warm-up (``VAEConfig.beta_warmup_steps``), then ``beta``.
- logvar = log(min_variance) + |linear(features)|: the posterior variance never drops below
  min_variance, as in the original code (ALGORITHMS.md, RIG).

For the policy RIG encodes with the posterior mean (:meth:`BetaVAE.encode_mean`); the reward is
minus the distance between means. The goal priors live in :mod:`affordkit.generative.priors`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from affordkit.errors import ConfigError
from affordkit.logging import image_grid
from affordkit.networks.conv import (
    SUPPORTED_IMAGE_SIZES,
    BroadcastDecoder,
    ConvArch,
    ConvDecoder,
    ConvEncoder,
    FullBroadcastDecoder,
    KeypointEncoder,
    he_init,
    rig_arch,
    to_float_images,
    to_uint8_images,
)

Reconstruction = Literal["gaussian", "bernoulli"]
Reduction = Literal["sum", "mean"]
DecoderKind = Literal["rig", "broadcast", "broadcast_full"]
EncoderKind = Literal["rig", "keypoints"]


@dataclass(frozen=True)
class VAEConfig:
    """The beta-VAE of RIG. Defaults: the visual pusher at 48x48 (ALGORITHMS.md, RIG).

    How ``beta`` reads depends on ``reduction``. With ``sum`` the reconstruction term is the whole
    image's log-likelihood, so ``beta`` is the paper's beta (5 for the pusher, 1..10 worked). With
    ``mean`` the reconstruction is divided by D = 3HW (6,912 at 48x48, 21,168 at 84x84) while the
    KL is not, so ``beta`` acts like beta * D in ``sum`` units: the paper's 5 becomes about
    5 / 6912 = 7e-4 at 48x48. The default pair (``sum``, beta 5) is the RIG code's: rlkit's ConvVAE
    multiplies the mean binary cross-entropy by the number of pixel values, a sum over the image.
    """

    image_size: int = 48
    """Image side, 48 or 84: 84 in the original RIG release, 48 in Skew-Fit and later re-
    implementations (ALGORITHMS.md, RIG)."""
    latent_dim: int = 4
    """Latent size: 4 for the pusher, 16 for door / pickup (RIG paper, appendix)."""
    beta: float = 5.0
    """KL weight: 5 in the RIG paper for the pusher with the per-image (``sum``) likelihood."""
    reconstruction: Reconstruction = "bernoulli"
    """Decoder likelihood: ``bernoulli`` (BCE) or ``gaussian`` with identity variance (MSE); both
    are in the RIG code (rlkit ConvVAE). Bernoulli is the default because on the tabletop it pays
    for a latent at beta 5: drawing the puck is worth about 80 nats per image under it but 18 under
    the unit-variance Gaussian, less than the ~30 (5 x 6 nats of KL) that encoding it costs, so the
    Gaussian at beta 5 collapsed to the mean image (KL -> 0; docs/methods/vae.md)."""
    beta_warmup_steps: int = 2000
    """KL warm-up (Bowman et al. 2016): beta grows linearly from 0 to ``beta`` over the first this
    many training updates (0: none). Not in RIG: affordkit's addition, because on the tabletop
    scenes beta 5 from the first step collapsed the posterior (KL -> 0) before the small puck and
    effector were found, while the same 3,000-step run with 2,000 warm-up steps kept the puck
    (docs/methods/vae.md)."""
    reduction: Reduction = "sum"
    """Reduction of the reconstruction over the 3HW pixel values: ``sum`` (the image's log-
    likelihood, the paper's beta) or ``mean`` (see the class docstring for beta's meaning)."""
    decoder: DecoderKind = "rig"
    """``rig``: the original deconv decoder; ``broadcast``: the spatial broadcast decoder (Watters
    et al. 2019), which on the tabletop keeps both effector and puck in the latent where ``rig``
    keeps only the puck (docs/methods/rig.md); ``broadcast_full``: the same at full resolution
    (:class:`~affordkit.networks.conv.FullBroadcastDecoder`), as Watters et al. drew it, 4.3 times
    the FLOPs."""
    min_variance: float = 1e-3
    """Floor of the posterior variance: logvar = log(min_variance) + |linear| (rlkit ConvVAE)."""
    encoder: EncoderKind = "rig"
    """``rig``: the original conv encoder; ``keypoints``: a spatial-softmax encoder whose features
    are expected image positions (:class:`~affordkit.networks.conv.KeypointEncoder`; Levine, Finn
    et al. 2016), so the posterior mean is close to linear in where each body is."""
    keypoints: int = 16
    """Keypoints of the ``keypoints`` encoder (features: 2 per keypoint); unused by ``rig``."""

    def __post_init__(self) -> None:
        if self.image_size not in SUPPORTED_IMAGE_SIZES:
            raise ConfigError(
                f"image_size={self.image_size!r}; accepted values: {list(SUPPORTED_IMAGE_SIZES)}"
            )
        if not isinstance(self.latent_dim, int) or self.latent_dim < 1:
            raise ConfigError(f"latent_dim={self.latent_dim!r}: expected a positive integer")
        if not self.beta >= 0:
            raise ConfigError(f"beta={self.beta!r}: expected >= 0")
        if not isinstance(self.beta_warmup_steps, int) or self.beta_warmup_steps < 0:
            raise ConfigError(f"beta_warmup_steps={self.beta_warmup_steps!r}: expected an integer >= 0")
        check_likelihood_fields(self.reconstruction, self.reduction, self.decoder, self.min_variance)
        check_encoder_fields(self.encoder, self.keypoints)


def check_encoder_fields(encoder: str, keypoints: int) -> None:
    """The image encoder settings the VAEs of this package share (ConfigError naming the accepted
    values)."""
    if encoder not in ("rig", "keypoints"):
        raise ConfigError(f"encoder={encoder!r}; accepted values: ['rig', 'keypoints']")
    if not isinstance(keypoints, int) or isinstance(keypoints, bool) or keypoints < 1:
        raise ConfigError(f"keypoints={keypoints!r}: expected a positive integer")


def image_encoder(kind: str, image_size: int, keypoints: int) -> tuple[nn.Module, int]:
    """An image encoder of the VAEs and its feature size: RIG's conv encoder (``rig``) or the
    spatial-softmax :class:`~affordkit.networks.conv.KeypointEncoder` (``keypoints``)."""
    if kind == "keypoints":
        encoder = KeypointEncoder(image_size, keypoints=keypoints)
        return encoder, encoder.feature_dim
    arch = rig_arch(image_size)
    return ConvEncoder(arch), arch.feature_dim


def check_likelihood_fields(reconstruction: str, reduction: str, decoder: str, min_variance: float) -> None:
    """The decoder and likelihood settings that the VAEs of this package share (ConfigError naming
    the accepted values)."""
    if reconstruction not in ("gaussian", "bernoulli"):
        raise ConfigError(f"reconstruction={reconstruction!r}; accepted values: ['gaussian', 'bernoulli']")
    if reduction not in ("sum", "mean"):
        raise ConfigError(f"reduction={reduction!r}; accepted values: ['sum', 'mean']")
    if decoder not in ("rig", "broadcast", "broadcast_full"):
        raise ConfigError(f"decoder={decoder!r}; accepted values: ['rig', 'broadcast', 'broadcast_full']")
    if not 0 < min_variance < 1:
        raise ConfigError(f"min_variance={min_variance!r}: expected in (0, 1)")


def image_decoder(
    kind: str, arch: ConvArch, in_dim: int, every_layer: int = 0, channels: int = 64
) -> nn.Module:
    """The decoder ``kind`` (a :data:`DecoderKind`) from vectors (B, in_dim) to image logits;
    ``every_layer`` and ``channels`` as in :class:`~affordkit.networks.conv.BroadcastDecoder`
    (``broadcast`` only)."""
    if kind == "rig":
        return ConvDecoder(arch, in_dim)
    if kind == "broadcast":
        return BroadcastDecoder(arch.image_size, in_dim, channels=channels, every_layer=every_layer)
    return FullBroadcastDecoder(arch.image_size, in_dim)


class BetaVAE(nn.Module):
    """``BetaVAE(VAEConfig())``: conv encoder -> (mu, logvar) -> z -> conv decoder -> image."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        arch = rig_arch(config.image_size)
        self.encoder, feature_dim = image_encoder(config.encoder, config.image_size, config.keypoints)
        self.mu_head = nn.Linear(feature_dim, config.latent_dim)
        self.logvar_head = nn.Linear(feature_dim, config.latent_dim)
        self.decoder = image_decoder(config.decoder, arch, config.latent_dim)
        he_init(self.mu_head)
        he_init(self.logvar_head)
        self._log_min_variance = math.log(config.min_variance)
        # training updates so far, for the KL warm-up; a buffer, so checkpoints carry it and a
        # VAE fine-tuned during RL does not warm up again
        self.num_updates: Tensor
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    @property
    def device(self) -> torch.device:
        return self.mu_head.weight.device

    def images(self, images: Tensor | np.ndarray) -> Tensor:
        """uint8 (B, H, W, 3) or float (B, 3, H, W) images as float (B, 3, H, W) on this device."""
        return to_float_images(images, self.config.image_size, self.device)

    def encode(self, images: Tensor | np.ndarray) -> tuple[Tensor, Tensor]:
        """Posterior parameters: mu (B, latent_dim) and logvar (B, latent_dim) >= log(min_variance)."""
        h = self.encoder(self.images(images))  # (B, feature_dim)
        return self.mu_head(h), self._log_min_variance + self.logvar_head(h).abs()

    @torch.no_grad()
    def encode_mean(self, images: Tensor | np.ndarray, batch_size: int = 1024) -> Tensor:
        """Posterior means (B, latent_dim) on this device: RIG's encoding for the policy and the
        reward. Eval mode (BatchNorm running statistics, so an image's code does not depend on
        the others in its batch), no gradients, ``batch_size`` images at a time to bound memory;
        the module's train / eval mode is restored afterwards."""
        was_training = self.training
        self.eval()
        try:
            out = [self.encode(images[i : i + batch_size])[0] for i in range(0, len(images), batch_size)]
        finally:
            self.train(was_training)
        if not out:
            return torch.zeros(0, self.config.latent_dim, device=self.device)
        return torch.cat(out)

    def decode(self, z: Tensor) -> Tensor:
        """Latents (B, latent_dim) -> images float (B, 3, H, W) in [0, 1] (the decoder's mean)."""
        return torch.sigmoid(self.decoder(z))

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n latents (n, latent_dim) from the VAE's prior N(0, I); ``generator`` on this device."""
        return torch.randn(n, self.config.latent_dim, generator=generator, device=self.device)

    def current_beta(self) -> Tensor:
        """beta after the warm-up so far (a 0-d tensor on this device: reading it needs no sync)."""
        warmup = self.config.beta_warmup_steps
        if not warmup:
            return torch.full((), self.config.beta, device=self.device)  # a fill, no host-to-device copy
        return self.config.beta * (self.num_updates.float() / warmup).clamp(max=1.0)

    def loss(
        self, images: Tensor | np.ndarray, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """Scalars averaged over the batch: ``loss`` = ``reconstruction`` + beta_t * ``kl``,
        ``beta`` (beta_t, the warmed-up beta) and ``pixel_mse`` (mean squared error per pixel value
        of the reconstruction, comparable across likelihoods and reductions). ``generator`` (on
        this device) draws the reparameterisation noise; None uses torch's global generator.
        Each call in training mode with gradients on counts as one update of the warm-up."""
        x = self.images(images)  # (B, 3, H, W) float
        mu, logvar = self.encode(x)  # (B, d) each
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
        logits = self.decoder(z)  # (B, 3, H, W)
        recon = torch.sigmoid(logits)
        if self.config.reconstruction == "bernoulli":
            per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        else:
            per_pixel = 0.5 * (recon - x).square()
        per_image = per_pixel.flatten(1)
        reconstruction = (per_image.sum(1) if self.config.reduction == "sum" else per_image.mean(1)).mean()
        kl = (0.5 * (mu.square() + logvar.exp() - 1.0 - logvar)).sum(1).mean()
        beta = self.current_beta()
        if self.training and torch.is_grad_enabled():
            self.num_updates += 1
        return {
            "loss": reconstruction + beta * kl,
            "reconstruction": reconstruction,
            "kl": kl,
            "beta": beta,
            "pixel_mse": (recon.detach() - x).square().mean(),
        }

    @torch.no_grad()
    def media(self, images: Tensor | np.ndarray, num_images: int = 8) -> dict[str, np.ndarray]:
        """uint8 (H', W', 3) grids: ``reconstruction`` (the first ``num_images`` images above
        their reconstructions from the posterior mean) and ``prior_samples`` (2 x num_images
        decoded N(0, I) latents, the same latents every call so grids compare across training)."""
        was_training = self.training
        self.eval()
        try:
            x = self.images(images[:num_images])
            recon = self.decode(self.encode(x)[0])
            generator = torch.Generator(self.device).manual_seed(0)
            samples = self.decode(self.sample_prior(2 * num_images, generator))
        finally:
            self.train(was_training)
        upscale = 2 if self.config.image_size <= 48 else 1  # 48-pixel tiles are too small to see
        pairs = np.stack([to_uint8_images(x), to_uint8_images(recon)])  # (2, n, H, W, 3)
        sample_rows = to_uint8_images(samples).reshape(2, num_images, *pairs.shape[2:])
        return {
            "reconstruction": image_grid(pairs, upscale=upscale),
            "prior_samples": image_grid(sample_rows, upscale=upscale),
        }
