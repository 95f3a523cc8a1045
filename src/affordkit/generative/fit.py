"""One fit loop for every generative model (beta-VAE now; CC-VAE, VQ-VAE, PixelCNN later).

``fit(model, images, FitConfig(num_steps=10_000))`` trains any module with a
``loss(batch, generator) -> {"loss": ..., ...}`` method on a uint8 image array (N, H, W, 3), or on
a dict of arrays with the same N (image pairs for CC-VAE: ``{"context": s_0, "image": s_t}``;
codes for a PixelCNN), whose rows are sampled together and reach the model as tensors on the
device, uint8 images still uint8 (the model converts them, after the cheap transfer). Adam, a
held-out split, a progress bar, and, given a :class:`~affordkit.logging.RunLogger`, scalars under
``<log_prefix>/`` and image grids from the model's optional ``media(batch)``.

Determinism: batch order comes from a CPU ``torch.Generator`` seeded with ``seed``; the model's
noise (reparameterisation) from a second generator on the device, seeded with ``seed + 1``; any
other use of torch's global RNG inside the loop (dropout) runs under a forked, seeded global state,
so the caller's RNG is untouched. On the CPU the same seed and the same initial parameters give
the same parameters after training, bit for bit.

The inner loop never waits on the device: losses are summed on the device and read (one sync)
only every ``log_interval`` steps.

``fit_best_of(make_model, data, config, candidates=3, trial_steps=1_000)`` guards against a bad
start: several models, differing only in their initial parameters, each train ``trial_steps``,
and the one with the lowest held-out loss trains on for the rest of ``num_steps``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor, nn

from affordkit.device import resolve_device
from affordkit.errors import ConfigError
from affordkit.logging import RunLogger

Batch = Tensor | dict[str, Tensor]  # uint8 (B, H, W, 3), or a dict of them
# rows handed to media(): the first held-out ones (training ones without a held-out split), the same
# at every call so the grids compare across training
MEDIA_ROWS = 8


@runtime_checkable
class Fittable(Protocol):
    """What :func:`fit` needs of a model (every ``nn.Module`` with a ``loss`` method has it)."""

    def loss(self, batch: Any, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Scalar tensors averaged over the batch; the key ``loss`` is minimised."""
        ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def train(self, mode: bool = True) -> Any: ...

    def to(self, *args: Any, **kwargs: Any) -> Any: ...


@runtime_checkable
class HasMedia(Protocol):
    """Optional: models that draw pictures of themselves (reconstructions, samples)."""

    def media(self, batch: Any) -> dict[str, np.ndarray]:
        """Named uint8 (H, W, 3) images for a held-out batch."""
        ...


LRSchedule = Literal["constant", "cosine"]


@dataclass(frozen=True)
class FitConfig:
    """How to train a generative model. lr and batch size default to RIG's VAE (ALGORITHMS.md)."""

    num_steps: int = 10_000
    """Gradient steps (ignored when num_epochs is set)."""
    num_epochs: int | None = None
    """When set, train this many passes over the training split instead of num_steps."""
    batch_size: int = 128
    """Images (or rows of the dict) per gradient step: 128 in RIG, 64 in Skew-Fit."""
    lr: float = 1e-3
    """Adam learning rate: 1e-3 in RIG; 1e-4..1e-3 in CC-RIG."""
    lr_schedule: LRSchedule = "constant"
    """``constant``, or ``cosine``: lr * (f + (1 - f) * (1 + cos(pi * t / T)) / 2) at step t of T,
    with f = ``lr_final_fraction`` (details worth little likelihood, such as the shape of a small
    object, are learnt late, under a flat loss, and settle when the step size shrinks)."""
    lr_final_fraction: float = 0.05
    """``cosine``: the learning rate of the last step, as a fraction of ``lr``."""
    weight_decay: float = 0.0
    """Adam's L2 weight decay (torch's coupled form): 0 in RIG, 1e-4..1e-3 in CC-RIG."""
    heldout_fraction: float = 0.1
    """Fraction of the rows kept out of training and used for the held-out loss and media."""
    log_interval: int = 100
    """Steps between logged training losses (the mean over those steps)."""
    eval_interval: int = 1000
    """Steps between held-out losses (0: only at the end)."""
    media_interval: int = 5000
    """Steps between image grids from the model's media() (0: only at the end; needs a logger)."""
    eval_batch_size: int = 512
    """Rows per forward pass when computing the held-out loss."""
    seed: int = 0
    """Seeds the train / held-out split, the batch order and the model's noise."""
    device: str = "cpu"
    """Torch device to train on: ``cpu`` or ``cuda`` (``cuda:1``, ...)."""
    data_on_device: bool = True
    """Copy the whole uint8 dataset to the device once (fast on a GPU); False gathers each batch
    on the host and transfers it (for datasets larger than the device's memory)."""
    log_prefix: str = "vae"
    """Logged scalars are ``<log_prefix>/<key>`` (training) and ``<log_prefix>/heldout/<key>``."""

    def __post_init__(self) -> None:
        for name in ("num_steps", "batch_size", "log_interval", "eval_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}={value!r}: expected a positive integer")
        if self.num_epochs is not None and (not isinstance(self.num_epochs, int) or self.num_epochs < 1):
            raise ConfigError(f"num_epochs={self.num_epochs!r}: expected a positive integer or None")
        for name in ("eval_interval", "media_interval", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name}={value!r}: expected a non-negative integer")
        if not self.lr > 0 or not self.weight_decay >= 0:
            raise ConfigError(f"lr={self.lr!r} must be > 0 and weight_decay={self.weight_decay!r} >= 0")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ConfigError(f"lr_schedule={self.lr_schedule!r}; accepted values: ['constant', 'cosine']")
        if not 0 <= self.lr_final_fraction <= 1:
            raise ConfigError(f"lr_final_fraction={self.lr_final_fraction!r}: expected in [0, 1]")
        if not 0 <= self.heldout_fraction < 1:
            raise ConfigError(f"heldout_fraction={self.heldout_fraction!r}: expected in [0, 1)")
        if not self.log_prefix or self.log_prefix.endswith("/"):
            raise ConfigError(f"log_prefix={self.log_prefix!r}: expected a name such as 'vae'")


