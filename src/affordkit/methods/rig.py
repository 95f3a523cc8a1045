"""RIG: reinforcement learning with imagined goals (Nair, Pong et al., NeurIPS 2018).

The algorithm box, one function per phase, with artifacts between phases:

1. ``collect_vae_data``: images from random actions after resetting to random goal states.
2. ``train_vae``: a beta-VAE on those images (`affordkit.generative.vae`).
3. ``make_prior``: the goal prior: N(0, I) or the per-dimension Gaussian fitted to the encodings.
4. ``train_policy``: TD3 on latents [mu(s), z_g] with imagined goals z_g from the prior for
   exploration, rollout / prior / future relabeling and the latent-distance reward recomputed for
   every relabeled goal; the VAE optionally fine-tuned on a schedule, each time followed by an
   explicit re-encoding of the stored latents.
5. ``evaluate``: goals given as images rendered by the env and encoded by the VAE; success and
   final distances measured in the env's state space.

CC-RIG (Nair, Bahl, Khazatsky et al., CoRL 2019) is a configuration of the same pipeline
(``latent_model = "ccvae"``, presets ``ccrig*``): the VAE data are (s_0, s_t) pairs of one episode,
the model is the context-conditioned VAE (`affordkit.generative.cc_vae`), the policy sees
[mu(s_t, s_0), z_c] with z_c = e_0(s_0) of the episode's first image, imagined goals are
[z_g ~ N(0, I), z_c] (the context of the episode the goal is for, also when relabeling), and the
encoder stays frozen during RL.

``run`` wires the phases into a run folder with checkpoints between episodes, so ``--resume``
continues exactly; ``RIGAgent`` holds the state that moves between phases and into checkpoints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tqdm import tqdm

from affordkit import atomic
from affordkit.algos.noise import (
    ExplorationNoise,
    GaussianNoiseConfig,
    OUNoiseConfig,
    make_noise,
    noisy_action,
)
from affordkit.algos.td3 import TD3, TD3Config
from affordkit.algos.td3_pixels import PixelTD3
from affordkit.algos.td3_pixels_seeds import PixelTD3Seeds, PixelTD3SeedView
from affordkit.algos.td3_seeds import TD3Seeds, TD3SeedView
from affordkit.data import EpisodeReplay, FieldSpec
from affordkit.device import resolve_device
from affordkit.envs import make_vector_env, resolve
from affordkit.errors import ConfigError
from affordkit.generative import (
    CCVAE,
    BetaVAE,
    CCVAEConfig,
    FitConfig,
    VAEConfig,
    fit,
    fitted_prior,
    standard_normal_prior,
)
from affordkit.generative.cc_vae import STATE_INPUT
from affordkit.generative.priors import EmpiricalPrior, GoalPrior, prior_from_state_dict
from affordkit.logging import RunLogger, image_grid, make_run_dir
from affordkit.loops import checkpoint
from affordkit.loops.evaluate import EvalResult, evaluate_on_goal_images
from affordkit.loops.rollout import EpisodeBatch, run_episodes_together
from affordkit.methods.seeds import SeedTeam, agents_together, seed_configs, seed_folders, write_seeds_summary
from affordkit.networks import to_uint8_images
from affordkit.networks.conv import ImageGoalEncoder
from affordkit.networks.fast import linear_description
from affordkit.relabel import (
    PRIOR,
    GoalMix,
    distance_reward,
    goal_conditioned_batch,
    reencode,
    relabel,
    relabel_fields,
    sparse_threshold,
)
from affordkit.relabel.rewards import Norm
from affordkit.seeding import Stream, derived_seed, table_seeds
from affordkit.types import DESIRED_GOAL, IMAGE, STATE, Batch

Features = Any  # observation dict -> (N, d) float32 features the policy sees

LatentModel = BetaVAE | CCVAE
VAEData = np.ndarray | dict[str, np.ndarray]  # images (N, H, W, 3), or CC-RIG's {"image", "context"}
LatentModelKind = Literal["vae", "ccvae"]
PriorKind = Literal["fitted", "standard", "data"]
ObservationKind = Literal["latent", "state", "pixels"]
NoiseKind = Literal["ou", "gaussian"]


@dataclass(frozen=True)
class RIGConfig:
    """Everything a RIG run needs; presets in ``PRESETS`` are named functions returning one."""

    env: str = "Push"
    """Environment name (see `affordkit envs list`)."""
    seed: int = 0
    """Seeds data collection, networks, exploration, replay sampling and evaluation."""
    seeds: int = 1
    """Seeds trained together in one process: ``seed``, ``seed + 1``, ..., each its own VAE, env,
    buffer and random streams (what a run of that seed alone does), the envs in lockstep and one
    batched TD3 update for all (algos/td3_seeds.py); a folder per seed and the mean over seeds in
    the report. Not for the pixel baseline."""
    preset: str = "default"
    """Preset the other values start from: ``default`` (100k env steps, the benchmark setting),
    ``quick`` (30k, minutes) or ``smoke`` (seconds, nothing learned); ``ccrig``, ``ccrig-quick``
    and ``ccrig-smoke`` are the same budgets for CC-RIG (`affordkit ccrig --preset default|quick|
    smoke`)."""
    image_size: int = 48
    """Observation size: 48 (Skew-Fit and later) or 84 (the original release)."""
    observation: ObservationKind = "latent"
    """What the policy sees and where goals come from: ``latent`` is RIG (VAE posterior means of
    the images; goals imagined from the prior; reward -||z - z_g||); ``state`` is the oracle
    baseline of the RIG paper (the true positions, goals drawn from the env's own goal
    distribution, reward -||s - g|| in state space; no VAE); ``pixels`` is the pixel-space HER
    baseline (observation and goal images stacked into a conv encoder trained end to end by TD3's
    losses; goals and reward as for ``state``, so only the observation differs)."""
    device: str = "auto"
    """Torch device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``."""
    runs_dir: Path = Path("runs")
    """Folder that receives the run folder."""
    # --- phase 1-3: VAE data, VAE, prior
    latent_from: Path | None = None
    """A run folder whose phases 1-3 (VAE data, trained VAE and prior) this run takes instead of
    repeating them, for sweeps over RL settings. Its settings of those phases (env, seed, image
    size, VAE data, model, fit and prior; LATENT_FIELDS) must equal this run's, so the run is the
    one that would have trained its own latent space. From a run of several seeds each seed takes
    its own (seed_<s>/)."""
    vae_images: int = 10_000
    """Images for VAE pre-training: 10,000 in RIG (100 were enough for the reacher)."""
    vae_random_steps: int = 5
    """Random actions after each reset to a random goal state; every observation is kept."""
    vae: VAEConfig = field(
        default_factory=lambda: VAEConfig(beta=1.0, latent_dim=8, decoder="broadcast", encoder="keypoints")
    )
    """beta 1, not the paper's 5: on the tabletop images beta 5 collapsed the latent of PointReach
    (held-out KL 0.04 nats after 2,000 steps), beta 1 kept it. Latent 8 with the spatial broadcast
    decoder: with RIG's decoder and latent 4 the VAE encoded the puck and not the effector on Push.
    The keypoint encoder, not RIG's conv encoder: with RIG's the effector's code was curved (a
    linear read-out erred by 0.071 table units, against 0.002 with keypoints), and the latent
    distance, RIG's reward, bent with it (docs/methods/rig.md, "Tuning on Push")."""
    latent_model: LatentModelKind = "vae"
    """``vae``: RIG's beta-VAE of single images (``vae``); ``ccvae``: CC-RIG's context-conditioned VAE
    (``ccvae``), trained on (s_0, s_t) pairs of one episode, whose policy input and imagined goals
    carry the context code z_c of the episode's first image (module docstring). CC-RIG needs
    ``prior = "standard"`` (CC-RIG's z_t ~ N(0, I)) or ``"data"`` (z_t of the training pairs,
    joined to the episode's z_c) and ``finetune_every = 0`` (its encoder stays frozen during RL)."""
    ccvae: CCVAEConfig = field(
        default_factory=lambda: CCVAEConfig(decoder="broadcast", context_dropout=0.0, beta_end=1.0)
    )
    """CC-RIG's model (``latent_model = "ccvae"``): latent 6 and context 4 as CC-RIG's pusher; the
    broadcast decoder, as RIG's VAE here; no context dropout and beta 1 (CC-RIG ramps 1 -> 50; see
    docs/methods/ccrig.md for why not here)."""
    ccvae_swap_appearance: bool = False
    """CC-RIG's VAE data also draw each s_t's positions with the objects of another table, and the
    state encoder reads that image (``cc_vae.STATE_INPUT``) while the decoder reconstructs s_t from
    [z_t, z_c]: z_t can then hold nothing of s_t's appearance, which must come from z_c. Not in
    CC-RIG; on ColorPush, with z_t drawn from the training pairs' codes, goal consistency was
    0.527 and 0.483 with it against 0.462 and 0.480 without on two seeds (docs/methods/ccrig.md).
    Needs a tabletop env (its renderer draws any positions with any table's objects)."""
    vae_fit: FitConfig = field(
        default_factory=lambda: FitConfig(num_steps=3000, eval_interval=1000, media_interval=0)
    )
    prior: PriorKind = "data"
    """Imagined-goal prior: ``fitted`` (per-dimension Gaussian of the encodings, rlkit's
    VAEWrappedEnv), ``standard`` N(0, I) (the paper's text), or ``data`` (the encodings of the VAE's
    own training images, drawn uniformly: the aggregate posterior itself, without the holes a
    per-dimension Gaussian puts where no image encodes; goals are then latents of real scenes).
    ``data`` by default: on Push most decoded samples of the fitted prior showed no effector at all
    (docs/methods/rig.md), and with them RIG never learned to push."""
    # --- phase 4: RL
    reward_norm: Norm = "l2"
    """Norm of the distance reward -||z' - z_g|| (latents for RIG, true positions for the state
    oracle and the pixel baseline): ``l2`` as RIG, or ``l1``, additive over dimensions, so that
    progress of one body counts in full while another is still far from its goal."""
    reward_epsilon: float = 0.0
    """0: the dense distance reward -||z' - z_g|| (RIG); > 0: sparse, 0 within this distance of
    the goal (in ``reward_norm``) and -1 elsewhere (HER's binary reward, VAL's latent reward). In
    latent units for RIG, in table units for the baselines."""
    td3: TD3Config = field(default_factory=TD3Config)
    goal_mix: GoalMix = field(default_factory=GoalMix)
    num_envs: int = 8
    """Tables stepped together; episodes run synchronously."""
    env_steps: int = 100_000
    """Environment steps of RL (over all tables)."""
    warmup_steps: int = 4_000
    """Uniformly random actions before the policy acts (RIG: 4,000)."""
    updates_per_step: float = 4.0
    """Gradient steps per environment step (RIG: 4)."""
    replay_capacity: int = 100_000
    """Observation slots in replay (images stored once, as uint8)."""
    exploration: NoiseKind = "ou"
    """Exploration noise: Ornstein-Uhlenbeck (RIG) or Gaussian."""
    exploration_sigma: float = 0.3
    """Noise scale: OU sigma 0.3 in RIG and CC-RIG (the example script used 0.2)."""
    finetune_every: int = 0
    """Fine-tune the VAE every this many env steps (0: never); RIG's online variant trains every
    3,000 env steps. Always 0 for the baselines (no VAE)."""
    finetune_steps: int = 200
    """VAE gradient steps per fine-tuning round, on replay images mixed with the pre-training data."""
    # --- phase 5 and bookkeeping
    eval_every: int = 5_000
    """Env steps between evaluations on goal images."""
    eval_episodes: int = 32
    """Episodes per evaluation (one per goal image)."""
    checkpoint_every: int = 10_000
    """Env steps between checkpoints (always also at the end and on Ctrl-C)."""
    log_every: int = 1_000
    """Env steps between logged training metrics."""

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ConfigError(f"seed={self.seed}: expected a non-negative integer")
        if self.seeds < 1:
            raise ConfigError(f"seeds={self.seeds}: expected >= 1 (seeds trained together)")
        if self.observation != "latent" and self.finetune_every:  # no VAE to fine-tune
            object.__setattr__(self, "finetune_every", 0)
        if self.vae.image_size != self.image_size:  # one source of truth: the env's image size
            object.__setattr__(self, "vae", dataclasses.replace(self.vae, image_size=self.image_size))
        if self.ccvae.image_size != self.image_size:
            object.__setattr__(self, "ccvae", dataclasses.replace(self.ccvae, image_size=self.image_size))
        if self.latent_model not in ("vae", "ccvae"):
            raise ConfigError(f"latent_model={self.latent_model!r}; accepted values: ['vae', 'ccvae']")
        if self.latent_model == "ccvae":
            if self.observation != "latent":
                raise ConfigError("latent_model='ccvae' is CC-RIG: it needs observation='latent'")
            if self.prior not in ("standard", "data"):
                raise ConfigError(
                    f"latent_model='ccvae' imagines goals [z_t, z_c], z_t ~ N(0, I) (--prior standard, "
                    f"CC-RIG) or the training pairs' codes (--prior data); got {self.prior!r}"
                )
            if self.finetune_every:
                raise ConfigError(
                    "latent_model='ccvae' keeps its encoder frozen during RL: set --finetune-every 0"
                )
        elif self.ccvae_swap_appearance:
            raise ConfigError("ccvae_swap_appearance trains CC-RIG's VAE: it needs latent_model='ccvae'")
        if self.latent_from is not None and self.observation != "latent":
            raise ConfigError(
                f"latent_from={str(self.latent_from)!r} with observation={self.observation!r}: only RIG "
                "and CC-RIG (observation='latent') have a latent space to take"
            )
        for name in ("vae_images", "num_envs", "env_steps", "replay_capacity", "eval_episodes", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)}: expected >= 1")
        if self.updates_per_step < 0 or self.warmup_steps < 0 or self.finetune_every < 0:
            raise ConfigError("updates_per_step, warmup_steps and finetune_every must be >= 0")
        if self.prior not in ("fitted", "standard", "data"):
            raise ConfigError(f"prior={self.prior!r}; accepted values: ['fitted', 'standard', 'data']")
        if self.observation not in ("latent", "state", "pixels"):
            raise ConfigError(
                f"observation={self.observation!r}; accepted values: ['latent', 'state', 'pixels']"
            )
        if self.reward_norm not in ("l2", "l1"):
            raise ConfigError(f"reward_norm={self.reward_norm!r}; accepted values: ['l2', 'l1']")
        if not self.reward_epsilon >= 0:
            raise ConfigError(f"reward_epsilon={self.reward_epsilon!r}: expected >= 0 (0: dense reward)")
        if self.exploration not in ("ou", "gaussian"):
            raise ConfigError(f"exploration={self.exploration!r}; accepted values: ['ou', 'gaussian']")


