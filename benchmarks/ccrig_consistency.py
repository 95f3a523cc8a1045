"""CC-RIG's first target: imagined goals that keep the scene of their context.

"Decode 1,000 imagined goals from random contexts and count those whose objects carry the
context's colours and shapes; target: CC-VAE >= 90%, far above the plain VAE on the same data."

Per seed:

1. Data: ColorPush at 48x48 (``--image-size 84``: 84x84) (one object whose colour, 6 of them,
   and shape, disc or box, are drawn per episode; fixed start positions). Each training episode
   gives its reset image s_0 and ``START_PAIRS + GOAL_PAIRS`` later images s_t of the same
   episode: one after t ~ U{1..10} random actions from the start, and two from CC-RIG's recipe,
   after setting the bodies to the episode's random goal state (``set_state`` keeps the episode's
   colour and shape) and then t ~ U{0..10} random actions. Random actions are uniform in [-1, 1]^2.
2. Models, each trained with :func:`affordkit.generative.fit` for the same gradient steps, batch
   size, learning rate, KL schedule (beta 0 -> 1 over ``--warmup`` steps, then 1) and train /
   held-out split, one torch thread:
   - ``CC-VAE``: :class:`~affordkit.generative.CCVAE` as in the paper (context dropout 0.5,
     latent 6 + context 4, the RIG decoder, w = 1, sum-reduced Bernoulli likelihood) on the pairs
     {"context": s_0, "image": s_t}, but with the plain VAE's KL weight: the paper's beta 1 -> 50
     collapsed z_t here (held-out KL 0.004 nats, no object in any imagined goal, in a scratch run
     of 2,000 steps of 64; ``--paper-beta`` adds that model to the run);
   - ``CC-VAE, dropout 0``: the same with ``context_dropout=0`` (one fix of the BatchNorm problem);
   - ``VAE``: the plain :class:`~affordkit.generative.BetaVAE` with RIG's preset
     (``VAEConfig(beta=1.0, latent_dim=8, decoder="broadcast")``) on the same s_t images.
3. Imagined goals, one per context, for 1,000 contexts s_0 from held-out episodes (env seeds that
   no training episode used): CC-VAE: decode(z ~ N(0, I), z_c = context(s_0)); plain VAE:
   decode(z) with z ~ N(0, I) (``standard``) or z = the encoding of one of its training images
   drawn uniformly (``data``, the prior of RIG's presets).
4. :func:`affordkit.envs.detect.detect_objects` on each goal and on its context: a goal is
   consistent when both show an object of the same colour and shape. Also colour-only and
   shape-only agreement, the fraction of goals with no object found, and the detector's accuracy
   on the contexts against the env's own colour and shape.

The BatchNorm problem (``CCVAEConfig.context_dropout``): the context code's BatchNorm keeps
running statistics of codes made noisy by dropout, so eval-mode z_c shrinks. The dropout-0.5
CC-VAE is measured twice: as trained (``raw``) and after
:meth:`~affordkit.generative.CCVAE.recalibrate_context_norm` on its training contexts
(``recalibrated``: running statistics re-estimated without dropout).

    python benchmarks/ccrig_consistency.py            # the default setting, seeds 0 1
    python benchmarks/ccrig_consistency.py --episodes 500 --steps 200 --seeds 9 --no-write
    python benchmarks/ccrig_consistency.py --report-only   # the .md again from the .json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from affordkit import atomic
from affordkit.envs import make_vector_env
from affordkit.envs.detect import ObjectDetections, detect_objects
from affordkit.generative import CCVAE, BetaVAE, CCVAEConfig, FitConfig, VAEConfig, fit, split_indices
from affordkit.generative.cc_vae import STATE_INPUT
from affordkit.generative.fit import fit_best_of
from affordkit.logging import image_grid, save_png
from affordkit.methods import rig
from affordkit.networks.conv import to_uint8_images

try:
    from benchmarks._common import RESULTS, provenance, provenance_lines, write_results
except ImportError:  # run as a script from benchmarks/
    from _common import RESULTS, provenance, provenance_lines, write_results  # type: ignore[no-redef]

ENV = "ColorPush"
IMAGE_SIZE = 48
MAX_RANDOM_STEPS = 10  # s_t is at most this many random actions after the reset or the goal state
START_PAIRS, GOAL_PAIRS = 1, 2  # s_t per training episode: from the start, from the goal state
TRAIN_SEED_BASE = 1_000_000  # training episodes of seed s: env seeds TRAIN_SEED_BASE * (s + 1) + i
HELDOUT_SEED_BASE = 900_000_000  # held-out contexts of seed s: HELDOUT_SEED_BASE + 100_000 * s + i
TARGET = 0.9
PICTURE_CONTEXTS = 12  # columns of the picture: one per (colour, shape) where the contexts have it
PICTURE_GOALS = 3  # imagined goals per context and model in the picture
PICTURE_KEYS = (
    "ccvae_broadcast",
    "ccvae_broadcast_data",
    "ccvae_keypoints",
    "ccvae_keypoints_data",
    "ccvae_swap",
    "ccvae_swap_data",
    "ccvae_outline",
    "ccvae_outline_data",
    "ccvae_gradient",
    "ccvae_gradient_data",
    "ccvae_full",
    "ccvae_full_data",
    "ccvae_sprite",
    "ccvae_sprite_data",
    "ccvae_sprite_mode",
    "ccvae_sprite_mode_data",
    "ccvae_recalibrated",
    "ccvae_raw",
    "ccvae_dropout0",
    "ccvae_paper_beta",
    "vae_standard",
    "vae_data",
)

# (key, label, model) in report order
VARIANTS = [
    ("ccvae_recalibrated", "CC-VAE, dropout 0.5, BatchNorm recalibrated", "ccvae"),
    ("ccvae_raw", "CC-VAE, dropout 0.5, as trained", "ccvae"),
    ("ccvae_dropout0", "CC-VAE, dropout 0", "ccvae_dropout0"),
    ("ccvae_broadcast", "CC-VAE, dropout 0, broadcast decoder", "ccvae_broadcast"),
    (
        "ccvae_broadcast_data",
        "CC-VAE, dropout 0, broadcast decoder, z_t ~ encodings of its training pairs",
        "ccvae_broadcast",
    ),
    ("ccvae_keypoints", "CC-VAE, dropout 0, broadcast decoder, keypoint state encoder", "ccvae_keypoints"),
    (
        "ccvae_swap",
        "CC-VAE, dropout 0, broadcast decoder, state encoder fed swapped appearance",
        "ccvae_swap",
    ),
    (
        "ccvae_swap_data",
        "CC-VAE, dropout 0, broadcast decoder, state encoder fed swapped appearance, z_t ~ encodings "
        "of its training pairs",
        "ccvae_swap",
    ),
    (
        "ccvae_every",
        "CC-VAE, dropout 0, broadcast decoder with z_c at every layer, swapped appearance",
        "ccvae_every",
    ),
    (
        "ccvae_every_data",
        "CC-VAE, dropout 0, broadcast decoder with z_c at every layer, swapped appearance, z_t ~ "
        "encodings of its training pairs",
        "ccvae_every",
    ),
    (
        "ccvae_outline",
        "CC-VAE, dropout 0, broadcast decoder, swapped appearance, outlines weighted",
        "ccvae_outline",
    ),
    (
        "ccvae_outline_data",
        "CC-VAE, dropout 0, broadcast decoder, swapped appearance, outlines weighted, z_t ~ encodings "
        "of its training pairs",
        "ccvae_outline",
    ),
    (
        "ccvae_gradient",
        "CC-VAE, dropout 0, broadcast decoder, swapped appearance, image-gradient term",
        "ccvae_gradient",
    ),
    (
        "ccvae_gradient_data",
        "CC-VAE, dropout 0, broadcast decoder, swapped appearance, image-gradient term, z_t ~ encodings "
        "of its training pairs",
        "ccvae_gradient",
    ),
    (
        "ccvae_full",
        "CC-VAE, dropout 0, full-resolution broadcast decoder, swapped appearance",
        "ccvae_full",
    ),
    (
        "ccvae_full_data",
        "CC-VAE, dropout 0, full-resolution broadcast decoder, swapped appearance, z_t ~ encodings of its "
        "training pairs",
        "ccvae_full",
    ),
    (
        "ccvae_sprite",
        "CC-VAE, dropout 0, sprite decoder (object from z_c, placed by z_t), swapped appearance",
        "ccvae_sprite",
    ),
    (
        "ccvae_sprite_data",
        "CC-VAE, dropout 0, sprite decoder, swapped appearance, z_t ~ encodings of its training pairs",
        "ccvae_sprite",
    ),
    (
        "ccvae_sprite_mode",
        "CC-VAE, dropout 0, sprite decoder, swapped appearance, each where-map's mode",
        "ccvae_sprite_mode",
    ),
    (
        "ccvae_sprite_mode_data",
        "CC-VAE, dropout 0, sprite decoder, swapped appearance, each where-map's mode, z_t ~ encodings of "
        "its training pairs",
        "ccvae_sprite_mode",
    ),
    (
        "ccvae_keypoints_data",
        "CC-VAE, dropout 0, broadcast decoder, keypoint state encoder, z_t ~ encodings of its training pairs",
        "ccvae_keypoints",
    ),
    ("ccvae_paper_beta", "CC-VAE, paper's beta 1 -> 50, dropout 0.5, recalibrated", "ccvae_paper_beta"),
    ("vae_standard", "VAE, z ~ N(0, I)", "vae"),
    ("vae_data", "VAE, z ~ encodings of its training images", "vae"),
]


@dataclasses.dataclass
class Episodes:
    """Reset images s_0 (N, H, W, 3) uint8 of N episodes and their true colour (palette index) and
    shape, and, for training episodes, the pairs (s_0, s_t)."""

    context: np.ndarray
    color: np.ndarray
    shape: np.ndarray
    pairs: dict[str, np.ndarray] | None = None


RATES = ("consistent", "color", "shape", "no_object", "color_if_found", "shape_if_found", "disc_if_found")
"""The per-model fractions of imagined goals the results report, in table order."""
RATE_LABELS = {
    "consistent": "consistent",
    "color": "colour",
    "shape": "shape",
    "no_object": "no object",
    "color_if_found": "colour, if found",
    "shape_if_found": "shape, if found",
    "disc_if_found": "disc, if found",
}


def collect(
    num_episodes: int,
    env_seed: int,
    rng_seed: int,
    with_pairs: bool,
    image_size: int = IMAGE_SIZE,
    goal_contexts: bool = False,
) -> Episodes:
    """``goal_contexts``: every s_t is paired twice, with s_0 and with the episode's goal-state
    image (the object away from its start), so contexts show the object at many places."""
    env = make_vector_env(ENV, num_episodes, autoreset_mode="disabled", image_size=image_size)
    obs, _ = env.reset(seed=env_seed)  # episode i: env seed env_seed + i
    context = obs["image"].copy()
    core = env.core
    color = core.color_index[:, 0].copy()
    shape = np.asarray(core.config.object_shapes)[core.shape_index[:, 0]]
    if not with_pairs:
        env.close()
        return Episodes(context, color, shape)
    rng = np.random.default_rng(rng_seed)
    n = num_episodes

    states: list[np.ndarray] = []  # body positions of every kept image, column by column

    def random_walk(first: np.ndarray, t: np.ndarray) -> list[np.ndarray]:
        """Images after t[:, j] random actions (t = 0: ``first``), one column j per pair."""
        out = [
            np.where((t[:, j] == 0)[:, None, None, None], first, 0).astype(np.uint8)
            for j in range(t.shape[1])
        ]
        pos = [np.where((t[:, j] == 0)[:, None], env.get_state(), 0.0) for j in range(t.shape[1])]
        for step in range(1, int(t.max()) + 1):
            image = env.step(rng.uniform(-1.0, 1.0, size=(n, 2)))[0]["image"]
            now = env.get_state()
            for j in range(t.shape[1]):
                out[j][t[:, j] == step] = image[t[:, j] == step]
                pos[j][t[:, j] == step] = now[t[:, j] == step]
        states.extend(pos)
        return out

    later = random_walk(context, rng.integers(1, MAX_RANDOM_STEPS + 1, size=(n, START_PAIRS)))
    goal_obs = env.set_state(obs["desired_goal"])  # the episode's random goal state, same appearance
    later += random_walk(goal_obs["image"], rng.integers(0, MAX_RANDOM_STEPS + 1, size=(n, GOAL_PAIRS)))
    # the same positions drawn with the objects of another episode (a random other one per image)
    table = np.tile(np.arange(n), len(later))
    swapped = rig.swapped_appearance(env, np.concatenate(states), table, rng)
    env.close()
    pairs = {
        "context": np.concatenate([context] * len(later)),
        "image": np.concatenate(later),
        "swapped": swapped,
    }
    if goal_contexts:
        pairs = {
            "context": np.concatenate([pairs["context"], *[goal_obs["image"]] * len(later)]),
            "image": np.concatenate([pairs["image"]] * 2),
            "swapped": np.concatenate([swapped] * 2),
        }
    return Episodes(context, color, shape, pairs)


# ------------------------------------------------------------------------------------- models
def straight_through_from(history: list[dict[str, float]]) -> str:
    """The first logged step whose training rows had the sprite maps drawn as modes, or '-'."""
    for row in history:
        if row.get("vae/straight_through", 0.0) > 0.0:
            return str(int(row.get("step", -1)))
    return "-"


def fit_config(args: argparse.Namespace, seed: int) -> FitConfig:
    return FitConfig(
        num_steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        heldout_fraction=0.05,
        log_interval=100,
        eval_interval=0,
        media_interval=0,
        seed=seed,
        lr_schedule=args.lr_schedule,
    )


def ccvae_config(
    args: argparse.Namespace,
    dropout: float,
    paper_beta: bool = False,
    decoder: str = "rig",
    encoder: str = "rig",
) -> CCVAEConfig:
    """The paper's CC-VAE (latent 6, context 4, RIG decoder, w = 1, sum-reduced Bernoulli) with the
    plain VAE's KL schedule (0 -> 1 over ``--warmup`` steps), or with the paper's 1 -> 50 over the
    whole run (``paper_beta``); ``decoder="broadcast"`` is CC-RIG's preset here (methods/rig.py)."""
    if paper_beta:
        return CCVAEConfig(image_size=args.image_size, beta_ramp_steps=args.steps, context_dropout=dropout)
    return CCVAEConfig(
        image_size=args.image_size,
        beta_start=0.0,
        beta_end=args.beta,
        beta_ramp_steps=args.warmup,
        context_dropout=dropout,
        decoder=decoder,
        encoder=encoder,
    )