def scheduled_lr(config: FitConfig, step: int, num_steps: int) -> float:
    """The learning rate of gradient step ``step`` (1-based) of ``num_steps``."""
    if config.lr_schedule == "constant" or num_steps <= 1:
        return config.lr
    f = config.lr_final_fraction
    return config.lr * (f + (1 - f) * 0.5 * (1 + math.cos(math.pi * (step - 1) / (num_steps - 1))))


def split_indices(num_rows: int, heldout_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) row indices: a seeded permutation cut at round(heldout_fraction * N),
    at least one training row; both sorted, disjoint, together every row."""
    order = np.random.default_rng(seed).permutation(num_rows)
    num_heldout = min(int(round(heldout_fraction * num_rows)), num_rows - 1)
    return np.sort(order[num_heldout:]), np.sort(order[:num_heldout])


def fit(
    model: Fittable,
    data: np.ndarray | Mapping[str, np.ndarray],
    config: FitConfig,
    logger: RunLogger | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``model`` in place on ``data`` and return a summary: ``num_steps``, ``seconds``,
    ``train`` (the last logged training means), ``heldout`` (the final held-out means; empty
    without a held-out split), ``history`` (every logged row, as sent to the logger) and the
    ``train_indices`` / ``heldout_indices`` rows of ``data``. The model ends in eval mode."""
    if not isinstance(model, Fittable):
        raise ConfigError(
            f"{type(model).__name__} cannot be fitted: it needs loss(batch, generator) and to be an nn.Module"
        )
    device = resolve_device(config.device)
    arrays = _check_data(data)
    num_rows = len(next(iter(arrays.values())))
    train_idx, heldout_idx = split_indices(num_rows, config.heldout_fraction, config.seed)
    host = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}  # no copy
    store = {k: v.to(device) for k, v in host.items()} if config.data_on_device else host
    train_rows = torch.from_numpy(train_idx)
    heldout_rows = torch.from_numpy(heldout_idx)
    batch_size = min(config.batch_size, len(train_idx))
    batches_per_epoch = len(train_idx) // batch_size  # the last partial batch of an epoch is dropped
    num_steps = config.num_steps if config.num_epochs is None else config.num_epochs * batches_per_epoch

    def gather(rows: Tensor) -> Batch:
        picked = {k: v[rows.to(v.device)].to(device, non_blocking=True) for k, v in store.items()}
        return picked if isinstance(data, Mapping) else picked["_"]

    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    order_generator = torch.Generator().manual_seed(config.seed)
    noise_generator = torch.Generator(device).manual_seed(config.seed + 1)
    history: list[dict[str, float]] = []
    train_means: dict[str, float] = {}
    heldout_means: dict[str, float] = {}
    prefix = config.log_prefix

    def record(step: int, metrics: dict[str, float]) -> None:
        history.append({"step": float(step), **metrics})
        if logger is not None:
            logger.log(step, metrics)

    def evaluate(step: int) -> None:
        nonlocal heldout_means
        if len(heldout_idx):
            heldout_means = _heldout_loss(model, gather, heldout_rows, config, device)
            record(step, {f"{prefix}/heldout/{k}": v for k, v in heldout_means.items()})

    media_rows = (heldout_rows if len(heldout_rows) else train_rows)[:MEDIA_ROWS]

    def draw_media(step: int) -> None:
        if logger is None or not isinstance(model, HasMedia):
            return
        model.train(False)
        with torch.no_grad():
            images = model.media(gather(media_rows))
        model.train(True)
        for name, image in images.items():
            logger.log_image(f"{prefix}/{name}", image, step)

    bar = _progress_bar(num_steps, prefix) if progress else None
    start = time.monotonic()
    sums: dict[str, Tensor] = {}
    since_log = 0
    permutation = torch.empty(0, dtype=torch.long)
    forked = (
        [torch.cuda.current_device() if device.index is None else device.index]
        if device.type == "cuda"
        else []
    )
    try:
        with torch.random.fork_rng(devices=forked):
            torch.manual_seed(config.seed + 2)  # dropout and other global-RNG users inside the loop
            model.train(True)
            for step in range(1, num_steps + 1):
                if config.lr_schedule == "cosine":
                    for group in optimizer.param_groups:
                        group["lr"] = scheduled_lr(config, step, num_steps)
                slot = (step - 1) % batches_per_epoch
                if slot == 0:
                    permutation = train_rows[torch.randperm(len(train_rows), generator=order_generator)]
                batch = gather(permutation[slot * batch_size : (slot + 1) * batch_size])
                losses = model.loss(batch, noise_generator)
                optimizer.zero_grad(set_to_none=True)
                losses["loss"].backward()
                optimizer.step()
                for k, v in losses.items():
                    sums[k] = sums[k] + v.detach() if k in sums else v.detach().clone()
                since_log += 1
                if step % config.log_interval == 0 or step == num_steps:
                    train_means = {k: float(v.item()) / since_log for k, v in sums.items()}  # the one sync
                    if not math.isfinite(train_means["loss"]):
                        raise FloatingPointError(
                            f"{prefix}: the training loss is {train_means['loss']} at step {step}; "
                            "lower lr or check the data (uint8 images expected)"
                        )
                    sums, since_log = {}, 0
                    lr_now = {"lr": float(optimizer.param_groups[0]["lr"])}
                    record(step, {f"{prefix}/{k}": v for k, v in (train_means | lr_now).items()})
                    if bar is not None:
                        bar.set_postfix(loss=f"{train_means['loss']:.4g}", refresh=False)
                if config.eval_interval and step % config.eval_interval == 0 and step != num_steps:
                    evaluate(step)
                if config.media_interval and step % config.media_interval == 0 and step != num_steps:
                    draw_media(step)
                if bar is not None:
                    bar.update(1)
            evaluate(num_steps)
            draw_media(num_steps)
    finally:
        if bar is not None:
            bar.close()
    model.train(False)
    return {
        "num_steps": num_steps,
        "seconds": time.monotonic() - start,
        "train": train_means,
        "heldout": heldout_means,
        "history": history,
        "train_indices": train_idx,
        "heldout_indices": heldout_idx,
    }


