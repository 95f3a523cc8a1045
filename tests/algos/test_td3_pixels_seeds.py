"""K pixel-space TD3 learners trained together (grouped convs for their K encoders) equal K separate
``PixelTD3`` learners on the same minibatches, at 48x48 (no BatchNorm) and 84x84 (BatchNorm in the
encoder, whose running statistics must follow each learner's own batches)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from affordkit.algos.td3 import TD3Config
from affordkit.algos.td3_pixels import PixelTD3
from affordkit.algos.td3_pixels_seeds import PixelTD3Seeds, PixelTD3SeedView
from affordkit.errors import ConfigError
from affordkit.networks.conv import ImageGoalEncoder
from affordkit.types import Batch
from tests.algos.test_fast_path import tensors
from tests.algos.test_td3_seeds import check_restore, check_together_equals_singles, stacked

CONFIG = TD3Config(hidden=(32, 24))
SEEDS = [3, 0, 11]


def encoder_of(size: int):
    def encoder() -> tuple[nn.Module, int]:
        module = ImageGoalEncoder(size)
        return module, module.feature_dim

    return encoder


def assert_close_states(a, b, size: int) -> None:
    """Two learners' states agree. At 84x84 every conv feeds a BatchNorm, which cancels the conv's
    bias: its gradient is zero up to rounding, which Adam scales to full-size steps, so those
    biases (and the running means they shift) differ by rounding noise made large, without effect
    on any output in training mode (the metrics and actions above agree); they are left out, and
    the encoders' weights, whose small gradients Adam amplifies the same way, compared to 1e-3."""
    net = ImageGoalEncoder(size).conv.net
    cancelled = {
        f"conv.net.{i}.bias" for i, layer in enumerate(net[:-1]) if isinstance(net[i + 1], nn.BatchNorm2d)
    }
    fa, fb = dict(tensors(a)), dict(tensors(b))
    assert fa.keys() == fb.keys()
    for key in fa:
        if key.endswith("running_mean") or key.split("/")[-1] in cancelled:
            continue
        tolerance = 1e-3 if size == 84 and "encoder" in key else 1e-5
        torch.testing.assert_close(fa[key], fb[key], rtol=1e-4, atol=tolerance, msg=key)


def batches(seed: int, size: int, k: int = len(SEEDS), n: int = 8) -> list[Batch]:
    g = torch.Generator().manual_seed(seed)
    d = 2 * size * size * 3
    return [
        Batch(
            obs=torch.randint(0, 256, (n, d), generator=g, dtype=torch.uint8),
            action=torch.rand(n, 2, generator=g) * 2 - 1,
            reward=torch.randn(n, generator=g),
            next_obs=torch.randint(0, 256, (n, d), generator=g, dtype=torch.uint8),
            done=torch.zeros(n),
        )
        for _ in range(k)
    ]


@pytest.mark.parametrize("size", [48, 84])
def test_k_pixel_learners_together_equal_k_separate_runs(size: int) -> None:
    d = 2 * size * size * 3
    singles = [PixelTD3(d, 2, encoder_of(size), CONFIG, seed=s) for s in SEEDS]
    together = PixelTD3Seeds(d, 2, encoder_of(size), CONFIG, seeds=SEEDS)
    obs = torch.stack([b.obs[:5] for b in batches(99, size)])  # (K, 5, d)
    check_together_equals_singles(
        together, singles, "encoder", steps=4,  # two actor steps and target updates among them
        minibatches=lambda step: batches(step, size), obs=obs,
        compare=lambda a, b: assert_close_states(a, b, size),
    )  # fmt: skip
    for k, single in enumerate(singles):
        view = PixelTD3SeedView(together, k)
        torch.testing.assert_close(view.act(obs[k]), single.act(obs[k]), rtol=1e-4, atol=1e-5)
        # every part, BatchNorm statistics included (acting in training mode moves them, as alone)
        assert_close_states(view.state_dict(), single.state_dict(), size)
    alone = PixelTD3(d, 2, encoder_of(size), CONFIG, seed=SEEDS[1])
    alone.load_state_dict(together.learner_state_dict(1))  # taken out, it continues alone
    parts = batches(10, size)
    metrics = together.update(stacked(parts))
    torch.testing.assert_close(metrics["critic/loss"][1], alone.update(parts[1])["critic/loss"])
    assert_close_states(together.learner_state_dict(1), alone.state_dict(), size)


