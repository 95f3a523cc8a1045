"""The context-conditioned VAE of CC-RIG: imagined goals that keep the scene of the episode (Nair,
Bahl, Khazatsky et al., "Contextual Imagined Goals for Self-Supervised Robotic Learning", CoRL
2019; ALGORITHMS.md, CC-RIG).

Trained on pairs (s_0, s_t) from one trajectory: s_0 the episode's first image (the context: which
object, which colour), s_t a later one. Four networks, no weights shared:

- context encoder e_0: its own conv trunk -> dropout 0.5 -> linear -> BatchNorm1d gives a
  deterministic z_c = e_0(s_0) (``context_dim``, 4 in the paper);
- state encoder: conv features of s_t joined to z_c -> mu, logvar of z_t (``latent_dim``, 6 for the
  pusher); logvar = log(min_variance) + |linear| as in :mod:`affordkit.generative.vae`;
- decoder: [z_t, z_c] -> s_t;
- context decoder: z_c -> s_0, the extra term that makes z_c describe the scene by itself.

Loss per pair, averaged over the batch::

    nll(s_t | z_t, z_c) + context_weight * nll(s_0 | z_c) + beta_t * KL(q(z_t | s_t, z_c) || N(0, I))

with ``nll`` the Bernoulli or unit-variance Gaussian negative log-likelihood summed or averaged over
the 3HW pixel values (the conventions and units of :class:`~affordkit.generative.VAEConfig`) and
beta_t ramped linearly from ``beta_start`` to ``beta_end`` (1 -> 50 in the paper). z_c carries no
KL: it is a deterministic code, kept in a fixed range by its BatchNorm.

For RL CC-RIG encodes s_t with :meth:`CCVAE.encode_mean` and the episode's context with
:meth:`CCVAE.context` (both in eval mode); an imagined goal is [z_g ~ N(0, I), z_c], whose image is
``decode(z_g, z_c)``. Train with :func:`affordkit.generative.fit` on ``{"image": s_t, "context":
s_0}``, uint8 arrays (N, H, W, 3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from affordkit.errors import ConfigError
from affordkit.generative.vae import (
    EncoderKind,
    Reconstruction,
    Reduction,
    check_encoder_fields,
    check_likelihood_fields,
    image_decoder,
    image_encoder,
)
from affordkit.logging import image_grid
from affordkit.networks.conv import (
    SUPPORTED_IMAGE_SIZES,
    ConvArch,
    ConvEncoder,
    SpriteDecoder,
    he_init,
    rig_arch,
    to_float_images,
    to_uint8_images,
)
from affordkit.types import IMAGE

CONTEXT = "context"  # the batch key of the context images s_0; s_t are under IMAGE ("image")
STATE_INPUT = "state_input"
"""Optional batch key: what the state encoder reads in place of s_t, e.g. s_t's positions rendered
with another episode's objects. Reconstructing s_t from [z_t(that image), z_c(s_0)] leaves nothing
of s_t's appearance that z_t could carry, so the decoder must take it from z_c."""
OUTLINE_CONTRAST = 0.1
"""Range of a channel within a 3x3 neighbourhood (images in [0, 1]) above which a pixel is on an
outline, for :attr:`CCVAEConfig.outline_weight`: rendered scenes are noise-free, so any real edge
passes it."""
CCDecoderKind = Literal["rig", "broadcast", "broadcast_full", "sprite"]
CC_DECODERS: tuple[str, ...] = ("rig", "broadcast", "broadcast_full", "sprite")
Images = Tensor | np.ndarray  # uint8 (B, H, W, 3) or float (B, 3, H, W) in [0, 1]