def fit_best_of(
    make_model: Callable[[int], Fittable],
    data: np.ndarray | Mapping[str, np.ndarray],
    config: FitConfig,
    candidates: int,
    trial_steps: int,
    logger: RunLogger | None = None,
    progress: bool = True,
) -> tuple[Fittable, dict[str, Any]]:
    """Models ``make_model(i)`` for i = 0 .. ``candidates`` - 1 (the caller seeds their
    initialisation by i) each trained ``trial_steps`` steps at the constant learning rate
    ``config.lr``, on the same held-out split and batch order; the one with the lowest held-out
    ``loss`` then trains ``config.num_steps - trial_steps`` more steps with ``config``'s schedule
    (a fresh Adam), so it sees ``num_steps`` in all and the run costs ``(candidates - 1) *
    trial_steps`` steps more than ``fit``. Meant for fits that fall into a poor start early and show
    it in their held-out loss (the sprite CC-VAE on ColorPush lost z_t within a few hundred steps on
    two seeds of five); it does not catch a failure the early loss cannot see (on tuning seed 103 it
    kept a start that ended with a pale-ring sprite: docs/methods/ccrig.md). Returns the chosen
    model (in eval mode) and ``fit``'s summary of it, whose ``history`` runs through both phases
    (steps counted from the trial's start), with ``candidates`` (each one's held-out means after
    its trial) and ``chosen`` (its index)."""
    if not isinstance(candidates, int) or candidates < 1:
        raise ConfigError(f"candidates={candidates!r}: expected a positive integer")
    if config.num_epochs is not None or not 0 < trial_steps < config.num_steps:
        raise ConfigError(
            f"trial_steps={trial_steps!r} with num_steps={config.num_steps}, num_epochs={config.num_epochs}: "
            "expected 0 < trial_steps < num_steps and num_epochs None"
        )
    if not config.heldout_fraction > 0:
        raise ConfigError("fit_best_of chooses by the held-out loss: set heldout_fraction > 0")
    trial = replace(config, num_steps=trial_steps, lr_schedule="constant", eval_interval=0, media_interval=0)
    best: tuple[float, int, Fittable, dict[str, Any]] | None = None
    heldouts: list[dict[str, float]] = []
    for i in range(candidates):
        model = make_model(i)
        summary = fit(model, data, trial, progress=progress)
        heldouts.append(summary["heldout"])
        loss = summary["heldout"]["loss"]
        if best is None or loss < best[0]:
            best = (loss, i, model, summary)
    assert best is not None
    _, chosen, model, first = best
    if logger is not None:
        for row in first["history"]:
            logger.log(int(row["step"]), {k: v for k, v in row.items() if k != "step"})
    later = None if logger is None else _Offset(logger, trial_steps)
    remaining = replace(config, num_steps=config.num_steps - trial_steps)
    rest = fit(model, data, remaining, later, progress)  # type: ignore[arg-type]
    shifted = [{**row, "step": row["step"] + trial_steps} for row in rest["history"]]
    summary = {
        **rest,
        "num_steps": config.num_steps,
        "seconds": first["seconds"] + rest["seconds"],
        "history": first["history"] + shifted,
        "candidates": heldouts,
        "chosen": chosen,
    }
    return model, summary


