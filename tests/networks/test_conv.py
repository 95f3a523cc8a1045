"""The RIG conv encoder / decoder: exact spatial sizes with real tensors, full output coverage,
and the image conversion helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from affordkit.errors import ConfigError
from affordkit.networks import (
    RIG_48,
    RIG_84,
    BroadcastDecoder,
    ConvDecoder,
    ConvEncoder,
    FullBroadcastDecoder,
    KeypointEncoder,
    SpriteDecoder,
    default_sprite_size,
    place,
    rig_arch,
    to_float_images,
    to_uint8_images,
)

# spatial side after each layer, from the architecture tables in ALGORITHMS.md (84: see conv.py)
ENCODER_SIZES = {48: [15, 7, 3], 84: [27, 8, 2]}
DECODER_SIZES = {48: [7, 15, 48], 84: [8, 27, 84]}


def layer_sides(net: nn.Sequential, x: torch.Tensor, kind: type[nn.Module]) -> list[int]:
    sides = []
    for layer in net:
        x = layer(x)
        if isinstance(layer, kind):
            sides.append(x.shape[-1])
            assert x.shape[-2] == x.shape[-1]
    return sides


@pytest.mark.parametrize("size", [48, 84])
def test_spatial_sizes_are_exact(size: int) -> None:
    arch = rig_arch(size)
    encoder, decoder = ConvEncoder(arch), ConvDecoder(arch, 4)
    x = torch.rand(2, 3, size, size)
    assert layer_sides(encoder.net, x, nn.Conv2d) == ENCODER_SIZES[size]
    assert encoder(x).shape == (2, arch.feature_dim)
    h = torch.rand(2, *arch.feature_shape)
    assert layer_sides(decoder.net, h, nn.ConvTranspose2d) == DECODER_SIZES[size]
    assert decoder(torch.randn(2, 4)).shape == (2, 3, size, size)


def test_architecture_tables() -> None:
    assert [(c.channels, c.kernel, c.stride) for c in RIG_48.encoder] == [(16, 5, 3), (32, 3, 2), (64, 3, 2)]
    assert [(c.channels, c.kernel, c.stride) for c in RIG_84.encoder] == [(16, 5, 3), (32, 5, 3), (32, 5, 3)]
    assert RIG_48.feature_dim == 576 and RIG_84.feature_dim == 128
    assert not any(isinstance(m, nn.BatchNorm2d) for m in ConvEncoder(RIG_48).modules())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in ConvEncoder(RIG_84).modules()) == 3
    with pytest.raises(ConfigError, match="accepted values"):
        rig_arch(64)


@pytest.mark.parametrize("size", [48, 84])
def test_every_output_pixel_sees_the_input(size: int) -> None:
    """No row or column of the decoded image is bias-only (what output_padding would leave)."""
    decoder = ConvDecoder(rig_arch(size), 4)
    for m in decoder.modules():
        if isinstance(m, nn.ConvTranspose2d):
            assert m.bias is not None
            nn.init.constant_(m.weight, 1.0)
            nn.init.zeros_(m.bias)
    decoder.eval()  # BatchNorm with its initial running statistics: the identity
    with torch.no_grad():
        out = decoder.net(torch.ones(1, *decoder.arch.feature_shape))
    assert (out > 0).all()


def test_to_float_images_converts_uint8_hwc() -> None:
    images = np.random.default_rng(0).integers(0, 256, size=(2, 48, 48, 3), dtype=np.uint8)
    x = to_float_images(images, 48)
    assert x.shape == (2, 3, 48, 48) and x.dtype == torch.float32 and x.is_contiguous()
    assert x[1, 2, 5, 7].item() == pytest.approx(images[1, 5, 7, 2] / 255.0)
    assert torch.equal(to_float_images(torch.from_numpy(images), 48), x)
    assert np.array_equal(to_uint8_images(x), images)  # the inverse, for image grids
    assert to_float_images(x, 48) is x  # float CHW passes through


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 84, 84, 3), np.uint8),  # wrong size
        np.zeros((2, 48, 48), np.uint8),  # no channels
        np.zeros((2, 3, 48, 48), np.uint8),  # uint8 must be HWC
        np.zeros((2, 48, 48, 3), np.float32),  # float must be CHW
        np.zeros((2, 48, 48, 3), np.int32),  # neither uint8 nor float
        [[1, 2]],  # not an array
    ],
)
def test_to_float_images_rejects_bad_input(bad: object) -> None:
    with pytest.raises(ConfigError, match="images"):
        to_float_images(bad, 48)


@pytest.mark.parametrize("size", [48, 84])
def test_keypoint_encoder_gives_expected_positions(size: int) -> None:
    torch.manual_seed(0)
    encoder = KeypointEncoder(size, keypoints=5)
    x = torch.rand(3, 3, size, size)
    out = encoder(x)
    assert out.shape == (3, encoder.feature_dim) == (3, 10)
    assert out.abs().max() <= 1.0  # expectations of grid positions in [-1, 1]
    out.sum().backward()
    for name, p in encoder.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"


def test_keypoint_encoder_tracks_a_bright_spot() -> None:
    """With the convs replaced by an identity-like detector of the red channel and a sharp softmax,
    the keypoint is the spot's position: features are image coordinates, linear in where things are."""
    encoder = KeypointEncoder(48, keypoints=1, channels=1)
    with torch.no_grad():
        for conv in encoder.net:
            if isinstance(conv, nn.Conv2d):
                conv.weight.zero_()
                conv.bias.zero_()
                centre = conv.kernel_size[0] // 2
                conv.weight[0, 0, centre, centre] = 1.0  # pass channel 0 (red) through
        encoder.log_inverse_temperature.fill_(5.0)  # nearly an argmax
    positions = []
    for col in (8, 20, 32, 44):
        x = torch.zeros(1, 3, 48, 48)
        x[0, 0, 22:26, col - 2 : col + 2] = 1.0
        positions.append(encoder(x)[0].tolist())
    xs = [p[0] for p in positions]
    assert all(b > a for a, b in zip(xs, xs[1:], strict=False))  # moves right with the spot
    assert np.allclose(np.diff(xs), np.diff(xs)[0], atol=0.02)  # by equal steps for equal moves
    assert all(abs(p[1] - positions[0][1]) < 1e-3 for p in positions)  # and not up or down


