"""The oneDNN Linear layer: same values and gradients as nn.Linear, same parameters and state, the
standard kernel for what it does not cover, and the start-up check's choices."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from affordkit.errors import ConfigError
from affordkit.networks import fast
from affordkit.networks.fast import OneDNNLinear, linear_class, onednn_check, onednn_linear
from affordkit.networks.mlp import TwinQ, mlp

needs_op = pytest.mark.skipif(fast._op() is None, reason="this torch build has no mkldnn::_linear_pointwise")


@pytest.fixture(autouse=True)
def every_size_on_onednn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small test problems take the oneDNN kernel too (in use, small ones stay on F.linear)."""
    monkeypatch.setattr(fast, "MIN_WORK", 0)


@pytest.fixture
def linear_choice(monkeypatch: pytest.MonkeyPatch):
    """Sets AFFORDKIT_LINEAR for one test, with a fresh start-up check before and after."""

    def choose(value: str) -> None:
        monkeypatch.setenv(fast.ENV_VAR, value)
        onednn_check.cache_clear()

    yield choose
    monkeypatch.undo()
    onednn_check.cache_clear()


def values_and_grads(fn, x, w, b):
    xs, ws = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    bs = None if b is None else b.clone().requires_grad_(True)
    y = fn(xs, ws, bs)
    (y * torch.linspace(-2, 1, y.numel()).reshape(y.shape)).sum().backward()
    return [y.detach(), xs.grad, ws.grad] + ([] if bs is None else [bs.grad])


@needs_op
@pytest.mark.parametrize("shape", [(64, 17), (3, 5, 17), (1, 17), (17,)])
@pytest.mark.parametrize("bias", [True, False])
def test_values_and_gradients_equal_f_linear(shape: tuple[int, ...], bias: bool) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=g)
    w = torch.randn(31, 17, generator=g)
    b = torch.randn(31, generator=g) if bias else None
    for got, want in zip(
        values_and_grads(onednn_linear, x, w, b), values_and_grads(F.linear, x, w, b), strict=True
    ):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@needs_op
def test_strided_input_gives_the_same_result() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(20, 48, generator=g)[:, ::2]  # (20, 24), every other column
    w = torch.randn(8, 24, generator=g)
    assert not x.is_contiguous()
    torch.testing.assert_close(onednn_linear(x, w), F.linear(x, w), rtol=1e-5, atol=1e-5)


@needs_op
def test_small_products_and_graph_free_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(
        fast, "_matmul_nt", lambda op, a, b, bias=None: calls.append(a.shape) or F.linear(a, b, bias)
    )
    monkeypatch.setattr(fast, "MIN_WORK", 1000)
    x, w = torch.randn(4, 10), torch.randn(20, 10)  # 800 multiply-adds
    onednn_linear(x, w)
    assert calls == []
    x = torch.randn(5, 10)  # 1000
    with torch.no_grad():
        y = onednn_linear(x, w.requires_grad_(True))
    assert calls == [(5, 10)] and not y.requires_grad  # the op alone, no autograd.Function
    y = onednn_linear(x, w)
    assert y.requires_grad and y.grad_fn is not None and "OneDNN" in type(y.grad_fn).__name__


def test_other_dtypes_and_empty_batches_take_f_linear() -> None:
    w = torch.randn(4, 3, dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64)
    assert torch.equal(onednn_linear(x, w), F.linear(x, w))
    assert onednn_linear(torch.zeros(0, 3), torch.randn(4, 3)).shape == (0, 4)


def test_layer_is_an_nn_linear_with_the_same_init_and_state() -> None:
    torch.manual_seed(3)
    standard = mlp(5, (16, 8), 2, linear=nn.Linear)
    torch.manual_seed(3)
    onednn = mlp(5, (16, 8), 2, linear=OneDNNLinear)
    assert isinstance(onednn[0], nn.Linear) and isinstance(onednn[0], OneDNNLinear)
    assert standard.state_dict().keys() == onednn.state_dict().keys()
    for key, value in standard.state_dict().items():
        assert torch.equal(value, onednn.state_dict()[key])
    x = torch.randn(9, 5)
    torch.testing.assert_close(onednn(x), standard(x), rtol=1e-5, atol=1e-6)
    twin = TwinQ(5, 2, (16,), OneDNNLinear)
    assert all(isinstance(m, OneDNNLinear) for m in twin.modules() if isinstance(m, nn.Linear))


def test_environment_variable_fixes_the_choice(linear_choice) -> None:
    linear_choice("torch")
    check = onednn_check()
    assert not check.use and "torch" in check.reason
    assert linear_class(True) is nn.Linear
    linear_choice("nonsense")
    with pytest.raises(ConfigError):
        onednn_check()


@needs_op
def test_forced_onednn_still_checks_numerics(linear_choice) -> None:
    linear_choice("onednn")
    check = onednn_check()
    assert check.use and check.max_error <= 1e-5
    assert linear_class(True) is OneDNNLinear
    assert linear_class(False) is nn.Linear


def test_startup_check_falls_back_without_the_op(linear_choice, monkeypatch: pytest.MonkeyPatch) -> None:
    linear_choice("auto")
    monkeypatch.setattr(fast, "_op", lambda: None)
    check = onednn_check()
    assert not check.use and "no mkldnn" in check.reason
    assert linear_class(True) is nn.Linear
    x, w = torch.randn(4, 3), torch.randn(2, 3)
    assert torch.equal(onednn_linear(x, w), F.linear(x, w))  # the layer itself falls back too


def test_startup_check_falls_back_when_numerically_off(
    linear_choice, monkeypatch: pytest.MonkeyPatch
) -> None:
    linear_choice("onednn")
    monkeypatch.setattr(fast, "_numerics_error", lambda: 1e-2)
    check = onednn_check()
    assert not check.use and "differs" in check.reason


@needs_op
def test_startup_check_falls_back_when_slower(linear_choice, monkeypatch: pytest.MonkeyPatch) -> None:
    linear_choice("auto")
    monkeypatch.setattr(fast, "_speedup", lambda: 0.9)
    check = onednn_check()
    assert not check.use and "only 0.90x" in check.reason
