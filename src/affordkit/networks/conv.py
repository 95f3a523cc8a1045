"""The conv encoder and decoder of the original RIG beta-VAE, at 48x48 and 84x84.

Architectures (reference/ALGORITHMS.md, RIG; Nair, Pong et al. 2018 and rlkit v0.1.2):

- 48x48 (the Skew-Fit re-implementations): convs kernels 5/3/3, channels 16/32/64, strides 3/2/2,
  48 -> 15 -> 7 -> 3; decoder linear -> 64x3x3, deconv k3 s2 -> 32x7x7, deconv k3 s2 -> 16x15x15,
  deconv k6 s3 -> 3x48x48. Every listed size is exact.
- 84x84 (the original release): convs kernels 5/5/5, channels 16/32/32, strides 3/3/3, BatchNorm
  after each conv, 84 -> 27 -> 8 -> 2; decoder mirrored: linear -> 32x2x2, deconv k5 s3 -> 32x8x8,
  then two deconvs of kernel 6 stride 3 -> 16x27x27 -> 3x84x84 (see ``RIG_84`` for why kernel 6).

Weights start from He (Kaiming) initialisation, fan-in, gain sqrt(2) (He et al. 2015), biases at
zero, instead of PyTorch's default, under which the activations' root mean square falls about 2.5
times per ReLU layer (0.16, 0.056, 0.024 through the 48x48 encoder; He: 0.72, 0.68, 0.70). Through
the eight layers of a VAE the decoder then barely reacts to the latent, and on the tabletop scenes
(a small puck and effector on a plain table) the beta-VAE sat on the mean image and its posterior
collapsed within 3,000 steps; with He initialisation the same run encoded the puck
(docs/methods/vae.md).

The encoder returns flat features, not a latent: heads live in the model (the beta-VAE puts mu and
logvar heads there; CC-VAE will join a context vector first). The decoder returns logits; the
model applies the sigmoid (Bernoulli losses are stabler on logits).

Images travel as uint8 (B, H, W, 3), as stored by envs and buffers, and are turned into float
(B, 3, H, W) in [0, 1] on the model's device by :func:`to_float_images`, after the transfer, so
host-to-device traffic stays a quarter of the float size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from affordkit.errors import ConfigError

SUPPORTED_IMAGE_SIZES = (48, 84)


@dataclass(frozen=True)
class ConvLayer:
    """One conv (encoder) or transposed conv (decoder) layer."""

    channels: int
    """Output channels."""
    kernel: int
    """Square kernel side."""
    stride: int
    """Stride in both directions."""


@dataclass(frozen=True)
class ConvArch:
    """A mirrored conv encoder / deconv decoder pair for square RGB images."""

    image_size: int
    """Side of the square input and output images."""
    encoder: tuple[ConvLayer, ...]
    """Conv layers from the image to the feature map, each followed by (BatchNorm and) ReLU."""
    feature_shape: tuple[int, int, int]
    """(C, h, w) of the last encoder feature map, and of the decoder's first map."""
    decoder: tuple[ConvLayer, ...]
    """Transposed convs from the feature map to the image; the last one outputs 3 channels."""
    batch_norm: bool
    """BatchNorm after every hidden conv and deconv (the 84x84 original), none at 48x48."""

    @property
    def feature_dim(self) -> int:
        c, h, w = self.feature_shape
        return c * h * w


RIG_48 = ConvArch(
    image_size=48,
    encoder=(ConvLayer(16, 5, 3), ConvLayer(32, 3, 2), ConvLayer(64, 3, 2)),  # 48 -> 15 -> 7 -> 3
    feature_shape=(64, 3, 3),
    decoder=(ConvLayer(32, 3, 2), ConvLayer(16, 3, 2), ConvLayer(3, 6, 3)),  # 3 -> 7 -> 15 -> 48
    batch_norm=False,
)