# ------------------------------------------------------------------------------------------ presets
def default_preset() -> RIGConfig:
    """Push at 48x48, 100k env steps: the benchmark setting."""
    return RIGConfig(preset="default")


def quick_preset() -> RIGConfig:
    """A few minutes on a laptop CPU: fewer VAE steps and 30k env steps (the README's main job)."""
    return RIGConfig(
        preset="quick",
        vae_images=5_000,
        vae=VAEConfig(
            beta=1.0, latent_dim=8, decoder="broadcast", encoder="keypoints", beta_warmup_steps=1000
        ),
        vae_fit=FitConfig(num_steps=2000, eval_interval=500, media_interval=0),
        env_steps=30_000,
        warmup_steps=2_000,
        eval_every=5_000,
        checkpoint_every=10_000,
    )


def smoke_preset() -> RIGConfig:
    """Seconds: every phase runs, nothing is learned (tests and a first look)."""
    return RIGConfig(
        preset="smoke",
        vae_images=256,
        vae_fit=FitConfig(num_steps=30, eval_interval=0, media_interval=0, log_interval=10),
        td3=TD3Config(hidden=(32, 32), batch_size=32),
        num_envs=4,
        env_steps=800,
        warmup_steps=200,
        updates_per_step=0.25,
        replay_capacity=2_000,
        finetune_every=400,
        finetune_steps=5,
        eval_every=400,
        eval_episodes=4,
        checkpoint_every=400,
        log_every=200,
    )


def _as_ccrig(cfg: RIGConfig, name: str) -> RIGConfig:
    """CC-RIG's settings on top of a RIG preset: ColorPush, the context-conditioned VAE,
    relabeling rollout / prior / future 0.2 / 0.5 / 0.3 (CC-RIG), the encoder frozen during RL.
    Two departures, for goals that keep the scene's objects (docs/methods/ccrig.md): z_t drawn from
    the training pairs' codes (``prior = "data"``; CC-RIG: N(0, I), ``--prior standard``) and the
    state encoder trained on swapped appearances (``ccvae_swap_appearance``; off:
    ``--no-ccvae-swap-appearance``)."""
    return dataclasses.replace(
        cfg, preset=name, env="ColorPush", latent_model="ccvae", prior="data",
        ccvae_swap_appearance=True, goal_mix=GoalMix(rollout=0.2, prior=0.5, future=0.3),
        finetune_every=0,
    )  # fmt: skip