def swapped_config(args: argparse.Namespace, decoder: str = "broadcast", **fields: float) -> CCVAEConfig:
    """A swapped-appearance CC-VAE variant: dropout 0, ``decoder``, and ``fields`` set on top."""
    return dataclasses.replace(ccvae_config(args, 0.0, decoder=decoder), **fields)


def outline_config(args: argparse.Namespace) -> CCVAEConfig:
    """Outline pixels weighted ``--outline-weight``; z_c at every decoder layer with
    ``--outline-every-layer``; the state decoder ``--outline-channels`` wide; s_t shifted by up to
    ``--outline-shift`` pixels in training."""
    config = swapped_config(args, outline_weight=args.outline_weight)
    return dataclasses.replace(
        config,
        context_every_layer=getattr(args, "outline_every_layer", False),
        decoder_channels=getattr(args, "outline_channels", 64),
        shift_augment=getattr(args, "outline_shift", 0),
    )


def gradient_config(args: argparse.Namespace) -> CCVAEConfig:
    """The image-gradient term weighted ``--gradient-weight``."""
    return swapped_config(args, gradient_weight=args.gradient_weight)


def full_config(args: argparse.Namespace) -> CCVAEConfig:
    """The state decoder broadcasting at full resolution, outline pixels weighted
    ``--full-outline-weight`` (0: unweighted)."""
    return swapped_config(args, "broadcast_full", outline_weight=args.full_outline_weight)