def test_a_pixel_critic_step_moves_each_encoder_and_no_actor() -> None:
    d = 2 * 48 * 48 * 3
    together = PixelTD3Seeds(d, 2, encoder_of(48), CONFIG, seeds=SEEDS)
    before = {name: {n: v.detach().clone() for n, v in getattr(together, name).items()}
              for name in together.NETWORKS}  # fmt: skip
    together.update(stacked(batches(0, 48)))  # policy delay 2: a critic step only
    for name, values in before.items():
        for n, value in values.items():
            now = getattr(together, name)[n]
            if name in ("encoder", "critic"):
                assert all(not torch.equal(now[k], value[k]) for k in range(len(SEEDS))), (name, n)
            else:
                assert torch.equal(now, value), (name, n)


def test_restored_pixel_learners_continue_bit_identically_and_bad_input_is_refused() -> None:
    d = 2 * 48 * 48 * 3
    make = lambda seeds: PixelTD3Seeds(d, 2, encoder_of(48), CONFIG, seeds=seeds)  # noqa: E731
    check_restore(make, lambda step: batches(step, 48))
    together = make(SEEDS)
    with pytest.raises(ConfigError):
        together.update(stacked(batches(0, 48, k=2)))
    with pytest.raises(ConfigError):
        together.act(torch.zeros(5, d, dtype=torch.uint8))

    def mlp_encoder() -> tuple[nn.Module, int]:
        return nn.Sequential(nn.Flatten(), nn.Linear(d, 8)), 8

    with pytest.raises(ConfigError, match="ImageGoalEncoder"):
        PixelTD3Seeds(d, 2, mlp_encoder, CONFIG, seeds=SEEDS)


@pytest.mark.parametrize("grouped", [True, False])
def test_stacked_conv_equals_each_trunk_on_its_own_images(grouped: bool) -> None:
    """Padding, a conv without bias and BatchNorm's running statistics, against K separate trunks,
    as grouped convolutions (the GPU's way) and as K convolutions (the CPU's); gradients too."""
    from affordkit.algos.stacked import stack_buffers, stack_parameters, stacked_conv

    def trunk() -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(3, 4, 3, 2, padding=1, bias=False),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.Conv2d(4, 2, 3),
            nn.Flatten(),
        )

    torch.manual_seed(0)
    trunks = [trunk() for _ in range(3)]
    params = {**stack_parameters(trunks, trainable=True), **stack_buffers(trunks)}
    x = torch.rand(3, 5, 3, 12, 12)  # (K, B, C, H, W)
    flat = x.transpose(0, 1).reshape(5, 9, 12, 12)
    out = stacked_conv(trunks[0], params, "", flat, 3, training=True, grouped=grouped)
    weights = torch.arange(out[0].numel()).view_as(out[0]).sin()  # each learner's loss weighs its outputs so
    (out * weights).sum().backward()
    for k, net in enumerate(trunks):
        alone = net(x[k])
        torch.testing.assert_close(out[k], alone, rtol=1e-5, atol=1e-6)
        (alone * weights).sum().backward()
        torch.testing.assert_close(params["0.weight"].grad[k], net[0].weight.grad, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(params["3.bias"].grad[k], net[3].bias.grad, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(params["1.running_mean"][k], net[1].running_mean)
        assert int(params["1.num_batches_tracked"][k]) == int(net[1].num_batches_tracked) == 1
    reflect = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), nn.Flatten())
    with pytest.raises(ConfigError, match="padding_mode"):
        stacked_conv(reflect, stack_parameters([reflect] * 3, trainable=False), "", flat, 3, training=False)