class _Offset:
    """A logger whose steps start ``offset`` later (the continued fit of :func:`fit_best_of`)."""

    def __init__(self, logger: RunLogger, offset: int) -> None:
        self.logger, self.offset = logger, offset

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        self.logger.log(step + self.offset, metrics)

    def log_image(self, tag: str, image: Any, step: int) -> None:
        self.logger.log_image(tag, image, step + self.offset)


def _heldout_loss(
    model: Fittable,
    gather: Any,
    rows: Tensor,
    config: FitConfig,
    device: torch.device,
) -> dict[str, float]:
    """Means over the held-out rows in eval mode, with the same noise every time (seeded
    generator), so the curve shows the model changing, not the noise."""
    model.train(False)
    generator = torch.Generator(device).manual_seed(config.seed + 3)
    sums: dict[str, Tensor] = {}
    with torch.no_grad():
        for start in range(0, len(rows), config.eval_batch_size):
            chunk = rows[start : start + config.eval_batch_size]
            for k, v in model.loss(gather(chunk), generator).items():
                weighted = v.detach() * len(chunk)
                sums[k] = sums[k] + weighted if k in sums else weighted
    model.train(True)
    return {k: float(v.item()) / len(rows) for k, v in sums.items()}


def _check_data(data: np.ndarray | Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``data`` as a dict of arrays (N, ...) with one N; a bare array is stored under "_". Dtypes
    and shapes are the model's to check (the VAE rejects anything but uint8 (N, H, W, 3) images)."""
    arrays = dict(data) if isinstance(data, Mapping) else {"_": data}
    if not arrays:
        raise ConfigError("data is an empty dict; give at least one uint8 array (N, H, W, 3)")
    lengths = set()
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray) or value.ndim < 1:
            name = "data" if key == "_" else f"data[{key!r}]"
            raise ConfigError(
                f"{name} must be a NumPy array with one row per sample (images: uint8 (N, H, W, 3)); "
                f"got {type(value).__name__} {getattr(value, 'shape', '')}"
            )
        lengths.add(len(value))
    if len(lengths) != 1:
        raise ConfigError(f"the arrays of data have different lengths {sorted(lengths)}; they must match")
    if lengths.pop() < 2:
        raise ConfigError("data needs at least 2 rows (one to train on, and a held-out split)")
    return arrays


def _progress_bar(total: int, prefix: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"fit {prefix}", unit="step", dynamic_ncols=True, mininterval=1.0)