@dataclass(frozen=True)
class CCVAEConfig:
    """The CC-VAE of CC-RIG. Defaults: the pusher at 48x48 (ALGORITHMS.md, CC-RIG).

    ``beta_start``, ``beta_end``, ``reconstruction`` and ``reduction`` read as in
    :class:`~affordkit.generative.VAEConfig`: with ``sum`` the reconstruction terms are whole-image
    log-likelihoods and beta is the paper's; with ``mean`` they are divided by 3HW while the KL is
    not, so the paper's betas shrink by that factor (6,912 at 48x48).
    """

    image_size: int = 48
    """Image side, 48 or 84 (as :class:`~affordkit.generative.VAEConfig`)."""
    latent_dim: int = 6
    """Size of the state latent z_t: 6 for the pusher, 2-4 for the point-mass (CC-RIG paper)."""
    context_dim: int = 4
    """Size of the context latent z_c = e_0(s_0): 4 in the CC-RIG paper."""
    beta_start: float = 1.0
    """KL weight at the first training update: 1 in CC-RIG."""
    beta_end: float = 50.0
    """KL weight once the ramp is over: 50 in CC-RIG."""
    beta_ramp_steps: int = 10_000
    """Training updates over which beta grows linearly from ``beta_start`` to ``beta_end`` (0: the
    end value from the start). The paper ramps "over training"; the default spans the default
    :class:`~affordkit.generative.FitConfig` run (10,000 steps)."""
    context_weight: float = 1.0
    """w, the weight of the context decoder's term nll(s_0 | z_c): 1 in CC-RIG."""
    context_dropout: float = 0.5
    """Dropout on the context encoder's conv features before its linear layer: 0.5 in CC-RIG. Its
    BatchNorm then keeps running statistics of codes made noisy by the dropout, so in eval mode z_c
    shrinks towards its mean. In one scratch run when this module was written (no results file
    yet; 1,024 ColorPush pairs, 3,000 steps of 32, seed 0): z_c's spread over images was 0.09 in
    eval mode against 0.8 in training, and the eval-mode context decoder drew no object; with 0 the
    same run drew the right colour in every held-out image (pixel MSE about 10 times below the mean
    image's). :meth:`CCVAE.recalibrate_context_norm` re-estimates the statistics without dropout
    after training: in scratch runs of 400 to 2,000 steps it raised that spread from 0.002-0.004 to
    0.66-0.91. It cannot undo decoders trained on noisy codes: in benchmarks/ccrig_consistency.md
    (6,000 steps of 32, 2 seeds) the running statistics had not collapsed (spread 0.34 / 0.28, after
    recalibration 0.34 / 0.30), and the imagined goals agreed with their context 0.12 (dropout 0.5,
    recalibrated or not) against 0.26 with dropout 0."""
    reconstruction: Reconstruction = "bernoulli"
    """Likelihood of both decoders: ``bernoulli`` (BCE on logits) or ``gaussian`` with identity
    variance (half the squared error), as in :class:`~affordkit.generative.VAEConfig`."""
    reduction: Reduction = "sum"
    """Reduction of both reconstruction terms over the 3HW pixel values: ``sum`` (the paper's beta)
    or ``mean`` (see the class docstring)."""
    decoder: CCDecoderKind = "rig"
    """Both decoders: ``rig`` (the RIG deconv decoder) or ``broadcast`` (the spatial broadcast
    decoder, :class:`~affordkit.networks.conv.BroadcastDecoder`); ``broadcast_full``: the state
    decoder at full resolution (:class:`~affordkit.networks.conv.FullBroadcastDecoder`), meant to
    draw the context's shape wherever z_t puts the object, and the context decoder ``broadcast``
    (it draws every context's shape already, docs/methods/ccrig.md); ``sprite``: the state decoder
    draws the object from z_c alone as a sprite and places it where z_t says
    (:class:`~affordkit.networks.conv.SpriteDecoder`), so its shape is the same at every place, and
    the context decoder ``broadcast``. ``broadcast_full`` and ``sprite`` are not in CC-RIG."""
    sprite_size: int = 0
    """Side of the ``sprite`` decoder's object patch in pixels, odd (0: 13 at 48x48, 21 at 84x84,
    :func:`~affordkit.networks.conv.default_sprite_size`); unused by the other decoders."""
    sprite_mode_decode: bool = False
    """``sprite`` decoder, eval mode (imagined goals, reconstructions for RL): each where-map reduced
    to its most likely pixel, so each body is its sprite drawn once, unblurred, where the map peaks
    (:class:`~affordkit.networks.conv.SpriteDecoder`'s ``mode``); training is unchanged."""
    where_entropy_weight: float = 0.0
    """``sprite`` decoder: weight of the where-maps' entropy (nats, summed over the maps, averaged
    over the batch) added to the loss, so each map commits to one place and the body's shape has to
    be in its sprite (0: none). It grows linearly from 0 at update ``where_entropy_start`` to this
    weight at twice that update (from the start when 0): a map that must commit before it has found
    its body settles anywhere."""
    where_entropy_start: int = 0
    """See ``where_entropy_weight``."""
    where_straight_through_start: int = 0
    """``sprite`` decoder: from this training update on, each where-map is drawn as its one-hot mode
    in training too, with straight-through gradients (:class:`~affordkit.networks.conv.SpriteDecoder`'s
    ``straight_through``), so the sprites stop compensating for spread maps (0: never). With spread
    maps a sprite learns a deblurred object, whose centre is dimmed to offset the mass its rim
    spreads inward: drawn at the map's mode it shows a dark centre (docs/methods/ccrig.md)."""
    where_straight_through_mse: float = 0.0
    """``sprite`` decoder: the straight-through switch also waits until the training batches' pixel
    MSE of s_t (a running mean over about 50 updates) is below this, and then stays on (0: no wait).
    Drawn as modes before the maps follow the bodies, a map that sits still costs little and z_t
    can collapse (docs/methods/ccrig.md: one seed of two at a fixed quarter of the steps); the
    MSE says whether the bodies are drawn where they are."""
    where_split_gradients: bool = False
    """``sprite`` decoder, once the straight-through switch is on: the sprites learn from the picture
    drawn at the maps' modes (no gradient to the maps from it) and the maps, with z_t, from a second
    picture drawn with the soft maps and the sprites held fixed, its likelihood added to the loss
    (``map_reconstruction``), so the sprites stop compensating for spread maps while the maps keep
    the softmax's true gradient. The plain straight-through switch lost z_t on two seeds of three
    (docs/methods/ccrig.md)."""
    sprite_layers: int = 2
    """Bodies the ``sprite`` decoder draws, each a sprite with its own where-map: 2 for ColorPush
    (effector and object), 3 for ColorMultiPush; unused by the other decoders."""
    sprite_fixed: int = 0
    """``sprite`` decoder: how many of its sprites are learned patches that ignore z_c (bodies that
    look the same in every scene: 1, the effector, on ColorPush); fewer than ``sprite_layers``."""
    min_variance: float = 1e-3
    """Floor of the posterior variance of z_t: logvar = log(min_variance) + |linear| (rlkit)."""
    encoder: EncoderKind = "rig"
    """The state encoder of s_t (the context encoder stays RIG's conv trunk, since z_c must hold
    the scene's appearance): ``rig`` (the paper's conv encoder) or ``keypoints`` (spatial-softmax
    keypoints, :class:`~affordkit.networks.conv.KeypointEncoder`): its features are image
    positions, so z_t can hold where things are but hardly what they look like, which is left to
    z_c (docs/methods/ccrig.md)."""
    keypoints: int = 16
    """Keypoints of the ``keypoints`` state encoder; unused by ``rig``."""
    state_reads_context: bool = True
    """The state encoder's mu / logvar heads read [features(s_t), z_c] (CC-RIG) or, when off,
    features(s_t) alone, so z_t = mu(s_t) means the same in every scene. Not in CC-RIG: with z_c in
    the heads, one image encoded with another scene's context moved its code by 0.64 (outline weight
    3; a move of the object by 0.1 moves it 0.32), along directions that hold no position, so a goal
    code drawn from another scene (the ``data`` prior) sits that far off every code the current
    scene can reach (docs/methods/ccrig.md)."""
    context_every_layer: bool = False
    """With the ``broadcast`` decoder: z_c joins the input of every layer of the state decoder,
    not only the first (:class:`~affordkit.networks.conv.BroadcastDecoder`'s ``every_layer``).
    Not in CC-RIG; meant to make the decoder draw the context's shape (docs/methods/ccrig.md)."""
    decoder_channels: int = 64
    """With the ``broadcast`` decoder: width of the state decoder's convs (its first deconv has
    half; the context decoder keeps 64). Not in CC-RIG; meant to give the decoder room to draw small
    shapes at any place (docs/methods/ccrig.md)."""
    outline_weight: float = 0.0
    """Extra weight of the pixel values on an outline of the target image, in both reconstruction
    terms: each value's negative log-likelihood is multiplied by 1 + ``outline_weight`` where the
    target's 3x3 neighbourhood spans more than ``OUTLINE_CONTRAST`` in some channel (both sides of
    every edge), and by 1 elsewhere (0: the plain likelihood). Not in CC-RIG: at 48x48 a box and a
    disc of one size differ in a few corner pixels, worth little likelihood, and imagined goals
    came out with the right colour but shapes at chance (docs/methods/ccrig.md)."""
    gradient_weight: float = 0.0
    """Weight of an image-gradient term added to both reconstruction terms: ``gradient_weight`` *
    0.5 * the squared differences between neighbouring pixel values (along rows and along columns) of
    sigmoid(logits) - target, reduced over the image as the likelihood is (0: none). It emphasises
    edges, like ``outline_weight``, but its weights do not depend on the target: it is a quadratic
    form in the error, so over uncertain targets it is smallest at their mean image, and the decoder's
    best image keeps the mean the plain likelihood has (the outline weighting pulls it towards outline
    values). With the Gaussian likelihood the sum is the likelihood of a Gaussian whose precision is
    I + ``gradient_weight`` * D^T D, D the finite differences. Not in CC-RIG (docs/methods/ccrig.md)."""

    shift_augment: int = 0
    """Training only: s_t (and ``state_input``) shifted by the same random whole-pixel offset in
    [-shift_augment, shift_augment] along each axis, per pair, the border pixels repeated (the table),
    s_0 left as it is (0: none). Not in CC-RIG: on ColorPush a third of the s_t show the object near
    its start place, where the decoder learnt the context's shape, and the rest spread it over the
    table, where it did not (docs/methods/ccrig.md); shifted copies of the former put that shape
    everywhere. The random-shift augmentation of pixel RL (DrQ: Kostrikov, Yarats and Fergus 2020;
    RAD: Laskin et al. 2020), here on a VAE's targets."""

    def __post_init__(self) -> None:
        if self.image_size not in SUPPORTED_IMAGE_SIZES:
            raise ConfigError(
                f"image_size={self.image_size!r}; accepted values: {list(SUPPORTED_IMAGE_SIZES)}"
            )
        for name in ("latent_dim", "context_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}={value!r}: expected a positive integer")
        for name in (
            "beta_start",
            "beta_end",
            "context_weight",
            "outline_weight",
            "gradient_weight",
            "where_entropy_weight",
        ):
            value = getattr(self, name)
            if not value >= 0 or math.isinf(value):
                raise ConfigError(f"{name}={value!r}: expected a finite number >= 0")
        if not isinstance(self.beta_ramp_steps, int) or self.beta_ramp_steps < 0:
            raise ConfigError(f"beta_ramp_steps={self.beta_ramp_steps!r}: expected an integer >= 0")
        if not 0 <= self.context_dropout < 1:
            raise ConfigError(f"context_dropout={self.context_dropout!r}: expected in [0, 1)")
        if self.decoder not in CC_DECODERS:
            raise ConfigError(f"decoder={self.decoder!r}; accepted values: {list(CC_DECODERS)}")
        check_likelihood_fields(
            self.reconstruction, self.reduction, _context_kind(self.decoder), self.min_variance
        )
        size = self.sprite_size
        if not isinstance(size, int) or not (size == 0 or (size >= 3 and size % 2 == 1)):
            raise ConfigError(f"sprite_size={size!r}: expected 0 (automatic) or an odd number >= 3")
        if size and (self.decoder != "sprite" or size > self.image_size):
            raise ConfigError(
                f"sprite_size={size} needs decoder='sprite' and at most image_size={self.image_size}"
            )
        if not isinstance(self.shift_augment, int) or not 0 <= self.shift_augment < self.image_size:
            raise ConfigError(f"shift_augment={self.shift_augment!r}: expected an integer in [0, image_size)")
        if (self.sprite_mode_decode or self.where_entropy_weight) and self.decoder != "sprite":
            raise ConfigError("sprite_mode_decode and where_entropy_weight need decoder='sprite'")
        if self.where_straight_through_start and self.decoder != "sprite":
            raise ConfigError("where_straight_through_start needs decoder='sprite'")
        if not isinstance(self.where_straight_through_start, int) or self.where_straight_through_start < 0:
            raise ConfigError(
                f"where_straight_through_start={self.where_straight_through_start!r}: expected an int >= 0"
            )
        if self.where_split_gradients and not self.where_straight_through_start:
            raise ConfigError(
                "where_split_gradients needs where_straight_through_start > 0 (and decoder='sprite')"
            )
        mse = self.where_straight_through_mse
        if not isinstance(mse, (int, float)) or not 0.0 <= mse < 1.0:
            raise ConfigError(f"where_straight_through_mse={mse!r}: expected a number in [0, 1)")
        if mse and (self.decoder != "sprite" or not self.where_straight_through_start):
            raise ConfigError(
                "where_straight_through_mse needs decoder='sprite' and where_straight_through_start > 0"
            )
        if not isinstance(self.where_entropy_start, int) or self.where_entropy_start < 0:
            raise ConfigError(f"where_entropy_start={self.where_entropy_start!r}: expected an integer >= 0")
        if not isinstance(self.sprite_layers, int) or self.sprite_layers < 1:
            raise ConfigError(f"sprite_layers={self.sprite_layers!r}: expected a positive integer")
        if not isinstance(self.sprite_fixed, int) or not 0 <= self.sprite_fixed < self.sprite_layers:
            raise ConfigError(
                f"sprite_fixed={self.sprite_fixed!r}: expected an integer from 0 to sprite_layers - 1 "
                f"= {self.sprite_layers - 1}"
            )
        if self.sprite_fixed and self.decoder != "sprite":
            raise ConfigError("sprite_fixed needs decoder='sprite'")
        check_encoder_fields(self.encoder, self.keypoints)
        if self.context_every_layer and self.decoder != "broadcast":
            raise ConfigError("context_every_layer needs decoder='broadcast'")
        if self.decoder_channels != 64 and self.decoder not in ("broadcast", "sprite"):
            raise ConfigError(
                f"decoder_channels={self.decoder_channels} needs decoder='broadcast' or 'sprite'"
            )
        if self.decoder_channels < 2:
            raise ConfigError(f"decoder_channels={self.decoder_channels}: expected >= 2")