# Mirroring the encoder's kernel 5 stride 3 exactly gives 2 -> 8 -> 26 -> 77, not 84. The smallest
# change that reaches 84 is kernel 6 (instead of 5) on the last two deconvs: 8 -> 27 -> 84, the same
# kernel-6 stride-3 upsampling as the 48x48 decoder's last layer. output_padding would also give the
# sizes (with one more pixel at 27 and at 84), but the padded row and column receive no input at
# all, only the bias, so the image's bottom row and right column could never be reconstructed.
RIG_84 = ConvArch(
    image_size=84,
    encoder=(ConvLayer(16, 5, 3), ConvLayer(32, 5, 3), ConvLayer(32, 5, 3)),  # 84 -> 27 -> 8 -> 2
    feature_shape=(32, 2, 2),
    decoder=(ConvLayer(32, 5, 3), ConvLayer(16, 6, 3), ConvLayer(3, 6, 3)),  # 2 -> 8 -> 27 -> 84
    batch_norm=True,
)


def rig_arch(image_size: int) -> ConvArch:
    """The RIG architecture for 48x48 or 84x84 images."""
    if image_size == 48:
        return RIG_48
    if image_size == 84:
        return RIG_84
    raise ConfigError(f"image_size={image_size!r}: accepted values: {list(SUPPORTED_IMAGE_SIZES)}")


class ConvEncoder(nn.Module):
    """Float images (B, C, H, W) in [0, 1] -> flat features (B, arch.feature_dim); C = 3 for one
    RGB image, 6 for an observation stacked with its goal image."""

    def __init__(self, arch: ConvArch, in_channels: int = 3) -> None:
        super().__init__()
        self.arch = arch
        layers: list[nn.Module] = []
        for layer in arch.encoder:
            layers.append(nn.Conv2d(in_channels, layer.channels, layer.kernel, layer.stride))
            if arch.batch_norm:
                layers.append(nn.BatchNorm2d(layer.channels))
            layers.append(nn.ReLU())
            in_channels = layer.channels
        layers.append(nn.Flatten())
        self.net = nn.Sequential(*layers)
        he_init(self)

    def forward(self, images: Tensor) -> Tensor:
        return self.net(images)  # (B, feature_dim)


class ConvDecoder(nn.Module):
    """Vectors (B, in_dim) -> image logits (B, 3, H, W); ``sigmoid`` of them is the image."""

    def __init__(self, arch: ConvArch, in_dim: int) -> None:
        super().__init__()
        self.arch = arch
        self.fc = nn.Linear(in_dim, arch.feature_dim)
        layers: list[nn.Module] = []
        in_channels = arch.feature_shape[0]
        for i, layer in enumerate(arch.decoder):
            layers.append(nn.ConvTranspose2d(in_channels, layer.channels, layer.kernel, layer.stride))
            if i < len(arch.decoder) - 1:  # the last layer outputs logits: no norm, no ReLU
                if arch.batch_norm:
                    layers.append(nn.BatchNorm2d(layer.channels))
                layers.append(nn.ReLU())
            in_channels = layer.channels
        self.net = nn.Sequential(*layers)
        he_init(self)

    def forward(self, x: Tensor) -> Tensor:
        h = torch.relu(self.fc(x)).view(-1, *self.arch.feature_shape)  # (B, C, h, w)
        return self.net(h)  # (B, 3, H, W) logits


