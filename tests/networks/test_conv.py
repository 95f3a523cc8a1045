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