class ContextEncoder(nn.Module):
    """e_0 of CC-RIG: float images (B, 3, H, W) -> z_c (B, context_dim), through its own conv trunk,
    dropout, a linear layer and BatchNorm1d (deterministic in eval mode)."""

    def __init__(self, arch: ConvArch, context_dim: int, dropout: float) -> None:
        super().__init__()
        self.conv = ConvEncoder(arch)
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(arch.feature_dim, context_dim)
        he_init(self.linear)
        self.norm = nn.BatchNorm1d(context_dim)

    def forward(self, images: Tensor) -> Tensor:
        return self.norm(self.linear(self.dropout(self.conv(images))))  # (B, context_dim)


class CCVAE(nn.Module):
    """``CCVAE(CCVAEConfig())``: (s_t, s_0) -> (mu, logvar) of z_t and z_c; [z_t, z_c] -> s_t;
    z_c -> s_0."""

    def __init__(self, config: CCVAEConfig) -> None:
        super().__init__()
        self.config = config
        arch = rig_arch(config.image_size)
        self.encoder, feature_dim = image_encoder(config.encoder, config.image_size, config.keypoints)
        head_in = feature_dim + (config.context_dim if config.state_reads_context else 0)
        self.mu_head = nn.Linear(head_in, config.latent_dim)
        self.logvar_head = nn.Linear(head_in, config.latent_dim)
        he_init(self.mu_head)
        he_init(self.logvar_head)
        self.decoder = _decoder(config, arch, config.latent_dim + config.context_dim)
        self.context_encoder = ContextEncoder(arch, config.context_dim, config.context_dropout)
        self.context_decoder = _decoder(config, arch, config.context_dim)
        self._log_min_variance = math.log(config.min_variance)
        # training updates so far, for the beta ramp; a buffer, so checkpoints carry it
        self.num_updates: Tensor
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))
        if config.where_straight_through_mse:  # the gated switch's state (only then: older checkpoints load)
            self.mse_average: Tensor
            self.straight_through_on: Tensor
            self.register_buffer("mse_average", torch.ones(()))
            self.register_buffer("straight_through_on", torch.zeros((), dtype=torch.bool))

    @property
    def device(self) -> torch.device:
        return self.mu_head.weight.device

    def images(self, images: Images) -> Tensor:
        """uint8 (B, H, W, 3) or float (B, 3, H, W) images as float (B, 3, H, W) on this device."""
        return to_float_images(images, self.config.image_size, self.device)

    # ------------------------------------------------------------------------------ in this mode
    def encode(self, images: Images, context_images: Images) -> tuple[Tensor, Tensor]:
        """Posterior of z_t given s_t = ``images`` and s_0 = ``context_images`` (B rows each): mu and
        logvar (B, latent_dim), logvar >= log(min_variance). In the module's current mode (in
        training mode z_c has dropout and batch statistics)."""
        x, context = self._pair(images, context_images)
        return self._posterior(x, self.context_encoder(context))

    def decode(self, z: Tensor, z_c: Tensor) -> Tensor:
        """[z_t (B, latent_dim), z_c (B, context_dim)] -> images float (B, 3, H, W) in [0, 1]."""
        return torch.sigmoid(self.decoder(torch.cat([z, z_c], dim=1)))

    def decode_context(self, z_c: Tensor) -> Tensor:
        """z_c (B, context_dim) -> the context decoder's image of s_0, float (B, 3, H, W) in [0, 1]."""
        return torch.sigmoid(self.context_decoder(z_c))

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n state latents (n, latent_dim) from N(0, I), the prior of imagined goals z_g."""
        return torch.randn(n, self.config.latent_dim, generator=generator, device=self.device)

    # ------------------------------------------------------------------- eval mode, no gradients
    @torch.no_grad()
    def context(self, context_images: Images, batch_size: int = 1024) -> Tensor:
        """z_c = e_0(s_0) (B, context_dim) of context images: eval mode (no dropout, BatchNorm's
        running statistics, so each code is deterministic and independent of the rest of the
        batch), no gradients, ``batch_size`` images at a time; the train / eval mode is restored."""
        chunks = self._in_eval(
            lambda i: self.context_encoder(self.images(context_images[i : i + batch_size])),
            len(context_images),
            batch_size,
        )
        return torch.cat(chunks) if chunks else torch.zeros(0, self.config.context_dim, device=self.device)

    @torch.no_grad()
    def encode_mean(self, images: Images, context_images: Images, batch_size: int = 1024) -> Tensor:
        """Posterior means (B, latent_dim) of z_t given (s_t, s_0) rows: CC-RIG's encoding of the
        observation for the policy. Eval mode and no gradients, as :meth:`context`."""
        if len(images) != len(context_images):
            raise ConfigError(f"{len(images)} images but {len(context_images)} context images")
        chunks = self._in_eval(
            lambda i: self.encode(images[i : i + batch_size], context_images[i : i + batch_size])[0],
            len(images),
            batch_size,
        )
        return torch.cat(chunks) if chunks else torch.zeros(0, self.config.latent_dim, device=self.device)

    @torch.no_grad()
    def recalibrate_context_norm(self, context_images: Images, batch_size: int = 1024) -> dict[str, float]:
        """Replace the running mean and variance of the context encoder's BatchNorm by the exact
        statistics of its inputs over ``context_images`` (at least 2) computed without dropout,
        the way eval mode computes them: after training with ``context_dropout`` > 0 the running
        statistics describe codes made noisy by the dropout, whose variance is larger than that of
        the clean codes eval mode feeds it, so eval-mode z_c shrinks towards the mean (see
        ``CCVAEConfig.context_dropout``). Re-estimating normalisation statistics on the deployed
        (dropout-free) features after training is the usual remedy for this "variance shift" of
        dropout before BatchNorm (Li et al., CVPR 2019). Call it once after training, with the
        training contexts s_0; nothing else changes. The variance is unbiased, as BatchNorm's
        running variance. Returns the spread (standard deviation over the images, averaged over
        the context dimensions) of eval-mode z_c before (``spread_before``) and after
        (``spread_after``)."""
        if len(context_images) < 2:
            raise ConfigError(f"{len(context_images)} context images: need at least 2 to estimate a variance")
        before = self.context(context_images, batch_size)
        encoder = self.context_encoder
        codes = torch.cat(
            self._in_eval(
                lambda i: encoder.linear(encoder.conv(self.images(context_images[i : i + batch_size]))),
                len(context_images),
                batch_size,
            )
        ).double()  # (B, context_dim), pre-norm; double for the sums over many images
        mean, var = encoder.norm.running_mean, encoder.norm.running_var
        assert mean is not None and var is not None  # track_running_stats is on
        mean.copy_(codes.mean(0).to(mean.dtype))
        var.copy_(codes.var(0, unbiased=True).to(var.dtype))
        after = self.context(context_images, batch_size)
        return {
            "spread_before": float(before.std(0).mean().item()),
            "spread_after": float(after.std(0).mean().item()),
        }

    # ---------------------------------------------------------------------------------- training
    def current_beta(self) -> Tensor:
        """beta after the ramp so far (a 0-d tensor on this device: reading it needs no sync)."""
        start, end, ramp = self.config.beta_start, self.config.beta_end, self.config.beta_ramp_steps
        if not ramp:
            return torch.full((), end, device=self.device)
        progress = (self.num_updates.float() / ramp).clamp(max=1.0)
        return start + (end - start) * progress

    def where_entropy_weight(self) -> Tensor:
        """The weight of the where-maps' entropy after the ramp so far (0-d tensor, no sync)."""
        weight, start = self.config.where_entropy_weight, self.config.where_entropy_start
        if not start:
            return torch.full((), weight, device=self.device)
        progress = ((self.num_updates.float() - start) / start).clamp(0.0, 1.0)
        return weight * progress

    def _straight_through(self, start: int) -> bool | Tensor:
        """Whether the sprite decoder draws its maps as modes in this update (a 0-d bool tensor, no
        host sync): from update ``start`` on, and with ``where_straight_through_mse`` only once the
        running pixel MSE has fallen below it, then for good."""
        if not start:
            return False
        on = self.num_updates >= start
        if not self.config.where_straight_through_mse:
            return on
        if self.training and torch.is_grad_enabled():
            self.straight_through_on |= on & (self.mse_average < self.config.where_straight_through_mse)
        return self.straight_through_on.clone()

    def loss(
        self, batch: Mapping[str, Images], generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """Scalars averaged over the batch ``{"image": s_t, "context": s_0}`` (and, optionally,
        ``"state_input"``, which the state encoder then reads in place of s_t): ``loss`` =
        ``reconstruction`` + context_weight * ``context_reconstruction`` + beta_t * ``kl``, with
        ``beta`` (beta_t) and the per-pixel-value squared errors ``pixel_mse`` (of s_t) and
        ``context_pixel_mse`` (of s_0); with the ``sprite`` decoder also + w_t * ``where_entropy``
        (w_t: ``where_entropy_weight``, ramped). ``generator`` (on this device) draws the
        reparameterisation noise (and the shifts of ``shift_augment``). Each call in training mode
        with gradients on counts as one update of the ramps."""
        x, context = self._batch(batch)
        z_c = self.context_encoder(context)  # (B, context_dim)
        state_input = self._pair(batch[STATE_INPUT], x)[0] if STATE_INPUT in batch else x
        if self.config.shift_augment and self.training and torch.is_grad_enabled():
            x, state_input = random_shift(
                [x, state_input], self.config.shift_augment, generator
            )  # the same shift for s_t and what the state encoder reads; s_0 stays
        mu, logvar = self._posterior(state_input, z_c)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + torch.exp(0.5 * logvar) * eps
        where_entropy = torch.zeros((), device=z.device)
        map_reconstruction = torch.zeros((), device=z.device)
        if isinstance(self.decoder, SpriteDecoder):
            start = self.config.where_straight_through_start
            self.decoder.straight_through = self._straight_through(start)
            self.decoder.split_gradients = self.config.where_split_gradients
            parts = self.decoder.layers(torch.cat([z, z_c], dim=1))
            logits = torch.logit(parts["image"], eps=1e-6)  # (B, 3, H, W), as the decoder's forward
            if "image_soft" in parts:  # split gradients: the maps learn from the soft picture
                map_reconstruction = self._nll(torch.logit(parts["image_soft"], eps=1e-6), x)
            where = parts["where"].flatten(2)
            where_entropy = -(where * where.clamp_min(1e-12).log()).sum((1, 2)).mean()
        else:
            logits = self.decoder(torch.cat([z, z_c], dim=1))  # (B, 3, H, W)
        context_logits = self.context_decoder(z_c)
        reconstruction = self._nll(logits, x)
        context_reconstruction = self._nll(context_logits, context)
        kl = (0.5 * (mu.square() + logvar.exp() - 1.0 - logvar)).sum(1).mean()
        beta = self.current_beta()
        loss = reconstruction + self.config.context_weight * context_reconstruction + beta * kl
        extra = {}
        if isinstance(self.decoder, SpriteDecoder):
            weight = self.where_entropy_weight()
            loss = loss + weight * where_entropy + map_reconstruction
            through = torch.as_tensor(
                self.decoder.straight_through if self.training else False, device=loss.device
            )
            extra = {
                "where_entropy": where_entropy.detach(),
                "where_entropy_weight": weight,
                "straight_through": through.float(),  # 1 while the maps are drawn as their modes
                "map_reconstruction": map_reconstruction.detach(),
            }
        pixel_mse = (torch.sigmoid(logits.detach()) - x).square().mean()
        if self.training and torch.is_grad_enabled():
            self.num_updates += 1
            if self.config.where_straight_through_mse:
                self.mse_average.lerp_(pixel_mse, 0.02)
        return {
            "loss": loss,
            "reconstruction": reconstruction,
            "context_reconstruction": context_reconstruction,
            "kl": kl,
            "beta": beta,
            "pixel_mse": pixel_mse,
            "context_pixel_mse": (torch.sigmoid(context_logits.detach()) - context).square().mean(),
            **extra,
        }

    @torch.no_grad()
    def media(
        self, batch: Mapping[str, Images], num_images: int = 8, num_goals: int = 3
    ) -> dict[str, np.ndarray]:
        """uint8 (H', W', 3) grids of the first ``num_images`` pairs: ``reconstruction`` (rows: s_0,
        its context-decoder image, s_t, its reconstruction from mu) and ``imagined_goals`` (first
        row: the contexts s_0; then ``num_goals`` rows, each one z_g ~ N(0, I) decoded with every
        column's z_c, the same z_g every call, so a row shows one imagined state in each scene).
        Eval mode; the train / eval mode is restored."""
        x, context = self._batch(batch)
        x, context = x[:num_images], context[:num_images]
        n = len(x)
        was_training = self.training
        self.eval()
        try:
            z_c = self.context_encoder(context)  # (n, context_dim)
            context_recon = self.decode_context(z_c)
            recon = self.decode(self._posterior(x, z_c)[0], z_c)
            goals = self.sample_prior(num_goals, torch.Generator(self.device).manual_seed(0))
            # row-major (num_goals * n, 3, H, W): goal g with every context
            imagined = self.decode(goals.repeat_interleave(n, dim=0), z_c.repeat(num_goals, 1))
        finally:
            self.train(was_training)
        upscale = 2 if self.config.image_size <= 48 else 1  # 48-pixel tiles are too small to see
        contexts = to_uint8_images(context)  # (n, H, W, 3)
        rows = np.stack(
            [contexts, to_uint8_images(context_recon), to_uint8_images(x), to_uint8_images(recon)]
        )
        goal_rows = to_uint8_images(imagined).reshape(num_goals, *contexts.shape)
        return {
            "reconstruction": image_grid(rows, upscale=upscale),
            "imagined_goals": image_grid(np.concatenate([contexts[None], goal_rows]), upscale=upscale),
        }

    # ----------------------------------------------------------------------------------- helpers
    def _posterior(self, x: Tensor, z_c: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(x)  # (B, feature_dim)
        if self.config.state_reads_context:
            h = torch.cat([h, z_c], dim=1)  # (B, feature_dim + context_dim)
        return self.mu_head(h), self._log_min_variance + self.logvar_head(h).abs()

    def _nll(self, logits: Tensor, target: Tensor) -> Tensor:
        """The batch mean of the images' negative log-likelihoods, as in BetaVAE's loss."""
        if self.config.reconstruction == "bernoulli":
            per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        else:
            per_pixel = 0.5 * (torch.sigmoid(logits) - target).square()
        if self.config.outline_weight:
            per_pixel = per_pixel * (1.0 + self.config.outline_weight * outline_mask(target))
        per_image = per_pixel.flatten(1).sum(1)
        if self.config.gradient_weight:
            per_image = per_image + self.config.gradient_weight * gradient_error(
                torch.sigmoid(logits), target
            )
        if self.config.reduction == "mean":
            per_image = per_image / target[0].numel()
        return per_image.mean()

    def _pair(self, images: Images, context_images: Images) -> tuple[Tensor, Tensor]:
        x, context = self.images(images), self.images(context_images)
        if len(x) != len(context):
            raise ConfigError(f"{len(x)} images but {len(context)} context images; pairs need one each")
        return x, context

    def _batch(self, batch: Mapping[str, Images]) -> tuple[Tensor, Tensor]:
        if not isinstance(batch, Mapping) or IMAGE not in batch or CONTEXT not in batch:
            keys = sorted(batch) if isinstance(batch, Mapping) else type(batch).__name__
            raise ConfigError(
                f"a CC-VAE batch is a mapping {{{IMAGE!r}: s_t, {CONTEXT!r}: s_0}} of images (B, H, W, 3) "
                f"uint8; got {keys}"
            )
        return self._pair(batch[IMAGE], batch[CONTEXT])

    def _in_eval(self, step: Callable[[int], Tensor], total: int, batch_size: int) -> list[Tensor]:
        """``step(i)`` for i = 0, batch_size, ... < total, in eval mode; the mode is restored."""
        was_training = self.training
        self.eval()
        try:
            return [step(i) for i in range(0, total, batch_size)]
        finally:
            self.train(was_training)


def outline_mask(images: Tensor, threshold: float = OUTLINE_CONTRAST) -> Tensor:
    """1.0 where the float images (B, C, H, W) in [0, 1] change by more than ``threshold`` within
    the pixel's 3x3 neighbourhood in some channel, else 0.0; shape (B, 1, H, W), no gradient.
    Marks both sides of every edge: an object's rim and the background just outside it."""
    with torch.no_grad():
        high = F.max_pool2d(images, 3, stride=1, padding=1)
        low = -F.max_pool2d(-images, 3, stride=1, padding=1)
        return ((high - low).amax(1, keepdim=True) > threshold).to(images.dtype)


def random_shift(
    images: list[Tensor], max_shift: int, generator: torch.Generator | None = None
) -> list[Tensor]:
    """Each float batch (B, C, H, W) in ``images`` shifted by one random whole-pixel offset per row i,
    the same for every batch in the list, uniform in [-max_shift, max_shift] on each axis (drawn with
    ``generator``); pixels shifted in from outside repeat the nearest border pixel."""
    b, _, h, w = images[0].shape
    device = images[0].device
    offsets = torch.randint(0, 2 * max_shift + 1, (2, b), generator=generator, device=device)
    rows = offsets[0, :, None] + torch.arange(h, device=device)  # (B, H) rows of the padded image
    cols = offsets[1, :, None] + torch.arange(w, device=device)  # (B, W)
    index = torch.arange(b, device=device)[:, None, None]
    out = []
    for batch in images:
        padded = F.pad(batch, (max_shift,) * 4, mode="replicate")  # (B, C, H + 2m, W + 2m)
        shifted = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
        out.append(shifted.permute(0, 3, 1, 2).contiguous())
    return out


def gradient_error(images: Tensor, target: Tensor) -> Tensor:
    """Per image (B,): 0.5 * the sum of squared finite differences of ``images - target`` (B, C, H, W)
    between horizontal and between vertical neighbours, for :attr:`CCVAEConfig.gradient_weight`."""
    error = images - target
    horizontal = error[..., :, 1:] - error[..., :, :-1]
    vertical = error[..., 1:, :] - error[..., :-1, :]
    return 0.5 * (horizontal.square().flatten(1).sum(1) + vertical.square().flatten(1).sum(1))


def _context_kind(decoder: str) -> str:
    """The context decoder's kind for CC-VAE's ``decoder`` setting."""
    return "broadcast" if decoder in ("broadcast_full", "sprite") else decoder


def _decoder(config: CCVAEConfig, arch: ConvArch, in_dim: int) -> nn.Module:
    state = in_dim > config.context_dim  # the state decoder reads [z_t, z_c]; the context one z_c
    if state and config.decoder == "sprite":
        return SpriteDecoder(
            config.image_size,
            config.latent_dim,
            config.context_dim,
            sprite_size=config.sprite_size,
            layers=config.sprite_layers,
            mode=config.sprite_mode_decode,
            fixed=config.sprite_fixed,
            channels=config.decoder_channels,
        )
    every = config.context_dim if config.context_every_layer and state else 0
    kind = config.decoder if state else _context_kind(config.decoder)
    channels = config.decoder_channels if state else 64
    return image_decoder(kind, arch, in_dim, every_layer=every, channels=channels)