class BroadcastDecoder(nn.Module):
    """Spatial broadcast decoder (Watters et al. 2019): the latent is copied to every cell of a
    coarse grid (image_size / 4 on a side) beside the cell's x and y coordinates, two 3x3 convs mix
    them, and two stride-2 deconvs bring the grid to full size. Drawing an object at a position
    then needs only a comparison of latent and coordinates, which the RIG decoder (a linear layer
    into 3x3 features) has to learn for every position: on the tabletop, with a latent of 8, it
    encodes both the effector and the puck where the RIG decoder drops the effector
    (docs/methods/rig.md). ``every_layer = c > 0`` joins the input's last c entries (CC-VAE's
    context code z_c) again, tiled, to the input of every later layer, so what the scene looks
    like reaches the layers that draw it. ``channels``: width of the two convs (the first deconv has
    half). Vectors (B, in_dim) -> logits (B, out_channels, H, W), 3 channels by default."""

    def __init__(
        self, image_size: int, in_dim: int, channels: int = 64, every_layer: int = 0, out_channels: int = 3
    ) -> None:
        super().__init__()
        if image_size % 4:
            raise ConfigError(f"image_size={image_size}: the broadcast decoder needs a multiple of 4")
        if channels < 2:
            raise ConfigError(f"channels={channels}: expected >= 2")
        if not 0 <= every_layer <= in_dim:
            raise ConfigError(f"every_layer={every_layer}: expected in [0, in_dim = {in_dim}]")
        self.grid = grid = image_size // 4
        self.every_layer = c = every_layer
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, grid), torch.linspace(-1, 1, grid), indexing="ij")
        self.coords: Tensor
        self.register_buffer("coords", torch.stack([xs, ys])[None], persistent=False)  # (1, 2, g, g)
        # one Sequential (its state_dict keys are those of checkpoints written before every_layer)
        self.net = nn.Sequential(
            nn.Conv2d(in_dim + 2, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels + c, channels, 3, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(channels + c, channels // 2, 4, stride=2, padding=1),  # g -> 2g
            nn.ReLU(),
            nn.ConvTranspose2d(
                channels // 2 + c, out_channels, 4, stride=2, padding=1
            ),  # 2g -> 4g = image_size
        )
        he_init(self)

    def forward(self, x: Tensor) -> Tensor:
        b, d, g = x.shape[0], x.shape[1], self.grid
        tiled = x[:, :, None, None].expand(b, d, g, g)
        h = torch.cat([tiled, self.coords.expand(b, 2, g, g)], dim=1)
        if not self.every_layer:
            return self.net(h)  # (B, out_channels, H, W) logits
        cond = x[:, d - self.every_layer :, None, None]  # (B, c, 1, 1): the input's last c entries
        for i, layer in enumerate(self.net):
            if i and not isinstance(layer, nn.ReLU):
                h = torch.cat([h, cond.expand(b, self.every_layer, *h.shape[2:])], dim=1)
            h = layer(h)
        return h  # (B, out_channels, H, W) logits


def default_sprite_size(image_size: int) -> int:
    """A quarter of the image's side, made odd (13 at 48x48, 21 at 84x84): room for the tabletop's
    objects (a disc 7.2 pixels across at 48x48, 12.6 at 84x84) and their anti-aliased rim."""
    return image_size // 4 | 1


BACKGROUND_GAIN = 20.0
""":class:`SpriteDecoder`'s background logits are this times its parameter (a learning-rate scale
for that one image)."""


class SpriteDecoder(nn.Module):
    """A decoder that draws each body from the context code alone and places it where the state code
    says, translation-equivariant by construction (CC-VAE's state decoder; not in CC-RIG).

    Input [z_t, z_c] (B, state_dim + context_dim). The picture is ``layers`` sprites laid over a
    background:

    - sprites from z_c alone: an MLP gives ``layers`` RGBA patches ``sprite_size`` pixels square
      (colour and coverage in [0, 1]), the bodies' appearance, the same wherever a body is (a body
      that looks the same in every scene, such as the effector, learns to ignore z_c);
    - from z_t alone, a :class:`BroadcastDecoder` with one output channel per sprite: its "where"
      map, a softmax over the image's pixels;
    - the background: one learned image (the table), the same for every input. Nothing that moves
      can be drawn except by a sprite.

    Each sprite's layer is its where-map convolved with it (:func:`place`): a sharp map draws the
    sprite at its peak, a map split between neighbouring pixels draws it at a sub-pixel offset.
    Layers are laid front to back in a fixed order (sprite 0 in front): p = A * rgb + (1 - A) * below,
    A the placed coverage (at most 1, since a map sums to 1). So a body's shape at any place is the
    shape its sprite learned at every place, where a conv decoder has to learn it again at each
    position (on ColorPush it drew the context's shape only near the start place:
    docs/methods/ccrig.md). A spread map draws a blurred, faded sprite (a blob at least a sprite wide),
    so a sharp body needs a sharp map and the shape in the sprite. The background cannot draw a body,
    and the maps do not see z_c, so with a state encoder that cannot read the bodies' appearance
    (CC-VAE's ``state_input``) appearance has no way in but the sprites. Assumes a fixed camera and a
    static background, as on the tabletop.

    ``fixed``: the first ``fixed`` sprites are learned patches that do not read z_c, for bodies that
    look the same in every scene (the effector): what differs between scenes can then only be drawn
    by the other sprites, which keeps one sprite for the effector when the maps are drawn as their
    modes (with two sprites from z_c, straight-through training turned both into the object).

    ``full_where``: the maps from a :class:`FullBroadcastDecoder` (full resolution, no deconv, 4.3
    times the FLOPs) instead. ``mode``: in eval mode each map is replaced by a one-hot at its most
    likely pixel, so each sprite is drawn once, whole, at the map's mode (training is unchanged).
    ``straight_through`` (an attribute, off at first; a bool or a 0-d bool tensor): in training
    too each map is its one-hot mode in the forward pass, while gradients flow as through the
    softmax (the straight-through estimator, Bengio, Leonard and Courville 2013), so the sprites
    learn to match the targets unblurred. Returns logits (B, 3, H, W) of p (clamped to [1e-6, 1 - 1e-6])."""

    def __init__(
        self,
        image_size: int,
        state_dim: int,
        context_dim: int,
        sprite_size: int = 0,
        layers: int = 2,
        channels: int = 64,
        hidden: int = 256,
        full_where: bool = False,
        mode: bool = False,
        fixed: int = 0,
    ) -> None:
        super().__init__()
        size = sprite_size or default_sprite_size(image_size)
        if not 0 <= fixed < layers:
            raise ConfigError(
                f"fixed={fixed}: expected 0 <= fixed < layers = {layers} (one sprite reads z_c)"
            )
        if size % 2 == 0 or not 3 <= size <= image_size:
            raise ConfigError(f"sprite_size={size}: expected an odd number in [3, image_size = {image_size}]")
        if state_dim < 1 or context_dim < 1 or layers < 1:
            raise ConfigError(
                f"state_dim={state_dim}, context_dim={context_dim}, layers={layers}: expected positive ints"
            )
        self.state_dim, self.sprite_size, self.image_size, self.num_layers = (
            state_dim,
            size,
            image_size,
            layers,
        )
        self.where = (
            FullBroadcastDecoder(image_size, state_dim, out_channels=layers)
            if full_where
            else BroadcastDecoder(image_size, state_dim, channels=channels, out_channels=layers)
        )
        self.fixed = fixed
        self.sprite_net = nn.Sequential(
            nn.Linear(context_dim, hidden), nn.ReLU(), nn.Linear(hidden, (layers - fixed) * 4 * size * size)
        )
        he_init(self.sprite_net)
        if fixed:  # logits of the scene-independent sprites, at 0.5 grey and half coverage to start
            self.fixed_sprites = nn.Parameter(torch.zeros(fixed, 4, size, size))
        # logits / BACKGROUND_GAIN: the gain lets Adam move the whole table colour within a few
        # hundred steps (an unscaled logit moves about lr per step: thousands of steps from grey to
        # the table, while the sprites learn to paint the table instead)
        self.background = nn.Parameter(torch.zeros(1, 3, image_size, image_size))
        self.mode = mode
        self.straight_through: bool | Tensor = False
        self.split_gradients = False

    def sprites(self, z_c: Tensor) -> tuple[Tensor, Tensor]:
        """Colour (B, layers, 3, S, S) and coverage (B, layers, 1, S, S), in [0, 1], of z_c's sprites."""
        s = self.sprite_size
        rgba = torch.sigmoid(self.sprite_net(z_c)).view(-1, self.num_layers - self.fixed, 4, s, s)
        if self.fixed:
            same = torch.sigmoid(self.fixed_sprites).expand(len(rgba), self.fixed, 4, s, s)
            rgba = torch.cat([same, rgba], dim=1)  # the scene-independent sprites first (in front)
        return rgba[:, :, :3], rgba[:, :, 3:]

    def layers(self, x: Tensor) -> dict[str, Tensor]:
        """The parts of the picture: ``where`` (B, layers, H, W), each map summing to 1,
        ``coverage`` (B, layers, H, W) of each placed sprite, ``background`` (1, 3, H, W) and
        ``image`` (B, 3, H, W), all in [0, 1]. With ``split_gradients`` set, in training with
        ``straight_through`` on, also ``image_soft``: ``image`` is then drawn at the maps' modes
        with no gradient to the maps (the sprites learn from it), ``image_soft`` with the soft
        maps and the sprites held fixed (the maps learn from it), and ``where`` is the soft maps."""
        b, n, size = x.shape[0], self.num_layers, self.image_size
        logits = self.where(x[:, : self.state_dim]).flatten(2)  # (B, layers, H * W)
        soft = torch.softmax(logits, dim=2)
        rgb, alpha = self.sprites(x[:, self.state_dim :])
        through = self.straight_through if self.training else False
        if self.split_gradients and through is not False and bool(through):  # one host read per step
            hard = F.one_hot(logits.argmax(2), size * size).to(logits.dtype)
            drawn = self._draw(hard.view(b, n, size, size), rgb, alpha)
            drawn["image_soft"] = self._draw(soft.view(b, n, size, size), rgb.detach(), alpha.detach())[
                "image"
            ]
            drawn["where"] = soft.view(b, n, size, size)
            return drawn
        if (self.mode and not self.training) or through is not False:
            hard = F.one_hot(logits.argmax(2), size * size).to(logits.dtype)  # each map's likeliest pixel
            # training: the hard map forward, the softmax's gradient backward (straight-through);
            # ``through`` may be a 0-d bool tensor on the device, so switching on needs no host sync
            soft = soft + (hard - soft).detach() * through if self.training else hard
        return self._draw(soft.view(b, n, size, size), rgb, alpha)

    def _draw(self, where: Tensor, rgb: Tensor, alpha: Tensor) -> dict[str, Tensor]:
        """The sprites (``rgb``, ``alpha``: B, layers, C, S, S) placed by the maps ``where``
        (B, layers, H, W) over the background, front to back (see :meth:`layers`)."""
        b, n, size, s = where.shape[0], self.num_layers, self.image_size, self.sprite_size
        placed = place(
            where.reshape(b * n, 1, size, size), torch.cat([rgb * alpha, alpha], dim=2).view(b * n, 4, s, s)
        ).view(b, n, 4, size, size)
        background = torch.sigmoid(BACKGROUND_GAIN * self.background)
        image = background.expand(b, 3, size, size)
        for k in reversed(range(n)):  # back to front: sprite 0 ends in front
            image = placed[:, k, :3] + (1.0 - placed[:, k, 3:]) * image
        return {"where": where, "coverage": placed[:, :, 3], "background": background, "image": image}

    def forward(self, x: Tensor) -> Tensor:
        return torch.logit(self.layers(x)["image"], eps=1e-6)  # (B, 3, H, W)


def place(where: Tensor, sprites: Tensor) -> Tensor:
    """Each image's map ``where`` (B, 1, H, W) convolved with its own ``sprites`` (B, C, S, S), S
    odd, centred: a map that is 1 at pixel v and 0 elsewhere gives the sprite with its centre on v,
    cut at the image's border. Through the FFT on a grid of a power of two >= H + S - 1, so nothing
    wraps around (4 times faster than a grouped conv of 32 images at 48x48 with 13-pixel sprites, on
    one CPU thread). Returns (B, C, H, W)."""
    h, w, s = where.shape[-2], where.shape[-1], sprites.shape[-1]
    n = 1 << (max(h, w) + s - 2).bit_length()  # smallest power of two >= max(h, w) + s - 1
    # the sprite's centre at index (0, 0), the rest wrapped to the far end: a centred kernel
    kernel = F.pad(sprites, (0, n - s, 0, n - s)).roll((-(s // 2), -(s // 2)), dims=(-2, -1))
    product = torch.fft.rfft2(where, s=(n, n)) * torch.fft.rfft2(kernel)
    return torch.fft.irfft2(product, s=(n, n))[..., :h, :w]


class FullBroadcastDecoder(nn.Module):
    """Spatial broadcast decoder at full resolution, like Watters et al.'s (2019) original (theirs:
    four layers of 64 channels without padding on a grid 8 pixels larger; here fewer and narrower,
    with zero padding, for cost): the latent is copied to every pixel beside the pixel's x and y
    coordinates, and ``layers`` 3x3 convs of stride 1 (``channels`` wide, ReLU) and a 1x1 conv map
    them to logits. Every pixel sees its own
    exact position, so the outline of a small object (a box's corners against a disc's rim) is a
    function of latent and coordinates alone, where :class:`BroadcastDecoder`'s coarse grid must
    draw it inside 4x4-pixel cells with its deconvs. 4.3 times that decoder's FLOPs with the
    defaults (48x48 and 84x84, by torch.utils.flop_counter). Vectors (B, in_dim) -> logits (B, 3, H, W)."""

    def __init__(
        self, image_size: int, in_dim: int, channels: int = 32, layers: int = 3, out_channels: int = 3
    ) -> None:
        super().__init__()
        if layers < 1 or channels < 1:
            raise ConfigError(f"layers={layers}, channels={channels}: expected positive integers")
        self.image_size = s = image_size
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, s), torch.linspace(-1, 1, s), indexing="ij")
        self.coords: Tensor
        self.register_buffer("coords", torch.stack([xs, ys])[None], persistent=False)  # (1, 2, H, W)
        convs: list[nn.Module] = []
        width = in_dim + 2
        for _ in range(layers):
            convs += [nn.Conv2d(width, channels, 3, padding=1), nn.ReLU()]
            width = channels
        self.net = nn.Sequential(*convs, nn.Conv2d(width, out_channels, 1))
        he_init(self)

    def forward(self, x: Tensor) -> Tensor:
        b, d, s = x.shape[0], x.shape[1], self.image_size
        tiled = x[:, :, None, None].expand(b, d, s, s)
        return self.net(torch.cat([tiled, self.coords.expand(b, 2, s, s)], dim=1))  # (B, 3, H, W)


class KeypointEncoder(nn.Module):
    """Spatial-softmax keypoint encoder (Levine, Finn et al. 2016, "End-to-End Training of Deep
    Visuomotor Policies"; Finn et al. 2016, "Deep Spatial Autoencoders"): three convs keep a map of
    half the image's side (48 -> 24), and a softmax over each of the last map's ``keypoints``
    channels, at a learned temperature, gives that channel's expected image position (x, y) in
    [-1, 1]. Features (B, 2 * keypoints) are positions, so a linear head reads where each body is:
    on the tabletop the RIG encoder's code of the effector was curved (a linear read-out of the
    effector's position from the latent erred by 0.071 table units against 0.011 for the puck;
    docs/methods/rig.md), and RIG's reward is a straight latent distance. Float images
    (B, C, H, W) in [0, 1] -> (B, feature_dim)."""

    def __init__(
        self, image_size: int, in_channels: int = 3, keypoints: int = 16, channels: int = 32
    ) -> None:
        super().__init__()
        if image_size % 2:
            raise ConfigError(f"image_size={image_size}: the keypoint encoder needs an even size")
        self.keypoints = keypoints
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, channels, 5, stride=2, padding=2),  # H -> H / 2
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, keypoints, 3, padding=1),
        )
        side = image_size // 2
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, side), torch.linspace(-1, 1, side), indexing="ij")
        self.grid: Tensor
        self.register_buffer("grid", torch.stack([xs.flatten(), ys.flatten()], dim=1), persistent=False)
        # log of the softmax temperature's inverse; learned, starting at 1
        self.log_inverse_temperature = nn.Parameter(torch.zeros(()))
        he_init(self)

    @property
    def feature_dim(self) -> int:
        return 2 * self.keypoints

    def forward(self, images: Tensor) -> Tensor:
        logits = self.net(images).flatten(2)  # (B, K, h * w)
        attention = torch.softmax(logits * self.log_inverse_temperature.exp(), dim=-1)
        return (attention @ self.grid).flatten(1)  # (B, K, 2) expected (x, y) -> (B, 2K)