def ccrig_preset() -> RIGConfig:
    """CC-RIG on ColorPush at 48x48, 100k env steps: the benchmark setting."""
    return _as_ccrig(default_preset(), "ccrig")


def ccrig_quick_preset() -> RIGConfig:
    """CC-RIG in a few minutes: the ``quick`` preset's budget."""
    return _as_ccrig(quick_preset(), "ccrig-quick")


def ccrig_smoke_preset() -> RIGConfig:
    """CC-RIG in seconds: every phase runs, nothing is learned."""
    return _as_ccrig(smoke_preset(), "ccrig-smoke")


PRESETS = {
    "default": default_preset,
    "quick": quick_preset,
    "smoke": smoke_preset,
    "ccrig": ccrig_preset,
    "ccrig-quick": ccrig_quick_preset,
    "ccrig-smoke": ccrig_smoke_preset,
}


def preset(name: str) -> RIGConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown RIG preset {name!r}; known presets: {sorted(PRESETS)}")
    return PRESETS[name]()


# ------------------------------------------------------------------------------------------ helpers
def method_name(cfg: RIGConfig) -> str:
    """``rig`` for RIG, ``ccrig`` for CC-RIG, ``her-state`` / ``her-pixels`` for the baselines (run
    folders, reports)."""
    if cfg.observation != "latent":
        return f"her-{cfg.observation}"
    return "ccrig" if cfg.latent_model == "ccvae" else "rig"


def encoder(vae: BetaVAE) -> Any:
    """uint8 images (B, H, W, 3) -> float32 latents (B, d) as NumPy: the posterior mean."""

    def encode(images: np.ndarray) -> np.ndarray:
        return vae.encode_mean(images).float().cpu().numpy()

    return encode


def context_encoder(model: CCVAE) -> Any:
    """CC-RIG's encoding of uint8 images (B, H, W, 3) with their episodes' first images (B, H, W, 3):
    float32 [mu(s_t, s_0), z_c] (B, latent_dim + context_dim) as NumPy."""

    def encode(images: np.ndarray, contexts: np.ndarray) -> np.ndarray:
        mu = model.encode_mean(images, contexts)
        return torch.cat([mu, model.context(contexts)], dim=1).float().cpu().numpy()

    return encode


def make_latent_model(cfg: RIGConfig, device: torch.device) -> LatentModel:
    model: LatentModel = CCVAE(cfg.ccvae) if cfg.latent_model == "ccvae" else BetaVAE(cfg.vae)
    return model.to(device)


def policy_latent_dim(cfg: RIGConfig) -> int:
    """Size of the latent the policy sees (and of its goals)."""
    if cfg.latent_model == "ccvae":
        return cfg.ccvae.latent_dim + cfg.ccvae.context_dim
    return cfg.vae.latent_dim