def test_broadcast_decoder_feeds_the_condition_to_every_layer() -> None:
    torch.manual_seed(0)
    plain, every = BroadcastDecoder(48, 6), BroadcastDecoder(48, 6, every_layer=2)
    assert list(plain.state_dict()) == list(every.state_dict())  # same keys: old checkpoints load
    x = torch.randn(3, 6)
    assert every(x).shape == plain(x).shape == (3, 3, 48, 48)
    with torch.no_grad():  # cut the condition's path through the first layer
        every.net[0].weight[:, 4:6] = 0.0
    y = x.clone()
    y[:, 4:] += 1.0  # change only the last 2 entries, the condition
    assert not torch.allclose(every(x), every(y))  # it still reaches the output, by the later layers
    with pytest.raises(ConfigError, match="every_layer"):
        BroadcastDecoder(48, 6, every_layer=7)


@pytest.mark.parametrize("size", [48, 84])
def test_full_broadcast_decoder_draws_at_full_resolution(size: int) -> None:
    torch.manual_seed(0)
    decoder = FullBroadcastDecoder(size, 6)
    x = torch.randn(2, 6)
    assert decoder(x).shape == (2, 3, size, size)
    assert all(
        isinstance(m, torch.nn.Conv2d) and m.stride == (1, 1) for m in decoder.net if hasattr(m, "stride")
    )
    with torch.no_grad():  # without its coordinate channels the first layer sees the same input everywhere
        flat = FullBroadcastDecoder(size, 6)
        flat.load_state_dict(decoder.state_dict())
        flat.net[0].weight[:, 6:] = 0.0
    inner = flat(x)[:, :, 3:-3, 3:-3]  # away from the zero padding every pixel is then alike
    assert torch.allclose(inner, inner[:, :, :1, :1].expand_as(inner), atol=1e-5)
    outputs = decoder(x)[:, :, 3:-3, 3:-3]
    assert not torch.allclose(outputs, outputs[:, :, :1, :1].expand_as(outputs), atol=1e-3)
    with pytest.raises(ConfigError, match="layers"):
        FullBroadcastDecoder(size, 6, layers=0)