def he_init(module: nn.Module) -> nn.Module:
    """He-normal weights (fan-in, gain sqrt(2)) and zero biases for every Linear, Conv2d and
    ConvTranspose2d inside ``module``; returns it. A transposed conv's fan-in is what one output
    pixel sums over, in_channels * k^2 / stride^2, not PyTorch's in_channels-based guess."""
    for m in module.modules():
        if isinstance(m, nn.Linear | nn.Conv2d | nn.ConvTranspose2d):
            if isinstance(m, nn.ConvTranspose2d):
                kh, kw = m.kernel_size
                sh, sw = m.stride
                fan_in = m.in_channels * kh * kw / (sh * sw)
            else:
                fan_in = m.weight[0].numel()
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_in))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def to_float_images(
    images: Tensor | np.ndarray, image_size: int, device: torch.device | str | None = None
) -> Tensor:
    """uint8 (B, H, W, 3) -> float32 (B, 3, H, W) in [0, 1] on ``device``; float (B, 3, H, W)
    images (assumed in [0, 1]; not checked, to avoid a device sync) pass through, moved to
    ``device``. Raises ConfigError for any other dtype or shape, naming what is accepted."""
    x = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if not isinstance(x, Tensor):
        raise ConfigError(f"images must be a torch Tensor or a NumPy array; got {type(images).__name__}")
    s = image_size
    if x.dtype == torch.uint8:
        if x.ndim != 4 or tuple(x.shape[1:]) != (s, s, 3):
            raise ConfigError(f"uint8 images must have shape (B, {s}, {s}, 3); got {tuple(x.shape)}")
        # transfer as uint8, then convert on the device
        return x.to(device).permute(0, 3, 1, 2).contiguous().float().div_(255.0)
    if x.is_floating_point():
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, s, s):
            raise ConfigError(
                f"float images must have shape (B, 3, {s}, {s}) with values in [0, 1]; got "
                f"{tuple(x.shape)} (uint8 images are (B, {s}, {s}, 3))"
            )
        return x.to(device=device, dtype=torch.float32)
    raise ConfigError(
        f"images must be uint8 (B, {s}, {s}, 3) or float (B, 3, {s}, {s}) in [0, 1]; got dtype {x.dtype}"
    )


