"""The shared fit loop: learning, determinism, the held-out split, dict data, logging."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from affordkit.errors import ConfigError
from affordkit.generative import BetaVAE, FitConfig, VAEConfig, fit, split_indices
from affordkit.generative.fit import fit_best_of
from affordkit.logging import RunLogger


def blobs(n: int, seed: int = 0) -> np.ndarray:
    """(n, 48, 48, 3) uint8: a dark square at a random place on a light background."""
    rng = np.random.default_rng(seed)
    out = np.full((n, 48, 48, 3), 220, dtype=np.uint8)
    for i, (r, c) in enumerate(rng.integers(0, 40, size=(n, 2))):
        out[i, r : r + 8, c : c + 8] = (30, 30, 200)
    return out


def tiny_config(**overrides: object) -> FitConfig:
    base = dict(num_steps=12, batch_size=8, log_interval=4, eval_interval=6, media_interval=0, seed=0)
    return FitConfig(**{**base, **overrides})


def vae(seed: int = 0) -> BetaVAE:
    torch.manual_seed(seed)
    return BetaVAE(VAEConfig(beta=1.0))


def test_loss_decreases() -> None:
    data = blobs(64)
    out = fit(vae(), data, tiny_config(num_steps=40, log_interval=10, eval_interval=0), progress=False)
    rows = [row for row in out["history"] if "vae/loss" in row]
    losses = [row["vae/loss"] for row in rows]
    assert len(losses) == 4 and all(b < a for a, b in zip(losses, losses[1:], strict=False))
    assert rows[-1]["vae/pixel_mse"] < 0.5 * rows[0]["vae/pixel_mse"], rows
    assert out["heldout"]["loss"] < losses[0] and out["num_steps"] == 40


def test_same_seed_same_parameters() -> None:
    data = blobs(40)
    a, b, c = vae(), vae(), vae()
    fit(a, data, tiny_config(), progress=False)
    fit(b, data, tiny_config(), progress=False)
    fit(c, data, tiny_config(seed=1), progress=False)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb), name
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True))


def test_fit_leaves_the_global_rng_alone() -> None:
    before = torch.random.get_rng_state()
    fit(vae(), blobs(20), tiny_config(num_steps=2), progress=False)
    assert torch.equal(torch.random.get_rng_state(), before)


@pytest.mark.parametrize("n, fraction", [(100, 0.1), (7, 0.3), (5, 0.0), (3, 0.9)])
def test_heldout_split_is_disjoint_and_complete(n: int, fraction: float) -> None:
    train, heldout = split_indices(n, fraction, seed=2)
    assert len(np.intersect1d(train, heldout)) == 0
    assert np.array_equal(np.sort(np.concatenate([train, heldout])), np.arange(n))
    assert len(heldout) == min(round(fraction * n), n - 1) and len(train) >= 1
    again = split_indices(n, fraction, seed=2)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], heldout)


class PairModel(nn.Module):
    """Checks that the rows of a dict batch stay aligned and held-out rows never reach training."""

    def __init__(self, heldout_rows: set[int]) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))
        self.heldout_rows = heldout_rows
        self.seen: set[int] = set()

    def loss(self, batch: dict[str, Tensor], generator: torch.Generator | None = None) -> dict[str, Tensor]:
        rows = batch["first"][:, 0, 0, 0].long() * 256 + batch["second"][:, 0, 0, 0].long()
        assert torch.equal(batch["first"][:, 0, 0, 1], batch["second"][:, 0, 0, 1])  # same rows
        if self.training:
            self.seen.update(rows.tolist())
        return {"loss": self.w.square() * batch["first"].float().mean() / 255}


def test_dict_data_keeps_rows_together_and_heldout_out() -> None:
    n = 50
    first = np.zeros((n, 2, 2, 3), np.uint8)
    second = np.zeros((n, 2, 2, 3), np.uint8)
    first[:, 0, 0, 0], second[:, 0, 0, 0] = np.arange(n) // 256, np.arange(n) % 256
    first[:, 0, 0, 1] = second[:, 0, 0, 1] = np.arange(n)
    config = tiny_config(num_epochs=3, heldout_fraction=0.2)
    _, heldout = split_indices(n, 0.2, config.seed)
    model = PairModel(set(heldout.tolist()))
    out = fit(model, {"first": first, "second": second}, config, progress=False)
    assert np.array_equal(out["heldout_indices"], heldout)
    assert model.seen and not model.seen & model.heldout_rows
    assert out["num_steps"] == 3 * (40 // 8)  # whole batches of the 40 training rows, per epoch


def test_logger_gets_scalars_and_images(tmp_path: Path) -> None:
    with RunLogger(tmp_path, method="test", env="blobs", seed=0, tensorboard=False) as logger:
        fit(vae(), blobs(24), tiny_config(media_interval=6), logger=logger, progress=False)
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    columns = set(rows[0])
    assert {"vae/loss", "vae/reconstruction", "vae/kl", "vae/heldout/loss", "vae/heldout/kl"} <= columns
    assert [r["step"] for r in rows if r["vae/loss"]] == ["4", "8", "12"]
    media = sorted(p.name for p in (tmp_path / "media" / "vae").iterdir())
    assert media == [
        f"{name}_{step:08d}.png" for name in ("prior_samples", "reconstruction") for step in (6, 12)
    ]


def test_diverging_loss_raises() -> None:
    class Diverging(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(()))

        def loss(self, batch: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
            return {"loss": self.w * float("nan")}

    with pytest.raises(FloatingPointError, match="step 4"):
        fit(Diverging(), blobs(10), tiny_config(), progress=False)


@pytest.mark.parametrize(
    "bad",
    [
        dict(num_steps=0),
        dict(num_epochs=0),
        dict(batch_size=0),
        dict(lr=0.0),
        dict(weight_decay=-1.0),
        dict(heldout_fraction=1.0),
        dict(eval_interval=-1),
        dict(log_prefix=""),
    ],
)
def test_bad_config_raises(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        FitConfig(**bad)


def test_bad_data_and_model_raise() -> None:
    with pytest.raises(ConfigError, match="different lengths"):
        fit(vae(), {"a": blobs(4), "b": blobs(5)}, tiny_config(), progress=False)
    with pytest.raises(ConfigError, match="NumPy array"):
        fit(vae(), [[1, 2]], tiny_config(), progress=False)
    with pytest.raises(ConfigError, match="cannot be fitted"):
        fit(nn.Linear(2, 2), blobs(4), tiny_config(), progress=False)
    with pytest.raises(ConfigError, match="images"):
        fit(vae(), blobs(10).astype(np.float32), tiny_config(), progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA"):
            fit(vae(), blobs(10), tiny_config(device="cuda"), progress=False)


def test_cosine_schedule_runs_from_lr_to_its_final_fraction() -> None:
    cfg = tiny_config(num_steps=9, log_interval=1, eval_interval=0, lr=2e-3, lr_schedule="cosine")
    out = fit(vae(), blobs(40), cfg, progress=False)
    lrs = [row["vae/lr"] for row in out["history"] if "vae/lr" in row]
    assert len(lrs) == 9 and lrs[0] == pytest.approx(2e-3) and lrs[-1] == pytest.approx(2e-3 * 0.05)
    assert all(b < a for a, b in zip(lrs, lrs[1:], strict=False))
    assert lrs[4] == pytest.approx(2e-3 * (0.05 + 0.95 * 0.5))  # half way: the mean of the ends
    constant = fit(vae(), blobs(40), tiny_config(num_steps=3, log_interval=1, lr=2e-3), progress=False)
    assert {row["vae/lr"] for row in constant["history"] if "vae/lr" in row} == {2e-3}


@pytest.mark.parametrize("bad", [{"lr_schedule": "step"}, {"lr_final_fraction": 1.5}])
def test_bad_schedule_is_a_config_error(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        tiny_config(**bad)


def test_best_of_keeps_the_lowest_heldout_loss_and_trains_it_on(tmp_path: Path) -> None:
    data = blobs(48)
    config = tiny_config(num_steps=12, eval_interval=0, lr_schedule="cosine")

    def make(i: int) -> BetaVAE:
        model = vae(seed=i)
        if i == 1:  # a hopeless start: every weight at zero, so no gradient reaches the inner layers
            with torch.no_grad():
                for p in model.parameters():
                    p.zero_()
        return model

    with RunLogger(tmp_path, method="test", env="blobs", seed=0, tensorboard=False) as logger:
        model, out = fit_best_of(
            make, data, config, candidates=3, trial_steps=4, logger=logger, progress=False
        )
    losses = [c["loss"] for c in out["candidates"]]
    assert len(losses) == 3 and out["chosen"] == int(np.argmin(losses)) != 1
    assert out["num_steps"] == 12 and [r["step"] for r in out["history"] if "vae/loss" in r] == [4, 8, 12]
    with open(tmp_path / "metrics.csv") as f:
        assert [r["step"] for r in csv.DictReader(f) if r["vae/loss"]] == ["4", "8", "12"]
    # the same as training the chosen start by hand: its trial at a constant lr, then the rest
    again = make(out["chosen"])
    fit(again, data, tiny_config(num_steps=4, eval_interval=0), progress=False)
    fit(again, data, tiny_config(num_steps=8, eval_interval=0, lr_schedule="cosine"), progress=False)
    for (name, a), b in zip(model.named_parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b), name


@pytest.mark.parametrize("bad", [dict(candidates=0), dict(trial_steps=0), dict(trial_steps=12)])
def test_best_of_refuses_bad_arguments(bad: dict[str, int]) -> None:
    args = dict(candidates=2, trial_steps=4) | bad
    with pytest.raises(ConfigError):
        fit_best_of(vae, blobs(16), tiny_config(), progress=False, **args)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="held-out"):
        fit_best_of(vae, blobs(16), tiny_config(heldout_fraction=0.0), candidates=2, trial_steps=4)