def sprite_config(args: argparse.Namespace) -> CCVAEConfig:
    """The state decoder drawing the object from z_c as a sprite placed by z_t
    (:class:`~affordkit.networks.conv.SpriteDecoder`), outline pixels weighted
    ``--sprite-outline-weight`` (0: unweighted), the where-maps' entropy weighted
    ``--sprite-entropy-weight`` (0: none), ramped in from ``--sprite-entropy-from`` of the steps
    (0.5: half-way) to twice that (until the last step by default), each map drawn as its mode
    from half-way with ``--sprite-straight-through`` (from another fraction of the steps with
    ``--sprite-straight-through-from``). Its goals
    are measured twice: as trained (``ccvae_sprite``) and decoding each map's
    mode alone (``ccvae_sprite_mode``)."""
    return swapped_config(
        args,
        "sprite",
        outline_weight=getattr(args, "sprite_outline_weight", 0.0),
        where_entropy_weight=getattr(args, "sprite_entropy_weight", 0.0),
        where_entropy_start=(
            max(1, int(args.steps * getattr(args, "sprite_entropy_from", 0.5)))
            if getattr(args, "sprite_entropy_weight", 0.0)
            else 0
        ),
        where_straight_through_start=int(args.steps * getattr(args, "sprite_straight_through_from", 0.0)),
        where_straight_through_mse=getattr(args, "sprite_straight_through_mse", 0.0),
        where_split_gradients=getattr(args, "sprite_split_gradients", False),
        sprite_fixed=getattr(args, "sprite_fixed", 0),
    )


def vae_config(args: argparse.Namespace) -> VAEConfig:
    """RIG's presets (methods/rig.py): beta 1, latent 8, the broadcast decoder; KL warm-up
    ``--warmup`` steps (the presets' 2,000 for 3,000 steps, 1,000 in the quick preset)."""
    return VAEConfig(
        image_size=args.image_size,
        beta=args.beta,
        latent_dim=8,
        decoder="broadcast",
        beta_warmup_steps=args.warmup,
    )


Imagine = Callable[[np.ndarray, torch.Generator], np.ndarray]  # contexts uint8 -> goals uint8


def ccvae_goals(model: CCVAE, bank: torch.Tensor | None = None) -> Imagine:
    """Goals of the CC-VAE for each context: [z_t, z_c(context)] decoded, z_t ~ N(0, I) (CC-RIG), or
    rows of ``bank`` uniformly (posterior means of training pairs, each encoded with its own
    context: the aggregate posterior, as RIG's ``data`` prior)."""

    def imagine(contexts: np.ndarray, generator: torch.Generator) -> np.ndarray:
        z_c = model.context(contexts)
        if bank is None:
            z = model.sample_prior(len(contexts), generator)
        else:
            z = bank[torch.randint(len(bank), (len(contexts),), generator=generator)]
        with torch.no_grad():
            return to_uint8_images(model.decode(z, z_c))

    return imagine


def vae_goals(model: BetaVAE, bank: torch.Tensor | None) -> Imagine:
    """Goals of the plain VAE, blind to the context: z ~ N(0, I), or rows of ``bank`` uniformly."""

    def imagine(contexts: np.ndarray, generator: torch.Generator) -> np.ndarray:
        if bank is None:
            z = model.sample_prior(len(contexts), generator)
        else:
            z = bank[torch.randint(len(bank), (len(contexts),), generator=generator)]
        with torch.no_grad():
            return to_uint8_images(model.decode(z))

    return imagine


# ------------------------------------------------------------------------------------ metrics
def agreement(goals: ObjectDetections, contexts: ObjectDetections) -> dict[str, float]:
    """Fractions of all goals: ``consistent`` (colour and shape match), ``color``, ``shape``,
    ``no_object``; and among the goals where an object was found: ``color_if_found``,
    ``shape_if_found`` and ``disc_if_found`` (drawn as a disc, whatever the context's shape; half
    the contexts are discs) (NaN if none was)."""
    found = (goals.color_index >= 0) & (contexts.color_index >= 0)
    color = found & (goals.color_index == contexts.color_index)
    shape = found & (goals.shape == contexts.shape)
    num_found = int(found.sum())
    return {
        "consistent": float(goals.same_object(contexts).mean()),
        "color": float(color.mean()),
        "shape": float(shape.mean()),
        "no_object": float((goals.color_index < 0).mean()),
        "color_if_found": float(color.sum() / num_found) if num_found else float("nan"),
        "shape_if_found": float(shape.sum() / num_found) if num_found else float("nan"),
        "disc_if_found": float((found & (goals.shape == "disc")).sum() / num_found)
        if num_found
        else math.nan,
    }


def group_spread(images: np.ndarray, groups: np.ndarray) -> float:
    """Per-pixel standard deviation (0-255 units) over the images of each group (a colour and
    shape), averaged over pixels and then over groups with at least 2 images: how much imagined
    goals of one scene differ from each other (0 for a model that always draws the same image)."""
    spreads = [
        float(images[groups == g].astype(np.float32).std(0).mean())
        for g in np.unique(groups)
        if (groups == g).sum() > 1
    ]
    return float(np.mean(spreads)) if spreads else float("nan")


def evaluate(
    imagine: Imagine, heldout: Episodes, detected: ObjectDetections, seed: int
) -> tuple[dict[str, Any], np.ndarray]:
    goals = imagine(heldout.context, torch.Generator().manual_seed(seed + 7))
    found = detect_objects(goals)
    groups = heldout.color * 2 + (heldout.shape == "box")
    metrics = agreement(found, detected) | {"goal_spread": group_spread(goals, groups)}
    return metrics, goals


def picture_columns(heldout: Episodes) -> np.ndarray:
    """Indices of held-out contexts for the picture: the first of each (colour, shape), in palette
    order, discs then boxes, at most PICTURE_CONTEXTS."""
    cols = []
    for color in range(int(heldout.color.max()) + 1):
        for shape in ("disc", "box"):
            hits = np.flatnonzero((heldout.color == color) & (heldout.shape == shape))
            if len(hits):
                cols.append(int(hits[0]))
    return np.asarray(cols[:PICTURE_CONTEXTS])