# ------------------------------------------------------------------------------------- phase 1-3
def collect_vae_data(cfg: RIGConfig) -> VAEData:
    """``vae_images`` images (N, H, W, 3) uint8 from random actions after resetting the env to
    random goal states, as the original RIG collected its VAE data. For CC-RIG the same images,
    each with its episode's first image (the context s_0, taken at the reset, before the move to
    the goal state; the scene's appearance stays): {"image": s_t, "context": s_0}."""
    per_reset = cfg.vae_random_steps + 1
    num_envs = max(1, -(-cfg.vae_images // per_reset))
    env = make_vector_env(cfg.env, num_envs, autoreset_mode="disabled", image_size=cfg.image_size)
    rng = np.random.default_rng(derived_seed(cfg.seed, Stream.VAE_ACTIONS))
    obs, _ = env.reset(seed=table_seeds(cfg.seed, num_envs, Stream.VAE_DATA))
    first = obs[IMAGE]
    obs = env.set_state(obs[DESIRED_GOAL])  # a random goal state of each table
    images, states = [obs[IMAGE]], [env.get_state()]
    for _ in range(cfg.vae_random_steps):
        obs, *_ = env.step(rng.uniform(-1, 1, size=(num_envs, 2)))
        images.append(obs[IMAGE])
        states.append(env.get_state())
    flat = np.stack(images, axis=1).reshape(-1, *first.shape[1:])[: cfg.vae_images]
    if cfg.latent_model != "ccvae":
        env.close()
        return flat
    contexts = np.repeat(first, per_reset, axis=0)[: cfg.vae_images]
    data = {"image": flat, "context": contexts}
    if cfg.ccvae_swap_appearance:
        by_table = np.stack(states, axis=1)  # (tables, steps, goal_dim), the order of ``flat``
        table = np.repeat(np.arange(num_envs), by_table.shape[1])
        data[STATE_INPUT] = swapped_appearance(env, by_table.reshape(len(table), -1), table, rng)[
            : cfg.vae_images
        ]
    env.close()
    return data


def swapped_appearance(
    env: Any, states: np.ndarray, table: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Images (M, H, W, 3) of the positions ``states`` (M, goal_dim), row m drawn with the objects of
    a table other than ``table[m]`` of the vector env ``env``, one drawn at random per row (the
    table's own when the env has one table)."""
    core = getattr(env, "core", None)
    if core is None or not hasattr(core, "render_positions"):
        raise ConfigError(
            f"ccvae_swap_appearance needs a tabletop env, whose renderer draws any positions with any "
            f"table's objects; {type(env).__name__} has none: pass --no-ccvae-swap-appearance"
        )
    n, m = env.num_envs, len(states)
    flat = states.reshape(m, -1, 2)
    other = (table + rng.integers(1, max(n, 2), size=m)) % n
    return np.concatenate(
        [core.render_positions(flat[i : i + 1024], other[i : i + 1024]) for i in range(0, m, 1024)]
    )


def vae_images(data: VAEData) -> np.ndarray:
    """The s_t images of the VAE data (N, H, W, 3)."""
    return data["image"] if isinstance(data, dict) else data


def train_vae(
    cfg: RIGConfig, images: VAEData, logger: RunLogger | None, progress: bool, device: torch.device
) -> tuple[LatentModel, dict[str, Any]]:
    torch.manual_seed(derived_seed(cfg.seed, Stream.VAE_INIT))
    vae = make_latent_model(cfg, device)
    fit_cfg = dataclasses.replace(
        cfg.vae_fit, seed=derived_seed(cfg.seed, Stream.VAE_FIT), device=str(device)
    )
    summary = fit(vae, images, fit_cfg, logger=logger, progress=progress)
    return vae, summary


def goal_state_bank(cfg: RIGConfig, n: int = 10_000) -> EmpiricalPrior:
    """The oracle's goal prior: ``n`` goal states drawn by the env's own reset (its goal
    distribution, exactly), from seeds no training or evaluation episode uses."""
    k = min(n, 256)  # tables per reset: a few at a time, whatever one env costs
    env = make_vector_env(cfg.env, k, autoreset_mode="disabled", image_size=cfg.image_size)
    goals = []
    rounds = -(-n // k)
    seeds = table_seeds(cfg.seed, rounds * k, Stream.GOAL_BANK)
    for i in range(rounds):
        obs, _ = env.reset(seed=seeds[i * k : (i + 1) * k])
        goals.append(np.asarray(obs[DESIRED_GOAL], dtype=np.float32))
    env.close()
    return EmpiricalPrior(torch.from_numpy(np.concatenate(goals)[:n]))


def make_prior(cfg: RIGConfig, vae: LatentModel, images: VAEData) -> GoalPrior:
    """The goal prior; for CC-RIG the prior of z_g alone (z_c is joined per episode)."""
    if cfg.prior == "standard":
        return standard_normal_prior(vae.config.latent_dim)
    if isinstance(vae, CCVAE):  # RIGConfig allows only "data" here: z_t of the training pairs
        assert isinstance(images, dict)
        return EmpiricalPrior(vae.encode_mean(images["image"], images["context"]).float().cpu())
    assert isinstance(vae, BetaVAE) and isinstance(images, np.ndarray)  # RIGConfig checks
    encodings = vae.encode_mean(images).float().cpu()
    return EmpiricalPrior(encodings) if cfg.prior == "data" else fitted_prior(encodings)


# ---------------------------------------------------------------------------------------- phase 4
@dataclass
class Counters:
    env_steps: int = 0
    episodes: int = 0
    updates: int = 0
    finetunes: int = 0
    evaluations: int = 0
    next_eval: int = 0
    next_log: int = 0
    next_checkpoint: int = 0
    next_finetune: int = 0
    update_budget: float = 0.0  # fractional gradient steps owed to the env steps taken


class RIGAgent:
    """What RIG trains and carries between episodes (and into checkpoints)."""

    def __init__(
        self,
        cfg: RIGConfig,
        vae: LatentModel | None,
        prior: GoalPrior,
        vae_data: VAEData | None,
        device: torch.device,
        td3: Any = None,
        counters: Counters | None = None,
    ):
        """``td3``: a ``TD3SeedView`` when the agent is one of several seeds trained together
        (default: its own learner); ``counters``: the ones it shares with them."""
        self.cfg, self.vae, self.prior, self.vae_data, self.device = cfg, vae, prior, vae_data, device
        self.env = make_vector_env(
            cfg.env, cfg.num_envs, autoreset_mode="disabled", image_size=cfg.image_size
        )
        # seeds every table's generator (streams no other run shares); episodes reset from there
        self.env.reset(seed=table_seeds(cfg.seed, cfg.num_envs))
        state_dim = self.env.config.goal_dim
        size = cfg.image_size
        network: Any = None
        dtype: Any = np.float32
        self.contexts: np.ndarray | None = None  # CC-RIG: first image of every table's episode
        self.context_codes: np.ndarray | None = None  # CC-RIG: their z_c (N, context_dim)
        if cfg.observation == "latent":
            if vae is None:
                raise ConfigError("observation='latent' needs a VAE")
            if isinstance(vae, CCVAE):
                encode_pair = context_encoder(vae)
                self.encode: Any = lambda images, contexts: encode_pair(images, contexts)
            else:
                encode_image = encoder(vae)
                self.encode = lambda images, contexts=None: encode_image(images)
            self.features: Features = lambda obs: self.encode(obs[IMAGE], self.contexts)
            d = policy_latent_dim(cfg)
        elif cfg.observation == "state":  # the oracle: true positions, no images stored
            self.features = lambda obs: np.asarray(obs[STATE], dtype=np.float32)
            d = state_dim
        else:  # pixels: flat uint8 images, encoded inside the networks
            self.features = lambda obs: obs[IMAGE].reshape(len(obs[IMAGE]), -1)
            d, dtype = size * size * 3, np.uint8

            def network() -> tuple[torch.nn.Module, int]:
                module = ImageGoalEncoder(size)
                return module, module.feature_dim

            # renders prior goal states as images: as many tables as prior goals per batch
            k = max(1, int(cfg.goal_mix.counts(cfg.td3.batch_size)[PRIOR]))
            self.goal_renderer = make_vector_env(cfg.env, k, autoreset_mode="disabled", image_size=size)
            self.goal_renderer.reset(seed=table_seeds(cfg.seed, k, Stream.GOAL_RENDER))
        self.policy_dim = 2 * d
        self.network = network  # the pixel baseline's conv encoder (None for the others)
        self.td3: TD3 | PixelTD3 | TD3SeedView
        if td3 is not None:
            self.td3 = td3
        elif network is None:
            self.td3 = TD3(obs_dim=2 * d, action_dim=2, config=cfg.td3, seed=learner_seed(cfg), device=device)
        else:  # one conv encoder, trained by the critic, read by the actor
            self.td3 = PixelTD3(2 * d, 2, network, cfg.td3, seed=learner_seed(cfg), device=device)
        # "latent" and "goal_latent" hold whatever the policy sees: VAE latents, states or images
        fields = {
            "latent": FieldSpec((d,), dtype),
            "goal_latent": FieldSpec((d,), dtype),
            "state": FieldSpec((state_dim,)),
        }
        if cfg.observation == "latent":
            fields["image"] = FieldSpec((size, size, 3), np.uint8)
        if cfg.observation == "pixels":
            fields["goal_state"] = FieldSpec((state_dim,))
        self.replay = EpisodeReplay(cfg.replay_capacity, fields, action_dim=2)
        self.rng = np.random.default_rng(derived_seed(cfg.seed, Stream.REPLAY))  # sampling, relabeling
        self.prior_generator = torch.Generator().manual_seed(derived_seed(cfg.seed, Stream.PRIOR))
        noise_rng = np.random.default_rng(derived_seed(cfg.seed, Stream.NOISE))
        sigma = cfg.exploration_sigma
        noise_cfg: OUNoiseConfig | GaussianNoiseConfig = (
            OUNoiseConfig(sigma=sigma) if cfg.exploration == "ou" else GaussianNoiseConfig(sigma=sigma)
        )
        self.noise: ExplorationNoise = make_noise(noise_cfg, cfg.num_envs, 2, noise_rng)
        self.action_rng = np.random.default_rng(derived_seed(cfg.seed, Stream.WARMUP))  # warm-up actions
        if counters is None:
            counters = Counters(next_eval=0, next_log=cfg.log_every, next_checkpoint=cfg.checkpoint_every)
            counters.next_finetune = cfg.finetune_every if cfg.finetune_every else -1
        self.counters = counters
        self.last_update_metrics: dict[str, float] = {}
        self.reward_fn = (
            sparse_threshold(cfg.reward_epsilon, cfg.reward_norm)
            if cfg.reward_epsilon > 0
            else distance_reward(cfg.reward_norm)
        )

    def sample_prior(self, n: int) -> np.ndarray:
        return self.prior.sample(n, self.prior_generator).float().numpy()

    def prior_goals(self, positions: np.ndarray) -> np.ndarray:
        """Imagined goals for the transitions at replay ``positions``: prior samples, joined for
        CC-RIG to the context code z_c of each transition's own episode (stored with its latent)."""
        z = self.sample_prior(len(positions))
        if self.cfg.latent_model != "ccvae":
            return z
        latent = self.replay.fields["latent"][self.replay.slots(positions)]
        return np.concatenate([z, latent[:, self.cfg.ccvae.latent_dim :]], axis=1)

    def start_episodes(self, obs: dict[str, np.ndarray]) -> None:
        """CC-RIG: the reset images are every table's context for the episode."""
        if self.cfg.latent_model == "ccvae":
            assert isinstance(self.vae, CCVAE)
            self.contexts = obs[IMAGE].copy()
            self.context_codes = self.vae.context(self.contexts).float().cpu().numpy()

    def prior_goal_images(self, positions: np.ndarray) -> dict[str, np.ndarray]:
        """Pixel baseline: prior goal states and their images, rendered in chunks."""
        n = len(positions)
        states = self.sample_prior(n)
        k = self.goal_renderer.num_envs
        images = [self.goal_renderer.render_goal(_pad(states[i : i + k], k))[: len(states[i : i + k])]
                  for i in range(0, n, k)]  # fmt: skip
        return {"goal": np.concatenate(images).reshape(n, -1), "goal_state": states}

    def exploration_goals(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Goals for new episodes: imagined (RIG), drawn from the goal bank (state oracle), or
        the env's own goal rendered as an image (pixel baseline)."""
        n = self.cfg.num_envs
        if self.cfg.observation == "pixels":
            goal_state = np.asarray(obs[DESIRED_GOAL], dtype=np.float32)
            return {"goal_latent": self.env.render_goal().reshape(n, -1), "goal_state": goal_state}
        if self.context_codes is not None:  # CC-RIG: [z_g ~ prior, z_c of the table's scene]
            return {"goal_latent": np.concatenate([self.sample_prior(n), self.context_codes], axis=1)}
        return {"goal_latent": self.sample_prior(n)}

    def policy_input(self, latent: np.ndarray, goal: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.concatenate([latent, goal], axis=1)).to(self.device)

    def act(self, latent: np.ndarray, goal: np.ndarray) -> np.ndarray:
        return self.td3.act(self.policy_input(latent, goal)).cpu().numpy()

    def sample_batch(self) -> Batch:
        n = self.cfg.td3.batch_size
        pos = self.replay.sample_positions(n, self.rng)
        if self.cfg.observation == "pixels":
            return self._pixel_batch(pos)
        goals, _ = relabel(
            self.replay, pos, self.cfg.goal_mix, self.rng,
            goal_field="goal_latent", achieved_field="latent", prior_goals=self.prior_goals,
        )  # fmt: skip
        arrays = goal_conditioned_batch(self.replay, pos, goals, self.reward_fn, obs_field="latent")
        t = {k: torch.from_numpy(v).to(self.device) for k, v in arrays.items()}
        return Batch(
            obs=t["obs"], action=t["action"], reward=t["reward"], next_obs=t["next_obs"], done=t["done"]
        )

    def _pixel_batch(self, pos: np.ndarray) -> Batch:
        """Images stay uint8 (the encoder converts); the reward is the true-state distance of the
        next state to the relabeled goal's state, which travels with the goal image."""
        goals, _ = relabel_fields(
            self.replay, pos, self.cfg.goal_mix, self.rng,
            pairs={"goal": ("goal_latent", "latent"), "goal_state": ("goal_state", "state")},
            prior_goals=self.prior_goal_images,
        )  # fmt: skip
        slots, next_slots = self.replay.slots(pos), self.replay.slots(pos + 1)
        image = self.replay.fields["latent"]
        obs = np.concatenate([image[slots], goals["goal"]], axis=1)
        next_obs = np.concatenate([image[next_slots], goals["goal"]], axis=1)
        reward = self.reward_fn(self.replay.fields["state"][next_slots], goals["goal_state"])
        dev = self.device
        return Batch(
            obs=torch.from_numpy(obs).to(dev),
            action=torch.from_numpy(self.replay.action[slots]).to(dev),
            reward=torch.from_numpy(reward.astype(np.float32)).to(dev),
            next_obs=torch.from_numpy(next_obs).to(dev),
            done=torch.zeros(len(pos), device=dev),
        )

    # --------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {
            "td3": self.td3.state_dict(),
            "vae": self.vae.state_dict() if self.vae is not None else None,
            "prior": self.prior.state_dict(),
            "noise": self.noise.state_dict(),
            "counters": dataclasses.asdict(self.counters),
            "rng": checkpoint.numpy_rng_state(self.rng),
            "action_rng": checkpoint.numpy_rng_state(self.action_rng),
            "prior_generator": self.prior_generator.get_state(),
            "env_rngs": [checkpoint.numpy_rng_state(r) for r in self.env.core.rngs],
            "torch_rng": torch.get_rng_state(),
        }

    def load_state_dict(self, state: dict[str, Any], learner: bool = True) -> None:
        """``learner=False``: TD3's state is restored elsewhere (seeds trained together)."""
        if learner:
            assert not isinstance(self.td3, TD3SeedView), "a stacked learner is restored through its stack"
            self.td3.load_state_dict(state["td3"])
        if self.vae is not None:
            self.vae.load_state_dict(state["vae"])
        self.prior.load_state_dict(state["prior"])
        self.noise.load_state_dict(state["noise"])
        for name, value in state["counters"].items():  # in place: seeds trained together share them
            setattr(self.counters, name, value)
        self.rng = checkpoint.restore_numpy_rng(state["rng"])
        self.action_rng = checkpoint.restore_numpy_rng(state["action_rng"])
        self.prior_generator.set_state(state["prior_generator"])
        self.env.core.rngs = [checkpoint.restore_numpy_rng(s) for s in state["env_rngs"]]
        torch.set_rng_state(state["torch_rng"])


class RIGTeam(SeedTeam[RIGAgent]):
    """The agents a run trains: one, or (``seeds > 1``) one per seed trained together
    (methods/seeds.py), agent k acting with learner k of one ``TD3Seeds``; each logs to its own
    folder."""

    @classmethod
    def build(
        cls,
        configs: list[RIGConfig],
        spaces: list[tuple[LatentModel | None, GoalPrior, VAEData | None]],
        device: torch.device,
        loggers: list[RunLogger],
    ) -> RIGTeam:
        """An agent per config, from its seed's latent space (``prepare_latent_space``)."""
        if len(configs) == 1:
            return cls([RIGAgent(configs[0], *spaces[0], device)], loggers, None, "td3")
        seeds = [learner_seed(c) for c in configs]

        def stack(first: RIGAgent) -> TD3Seeds:
            if first.network is not None:  # the pixel baseline: K conv encoders as grouped convs
                return PixelTD3Seeds(
                    first.policy_dim, 2, first.network, configs[0].td3, seeds=seeds, device=device
                )
            return TD3Seeds(first.policy_dim, 2, configs[0].td3, seeds=seeds, device=device)

        pixels = configs[0].observation == "pixels"
        if pixels and device.type == "cpu":
            print(
                f"note: {len(configs)} pixel-baseline seeds together on the CPU ran at 0.73x the "
                "throughput of the same seeds one after another on one thread (docs/speed.md; 3.60x "
                "on an H200); on a CPU, running the seeds in turn is faster",
                file=sys.stderr,
            )
        agents, stacked = agents_together(
            len(configs),
            lambda k, td3, counters: RIGAgent(configs[k], *spaces[k], device, td3, counters),
            stack,
            PixelTD3SeedView if pixels else TD3SeedView,
            "td3",
        )
        return cls(agents, loggers, stacked, "td3")

    def act(self, latents: list[np.ndarray], goals: list[np.ndarray]) -> list[np.ndarray]:
        """Every agent's policy actions, in one batched call when trained together."""
        if self.stacked is None:
            return [self.agents[0].act(latents[0], goals[0])]
        rows = [np.concatenate([z, g], axis=1) for z, g in zip(latents, goals, strict=True)]
        x = self.stacked_input(rows, dtype=rows[0].dtype)  # images stay uint8 for the pixel baseline
        return list(self.stacked.act(x).cpu().numpy())


def run_episode_batch(agent: RIGAgent, progress: Any = None) -> EpisodeBatch:
    """One synchronous episode on every table: imagined goals from the prior, TD3 with exploration
    noise (uniform actions during warm-up), gradient steps as the env steps accrue."""
    return run_team_episodes(RIGTeam([agent], [], None, "td3"), progress)[0]


def run_team_episodes(team: RIGTeam, progress: Any = None) -> list[EpisodeBatch]:
    """``run_episode_batch`` for every agent of ``team``, the envs in lockstep."""
    agents, c = team.agents, team.counters
    cfg, n = agents[0].cfg, agents[0].cfg.num_envs
    goals: list[dict[str, np.ndarray]] = [{} for _ in agents]
    latent: list[np.ndarray] = [np.empty(0) for _ in agents]
    metrics: list[dict[str, torch.Tensor]] = [{} for _ in agents]

    def hooks(k: int) -> tuple[Any, Any]:
        agent = agents[k]

        def on_reset(obs: dict[str, np.ndarray]) -> None:
            agent.start_episodes(obs)
            goals[k].update(agent.exploration_goals(obs))
            agent.noise.reset(np.ones(n, dtype=bool))

        def observe(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            latent[k] = agent.features(obs)
            fields = {"latent": latent[k].copy(), **goals[k], "state": obs[STATE]}
            if "image" in agent.replay.fields:
                fields["image"] = obs[IMAGE]
            return fields

        return on_reset, observe

    def policy(obs: list[dict[str, np.ndarray]], t: int) -> list[np.ndarray]:
        if c.env_steps < cfg.warmup_steps:
            return [a.action_rng.uniform(-1, 1, size=(n, 2)).astype(np.float32) for a in agents]
        actions = team.act(latent, [g["goal_latent"] for g in goals])
        return [noisy_action(action, a.noise.sample()) for action, a in zip(actions, agents, strict=True)]

    def after_step() -> None:
        c.env_steps += n
        if progress is not None:
            progress.update(n)
        if c.env_steps < cfg.warmup_steps or agents[0].replay.num_transitions < cfg.td3.batch_size:
            return
        c.update_budget += n * cfg.updates_per_step
        while c.update_budget >= 1:
            for own, new in zip(metrics, team.update([a.sample_batch() for a in agents]), strict=True):
                own.update(new)
            c.updates += 1
            c.update_budget -= 1

    on_reset, observe = zip(*(hooks(k) for k in range(len(agents))), strict=True)
    batches = run_episodes_together([a.env for a in agents], policy, observe, after_step, on_reset)
    for agent, batch, own in zip(agents, batches, metrics, strict=True):
        agent.replay.add_episodes(batch.fields, batch.actions)
        agent.last_update_metrics = {k: float(v) for k, v in own.items()}  # one host sync per episode
    c.episodes += n
    return batches


def finetune_vae(agent: RIGAgent, logger: RunLogger | None, count: bool = True) -> None:
    """Train the VAE further on replay images mixed 1:1 with the pre-training data, then re-encode
    every stored latent (and refit the fitted prior): the latents must match the new encoder.
    ``count=False``: the caller counts the round (seeds trained together share the counter)."""
    cfg, c = agent.cfg, agent.counters
    # RIGConfig allows fine-tuning for RIG's VAE only (CC-RIG's encoder stays frozen)
    assert isinstance(agent.vae, BetaVAE) and isinstance(agent.vae_data, np.ndarray), "needs RIG's VAE"
    used = min(agent.replay.total, agent.replay.capacity)
    rng = np.random.default_rng(derived_seed(cfg.seed, Stream.FINETUNE, c.finetunes, 0))
    take = min(used, len(agent.vae_data))
    replay_images = agent.replay.fields["image"][rng.choice(used, size=take, replace=False)]
    pretraining = agent.vae_data[rng.choice(len(agent.vae_data), size=max(take, 1), replace=False)]
    images = np.concatenate([replay_images, pretraining])
    fit_cfg = dataclasses.replace(
        cfg.vae_fit,
        num_steps=cfg.finetune_steps,
        num_epochs=None,
        heldout_fraction=0.0,
        eval_interval=0,
        media_interval=0,
        seed=derived_seed(cfg.seed, Stream.FINETUNE, c.finetunes, 1),
        device=str(agent.device),
        log_prefix="vae_finetune",
    )
    fit(agent.vae, images, fit_cfg, logger=None, progress=False)
    reencode(agent.replay, agent.encode, source="image", target="latent")
    if cfg.prior != "standard":  # both depend on the encoder
        agent.prior = make_prior(cfg, agent.vae, agent.vae_data)
    if count:
        c.finetunes += 1
    if logger is not None:
        logger.log(c.env_steps, {"vae_finetune/rounds": c.finetunes + (0 if count else 1)})


# ---------------------------------------------------------------------------------------- phase 5
def evaluate(agent: RIGAgent, episodes: int, seed: int, record: bool = False) -> EvalResult:
    """Goals as images: the env renders each episode's goal state, the VAE encodes it (the state
    oracle is given the goal state itself). CC-RIG encodes the observations and the goal image
    with the episode's first observation as their context."""
    cfg = agent.cfg
    env = make_vector_env(cfg.env, episodes, autoreset_mode="disabled", image_size=cfg.image_size)

    def policy_for_goals(goal_images: np.ndarray, goal_states: np.ndarray) -> Any:
        if cfg.latent_model == "ccvae":
            context: dict[str, np.ndarray] = {}

            def in_context(obs: dict[str, np.ndarray], t: int) -> np.ndarray:
                if t == 0:  # the first observation of the episode is its context
                    context["image"] = obs[IMAGE].copy()
                    context["goal"] = agent.encode(goal_images, context["image"])
                return agent.act(agent.encode(obs[IMAGE], context["image"]), context["goal"])

            return in_context
        if cfg.observation == "state":
            goal = agent.features({STATE: goal_states})
        else:  # the policy sees the goal image alone
            goal = (
                agent.features({IMAGE: goal_images})
                if cfg.observation == "pixels"
                else agent.encode(goal_images)
            )

        def policy(obs: dict[str, np.ndarray], t: int) -> np.ndarray:
            return agent.act(agent.features(obs), goal)

        return policy

    return evaluate_on_goal_images(env, policy_for_goals, seed=seed, record=record)


def learner_seed(cfg: RIGConfig) -> int:
    """TD3's seed (initial weights, target smoothing noise) in the run seeded ``cfg.seed``."""
    return derived_seed(cfg.seed, Stream.LEARNER)


def eval_seed(cfg: RIGConfig, round_: int) -> int:
    """Evaluation goals differ from every training seed's episodes but are the same across runs
    with the same seed, so curves of different methods see the same goals."""
    return 10_000_000 + cfg.seed * 1000 + round_


# ----------------------------------------------------------------------------------- the run
ARTIFACTS = "checkpoints"


def load_run_config(run_dir: Path) -> RIGConfig:
    """The config a run was started with, from its config.json."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise checkpoint.CheckpointError(f"{run_dir} is not a run folder: {path.name} is missing")
    raw = json.loads(path.read_text())["config"]
    return config_from_dict(raw)


def config_from_dict(raw: dict[str, Any]) -> RIGConfig:
    nested = {
        "vae": VAEConfig, "ccvae": CCVAEConfig, "vae_fit": FitConfig, "td3": TD3Config, "goal_mix": GoalMix,
    }  # fmt: skip
    values: dict[str, Any] = {}
    for f in dataclasses.fields(RIGConfig):
        if f.name not in raw:
            continue
        v = raw[f.name]
        if f.name in nested:
            v = nested[f.name](**{k: tuple(x) if isinstance(x, list) else x for k, x in v.items()})
        elif f.name == "runs_dir" or (f.name == "latent_from" and v is not None):
            v = Path(v)
        values[f.name] = v
    return RIGConfig(**values)


class _StopRequest:
    """Ctrl-C during RL asks for a checkpoint at the end of the current episodes (seconds);
    a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _StopRequest:
        def handler(signum: int, frame: Any) -> None:
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True
            print("\nstopping: writing a checkpoint after the current episodes (Ctrl-C again to abort)")

        try:
            self._previous = signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread: no handler, Ctrl-C raises as usual
            self._previous = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


LATENT_FIELDS = (
    "env", "seed", "image_size", "observation", "vae_images", "vae_random_steps", "vae", "latent_model",
    "ccvae", "ccvae_swap_appearance", "vae_fit", "prior",
)  # fmt: skip
"""The settings of phases 1-3: a run takes another run's latent space (``latent_from``) only when
they are equal."""
LATENT_ARTIFACTS = ("vae_data.npz", "vae.pt")


def _differences(mine: Any, theirs: Any, prefix: str = "") -> list[str]:
    """``name: mine here, theirs there`` for every differing field, nested configs by dotted name."""
    if dataclasses.is_dataclass(mine) and dataclasses.is_dataclass(theirs):
        return [
            d
            for f in dataclasses.fields(mine)
            for d in _differences(getattr(mine, f.name), getattr(theirs, f.name), f"{prefix}{f.name}.")
        ]
    return [] if mine == theirs else [f"{prefix.rstrip('.')}: {mine!r} here, {theirs!r} there"]


def latent_source(cfg: RIGConfig) -> Path:
    """The folder of ``cfg.latent_from`` (itself, or its ``seed_<s>/`` for a run of several seeds)
    holding the latent space of ``cfg``'s seed, trained with ``cfg``'s settings of phases 1-3;
    ConfigError saying what differs or is missing otherwise."""
    assert cfg.latent_from is not None
    source = Path(cfg.latent_from)
    if not (source / "config.json").exists():
        raise ConfigError(
            f"latent_from={str(source)!r} is not a run folder (no config.json): give the folder of an "
            "`affordkit rig` or `affordkit ccrig` run"
        )
    folders = [f for f in [source, *sorted(source.glob("seed_*"))] if (f / "config.json").exists()]
    configs = {f: load_run_config(f) for f in folders}
    match = [f for f, c in configs.items() if c.seeds == 1 and c.seed == cfg.seed]
    if not match:
        seeds = sorted(c.seed for c in configs.values() if c.seeds == 1)
        raise ConfigError(
            f"latent_from={str(source)!r} holds no run of seed {cfg.seed} (its seeds: {seeds}); "
            "take the latent space of the same seed, or drop --latent-from"
        )
    folder = match[0]
    other = configs[folder]
    diff = [
        d
        for name in LATENT_FIELDS
        for d in _differences(getattr(cfg, name), getattr(other, name), f"{name}.")
    ]
    if diff:
        raise ConfigError(
            f"latent_from={str(folder)!r} trained its latent space with other settings ("
            + "; ".join(diff)
            + "): set them as there, or drop --latent-from to train this run's own"
        )
    missing = [n for n in LATENT_ARTIFACTS if not (folder / ARTIFACTS / n).exists()]
    if missing:
        raise ConfigError(
            f"latent_from={str(folder)!r} has not finished its VAE phase (no {ARTIFACTS}/{missing[0]}): "
            f"resume it past that phase first (affordkit rig --resume {source})"
        )
    return folder


def take_latent_space(cfg: RIGConfig, run_dir: Path) -> None:
    """Phases 1-3 of ``cfg.latent_from`` into ``run_dir``: its VAE data and its trained VAE and
    prior (hard links where the file system allows, else copies; each written atomically)."""
    source = latent_source(cfg) / ARTIFACTS
    target = run_dir / ARTIFACTS
    target.mkdir(parents=True, exist_ok=True)
    for name in LATENT_ARTIFACTS:  # a file (the data) and a checkpoint folder (the VAE and prior)
        temporary = target / f".{name}.taking"
        if temporary.is_dir():
            shutil.rmtree(temporary)
        temporary.unlink(missing_ok=True)
        if (source / name).is_dir():
            shutil.copytree(source / name, temporary, copy_function=_link_or_copy)
        else:
            _link_or_copy(source / name, temporary)
        os.replace(temporary, target / name)


def _link_or_copy(source: str | Path, target: str | Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def prepare_latent_space(
    cfg: RIGConfig, run_dir: Path, logger: RunLogger, progress: bool, device: torch.device
) -> tuple[LatentModel | None, GoalPrior, VAEData | None]:
    """Phases 1-3, each skipped when its artifact is already in the run folder; with
    ``cfg.latent_from`` the artifacts are first taken from that run. The state oracle has no VAE:
    its prior is the env's goal distribution (recomputed from the seed on resume)."""
    if cfg.observation != "latent":
        return None, goal_state_bank(cfg), None
    folder = run_dir / ARTIFACTS
    data_path, vae_path = folder / "vae_data.npz", folder / "vae.pt"
    taken = cfg.latent_from is not None and not vae_path.exists()
    if taken:
        take_latent_space(cfg, run_dir)
    data: VAEData
    if data_path.exists():
        with np.load(data_path) as f:
            data = {"image": f["images"], "context": f["contexts"]} if "contexts" in f else f["images"]
            if "state_inputs" in f:
                assert isinstance(data, dict)
                data[STATE_INPUT] = f["state_inputs"]
    else:
        data = collect_vae_data(cfg)
        if isinstance(data, dict):
            extra = {"state_inputs": data[STATE_INPUT]} if STATE_INPUT in data else {}
            atomic.save_npz(data_path, images=data["image"], contexts=data["context"], **extra)
        else:
            atomic.save_npz(data_path, images=data)
    if vae_path.exists():
        state, _ = checkpoint.load(vae_path, with_replay=False)
        vae = make_latent_model(cfg, device)
        vae.load_state_dict(state["vae"])
        vae.eval()
        prior = prior_from_state_dict(state["prior"])
        if taken:
            _log_latent_media(cfg, vae, prior, data, logger)
    else:
        vae, summary = train_vae(cfg, data, logger, progress, device)
        if isinstance(vae, CCVAE) and cfg.ccvae.context_dropout > 0:
            assert isinstance(data, dict)
            spread = vae.recalibrate_context_norm(data["context"][:: cfg.vae_random_steps + 1])
            logger.log(0, {f"ccvae/context_spread_{k.split('_')[1]}": v for k, v in spread.items()})
        vae.eval()
        prior = make_prior(cfg, vae, data)
        checkpoint.save(
            vae_path, {"vae": vae.state_dict(), "prior": prior.state_dict(), "summary": summary["heldout"]}
        )
        _log_latent_media(cfg, vae, prior, data, logger)
    return vae, prior, data


def _log_latent_media(
    cfg: RIGConfig, vae: LatentModel, prior: GoalPrior, data: VAEData, logger: RunLogger
) -> None:
    """Reconstructions and imagined goals (decoded prior samples; for CC-RIG, beside the context
    images whose z_c they are joined to) in the run's media folder."""
    if isinstance(vae, CCVAE):
        assert isinstance(data, dict)
        first = np.arange(0, len(data["context"]), cfg.vae_random_steps + 1)[-8:]  # 8 scenes
        media = vae.media({"image": data["image"][first], "context": data["context"][first]}, num_goals=4)
        logger.log_image("vae_reconstruction", media["reconstruction"])
        logger.log_image("imagined_goals", media["imagined_goals"])
        return
    images = vae_images(data)
    for name, image in vae.media(images[-64:]).items():
        logger.log_image(f"vae_{name}", image)
    imagined = vae.decode(prior.sample(32, torch.Generator().manual_seed(cfg.seed)).to(vae.device))
    logger.log_image(
        "imagined_goals", image_grid(to_uint8_images(imagined).reshape(4, 8, *images.shape[1:]), upscale=2)
    )


def run(
    cfg: RIGConfig | None = None,
    resume: Path | None = None,
    progress: bool = True,
    stop_at: int | None = None,
) -> Path:
    """Run (or resume) RIG; returns the path of the report. ``stop_at`` (env steps) behaves like a
    Ctrl-C at the first episode boundary past it (for tests of exact resume).

    With ``seeds > 1`` the run folder holds a folder ``seed_<s>`` per seed (its VAE, metrics,
    media, report and final checkpoint, as a run of that seed alone), the RL checkpoint of all
    seeds together, and a report and summary of every seed and their mean."""
    if resume is not None:
        run_dir = Path(resume)
        cfg = load_run_config(run_dir)
    else:
        cfg = cfg or default_preset()
        run_dir = make_run_dir(cfg.runs_dir, method_name(cfg), resolve(cfg.env).name)
    resolve(cfg.env)
    device = resolve_device(cfg.device)
    configs = seed_configs(cfg)
    folders = seed_folders(run_dir, configs)
    method, again = method_name(cfg), resume is not None
    with contextlib.ExitStack() as stack:
        if len(configs) > 1:  # the whole run's config, for --resume
            stack.enter_context(
                RunLogger(
                    run_dir,
                    method=method,
                    env=cfg.env,
                    seed=cfg.seed,
                    config=cfg,
                    tensorboard=False,
                    resume=again,
                )
            )
        loggers = [
            stack.enter_context(
                RunLogger(folder, method=method, env=c.env, seed=c.seed, config=c, resume=again)
            )
            for c, folder in zip(configs, folders, strict=True)
        ]
        spaces = [
            prepare_latent_space(c, folder, logger, progress, device)
            for c, folder, logger in zip(configs, folders, loggers, strict=True)
        ]
        team = RIGTeam.build(configs, spaces, device, loggers)
        rl_dir = run_dir / ARTIFACTS / "rl"
        if (rl_dir / checkpoint.STATE_FILE).exists():
            state, replay = checkpoint.load(rl_dir)
            team.load_state_dict(state)
            if replay is not None:
                team.load_replay_state(replay)
        finished = train_policy(team, rl_dir, progress, stop_at)
        if not finished:
            print(f"checkpoint written; continue with: affordkit rig --resume {run_dir}")
            return run_dir / "report.md"
        summaries = []
        cpu = device.type == "cpu"
        for agent, logger, folder in zip(team.agents, loggers, folders, strict=True):
            done = folder / "summary.json"
            if team.together and done.exists():  # finished before a stop during the final step
                summaries.append(json.loads(done.read_text()))
                continue
            final = evaluate(agent, agent.cfg.eval_episodes, eval_seed(agent.cfg, 999_999), record=True)
            logger.log(agent.counters.env_steps, final.metrics("final/"))
            if agent.vae is not None:
                _write_gif(folder / "media" / "final_rollouts.gif", agent, final)
            c = agent.counters
            summaries.append(
                {
                    "seed": agent.cfg.seed,
                    **final.metrics(""),
                    "env_steps": c.env_steps,
                    "updates": c.updates,
                    "linear_layer": linear_description(agent.cfg.td3.implementation == "fast" and cpu),
                }
            )
            report = _write_report(folder, agent.cfg, agent, final, summaries[-1]["linear_layer"])
            atomic.write_json(done, summaries[-1])  # last: the seed's final step is complete
    if not team.together:
        return report
    labels = {
        "success_rate": "success rate",
        "final_object_distance": "final object distance",
        "final_hand_distance": "final hand distance",
    }
    intro = (
        f"Preset `{cfg.preset}`, seeds {configs[0].seed}-{configs[-1].seed} trained together in one process "
        f"(envs in lockstep, one batched TD3 update for all); each seed's own report in "
        f"`seed_<s>/report.md`. {summaries[0]['env_steps']:,} env steps per seed; final evaluation on "
        f"{cfg.eval_episodes} goal images per seed that no seed trained on."
    )
    name = TITLES["ccrig" if cfg.latent_model == "ccvae" else cfg.observation]
    title = f"{name} on {cfg.env}, {len(configs)} seeds"
    return write_seeds_summary(run_dir, title, intro, summaries, labels, {"method": method})


def train_policy(team: RIGTeam, rl_dir: Path, progress: bool, stop_at: int | None) -> bool:
    """Phase 4 with evaluations (phase 5) on schedule; returns False when stopped early."""
    cfg, c = team.agents[0].cfg, team.counters
    pairs = list(zip(team.agents, team.loggers, strict=True))
    bar = tqdm(
        total=cfg.env_steps, initial=c.env_steps, desc="RIG env steps", disable=not progress, unit="step"
    )
    start = time.monotonic()
    steps_at_start = c.env_steps
    with _StopRequest() as stop:
        while c.env_steps < cfg.env_steps:
            if c.env_steps >= c.next_eval:
                success = []
                for agent, logger in pairs:
                    result = evaluate(agent, cfg.eval_episodes, eval_seed(agent.cfg, c.evaluations))
                    logger.log(c.env_steps, result.metrics())
                    success.append(result.success.mean())
                bar.set_postfix(success=f"{np.mean(success):.2f}")
                c.evaluations += 1
                c.next_eval += cfg.eval_every
            run_team_episodes(team, bar)
            if c.env_steps >= c.next_log:
                elapsed = max(time.monotonic() - start, 1e-9)
                for agent, logger in pairs:
                    logger.log(
                        c.env_steps,
                        {
                            **{f"td3/{k}": v for k, v in agent.last_update_metrics.items()},
                            "rig/updates": c.updates,
                            "rig/env_steps_per_second": (c.env_steps - steps_at_start) / elapsed,
                        },
                    )
                c.next_log += cfg.log_every
            if cfg.finetune_every and c.env_steps >= c.next_finetune:
                for agent, logger in pairs:
                    finetune_vae(agent, logger, count=False)
                c.finetunes += 1
                c.next_finetune += cfg.finetune_every
            stopping = stop.requested or (stop_at is not None and c.env_steps >= stop_at)
            if c.env_steps >= c.next_checkpoint or stopping or c.env_steps >= cfg.env_steps:
                while c.next_checkpoint <= c.env_steps:
                    c.next_checkpoint += cfg.checkpoint_every
                checkpoint.save(rl_dir, team.state_dict(), team.replay_state())
                team.save_seed_checkpoints([log.run_dir / ARTIFACTS / "rl" for log in team.loggers])
            if stopping:
                bar.close()
                return False
    bar.close()
    return True


def _write_gif(path: Path, agent: RIGAgent, result: EvalResult, episodes: int = 4) -> None:
    """Observation | goal image | decoded current latent, one row per episode, one frame per step."""
    import imageio.v3 as iio

    assert result.frames is not None and result.goal_images is not None and agent.vae is not None
    frames = result.frames[:, :episodes]  # (T + 1, E, H, W, 3)
    t, e = frames.shape[:2]
    flat = frames.reshape(t * e, *frames.shape[2:])
    if isinstance(agent.vae, CCVAE):  # every frame in the context of its episode's first frame
        contexts = np.broadcast_to(frames[:1], frames.shape).reshape(flat.shape)
        z_c = agent.vae.context(contexts)
        decoded = to_uint8_images(agent.vae.decode(agent.vae.encode_mean(flat, contexts), z_c))
    else:
        decoded = to_uint8_images(agent.vae.decode(agent.vae.encode_mean(flat)))
    decoded = decoded.reshape(t, e, *frames.shape[2:])
    goals = np.broadcast_to(result.goal_images[None, :episodes], frames.shape)
    grids = [image_grid(np.stack([frames[i], goals[i], decoded[i]], axis=1), upscale=3) for i in range(t)]
    atomic.write_bytes(path, iio.imwrite("<bytes>", np.stack(grids), extension=".gif", duration=100, loop=0))


def _plot_curves(run_dir: Path) -> Path | None:
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(run_dir / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("eval/success_rate")]
    if not rows:
        return None
    steps = [int(r["step"]) for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    axes[0].plot(steps, [float(r["eval/success_rate"]) for r in rows], marker="o")
    axes[0].set(
        xlabel="env steps", ylabel="success rate", ylim=(-0.02, 1.02), title="evaluation on goal images"
    )
    for key, label in (("eval/final_object_distance", "object"), ("eval/final_hand_distance", "hand")):
        if rows[0].get(key):
            axes[1].plot(steps, [float(r[key]) for r in rows], marker="o", label=label)
    axes[1].set(xlabel="env steps", ylabel="final distance (table units)")
    axes[1].legend()
    fig.tight_layout()
    path = run_dir / "media" / "eval_curves.png"
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic.write_bytes(path, buf.getvalue())
    return path


TITLES = {
    "ccrig": "CC-RIG",
    "latent": "RIG",
    "state": "TD3 + HER on the true state (oracle)",
    "pixels": "TD3 + HER on raw pixels",
}


def _pad(states: np.ndarray, k: int) -> np.ndarray:
    """``states`` (m <= k, d) padded to k rows by repeating the last (a full batch to render)."""
    return np.concatenate([states, np.repeat(states[-1:], k - len(states), axis=0)])


def _write_report(run_dir: Path, cfg: RIGConfig, agent: RIGAgent, final: EvalResult, linear: str) -> Path:
    c = agent.counters
    metrics = final.metrics("")
    curves = _plot_curves(run_dir)
    lines = [
        f"# {TITLES['ccrig' if cfg.latent_model == 'ccvae' else cfg.observation]} on {cfg.env}",
        "",
        f"Preset `{cfg.preset}`, seed {cfg.seed}, {cfg.image_size}x{cfg.image_size} images, "
        f"{c.env_steps:,} env steps, {c.updates:,} gradient steps, {c.finetunes} VAE fine-tuning rounds.",
        f"TD3 {cfg.td3.implementation} update; {linear}.",
        "",
        f"Final evaluation on {cfg.eval_episodes} goal images (goals the run never trained on):",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v:.3f} |" for k, v in metrics.items()]
    lines += [""]
    if curves:
        lines += ["![evaluation curves](media/eval_curves.png)", ""]
    if agent.vae is None:
        path = run_dir / "report.md"
        atomic.write_text(path, "\n".join(lines) + "\n")
        return path
    imagined = (
        "CC-VAE: rows of contexts s_0, their context-decoder images, images s_t and their "
        "reconstructions; then imagined goals (top row: contexts; below, each row one z ~ N(0, I) "
        "joined to every column's z_c and decoded):"
        if cfg.latent_model == "ccvae"
        else "VAE: reconstructions and imagined goals (decoded prior samples):"
    )
    lines += [
        "Rollouts (observation | goal image | decoded current latent):",
        "",
        "![rollouts](media/final_rollouts.gif)",
        "",
        imagined,
        "",
    ]
    for name in sorted(p.name for p in (run_dir / "media").glob("vae_*.png")):
        lines.append(f"![{name}](media/{name})")
    lines += ["![imagined goals](media/imagined_goals.png)", ""]
    path = run_dir / "report.md"
    atomic.write_text(path, "\n".join(lines) + "\n")
    return path


def load_agent(run_dir: Path, device: str | None = None) -> tuple[RIGAgent, int]:
    """The agent of the run's latest RL checkpoint, ready to act (no replay), and the env steps it
    had taken. ``device`` overrides the run's own (``"cpu"`` to inspect a GPU run here)."""
    cfg = load_run_config(run_dir)
    if cfg.seeds > 1:
        raise checkpoint.CheckpointError(
            f"{run_dir} trains {cfg.seeds} seeds together; evaluate one seed's folder: "
            f"{Path(run_dir) / f'seed_{cfg.seed}'} (seeds {cfg.seed}-{cfg.seed + cfg.seeds - 1})"
        )
    if device is not None:
        cfg = dataclasses.replace(cfg, device=device)
    dev = resolve_device(cfg.device)
    rl_state, _ = checkpoint.load(Path(run_dir) / ARTIFACTS / "rl", with_replay=False)
    vae: LatentModel | None = None
    if cfg.observation == "latent":
        vae = make_latent_model(cfg, dev)
        vae.load_state_dict(rl_state["vae"])
        vae.eval()
    prior = prior_from_state_dict(rl_state["prior"])
    agent = RIGAgent(dataclasses.replace(cfg, replay_capacity=2), vae, prior, None, dev)
    assert not isinstance(agent.td3, TD3SeedView)
    agent.td3.load_state_dict(rl_state["td3"])
    return agent, int(rl_state["counters"]["env_steps"])


def evaluate_run(run_dir: Path, episodes: int, seed: int) -> dict[str, float]:
    """``affordkit eval``: the run's latest checkpoint on fresh goal images."""
    agent, env_steps = load_agent(run_dir)
    result = evaluate(agent, episodes, seed)
    metrics = {
        **result.metrics(""),
        "env_steps": float(env_steps),
        "episodes": float(episodes),
    }
    atomic.write_json(Path(run_dir) / f"eval-seed{seed}.json", metrics)
    return metrics
