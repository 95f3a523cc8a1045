"""A Linear layer whose float32 CPU matrix products run on oneDNN, and the start-up check that
decides whether the learners use it.

Why: on CPU, PyTorch sends float32 ``nn.Linear`` (and ``@``) to MKL's GEMM. On some processors
(AMD Zen among them) MKL takes a slower code path, while oneDNN, compiled into the same torch
wheel, runs the same products near the machine's vector peak; measured on a Zen 5 core, about 105
against 233 GFLOP/s (docs/speed.md). The learners' updates are almost all matrix products of
small MLPs, so the whole update speeds up by about the same factor.

How: :class:`OneDNNLinear` is an ``nn.Linear`` (same parameters, same initialisation, same
``state_dict``) whose forward is an ``autograd.Function`` over ``mkldnn::_linear_pointwise``. The
backward pass uses the same op for both products, dX = dY W and dW = dY^T X, with contiguous
inputs (oneDNN falls back to a kernel about 100x slower on a strided input; a strided weight costs
nothing). Inputs that are not float32 CPU tensors take ``F.linear`` unchanged.

The op is not public API: :func:`onednn_check` runs once per process, and the learners use the
layer only when the op exists, agrees with ``F.linear`` (forward and all gradients) to float
tolerance, and is faster at a representative size. ``AFFORDKIT_LINEAR=onednn`` or ``=torch``
fixes the choice (for example to keep several processes on the same kernels).
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from affordkit.errors import ConfigError

ENV_VAR = "AFFORDKIT_LINEAR"
"""``onednn``: always use the oneDNN layer when the op exists and is numerically right; ``torch``:
never; unset or ``auto``: the start-up check decides."""

MIN_SPEEDUP = 1.1
"""The oneDNN layer is chosen only when it is at least this much faster than ``F.linear`` in the
start-up check: near parity, the standard kernel is the safer choice."""


@functools.cache
def _op() -> Any:
    """``torch.ops.mkldnn._linear_pointwise``, or None where this torch build lacks it."""
    try:
        if not torch.backends.mkldnn.is_available():
            return None
        return torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):
        return None


def _matmul_nt(op: Any, a: Tensor, b: Tensor, bias: Tensor | None = None) -> Tensor:
    """a @ b.T (+ bias) on oneDNN; a (M, K) contiguous, b (N, K) of any strides (oneDNN reads a
    transposed weight at full speed, but not a transposed input)."""
    result: Tensor = op(a, b, bias, "none", [], "")
    return result


class _OneDNNLinearFunction(torch.autograd.Function):
    """y = x W^T + b with all three products of forward and backward on oneDNN."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        op = _op()
        x2 = x.reshape(-1, x.shape[-1]).contiguous()  # a strided input would take a slow kernel
        y = _matmul_nt(op, x2, weight.contiguous(), bias)
        ctx.save_for_backward(x2, weight)
        ctx.in_shape = x.shape
        return y.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        op = _op()
        x2, weight = ctx.saved_tensors
        g = grad.reshape(-1, weight.shape[0]).contiguous()  # (M, N)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:  # dX = dY W = dY (W^T)^T
            grad_x = _matmul_nt(op, g, weight.t()).reshape(ctx.in_shape)
        if ctx.needs_input_grad[1]:  # dW = dY^T X = dY^T (X^T)^T
            grad_w = _matmul_nt(op, g.t().contiguous(), x2.t())
        if ctx.needs_input_grad[2]:
            grad_b = g.sum(0)
        return grad_x, grad_w, grad_b


MIN_WORK = 1 << 20
"""Multiply-adds (rows x in x out) below which a product stays on ``F.linear``: oneDNN's fixed cost
per call (about 10 us against 2) outweighs its faster kernel there, as in acting on a few
observations at a time."""


def onednn_linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear(x, weight, bias)`` on oneDNN for float32 CPU tensors (differentiable once);
    other tensors, products under :data:`MIN_WORK` and builds without the op go to ``F.linear``."""
    op = _op()
    if (
        op is None
        or x.device.type != "cpu"
        or x.dtype != torch.float32
        or weight.dtype != torch.float32
        or x.numel() == 0
        or x.numel() * weight.shape[0] < MIN_WORK
    ):
        return F.linear(x, weight, bias)
    needs_graph = x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
    if not (torch.is_grad_enabled() and needs_graph):
        # no graph to record (targets, acting): the op alone, without the autograd.Function
        y = _matmul_nt(op, x.reshape(-1, x.shape[-1]).contiguous(), weight.contiguous(), bias)
        return y.reshape(*x.shape[:-1], weight.shape[0])
    result: Tensor = _OneDNNLinearFunction.apply(x, weight, bias)
    return result


class _StackedOneDNNLinearFunction(torch.autograd.Function):
    """y_k = x_k W_k^T + b_k for K stacked layers, each product on oneDNN (one graph node for all)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        op = _op()
        x = x.contiguous()
        y = torch.stack([_matmul_nt(op, x[k], weight[k], bias[k]) for k in range(x.shape[0])])
        ctx.save_for_backward(x, weight)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        op = _op()
        x, weight = ctx.saved_tensors
        g = grad.contiguous()
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.stack([_matmul_nt(op, g[k], weight[k].t()) for k in range(g.shape[0])])
        if ctx.needs_input_grad[1]:
            grad_w = torch.stack([_matmul_nt(op, g[k].t().contiguous(), x[k].t()) for k in range(g.shape[0])])
        if ctx.needs_input_grad[2]:
            grad_b = g.sum(1)
        return grad_x, grad_w, grad_b