# --------------------------------------------------------------------------------------- seed
def one_seed(args: argparse.Namespace, seed: int) -> tuple[dict[str, Any], dict[str, np.ndarray], np.ndarray]:
    t0 = time.monotonic()
    size = args.image_size
    train = collect(
        args.episodes,
        TRAIN_SEED_BASE * (seed + 1),
        seed,
        with_pairs=True,
        image_size=size,
        goal_contexts=args.goal_contexts,
    )
    heldout = collect(
        args.contexts, HELDOUT_SEED_BASE + 100_000 * seed, seed, with_pairs=False, image_size=size
    )
    assert train.pairs is not None
    pairs = train.pairs
    collect_s = time.monotonic() - t0
    print(
        f"seed {seed}: {len(pairs['image'])} pairs from {args.episodes} episodes ({collect_s:.0f} s)",
        flush=True,
    )

    detected = detect_objects(heldout.context)
    detector = {
        "color": float((detected.color_index == heldout.color).mean()),
        "shape": float((detected.shape == heldout.shape).mean()),
        "both": float(((detected.color_index == heldout.color) & (detected.shape == heldout.shape)).mean()),
    }
    per_episode = len(pairs["image"]) // args.episodes
    real_groups = np.concatenate([train.color * 2 + (train.shape == "box")] * per_episode)
    out: dict[str, Any] = {
        "seed": seed,
        "num_pairs": len(pairs["image"]),
        "detector_on_contexts": detector,
        "real_image_spread": group_spread(pairs["image"], real_groups),
        "collect_seconds": collect_s,
        "models": {},
        "variants": {},
    }
    cols = picture_columns(heldout)
    picture_contexts = np.repeat(heldout.context[cols], PICTURE_GOALS, axis=0)  # (C * G, H, W, 3)
    picture: dict[str, np.ndarray] = {}

    def measure(key: str, imagine: Imagine) -> None:
        metrics, _ = evaluate(imagine, heldout, detected, seed)
        goals = imagine(picture_contexts, torch.Generator().manual_seed(seed + 11))
        picture[key] = goals.reshape(len(cols), PICTURE_GOALS, *goals.shape[1:]).transpose(1, 0, 2, 3, 4)
        out["variants"][key] = metrics
        print(
            f"seed {seed}: {key:20s} consistent {metrics['consistent']:.3f}  colour {metrics['color']:.3f}  "
            f"shape {metrics['shape']:.3f}  no object {metrics['no_object']:.3f}  "
            f"spread {metrics['goal_spread']:.1f}",
            flush=True,
        )

    def train_model(
        name: str, model: torch.nn.Module, data: Any, candidates: Callable[[int], CCVAE] | None = None
    ) -> dict[str, Any]:
        """Fit ``model``; with ``candidates`` (a maker of models by index) instead the best of
        ``--sprite-candidates`` of them after ``--sprite-trial-steps`` (``fit_best_of``), trained on
        in place of ``model``, whose parameters it then takes."""
        start = time.monotonic()
        if candidates is None:
            summary = fit(model, data, fit_config(args, seed), progress=False)
        else:
            best, summary = fit_best_of(
                candidates, data, fit_config(args, seed), args.sprite_candidates, args.sprite_trial_steps,
                progress=False,
            )  # fmt: skip
            model.load_state_dict(best.state_dict())
            model.train(False)
        seconds = time.monotonic() - start
        losses = [row["vae/loss"] for row in summary["history"] if "vae/loss" in row]  # every 100 steps
        info = {
            "seconds": seconds,
            "heldout": summary["heldout"],
            "train": summary["train"],
            "train_loss_every_100_steps": losses,
            # the logged training means (every 100 steps): KL, pixel MSE, where-map entropy, ...
            "history": [
                {k: float(v) for k, v in row.items() if isinstance(v, (int, float))}
                for row in summary["history"]
            ],
        }
        if "candidates" in summary:
            info["candidates_heldout_loss"] = [c["loss"] for c in summary["candidates"]]
            info["chosen_candidate"] = summary["chosen"]
        out["models"][name] = info
        print(f"seed {seed}: {name} trained in {seconds:.0f} s; held-out {summary['heldout']}", flush=True)
        info["train_indices"] = summary["train_indices"]
        return info

    # CC-VAE, the paper's dropout 0.5: as trained, then with its BatchNorm recalibrated
    train_contexts = pairs["context"][split_indices(len(pairs["image"]), 0.05, seed)[0]]  # fit's split
    if not args.skip_dropout05:
        torch.manual_seed(seed)
        ccvae = CCVAE(ccvae_config(args, 0.5))
        info = train_model("ccvae", ccvae, pairs)
        info.pop("train_indices")
        measure("ccvae_raw", ccvae_goals(ccvae))
        info["context_decoder_raw"] = context_decoder_agreement(ccvae, heldout, detected)
        info["recalibration"] = ccvae.recalibrate_context_norm(train_contexts)
        info["context_decoder_recalibrated"] = context_decoder_agreement(ccvae, heldout, detected)
        measure("ccvae_recalibrated", ccvae_goals(ccvae))
        del ccvae

    if not args.skip_dropout0:
        torch.manual_seed(seed)
        ccvae0 = CCVAE(ccvae_config(args, 0.0))
        info = train_model("ccvae_dropout0", ccvae0, pairs)
        info.pop("train_indices")
        info["context_decoder"] = context_decoder_agreement(ccvae0, heldout, detected)
        spread = float(ccvae0.context(train_contexts).std(0).mean().item())
        info["context_spread"] = spread
        measure("ccvae_dropout0", ccvae_goals(ccvae0))
        del ccvae0

    def broadcast_variant(
        key: str, config: CCVAEConfig, swap: bool = False, model: CCVAE | None = None, best_of: bool = False
    ) -> CCVAE:
        """A dropout-0 broadcast CC-VAE: trained (or ``model``, trained before, measured again),
        then its goals from N(0, I) (``key``) and from its training pairs' codes (``key_data``)."""
        if model is None:
            torch.manual_seed(seed)
            model = CCVAE(config)
            data = pairs | {STATE_INPUT: pairs["swapped"]} if swap else pairs

            def candidate(i: int) -> CCVAE:  # candidate 0 starts as the lone fit would
                torch.manual_seed(seed + 1000 * i)
                return CCVAE(config)

            maker = candidate if best_of else None
            info = train_model(key, model, {k: v for k, v in data.items() if k != "swapped"}, maker)
            trained_on[id(model)] = info.pop("train_indices")
        else:
            info = out["models"][key] = {"same model as": next(k for k, v in models.items() if v is model)}
        models[key] = model
        train_idx = trained_on[id(model)]
        info["context_decoder"] = context_decoder_agreement(model, heldout, detected)
        info["reconstruction"] = reconstruction_agreement(model, pairs, train, args.episodes, seed)
        print(f"seed {seed}: {key} reconstructions {info['reconstruction']}", flush=True)
        measure(key, ccvae_goals(model))
        codes = model.encode_mean(pairs["image"][train_idx], pairs["context"][train_idx])
        measure(f"{key}_data", ccvae_goals(model, codes))
        return model

    trained_on: dict[int, np.ndarray] = {}  # id(model) -> its training indices
    models: dict[str, CCVAE] = {}

    if not args.skip_broadcast:
        broadcast_variant("ccvae_broadcast", ccvae_config(args, 0.0, decoder="broadcast"))
    if args.keypoints:
        broadcast_variant(
            "ccvae_keypoints", ccvae_config(args, 0.0, decoder="broadcast", encoder="keypoints")
        )
    if args.swap:
        broadcast_variant("ccvae_swap", ccvae_config(args, 0.0, decoder="broadcast"), swap=True)
    if args.every_layer:
        config = dataclasses.replace(ccvae_config(args, 0.0, decoder="broadcast"), context_every_layer=True)
        broadcast_variant("ccvae_every", config, swap=True)
    if args.outline_weight:
        broadcast_variant("ccvae_outline", outline_config(args), swap=True)
    if args.gradient_weight:
        broadcast_variant("ccvae_gradient", gradient_config(args), swap=True)
    if args.full_broadcast:
        broadcast_variant("ccvae_full", full_config(args), swap=True)
    if args.sprite:
        sprite = broadcast_variant(
            "ccvae_sprite", sprite_config(args), swap=True, best_of=args.sprite_candidates > 1
        )
        sprite.decoder.mode = True  # the same model, each where-map reduced to its mode
        broadcast_variant("ccvae_sprite_mode", sprite_config(args), swap=True, model=sprite)
        sprites_picture(sprite, heldout.context[cols], args.out, seed)

    if args.paper_beta:
        torch.manual_seed(seed)
        paper = CCVAE(ccvae_config(args, 0.5, paper_beta=True))
        info = train_model("ccvae_paper_beta", paper, pairs)
        info.pop("train_indices")
        info["recalibration"] = paper.recalibrate_context_norm(train_contexts)
        measure("ccvae_paper_beta", ccvae_goals(paper))
        del paper

    if not args.skip_vae:
        torch.manual_seed(seed)
        vae = BetaVAE(vae_config(args))
        info = train_model("vae", vae, pairs["image"])
        bank = vae.encode_mean(pairs["image"][info.pop("train_indices")])
        measure("vae_standard", vae_goals(vae, None))
        measure("vae_data", vae_goals(vae, bank))
    out["seconds"] = time.monotonic() - t0
    return out, picture, heldout.context[cols]


def sprites_picture(model: CCVAE, contexts: np.ndarray, out: str, seed: int) -> None:
    """``runs/consistency/<out>_seed<N>_sprites.png`` (not a results file): for each context (a
    column), each sprite of the sprite decoder (a row per layer) over mid grey, enlarged 4x, and the
    model's weights beside it (``..._sprite.pt``), for a closer look."""
    folder = Path("runs/consistency")
    folder.mkdir(parents=True, exist_ok=True)
    model.eval()
    with torch.no_grad():
        rgb, alpha = model.decoder.sprites(model.context(contexts))  # (C, L, 3, S, S), (C, L, 1, S, S)
    tiles = (rgb * alpha + (1 - alpha) * 0.5).transpose(0, 1)  # (L, C, 3, S, S)
    rows = np.stack([to_uint8_images(layer) for layer in tiles])  # (L, C, S, S, 3)
    save_png(folder / f"{out}_seed{seed}_sprites.png", image_grid(rows, upscale=4))
    torch.save(model.state_dict(), folder / f"{out}_seed{seed}_sprite.pt")