# ---------------------------------------------------------------------------- the sprite decoder
def pasted(size: int, sprite: torch.Tensor, row: int, col: int) -> torch.Tensor:
    """The sprite (C, S, S) pasted by hand with its centre on pixel (row, col) of a blank
    (C, size, size) image, cut at the border: what :func:`place` must give for a one-pixel map."""
    c, s = sprite.shape[0], sprite.shape[-1]
    image = torch.zeros(c, size + 2 * s, size + 2 * s)
    top, left = row - s // 2 + s, col - s // 2 + s
    image[:, top : top + s, left : left + s] = sprite
    return image[:, s : s + size, s : s + size]


@pytest.mark.parametrize("size, s", [(48, 13), (84, 21), (48, 3)])
def test_place_pastes_the_sprite_centred_on_the_maps_pixel(size: int, s: int) -> None:
    sprite = torch.rand(2, s, s, generator=torch.Generator().manual_seed(0)) + 0.5  # nonzero everywhere
    for row, col in [(10, 20), (0, 0), (size - 1, 3), (size // 2, size - 1)]:  # inside and at the border
        where = torch.zeros(1, 1, size, size)
        where[0, 0, row, col] = 1.0
        out = place(where, sprite[None])
        assert out.shape == (1, 2, size, size)
        torch.testing.assert_close(out[0], pasted(size, sprite, row, col), atol=1e-5, rtol=0)


def test_place_is_the_maps_convolution_with_each_images_own_sprite() -> None:
    """Against a grouped conv (one group per image) on random maps: linear in the map, nothing
    wraps around, and image i uses sprite i only."""
    gen = torch.Generator().manual_seed(1)
    b, size, s = 3, 48, 13
    where = torch.softmax(torch.randn(b, size * size, generator=gen), 1).view(b, 1, size, size)
    sprites = torch.rand(b, 4, s, s, generator=gen)
    kernel = sprites.flip(-1, -2).reshape(b * 4, 1, s, s)  # conv2d correlates: flip to convolve
    expected = torch.nn.functional.conv2d(where.view(1, b, size, size), kernel, padding=s // 2, groups=b)
    torch.testing.assert_close(place(where, sprites), expected.view(b, 4, size, size), atol=1e-6, rtol=1e-4)


def test_sprite_decoder_draws_the_same_object_wherever_z_t_puts_it() -> None:
    torch.manual_seed(0)
    decoder = SpriteDecoder(48, state_dim=6, context_dim=4, layers=2)
    assert decoder.sprite_size == default_sprite_size(48) == 13 and default_sprite_size(84) == 21
    x = torch.randn(5, 10)
    parts = decoder.layers(x)
    assert decoder(x).shape == (5, 3, 48, 48)
    torch.testing.assert_close(torch.sigmoid(decoder(x)), parts["image"].clamp(1e-6, 1 - 1e-6))
    assert parts["where"].shape == parts["coverage"].shape == (5, 2, 48, 48)
    torch.testing.assert_close(parts["where"].flatten(2).sum(2), torch.ones(5, 2))
    for key in ("coverage", "image", "background"):
        assert parts[key].min() >= 0 and parts[key].max() <= 1 + 1e-6
    # z_c shapes only the sprites; z_t only the maps; the background neither
    other_context = torch.cat([x[:, :6], torch.randn(5, 4)], dim=1)
    changed = decoder.layers(other_context)
    assert torch.equal(changed["where"], parts["where"])
    assert not torch.allclose(changed["image"], parts["image"])
    rgb, alpha = decoder.sprites(x[:, 6:])
    assert rgb.shape == (5, 2, 3, 13, 13) and alpha.shape == (5, 2, 1, 13, 13)
    other_state = torch.cat([torch.randn(5, 6), x[:, 6:]], dim=1)
    assert not torch.allclose(decoder.layers(other_state)["where"], parts["where"])
    # with sharp maps the picture is the background with each sprite pasted, sprite 0 in front
    size, (r0, c0), (r1, c1) = 48, (20, 20), (24, 26)  # overlapping
    where = torch.zeros(1, 2, size, size)
    where[0, 0, r0, c0], where[0, 1, r1, c1] = 1.0, 1.0
    with torch.no_grad():
        decoder.where.net[-1].weight.zero_()  # the maps' logits: only the bias, then set by hand
        decoder.where.net[-1].bias.zero_()
    background = parts["background"][0]
    image = background.clone()
    for k, (r, c) in reversed(list(enumerate([(r0, c0), (r1, c1)]))):
        a = pasted(size, alpha[0, k], r, c)
        image = pasted(size, rgb[0, k] * alpha[0, k], r, c) + (1 - a) * image
    from affordkit.networks import conv

    original = conv.place
    try:  # feed the sharp maps through the decoder's own compositing
        conv.place = lambda _w, sprites: original(where.reshape(2, 1, size, size), sprites)
        drawn = decoder.layers(x[:1])["image"][0]
    finally:
        conv.place = original
    torch.testing.assert_close(drawn, image, atol=1e-5, rtol=0)
    # moving a sharp map's peak moves the drawn sprite by as much, unchanged
    sprite = torch.cat([rgb[:1, 0] * alpha[:1, 0], alpha[:1, 0]], dim=1)
    a_map, b_map = torch.zeros(1, 1, size, size), torch.zeros(1, 1, size, size)
    a_map[0, 0, 24, 24], b_map[0, 0, 30, 10] = 1.0, 1.0
    first, second = place(a_map, sprite), place(b_map, sprite)
    torch.testing.assert_close(first[..., 18:31, 18:31], second[..., 24:37, 4:17])
    full = SpriteDecoder(48, state_dim=6, context_dim=4, layers=3, full_where=True)
    assert isinstance(full.where, FullBroadcastDecoder) and full.layers(x)["where"].shape == (5, 3, 48, 48)
    for bad in (
        dict(sprite_size=4),
        dict(sprite_size=1),
        dict(sprite_size=49),
        dict(state_dim=0),
        dict(layers=0),
        dict(layers=2, fixed=2),
        dict(fixed=-1),
    ):
        with pytest.raises(ConfigError):
            SpriteDecoder(48, **{"state_dim": 6, "context_dim": 4, **bad})  # type: ignore[arg-type]


def test_a_fixed_sprite_is_the_same_in_every_scene_and_learns() -> None:
    """``fixed=1``: sprite 0 is a learned patch that ignores z_c; sprite 1 still reads it."""
    torch.manual_seed(0)
    decoder = SpriteDecoder(48, state_dim=6, context_dim=4, layers=2, fixed=1)
    rgb, alpha = decoder.sprites(torch.randn(5, 4))
    assert rgb.shape == (5, 2, 3, 13, 13) and alpha.shape == (5, 2, 1, 13, 13)
    torch.testing.assert_close(rgb[:, 0], rgb[:1, 0].expand(5, 3, 13, 13))  # one sprite for all scenes
    assert not torch.allclose(rgb[:, 1], rgb[:1, 1].expand(5, 3, 13, 13))  # the other from each z_c
    loss = decoder(torch.randn(5, 10)).pow(2).mean()
    loss.backward()
    assert decoder.fixed_sprites.grad is not None and decoder.fixed_sprites.grad.abs().sum() > 0
    assert decoder.sprite_net[-1].weight.shape[0] == 1 * 4 * 13 * 13  # the net draws the other one