def stacked_linear(x: Tensor, weight: Tensor, bias: Tensor, onednn: bool) -> Tensor:
    """K linear layers on their own inputs: x (K, B, in), weight (K, out, in), bias (K, out) ->
    (K, B, out). ``onednn``: K products on oneDNN under one autograd node (float32 CPU tensors);
    otherwise (or for other tensors) one ``baddbmm``."""
    if onednn and _op() is not None and x.device.type == "cpu" and x.dtype == weight.dtype == torch.float32:
        result: Tensor = _StackedOneDNNLinearFunction.apply(x, weight, bias)
        return result
    return torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))


class OneDNNLinear(nn.Linear):
    """``nn.Linear`` computed by :func:`onednn_linear`: the same parameters, initialisation and
    ``state_dict`` keys, so a network built with it loads a standard network's weights and back."""

    def forward(self, x: Tensor) -> Tensor:
        return onednn_linear(x, self.weight, self.bias)


# ---- the start-up check ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OneDNNCheck:
    """What :func:`onednn_check` found."""

    use: bool
    """Whether the learners' fast path uses :class:`OneDNNLinear`."""
    reason: str
    """Why (or why not), in words."""
    max_error: float = float("nan")
    """Largest relative difference to ``F.linear`` over the output and the three gradients."""
    speedup: float = float("nan")
    """Time of ``F.linear`` over time of the oneDNN layer, forward and backward, in the check."""


def _relative_error(a: Tensor, b: Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-12))


def _numerics_error() -> float:
    """Largest relative difference between the oneDNN layer and ``F.linear`` on problems of odd
    sizes above :data:`MIN_WORK`: a 2-D input stored column-major, and a 3-D input."""
    g = torch.Generator().manual_seed(0)
    errors = []
    for shape in ((67, 129), (2, 40, 129)):
        w = torch.randn(131, 129, generator=g, dtype=torch.float32)
        b = torch.randn(131, generator=g, dtype=torch.float32)
        x = torch.randn(*shape, generator=g, dtype=torch.float32)
        if len(shape) == 2:
            x = x.t().contiguous().t()  # same values, column-major
        results = []
        for fn in (F.linear, onednn_linear):
            xs, ws, bs = (t.clone().requires_grad_(True) for t in (x, w, b))
            y = fn(xs, ws, bs)
            (y * torch.linspace(-1, 1, y.numel()).reshape(y.shape)).sum().backward()
            results.append([y.detach(), xs.grad, ws.grad, bs.grad])
        with torch.no_grad():
            results[1][0] = onednn_linear(x, w, b)  # the path without a graph
        errors += [_relative_error(f, r) for f, r in zip(results[1], results[0], strict=True)]  # type: ignore[arg-type]
    return max(errors)


def _speedup(rounds: int = 7, reps: int = 3) -> float:
    """Forward and backward of a (256, 256) -> 256 layer, the two kinds interleaved in rounds after a
    warm-up; the ratio of the best round times (standard over oneDNN)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 256, generator=g).requires_grad_(True)
    w = torch.randn(256, 256, generator=g).requires_grad_(True)
    b = torch.zeros(256).requires_grad_(True)
    fns = {"torch": F.linear, "onednn": onednn_linear}
    for fn in fns.values():
        for _ in range(2):
            fn(x, w, b).sum().backward()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(reps):
                fn(x, w, b).sum().backward()
            best[name] = min(best[name], time.perf_counter() - start)
    return best["torch"] / best["onednn"]


@functools.cache
def onednn_check() -> OneDNNCheck:
    """Once per process: whether the fast path should use :class:`OneDNNLinear` (module docstring).
    Takes a fraction of a second; the generator of the global RNG is not touched."""
    choice = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if choice not in ("auto", "onednn", "torch"):
        raise ConfigError(f"{ENV_VAR}={choice!r}; accepted values: 'auto', 'onednn', 'torch'")
    if choice == "torch":
        return OneDNNCheck(False, f"{ENV_VAR}=torch")
    if _op() is None:
        return OneDNNCheck(False, "this torch build has no mkldnn::_linear_pointwise")
    try:
        error = _numerics_error()
    except RuntimeError as e:  # the op exists but refuses these arguments
        return OneDNNCheck(False, f"mkldnn::_linear_pointwise failed: {e}")
    if not error <= 1e-5:
        return OneDNNCheck(False, f"oneDNN differs from F.linear by {error:.2g} (relative)", error)
    if choice == "onednn":
        return OneDNNCheck(True, f"{ENV_VAR}=onednn", error)
    speedup = _speedup()
    if speedup < MIN_SPEEDUP:
        return OneDNNCheck(False, f"oneDNN is only {speedup:.2f}x F.linear here", error, speedup)
    return OneDNNCheck(True, f"oneDNN is {speedup:.2f}x F.linear here", error, speedup)


def linear_description(fast: bool) -> str:
    """In words, for run summaries and reports: the Linear layers of a learner built with
    ``linear_class(fast)`` (oneDNN or PyTorch's own) and why; wall-clock numbers depend on it."""
    if not fast:
        return "PyTorch Linear (reference implementation, or not on the CPU)"
    check = onednn_check()
    return f"{'oneDNN' if check.use else 'PyTorch'} Linear ({check.reason})"


def linear_class(fast: bool) -> type[nn.Linear]:
    """The Linear layer a learner builds its MLPs from: :class:`OneDNNLinear` when ``fast`` and the
    start-up check passes, else ``nn.Linear`` (the reference)."""
    return OneDNNLinear if fast and onednn_check().use else nn.Linear