def reconstruction_agreement(
    model: CCVAE, pairs: dict[str, np.ndarray], train: Episodes, episodes: int, seed: int, limit: int = 2000
) -> dict[str, float]:
    """Held-out pairs (fit's 5%, at most ``limit``): the fraction whose real s_t the detector reads
    as the episode's object (``real_*``), and whose reconstruction decode(mu(s_t, s_0), z_c(s_0))
    it does (``*``), for all pairs and split by where s_t comes from: the walk from the start
    (object near its start place) or from the goal state (object elsewhere). Tells a decoder that
    cannot draw the object away from its start from goals whose codes miss."""
    held = split_indices(len(pairs["image"]), 0.05, seed)[1][:limit]
    episode = held % episodes
    from_start = (held // episodes) % (START_PAIRS + GOAL_PAIRS) < START_PAIRS
    with torch.no_grad():
        codes = model.encode_mean(pairs["image"][held], pairs["context"][held])
        recon = to_uint8_images(model.decode(codes, model.context(pairs["context"][held])))
    out = {}
    for name, images in (("real", pairs["image"][held]), ("reconstruction", recon)):
        found = detect_objects(images)
        ok = (found.color_index == train.color[episode]) & (found.shape == train.shape[episode])
        out[name] = float(ok.mean())
        out[f"{name}_from_start"] = float(ok[from_start].mean())
        out[f"{name}_from_goal_state"] = float(ok[~from_start].mean())
    out["effector"] = float(effector_agreement(pairs["image"][held], recon).mean())
    return out


EFFECTOR_DARK = 100  # the effector (35, 35, 40) is the only body with every channel below this


def effector_agreement(
    real: np.ndarray, drawn: np.ndarray, pixels: int = 3, within: float = 2.0
) -> np.ndarray:
    """(N,) bool: ``drawn`` (N, H, W, 3) uint8 shows the effector where ``real`` does: at least
    ``pixels`` dark pixels (every channel below EFFECTOR_DARK; the table and the palette's colours
    all have a channel above it), whose centroid is within ``within`` pixels of the real image's. A
    decoder that lost the effector (or smeared it) fails it, though its objects may be right."""

    def centroid(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dark = (images < EFFECTOR_DARK).all(axis=-1)  # (N, H, W)
        count = dark.sum(axis=(1, 2))
        rows, cols = np.indices(dark.shape[1:])
        safe = np.maximum(count, 1)
        centre = np.stack(
            [(dark * rows).sum(axis=(1, 2)) / safe, (dark * cols).sum(axis=(1, 2)) / safe], axis=1
        )
        return count, centre

    (n_real, c_real), (n_drawn, c_drawn) = centroid(real), centroid(drawn)
    close = np.linalg.norm(c_real - c_drawn, axis=1) <= within
    return (n_real >= pixels) & (n_drawn >= pixels) & close


def context_decoder_agreement(
    model: CCVAE, heldout: Episodes, detected: ObjectDetections
) -> dict[str, float]:
    """The context decoder's image of s_0 from eval-mode z_c, checked against s_0 like a goal."""
    with torch.no_grad():
        images = to_uint8_images(model.decode_context(model.context(heldout.context)))
    return agreement(detect_objects(images), detected)


# -------------------------------------------------------------------------------------- report
def late_drop(model: dict[str, Any]) -> float:
    """Relative change of the mean training loss over the last 10 logged points (1,000 steps)
    against the 10 before; NaN for shorter runs."""
    losses = model["train_loss_every_100_steps"]
    if len(losses) < 20:
        return math.nan
    return statistics.mean(losses[-10:]) / statistics.mean(losses[-20:-10]) - 1.0


def mean_sd(values: list[float]) -> str:
    if any(math.isnan(v) for v in values):
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} +- {sd:.3f}"


def save_picture(path: Path, picture: dict[str, np.ndarray], contexts: np.ndarray, keys: list[str]) -> None:
    """Top row the contexts; below, for each model in ``keys``, PICTURE_GOALS rows of its imagined
    goals for the context above (a white gap between models)."""
    blocks = [image_grid(contexts[None], upscale=2)]
    for key in keys:
        blocks.append(image_grid(picture[key], upscale=2))
    width = blocks[0].shape[1]
    gap = np.full((10, width, 3), 255, dtype=np.uint8)
    sheet = np.concatenate([part for block in blocks for part in (block, gap)][:-1])
    save_png(path, sheet)


def dropout_section(per_seed: list[dict[str, Any]], mean_of: Callable[[str, str], float]) -> list[str]:
    """The dropout / BatchNorm study: needs the dropout-0.5 CC-VAE (``ccvae``) in every seed."""
    lines = [
        "",
        "## The dropout / BatchNorm problem",
        "",
        "The context code z_c = BatchNorm(linear(dropout(conv(s_0)))). Training normalises with batch "
        "statistics of dropout-noisy codes; the running statistics eval mode uses hold their (larger) "
        "variance, so eval-mode z_c from clean codes is squeezed towards the mean. Fixes measured: "
        "`CCVAE.recalibrate_context_norm` (after training, one pass over the training contexts without "
        "dropout sets the running mean and variance to the clean codes' exact statistics; nothing else "
        "changes), and training with dropout 0.",
        "",
        "| seed | z_c spread, eval, as trained | after recalibration | dropout 0 "
        "| context decoder consistent: as trained / recalibrated / dropout 0 |",
        "|---:|---:|---:|---:|---|",
    ]
    for r in per_seed:
        c = r["models"]["ccvae"]
        d0 = r["models"].get("ccvae_dropout0", {})
        recal = c["recalibration"]
        lines.append(
            f"| {r['seed']} | {recal['spread_before']:.3f} | {recal['spread_after']:.3f} "
            f"| {d0.get('context_spread', float('nan')):.3f} "
            f"| {c['context_decoder_raw']['consistent']:.3f} / "
            f"{c['context_decoder_recalibrated']['consistent']:.3f} / "
            f"{d0.get('context_decoder', {}).get('consistent', float('nan')):.3f} |"
        )
    lines += [
        "",
        "z_c spread: eval-mode z_c's standard deviation over the training contexts, averaged over its "
        "4 dimensions (in training mode BatchNorm makes it the mean |scale| of its affine map). Context "
        "decoder consistent: the context decoder's image of s_0 from eval-mode z_c, checked against s_0 "
        "like a goal.",
        "",
        "Imagined goals consistent, mean over seeds: dropout 0.5 as trained "
        f"{mean_of('ccvae_raw', 'consistent'):.3f}, recalibrated "
        f"{mean_of('ccvae_recalibrated', 'consistent'):.3f}, dropout 0 "
        f"{mean_of('ccvae_dropout0', 'consistent'):.3f}. Recalibration undoes a collapse of the running "
        "statistics where there is one (in three shorter scratch runs, 400 to 2,000 steps, it raised the "
        "eval-mode z_c spread from 0.002-0.004 to 0.66-0.91); it cannot undo decoders trained on "
        "dropout-noisy codes, which dropout 0 avoids.",
    ]
    return lines


def report(
    args: argparse.Namespace, per_seed: list[dict[str, Any]], seconds: float, meta: dict[str, Any]
) -> str:
    keys = [k for k, _, m in VARIANTS if all(k in r["variants"] for r in per_seed)]
    labels = {k: label for k, label, _ in VARIANTS}
    rates = [c for c in RATES if all(c in r["variants"][k] for r in per_seed for k in keys)]  # older runs
    schedule = ", cosine decay to 5%" if getattr(args, "lr_schedule", "constant") == "cosine" else ""
    size = args.image_size
    beta = getattr(args, "beta", 1.0)  # results written before --beta existed used 1
    lines = [
        f"# CC-RIG: do imagined goals keep their context's object? (ColorPush, {size}x{size})",
        "",
        *provenance_lines(meta),
        f"- wall-clock: {seconds / 60:.1f} minutes for {len(per_seed)} seeds, one process, one torch thread",
        "",
        f"Data per seed: {args.episodes:,} ColorPush episodes (training env seeds never used for the "
        f"contexts), each giving s_0 and {START_PAIRS + GOAL_PAIRS} later images s_t: {START_PAIRS} after "
        f"U{{1..{MAX_RANDOM_STEPS}}} random actions from the start, {GOAL_PAIRS} after setting the episode's "
        f"random goal state and U{{0..{MAX_RANDOM_STEPS}}} random actions (CC-RIG's recipe)"
        + (
            "; every s_t paired twice, with s_0 and with the episode's goal-state image as context "
            "(`--goal-contexts`: contexts show the object at many places)"
            if getattr(args, "goal_contexts", False)
            else ""
        )
        + f"; {per_seed[0]['num_pairs']:,} pairs, 5% held out by fit. Every model: {args.steps:,} Adam "
        f"steps of {args.batch_size} (lr {args.lr:g}{schedule}), KL weight 0 -> {beta:g} over the first "
        f"{args.warmup:,} steps. "
        "CC-VAE: the paper's network (context dropout 0.5, latent 6, context 4, RIG decoder, w = 1, "
        "sum-reduced Bernoulli likelihood) with the plain VAE's KL weight instead of the paper's "
        "1 -> 50, which collapsed z_t on these images (in a scratch run, seed 9, 1,500 steps of 32 at lr "
        "3e-3: held-out KL 0.008 nats, no object in any imagined goal; `--paper-beta` adds that model). "
        + (
            "CC-VAE, broadcast decoder: dropout 0 and the spatial broadcast decoder, as CC-RIG's presets "
            "(methods/rig.py). "
            if "ccvae_broadcast" in keys
            else ""
        )
        + (
            f"VAE: RIG's preset (beta {beta:g}, latent 8, broadcast decoder), on the same s_t."
            if any(k.startswith("vae_") for k in keys)
            else "No plain VAE in this run (`--skip-vae`)."
        )
        + (
            " The outlines-weighted model's decoder gets z_c at every layer (`--outline-every-layer`)."
            if getattr(args, "outline_every_layer", False)
            else ""
        )
        + (
            f" The outlines-weighted model's state decoder is {args.outline_channels} channels wide "
            "(`--outline-channels`; the broadcast decoder's own: 64)."
            if getattr(args, "outline_channels", 64) != 64
            else ""
        )
        + (
            f" The outlines-weighted model's s_t (and what its state encoder reads) are shifted in "
            f"training by a random whole-pixel offset of up to {args.outline_shift} pixels on each axis, "
            "border pixels repeated (`--outline-shift`)."
            if getattr(args, "outline_shift", 0)
            else ""
        ),
        "",
        f"Goals: one per context for {args.contexts:,} contexts s_0 of held-out episodes. Consistent = "
        "`detect_objects` finds an object of the context's colour and shape in the goal. Note that "
        "ColorPush starts every episode at the same positions, so its contexts differ only in the "
        "object's colour (6) and shape (2): 12 distinct context images, which training sees too.",
        "",
        "| model | seed | " + " | ".join(RATE_LABELS[c] for c in rates) + " | goal spread |",
        "|---|---:|" + "---:|" * (len(rates) + 1),
    ]
    for key in keys:
        for r in per_seed:
            m = r["variants"][key]
            cells = " | ".join(f"{m[c]:.3f}" for c in rates)
            lines.append(f"| {labels[key]} | {r['seed']} | {cells} | {m['goal_spread']:.1f} |")
        means = [mean_sd([r["variants"][key][c] for r in per_seed]) for c in rates]
        spread = statistics.mean(r["variants"][key]["goal_spread"] for r in per_seed)
        lines.append(f"| **{labels[key]}** | mean +- sd | " + " | ".join(means) + f" | {spread:.1f} |")
    # every CC-VAE variant but the paper's raw and paper-beta models competes for "best"
    ccvae_keys = [k for k in keys if k.startswith("ccvae_") and k not in ("ccvae_raw", "ccvae_paper_beta")]
    best_key = max(
        ccvae_keys, key=lambda k: statistics.mean(r["variants"][k]["consistent"] for r in per_seed)
    )
    best = statistics.mean(r["variants"][best_key]["consistent"] for r in per_seed)
    vae_keys = [k for k in keys if k.startswith("vae_")]  # none with --skip-vae
    vae_means = [statistics.mean(r["variants"][k]["consistent"] for r in per_seed) for k in vae_keys]
    vae_best = max(vae_means, default=math.nan)
    chance = 1 / 12

    def mean_of(key: str, metric: str) -> float:
        if key not in keys or any(metric not in r["variants"][key] for r in per_seed):
            return math.nan
        return statistics.mean(r["variants"][key][metric] for r in per_seed)

    lines += [
        "",
        "Goal spread: per-pixel standard deviation (0-255) over the goals imagined for contexts of one "
        "colour and shape, averaged over pixels and the 12 scenes: a model that copied its context "
        "would score 0. The real s_t images score "
        + ", ".join(f"{r['real_image_spread']:.1f}" for r in per_seed)
        + " (seed by seed).",
        "",
        f"Target (CC-VAE >= {TARGET:.0%} consistent, far above the plain VAE): best CC-VAE "
        f"({labels[best_key]}) {best:.3f} vs. best plain VAE {vae_best:.3f} "
        + (
            "(not checked: no plain VAE in this run)."
            if math.isnan(vae_best)
            else "(met)."
            if best >= TARGET and best - vae_best >= 0.3
            else "(NOT met)."
        )
        + f" A goal that ignores its context matches by chance about {chance:.3f} of the time "
        "(6 colours x 2 shapes, uniform); colour alone 1/6, shape alone 1/2 of the goals with an object.",
        "",
        "## Reading",
        "",
        f"Where the detector finds an object in a goal, its colour is the context's in "
        f"{mean_of(best_key, 'color_if_found'):.0%} of the goals of the {labels[best_key]} against "
        f"{mean_of('vae_data', 'color_if_found'):.0%} (data prior) and "
        f"{mean_of('vae_standard', 'color_if_found'):.0%} (N(0, I)) for the plain VAE (chance 1/6); "
        f"its shape in {mean_of(best_key, 'shape_if_found'):.0%} against "
        f"{mean_of('vae_data', 'shape_if_found'):.0%} and "
        f"{mean_of('vae_standard', 'shape_if_found'):.0%} (chance 1/2). "
        f"{mean_of(best_key, 'no_object'):.0%} of that CC-VAE's goals show no object the detector accepts "
        "(pixels at least half covered by a palette colour)"
        + (
            f"; of those with one, {mean_of(best_key, 'disc_if_found'):.0%} are drawn as discs (half the "
            "contexts are discs)."
            if not math.isnan(mean_of(best_key, "disc_if_found"))
            else "."
        ),
        "",
        f"- Shape at {size}x{size}: ColorPush's disc (radius {3.6 * size / 48:.1f} pixels) and box "
        f"(half-side {3.1 * size / 48:.1f} pixels) have about "
        "the same area and differ in a few edge pixels; the detector calls a shape a box when its pixels "
        "fill at least 90% of their bounding box, so a decoder that draws a disc's four outermost pixels "
        "just under half strength draws a box. In a scratch run at 48x48 (dropout 0, 3,000 steps of 32 "
        "at lr 3e-3, seed 0) the context decoder drew all 6 disc contexts as boxes while its pixel MSE "
        "on them was about 2e-4 (1e-4 on the boxes): the shape is worth very little likelihood, and is "
        "learnt late.",
        "- Objects: the picture shows objects at the start position (where a third of the s_t have "
        "them) drawn sharply and objects elsewhere still blurred, which the detector does not accept. "
        "Training loss, mean of the last 1,000 steps relative to the 1,000 before (per seed, "
        + ", ".join(f"{name}" for name, m in per_seed[0]["models"].items() if "heldout" in m)
        + "): "
        + "; ".join(
            ", ".join(f"{late_drop(m):+.1%}" for m in r["models"].values() if "heldout" in m)
            for r in per_seed
        )
        + ". Near 0: the loss had flattened at this learning rate, though details worth as little "
        "likelihood as the shape above can still change under a flat loss (in a scratch run, dropout 0, "
        "seed 0, 500 contexts, fit restarted every 1,000 steps: consistency 0.30 at 3,000 steps, 0.41 "
        "at 5,000, 0.38-0.41 up to 8,000). "
        + (
            "Many more images (the paper used 100,000) are untested."
            if "ccvae_broadcast" in keys and schedule
            else "A decaying learning rate (`--lr-schedule cosine`), many more images (the paper used "
            "100,000) or the broadcast decoder for the CC-VAE (about 2.5 times the cost per step here) "
            "are untested."
        ),
    ]
    if all("ccvae" in r["models"] for r in per_seed):
        lines += dropout_section(per_seed, mean_of)
    lines += [
        "",
        "## Sanity: the detector on the real contexts",
        "",
        "| seed | colour right | shape right | both |",
        "|---:|---:|---:|---:|",
    ]
    for r in per_seed:
        d = r["detector_on_contexts"]
        lines.append(f"| {r['seed']} | {d['color']:.3f} | {d['shape']:.3f} | {d['both']:.3f} |")
    recon = [
        (r["seed"], k, m["reconstruction"])
        for r in per_seed
        for k, m in r["models"].items()
        if "reconstruction" in m
    ]
    if recon:
        lines += [
            "",
            "## Reconstructions of held-out pairs",
            "",
            "fit's held-out pairs (at most 2,000): the fraction whose real s_t the detector reads as the "
            "episode's object, and the fraction whose reconstruction decode(mu(s_t, s_0), z_c(s_0)) it "
            "does; split by where s_t comes from (the walk from the start: object near its start place; "
            "from the goal state: object elsewhere).",
            "",
            "| seed | model | real s_t | from start | from goal state | reconstruction | from start "
            "| from goal state | effector drawn |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {seed} | {key} | {m['real']:.3f} | {m['real_from_start']:.3f} | "
            f"{m['real_from_goal_state']:.3f} | {m['reconstruction']:.3f} | "
            f"{m['reconstruction_from_start']:.3f} | {m['reconstruction_from_goal_state']:.3f} | "
            + (f"{m['effector']:.3f} |" if "effector" in m else "- |")
            for seed, key, m in recon
        ]
        lines += [
            "",
            "Effector drawn: the reconstruction has the effector's dark pixels (at least 3, every channel "
            f"below {EFFECTOR_DARK}) with their centroid within 2 pixels of the real s_t's.",
        ]
    lines += [
        "",
        "## Training",
        "",
        "| seed | model | seconds | held-out loss | held-out KL | held-out pixel MSE | maps as modes from |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in per_seed:
        for name, m in r["models"].items():
            if "same model as" in m:  # measured again (e.g. the sprite decoder's modes): no training
                continue
            h = m["heldout"]
            lines.append(
                f"| {r['seed']} | {name} | {m['seconds']:.0f} | {h.get('loss', float('nan')):.1f} "
                f"| {h.get('kl', float('nan')):.2f} | {h.get('pixel_mse', float('nan')):.5f} "
                f"| {straight_through_from(m.get('history', []))} |"
            )
    lines += [
        "",
        "Maps as modes from: the first logged step (every 100) at which the sprite decoder drew its "
        "where-maps as their modes in training (straight-through); '-' never or not a sprite decoder.",
    ]
    for r in per_seed:
        for name, m in r["models"].items():
            if "candidates_heldout_loss" in m:
                losses = ", ".join(f"{x:.1f}" for x in m["candidates_heldout_loss"])
                lines.append(
                    f"\nSeed {r['seed']}, {name}: best of {len(m['candidates_heldout_loss'])} starts "
                    f"(`fit_best_of`: initialisation seed + 1000 i), held-out losses after "
                    f"{args.sprite_trial_steps} steps {losses}; start {m['chosen_candidate']} kept and "
                    "trained on (its seconds above include every start)."
                )
    picture_keys = [k for k in PICTURE_KEYS if k in keys]
    lines += [
        "",
        "## Picture",
        "",
        f"`{args.out}.png` (seed {per_seed[0]['seed']}): the top row holds one held-out context per "
        f"colour and shape; below it, separated by white gaps, {PICTURE_GOALS} rows of imagined goals for "
        "the context above from each model in turn: " + "; ".join(labels[k] for k in picture_keys) + ".",
        "",
    ]
    return "\n".join(lines)


def beta_of(settings: dict[str, Any]) -> float:
    """``--beta`` of a run: the plain VAE's KL weight, or (``--skip-vae``) that of any CC-VAE variant
    but the paper-beta one (they share it)."""
    if settings.get("vae"):
        return float(settings["vae"]["beta"])
    return float(
        next(
            value["beta_end"]
            for key, value in settings.items()
            if key.startswith("ccvae") and key != "ccvae_paper_beta" and isinstance(value, dict)
        )
    )


def rewrite_report(out: str) -> None:
    """results/<out>.md again from results/<out>.json (the run's own provenance and numbers), after a
    change of the report's text."""
    payload = json.loads((RESULTS / f"{out}.json").read_text())
    settings = payload["settings"]
    args = argparse.Namespace(
        episodes=settings["train_episodes"],
        contexts=settings["heldout_contexts"],
        steps=settings["fit"]["num_steps"],
        batch_size=settings["fit"]["batch_size"],
        lr=settings["fit"]["lr"],
        warmup=next(  # any CC-VAE variant's: they share it
            value["beta_ramp_steps"]
            for key, value in settings.items()
            if key.startswith("ccvae") and isinstance(value, dict)
        ),
        lr_schedule=settings["fit"].get("lr_schedule", "constant"),
        image_size=settings.get("image_size", IMAGE_SIZE),
        beta=beta_of(settings),
        goal_contexts=settings.get("goal_contexts", False),
        outline_every_layer=bool((settings.get("ccvae_outline") or {}).get("context_every_layer")),
        outline_channels=int((settings.get("ccvae_outline") or {}).get("decoder_channels", 64)),
        outline_shift=int((settings.get("ccvae_outline") or {}).get("shift_augment", 0)),
        sprite_outline_weight=float((settings.get("ccvae_sprite") or {}).get("outline_weight", 0.0)),
        sprite_entropy_weight=float((settings.get("ccvae_sprite") or {}).get("where_entropy_weight", 0.0)),
        sprite_straight_through_from=int(
            (settings.get("ccvae_sprite") or {}).get("where_straight_through_start", 0)
        )
        / settings["fit"]["num_steps"],
        sprite_split_gradients=bool((settings.get("ccvae_sprite") or {}).get("where_split_gradients", False)),
        sprite_straight_through_mse=float(
            (settings.get("ccvae_sprite") or {}).get("where_straight_through_mse", 0.0)
        ),
        sprite_fixed=int((settings.get("ccvae_sprite") or {}).get("sprite_fixed", 0)),
        sprite_entropy_from=int((settings.get("ccvae_sprite") or {}).get("where_entropy_start", 0) or 0)
        / settings["fit"]["num_steps"]
        or 0.5,
        sprite_candidates=int(settings.get("sprite_candidates", 1)),
        sprite_trial_steps=int(settings.get("sprite_trial_steps", 1000)),
        out=out,
    )
    markdown = report(args, payload["per_seed"], payload["wall_clock_seconds"], payload["provenance"])
    atomic.write_text(RESULTS / f"{out}.md", markdown)
    print(markdown)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--episodes", type=int, default=4000, help="training episodes per seed")
    parser.add_argument("--contexts", type=int, default=1000, help="held-out contexts (one goal each)")
    parser.add_argument("--steps", type=int, default=6000, help="gradient steps of every model")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument(
        "--image-size", type=int, choices=[48, 84], default=IMAGE_SIZE, help="side of every image (pixels)"
    )
    parser.add_argument("--warmup", type=int, default=1000, help="KL warm-up steps of both models")
    parser.add_argument(
        "--beta", type=float, default=1.0, help="KL weight after the warm-up (all but the paper-beta model)"
    )
    parser.add_argument(
        "--paper-beta", action="store_true", help="also a CC-VAE with the paper's beta 1 -> 50 over the run"
    )
    parser.add_argument("--skip-dropout0", action="store_true", help="do not train the dropout-0 CC-VAE")
    parser.add_argument(
        "--skip-dropout05", action="store_true", help="do not train the paper's dropout-0.5 CC-VAE"
    )
    parser.add_argument(
        "--skip-broadcast", action="store_true", help="do not train the broadcast-decoder CC-VAE"
    )
    parser.add_argument(
        "--skip-vae", action="store_true", help="do not train the plain VAE (tuning runs: no target check)"
    )
    parser.add_argument(
        "--keypoints",
        action="store_true",
        help="also a CC-VAE with the keypoint state encoder (dropout 0, broadcast decoder)",
    )
    parser.add_argument(
        "--swap",
        action="store_true",
        help="also a CC-VAE whose state encoder reads s_t drawn with another episode's objects",
    )
    parser.add_argument(
        "--every-layer",
        action="store_true",
        help="also a swapped-appearance CC-VAE whose decoder gets z_c at every layer",
    )
    parser.add_argument(
        "--outline-weight",
        type=float,
        default=0.0,
        help="also a swapped-appearance CC-VAE whose likelihood weighs outline pixels 1 + this (0: none)",
    )
    parser.add_argument(
        "--outline-every-layer",
        action="store_true",
        help="the --outline-weight model's decoder gets z_c at every layer",
    )
    parser.add_argument(
        "--outline-channels",
        type=int,
        default=64,
        help="width of the --outline-weight model's state decoder (64: the broadcast decoder's own)",
    )
    parser.add_argument(
        "--outline-shift",
        type=int,
        default=0,
        help="the --outline-weight model's s_t shifted by up to this many pixels in training (0: none)",
    )
    parser.add_argument(
        "--goal-contexts",
        action="store_true",
        help="pair every s_t also with its episode's goal-state image as context (twice the pairs)",
    )
    parser.add_argument(
        "--full-broadcast",
        action="store_true",
        help="also a swapped-appearance CC-VAE whose state decoder broadcasts at full resolution",
    )
    parser.add_argument(
        "--full-outline-weight",
        type=float,
        default=0.0,
        help="the --full-broadcast model's outline weight (0: none; independent of --outline-weight)",
    )
    parser.add_argument(
        "--sprite",
        action="store_true",
        help="also a swapped-appearance CC-VAE whose state decoder draws the object from z_c as a sprite",
    )
    parser.add_argument(
        "--sprite-outline-weight",
        type=float,
        default=0.0,
        help="the --sprite model's outline weight (0: none; independent of --outline-weight)",
    )
    parser.add_argument(
        "--sprite-entropy-weight",
        type=float,
        default=0.0,
        help="the --sprite model's where-map entropy weight, ramped in over the second half (0: none)",
    )
    parser.add_argument(
        "--sprite-entropy-from",
        type=float,
        default=0.5,
        help="the entropy weight's ramp starts at this fraction of the steps and ends at twice it",
    )
    parser.add_argument(
        "--sprite-straight-through",
        dest="sprite_straight_through_from",
        action="store_const",
        const=0.5,
        default=0.0,
        help="the --sprite model draws each where-map's mode in training from half-way (straight-through)",
    )
    parser.add_argument(
        "--sprite-straight-through-from",
        type=float,
        default=0.0,
        help="the same from this fraction of the steps on (0: never)",
    )
    parser.add_argument(
        "--sprite-straight-through-mse",
        type=float,
        default=0.0,
        help="and only once the running training pixel MSE of s_t is below this (0: no wait)",
    )
    parser.add_argument(
        "--sprite-split-gradients",
        action="store_true",
        help="once straight-through: sprites learn from the mode-drawn picture, maps from the soft one",
    )
    parser.add_argument(
        "--sprite-candidates",
        type=int,
        default=1,
        help="the --sprite model: start this many (initialisations seed + 1000 i) and keep the one with the "
        "lowest held-out loss after --sprite-trial-steps (1: one fit)",
    )
    parser.add_argument("--sprite-trial-steps", type=int, default=1000, help="see --sprite-candidates")
    parser.add_argument(
        "--sprite-fixed",
        type=int,
        default=0,
        help="the --sprite model's sprites that ignore z_c (1: the effector, the same in every scene)",
    )
    parser.add_argument(
        "--gradient-weight",
        type=float,
        default=0.0,
        help="also a swapped-appearance CC-VAE with this weight on the image-gradient term (0: none)",
    )
    parser.add_argument(
        "--lr-schedule", choices=["constant", "cosine"], default="constant", help="of every model's fit"
    )
    parser.add_argument("--out", default="ccrig_consistency", help="results/<out>.{md,json,png}")
    parser.add_argument("--no-write", action="store_true", help="scratch: picture to /tmp only")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite results/<out>.md from <out>.json, no training"
    )
    args = parser.parse_args()
    if args.report_only:
        rewrite_report(args.out)
        return
    torch.set_num_threads(1)
    start = time.monotonic()
    per_seed, pictures = [], []
    for seed in args.seeds:
        result, picture, contexts = one_seed(args, seed)
        per_seed.append(result)
        pictures.append((picture, contexts))
    seconds = time.monotonic() - start
    meta = provenance()
    markdown = report(args, per_seed, seconds, meta)
    payload = {
        "target": f"CC-VAE consistent >= {TARGET:.0%} of imagined goals, far above the plain VAE",
        "seeds": args.seeds,
        "per_seed": per_seed,
        "mean": {
            key: {
                c: statistics.mean(r["variants"][key][c] for r in per_seed) for c in (*RATES, "goal_spread")
            }
            for key, _, _ in VARIANTS
            if all(key in r["variants"] for r in per_seed)
        },
        "settings": {
            "env": ENV,
            "image_size": args.image_size,
            "train_episodes": args.episodes,
            "pairs_per_episode": {"from_start": START_PAIRS, "from_goal_state": GOAL_PAIRS},
            "goal_contexts": args.goal_contexts,
            "max_random_steps": MAX_RANDOM_STEPS,
            "heldout_contexts": args.contexts,
            "fit": dataclasses.asdict(fit_config(args, 0)) | {"seed": "the run's seed"},
            "sprite_candidates": args.sprite_candidates,
            "sprite_trial_steps": args.sprite_trial_steps,
            "ccvae": None if args.skip_dropout05 else dataclasses.asdict(ccvae_config(args, 0.5)),
            "ccvae_dropout0": None if args.skip_dropout0 else dataclasses.asdict(ccvae_config(args, 0.0)),
            "ccvae_broadcast": (
                None
                if args.skip_broadcast
                else dataclasses.asdict(ccvae_config(args, 0.0, decoder="broadcast"))
            ),
            "ccvae_keypoints": (
                dataclasses.asdict(ccvae_config(args, 0.0, decoder="broadcast", encoder="keypoints"))
                if args.keypoints
                else None
            ),
            "ccvae_swap": (
                dataclasses.asdict(ccvae_config(args, 0.0, decoder="broadcast")) if args.swap else None
            ),
            "ccvae_every": (
                dataclasses.asdict(ccvae_config(args, 0.0, decoder="broadcast"))
                | {"context_every_layer": True}
                if args.every_layer
                else None
            ),
            "ccvae_outline": dataclasses.asdict(outline_config(args)) if args.outline_weight else None,
            "ccvae_gradient": dataclasses.asdict(gradient_config(args)) if args.gradient_weight else None,
            "ccvae_full": dataclasses.asdict(full_config(args)) if args.full_broadcast else None,
            "ccvae_sprite": dataclasses.asdict(sprite_config(args)) if args.sprite else None,
            "ccvae_paper_beta": (
                dataclasses.asdict(ccvae_config(args, 0.5, paper_beta=True)) if args.paper_beta else None
            ),
            "vae": None if args.skip_vae else dataclasses.asdict(vae_config(args)),
            "torch_threads": 1,
        },
        "wall_clock_seconds": seconds,
        "provenance": meta,
    }
    keys = [k for k in PICTURE_KEYS if k in pictures[0][0]]
    if args.no_write:  # a scratch run: only its picture, outside the repository
        save_picture(Path(tempfile.gettempdir()) / f"{args.out}_scratch.png", *pictures[0], keys)
    else:
        write_results(args.out, payload, markdown)
        save_picture(RESULTS / f"{args.out}.png", *pictures[0], keys)
    print(markdown)


if __name__ == "__main__":
    main()