def to_uint8_images(images: Tensor) -> np.ndarray:
    """Float (B, 3, H, W) in [0, 1] -> uint8 (B, H, W, 3) NumPy on the host (for image grids)."""
    x = images.detach().clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


class ImageGoalEncoder(nn.Module):
    """The conv encoder of the pixel-space baseline (TD3 + HER on raw pixels, trained end to end by
    the RL loss): flat uint8-valued input (B, 2 * H * W * 3), the observation image then the goal
    image, each (H, W, 3) row-major as the env renders it -> features (B, arch.feature_dim). The two
    images are stacked as 6 channels, so the first conv compares them pixel by pixel."""

    def __init__(self, image_size: int) -> None:
        super().__init__()
        self.image_size = image_size
        self.conv = ConvEncoder(rig_arch(image_size), in_channels=6)

    @property
    def feature_dim(self) -> int:
        return self.conv.arch.feature_dim

    def images(self, flat: Tensor) -> Tensor:
        """The conv's input: flat (B, 2 * H * W * 3) -> float (B, 6, H, W) in [0, 1], contiguous."""
        s = self.image_size
        # the reshape copies the uint8 images into (B, 6, s, s) order; scaling the float copy in
        # place saves one float allocation of the whole batch per call (same values as div(255))
        x = flat.reshape(-1, 2, s, s, 3).permute(0, 1, 4, 2, 3).reshape(-1, 6, s, s)
        return x.to(torch.float32).div_(255.0)

    def forward(self, flat: Tensor) -> Tensor:
        return self.conv(self.images(flat))
