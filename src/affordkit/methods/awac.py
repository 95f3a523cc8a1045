"""AWAC offline-to-online (Nair, Gupta, Dalal, Levine, 2020): learn from a dataset, then keep
improving online from one buffer that starts with the data.

The algorithm box, one function per phase:

1. ``open_dataset``: an affordkit episode dataset (data/dataset.py), checked against the env.
2. ``train_offline``: AWAC (algos/awac.py), or BC as the baseline (``--learner bc``), on batches
   read straight from the memory-mapped dataset (so data larger than RAM trains), goals relabeled
   by rollout / future in the set fractions and the reward recomputed for every goal.
3. ``make_online_buffer``: one replay buffer initialised with the dataset's episodes.
4. ``train_online``: episodes with the policy's own Gaussian samples (no added noise), one gradient
   step per env step (``updates_per_step``), batches from the shared buffer with the same relabeling.
5. ``evaluate``: the env's own goals; success and final distances in the env's state space.

Observations: ``state`` (the env's low-dimensional state joined to the state-space goal, reward
the env's own sparse -1/0) or ``latent`` (a trained RIG run's VAE encodes images and goal images;
reward -1[||z' - z_g|| > latent_epsilon], VAL's sparse latent reward).

``run`` wires the phases into a run folder; checkpoints between updates (offline) and episodes
(online) carry the learner, counters, every RNG and, online, the replay buffer, so ``--resume``
continues exactly, across the offline-to-online boundary too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tqdm import tqdm

from affordkit import atomic
from affordkit.algos.awac import AWAC, AWACConfig
from affordkit.algos.awac_seeds import AWACSeeds, AWACSeedView
from affordkit.algos.bc import BC, BCConfig
from affordkit.algos.bc_seeds import BCSeeds, BCSeedView
from affordkit.data import DatasetError, EpisodeDataset, EpisodeReplay, FieldSpec
from affordkit.device import resolve_device
from affordkit.envs import make_vector_env, resolve
from affordkit.errors import ConfigError
from affordkit.logging import RunLogger, make_run_dir
from affordkit.loops import checkpoint
from affordkit.loops.evaluate import EvalResult, evaluate_on_goal_images
from affordkit.loops.rollout import run_episodes_together
from affordkit.methods.seeds import SeedTeam, agents_together, seed_configs, seed_folders, write_seeds_summary
from affordkit.networks.fast import linear_description
from affordkit.relabel import GoalMix, goal_conditioned_batch, relabel, sparse_threshold
from affordkit.relabel.goals import future_positions
from affordkit.seeding import Stream, derived_seed, table_seeds
from affordkit.types import ACHIEVED_GOAL, DESIRED_GOAL, IMAGE, STATE, Batch

ObservationKind = Literal["state", "latent"]
LearnerKind = Literal["awac", "bc"]
ExploreKind = Literal["sample", "mean"]
ARTIFACTS = "checkpoints"


@dataclass(frozen=True)
class AWACRunConfig:
    """Everything an AWAC run needs; presets in ``PRESETS`` are named functions returning one."""

    dataset: Path = Path("data/push")
    """Dataset folder (see `affordkit data collect`)."""
    env: str = ""
    """Environment for online steps and evaluation (default: the one the dataset names)."""
    seed: int = 0
    """Seeds the networks, batch sampling, exploration, env resets and evaluation goals."""
    seeds: int = 1
    """Seeds trained together in one process: ``seed``, ``seed + 1``, ..., each its own learner,
    env, buffer and random streams (what a run of that seed alone does), one batched AWAC (or BC)
    update for all (algos/awac_seeds.py, algos/bc_seeds.py); a folder per seed and the mean over
    seeds in the report."""
    preset: str = "default"
    """Preset the other values start from: ``default`` (the paper's settings), ``bench`` (the
    benchmark's, smaller networks and batches for a CPU) or ``smoke`` (seconds)."""
    learner: LearnerKind = "awac"
    """``awac``, or ``bc`` (offline only): behaviour cloning on the same batches, the baseline."""
    observation: ObservationKind = "state"
    """``state``: the env's state and state-space goal; ``latent``: a RIG VAE's latents of images."""
    encoder: Path | None = None
    """With ``observation=latent``: the RIG run folder whose VAE (checkpoints/vae.pt) encodes."""
    latent_epsilon: float = 1.0
    """With ``observation=latent``: sparse reward threshold on ||z' - z_g|| (VAL: 3.5-4 in 720-d;
    scale it to the latent)."""
    awac: AWACConfig = field(default_factory=lambda: AWACConfig(target_max=0.0, ignore_done=True))
    """AWAC's settings; Q targets clamped <= 0 and terminals ignored for the -1/0 sparse reward."""
    bc: BCConfig = field(default_factory=BCConfig)
    """BC's settings (``--learner bc``)."""
    goal_mix: GoalMix = field(default_factory=lambda: GoalMix(rollout=0.2, prior=0.0, future=0.8))
    """Relabeling: rollout (the episode's goal) and future (achieved later in the episode) goals;
    prior goals only with ``observation=latent`` (the RIG run's fitted prior)."""
    offline_steps: int = 25_000
    """Gradient steps on the dataset alone: 25,000 (AWAC manipulation, VAL)."""
    online_steps: int = 50_000
    """Env steps of online fine-tuning (over all tables); 0 stops after the offline phase."""
    updates_per_step: float = 1.0
    """Gradient steps per online env step: 1 in AWAC."""
    explore: ExploreKind = "sample"
    """Online actions: samples of the Gaussian policy (AWAC) or its mean."""
    num_envs: int = 10
    """Tables stepped together online; episodes run synchronously."""
    replay_capacity: int = 0
    """Observation slots of the online buffer; 0: the dataset plus every online episode."""
    device: str = "auto"
    """Torch device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``."""
    runs_dir: Path = Path("runs")
    """Folder that receives the run folder."""
    eval_every_offline: int = 5_000
    """Gradient steps between evaluations offline."""
    eval_every_online: int = 10_000
    """Env steps between evaluations online."""
    eval_episodes: int = 50
    """Episodes per evaluation."""
    checkpoint_every: int = 5_000
    """Gradient steps (offline) or env steps (online) between checkpoints (also at the phase
    boundary and the end)."""
    log_every: int = 1_000
    """Gradient steps between logged training metrics."""

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ConfigError(f"seed={self.seed}: expected a non-negative integer")
        if self.seeds < 1:
            raise ConfigError(f"seeds={self.seeds}: expected >= 1 (seeds trained together)")
        if self.learner not in ("awac", "bc"):
            raise ConfigError(f"learner={self.learner!r}; accepted values: ['awac', 'bc']")
        if self.observation not in ("state", "latent"):
            raise ConfigError(f"observation={self.observation!r}; accepted values: ['state', 'latent']")
        if self.observation == "latent" and self.encoder is None:
            raise ConfigError(
                "observation=latent needs --encoder RUN_DIR (a RIG run with checkpoints/vae.pt)"
            )
        if self.observation == "state" and self.goal_mix.prior > 0:
            raise ConfigError("goal_mix.prior > 0 needs observation=latent (state goals have no prior here)")
        if self.learner == "bc" and self.online_steps:
            raise ConfigError("learner=bc trains offline only: set --online-steps 0")
        for name in ("num_envs", "eval_episodes", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)}: expected >= 1")
        for name in ("offline_steps", "online_steps", "replay_capacity"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)}: expected >= 0")
        if self.updates_per_step < 0 or self.latent_epsilon <= 0:
            raise ConfigError("updates_per_step must be >= 0 and latent_epsilon > 0")
        if self.explore not in ("sample", "mean"):
            raise ConfigError(f"explore={self.explore!r}; accepted values: ['sample', 'mean']")

    @property
    def batch_size(self) -> int:
        return self.bc.batch_size if self.learner == "bc" else self.awac.batch_size


# ------------------------------------------------------------------------------------------ presets
def default_preset() -> AWACRunConfig:
    """The paper's manipulation settings: batch 1024, policy [256] * 4, 25k offline steps."""
    return AWACRunConfig(preset="default")


def bench_preset() -> AWACRunConfig:
    """benchmarks/awac.py: [128, 128] networks and batch 256, so five seeds fit a two-core CPU;
    lambda 1 (the paper's MuJoCo value); 100,000 offline steps of 256, the samples of the paper's
    25,000 steps of 1,024; online, 2 gradient steps of 256 per env step (the paper: 1 of 1,024).
    All chosen on tuning seeds (100 and up): lambda 0.3 stayed at BC's level offline where lambda 1
    did not (benchmarks/results/awac_offline_tuning.md); at 100k steps AWAC reached 0.655 offline
    where BC had 0.220 at 50k and 0.120 at 100k (awac_offline_tuning_round3.md, seeds 100-101);
    after 50k online env steps, 2 gradient steps per env step ended at 0.880 / 0.960 against
    0.870 / 0.880 for 0.5 and 0.810 / 0.890 for 1 (awac_online_tuning_seed100.md, ..._seed101.md)."""
    small = (128, 128)
    return AWACRunConfig(
        preset="bench",
        awac=AWACConfig(
            policy_hidden=small, q_hidden=small, batch_size=256, beta=1.0, target_max=0.0, ignore_done=True
        ),
        bc=BCConfig(policy_hidden=small, batch_size=256),
        offline_steps=100_000,
        online_steps=50_000,
        updates_per_step=2.0,
        eval_every_offline=12_500,
        eval_every_online=10_000,
        eval_episodes=100,
        checkpoint_every=10_000,
    )


def smoke_preset() -> AWACRunConfig:
    """Seconds: every phase runs, nothing is learned (tests and a first look)."""
    return AWACRunConfig(
        preset="smoke",
        awac=AWACConfig(
            policy_hidden=(32, 32), q_hidden=(32, 32), batch_size=32, target_max=0.0, ignore_done=True
        ),
        bc=BCConfig(policy_hidden=(32, 32), batch_size=32),
        offline_steps=60,
        online_steps=400,
        num_envs=4,
        eval_every_offline=30,
        eval_every_online=200,
        eval_episodes=4,
        checkpoint_every=30,
        log_every=20,
    )


PRESETS = {"default": default_preset, "bench": bench_preset, "smoke": smoke_preset}


def preset(name: str) -> AWACRunConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown AWAC preset {name!r}; known presets: {sorted(PRESETS)}")
    return PRESETS[name]()


# ---------------------------------------------------------------------------------------- phase 1
def open_dataset(cfg: AWACRunConfig) -> tuple[EpisodeDataset, str]:
    """The dataset and the env name, checked against each other."""
    ds = EpisodeDataset(cfg.dataset)
    needed = ["action", STATE, ACHIEVED_GOAL, DESIRED_GOAL, "terminated"]
    if cfg.observation == "latent":
        needed += [IMAGE, "goal_image"]
    ds.require(needed)
    env_name = cfg.env or str(ds.env.get("name", ""))
    if not env_name:
        raise ConfigError(f"{cfg.dataset} names no env; pass --env")
    entry = resolve(env_name)
    if ds.env.get("name") not in (None, entry.name):
        raise ConfigError(f"{cfg.dataset} was collected on {ds.env.get('name')}, not {entry.name}")
    if any(bool(np.any(a)) for a in ds.feature_chunks("terminated")):
        raise DatasetError(
            f"{cfg.dataset} has terminated transitions; goal relabeling here assumes episodes end by time "
            "limit only (the tabletop envs never terminate)"
        )
    if cfg.observation == "latent" and ds.features[IMAGE].shape[0] != ds.env.get("image_size", 48):
        raise DatasetError(f"{cfg.dataset}: images of size {ds.features[IMAGE].shape} disagree with its env")
    return ds, entry.name


# ------------------------------------------------------------------------------------------ agent
@dataclass
class Counters:
    updates: int = 0
    offline_done: bool = False
    env_steps: int = 0
    episodes: int = 0
    evaluations: int = 0
    update_budget: float = 0.0
    next_eval: int = 0
    next_checkpoint: int = 0
    next_log: int = 0


class AWACAgent:
    """What the run trains and carries between phases (and into checkpoints)."""

    def __init__(
        self,
        cfg: AWACRunConfig,
        ds: EpisodeDataset,
        env_name: str,
        device: torch.device,
        learner: Any = None,
        counters: Counters | None = None,
    ) -> None:
        """``learner``: an ``AWACSeedView`` (``BCSeedView``) when the agent is one of several seeds
        trained together (default: its own AWAC or BC); ``counters``: the ones it shares with them."""
        self.cfg, self.ds, self.env_name, self.device = cfg, ds, env_name, device
        self.image_size = int(ds.env.get("image_size", 48))
        self.env = make_vector_env(
            env_name, cfg.num_envs, autoreset_mode="disabled", image_size=self.image_size
        )
        self.env.reset(seed=table_seeds(cfg.seed, cfg.num_envs))  # streams no other run shares
        self.encode: Any = None
        self.prior: Any = None
        if cfg.observation == "latent":
            self.encode, self.prior, dim = load_encoder(Path(str(cfg.encoder)), device)
            goal_dim = dim
            self.reward_fn = sparse_threshold(cfg.latent_epsilon)
        else:
            goal_dim = self.env.config.goal_dim
            env = self.env

            def env_reward(achieved: np.ndarray, desired: np.ndarray) -> np.ndarray:
                return np.asarray(env.compute_reward(achieved, desired, {}), dtype=np.float32)

            self.reward_fn = env_reward
        self.obs_dim = goal_dim
        self.goal_dim = goal_dim
        in_dim = self.obs_dim + self.goal_dim
        self.in_dim = in_dim
        self.learner: Any = learner or (
            AWAC(in_dim, 2, cfg.awac, seed=learner_seed(cfg), device=device)
            if cfg.learner == "awac"
            else BC(in_dim, 2, cfg.bc, seed=learner_seed(cfg), device=device)
        )
        self.rng = np.random.default_rng(derived_seed(cfg.seed, Stream.REPLAY))  # sampling, relabeling
        self.explore_generator = torch.Generator(device=device).manual_seed(
            derived_seed(cfg.seed, Stream.EXPLORE)
        )
        self.prior_generator = torch.Generator().manual_seed(derived_seed(cfg.seed, Stream.PRIOR))
        self.counters = counters or Counters(next_log=cfg.log_every, next_checkpoint=cfg.checkpoint_every)
        self.offline_success = -1.0  # success at the end of the offline phase, on the final goals
        self.replay: EpisodeReplay | None = None
        self.last_metrics: dict[str, float] = {}

    # ------------------------------------------------------------------------------ observations
    def observation(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """(N, obs_dim) float32: the state, or the latent of the image."""
        return self.encode(obs[IMAGE]) if self.encode is not None else obs[STATE].astype(np.float32)

    def act(self, obs: np.ndarray, goal: np.ndarray, explore: bool) -> np.ndarray:
        x = torch.from_numpy(np.concatenate([obs, goal], axis=1).astype(np.float32)).to(self.device)
        if explore and self.cfg.explore == "sample":
            return self.learner.explore(x, self.explore_generator).cpu().numpy()
        return self.learner.act(x).cpu().numpy()

    def sample_prior(self, n: int) -> np.ndarray:
        if self.prior is None:
            raise ConfigError("prior goals need observation=latent")
        return self.prior.sample(n, self.prior_generator).float().numpy()

    # ------------------------------------------------------------------------------ batches
    def offline_batch(self) -> Batch:
        """A batch read from the memory-mapped dataset: rollout goals are the episode's, future
        goals achieved later in the same episode, prior goals drawn from the prior; the reward is
        recomputed from the next observation and the goal."""
        ds, n = self.ds, self.cfg.batch_size
        pos = ds.sample_positions(n, self.rng)
        counts = self.cfg.goal_mix.counts(n)  # rollout, prior, future
        r, p = slice(0, counts[0]), slice(counts[0], counts[0] + counts[1])
        f = slice(counts[0] + counts[1], n)
        later = future_positions(pos[f], ds.episode_last[ds.episode_of(pos[f])], self.rng)
        if self.encode is None:
            obs, next_obs = ds.gather(STATE, pos), ds.gather(STATE, pos + 1)
            rollout_goals = ds.gather(DESIRED_GOAL, pos[r])
            future_goals = ds.gather(ACHIEVED_GOAL, later)
        else:
            obs, next_obs = self.encode(ds.gather(IMAGE, pos)), self.encode(ds.gather(IMAGE, pos + 1))
            rollout_goals = self.encode(ds.gather("goal_image", ds.episode_of(pos[r])))
            future_goals = self.encode(ds.gather(IMAGE, later))
        goals = np.empty((n, self.goal_dim), dtype=np.float32)
        goals[r], goals[f] = rollout_goals, future_goals
        if counts[1]:
            goals[p] = self.sample_prior(int(counts[1]))
        arrays = {
            "obs": np.concatenate([obs, goals], axis=1),
            "action": ds.gather("action", ds.transition_index(pos)),
            "reward": self.reward_fn(next_obs, goals),
            "next_obs": np.concatenate([next_obs, goals], axis=1),
            "done": np.zeros(n, dtype=np.float32),  # time limits only (open_dataset checks)
        }
        return self._to_batch(arrays)

    def online_batch(self) -> Batch:
        """A batch from the shared buffer, relabeled the same way (relabel/goals.py)."""
        assert self.replay is not None
        pos = self.replay.sample_positions(self.cfg.batch_size, self.rng)
        goals, _ = relabel(
            self.replay, pos, self.cfg.goal_mix, self.rng,
            goal_field="goal", achieved_field="obs", prior_goals=lambda pos: self.sample_prior(len(pos)),
        )  # fmt: skip
        return self._to_batch(
            goal_conditioned_batch(self.replay, pos, goals, self.reward_fn, obs_field="obs")
        )

    def _to_batch(self, arrays: dict[str, np.ndarray]) -> Batch:
        t = {
            k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)).to(self.device)
            for k, v in arrays.items()
        }
        return Batch(
            obs=t["obs"], action=t["action"], reward=t["reward"], next_obs=t["next_obs"], done=t["done"]
        )

    # ------------------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "learner": self.learner.state_dict(),
            "counters": dataclasses.asdict(self.counters),
            "offline_success": self.offline_success,
            "rng": checkpoint.numpy_rng_state(self.rng),
            "explore_generator": self.explore_generator.get_state(),
            "prior_generator": self.prior_generator.get_state(),
            "env_rngs": [checkpoint.numpy_rng_state(r) for r in self.env.core.rngs],
        }

    def load_state_dict(self, state: dict[str, Any], learner: bool = True) -> None:
        """``learner=False``: the learner's state is restored elsewhere (seeds trained together)."""
        if learner:
            self.learner.load_state_dict(state["learner"])
        counters = dict(state["counters"])
        older: float = counters.pop("offline_success", -1.0)  # checkpoints that kept it with the counters
        self.offline_success = float(state.get("offline_success", older))
        for name, value in counters.items():  # in place: seeds trained together share them
            setattr(self.counters, name, value)
        self.rng = checkpoint.restore_numpy_rng(state["rng"])
        self.explore_generator.set_state(state["explore_generator"])
        self.prior_generator.set_state(state["prior_generator"])
        self.env.core.rngs = [checkpoint.restore_numpy_rng(s) for s in state["env_rngs"]]


def load_encoder(run_dir: Path, device: torch.device) -> tuple[Any, Any, int]:
    """The VAE of a RIG run (its latest fine-tuned weights when the run trained RL) as an encoder
    of uint8 images, its goal prior, and the latent size."""
    from affordkit.generative import BetaVAE
    from affordkit.generative.priors import GaussianPrior
    from affordkit.methods.rig import encoder, load_run_config

    rig_cfg = load_run_config(run_dir)
    vae_state, _ = checkpoint.load(run_dir / ARTIFACTS / "vae.pt", with_replay=False)
    vae = BetaVAE(rig_cfg.vae).to(device)
    weights = vae_state["vae"]
    if (run_dir / ARTIFACTS / "rl" / checkpoint.STATE_FILE).exists():
        weights = checkpoint.load(run_dir / ARTIFACTS / "rl", with_replay=False)[0]["vae"]
    vae.load_state_dict(weights)
    vae.eval()
    return encoder(vae), GaussianPrior.from_state_dict(vae_state["prior"]), rig_cfg.vae.latent_dim


# ---------------------------------------------------------------------------------------- phase 5
def evaluate(agent: AWACAgent, episodes: int, seed: int) -> EvalResult:
    """The env's own goals: as states (state observations) or as rendered goal images (latent)."""
    env = make_vector_env(agent.env_name, episodes, autoreset_mode="disabled", image_size=agent.image_size)

    def policy_for_goals(goal_images: np.ndarray, goal_states: np.ndarray) -> Any:
        goal = agent.encode(goal_images) if agent.encode is not None else goal_states

        def policy(obs: dict[str, np.ndarray], t: int) -> np.ndarray:
            return agent.act(agent.observation(obs), goal, explore=False)

        return policy

    return evaluate_on_goal_images(env, policy_for_goals, seed=seed)


def learner_seed(cfg: AWACRunConfig) -> int:
    """The learner's seed (initial weights, its own sampling) in the run seeded ``cfg.seed``."""
    return derived_seed(cfg.seed, Stream.LEARNER)


def eval_seed(cfg: AWACRunConfig, round_: int) -> int:
    """Evaluation goals differ from every training episode's but repeat across runs of a seed."""
    return 10_000_000 + cfg.seed * 1000 + round_


FINAL_ROUND = 999
"""The evaluation round whose goals serve the phase boundary and the end of the run: offline and
final success (and BC's) are measured on the same goals, so the online gain is a paired difference."""


# ---------------------------------------------------------------------------------------- the team
class Team(SeedTeam[AWACAgent]):
    """The agents a run trains: one, or (``seeds > 1``) one per seed trained together
    (methods/seeds.py), agent k acting with learner k of one ``AWACSeeds`` (``BCSeeds``); each logs
    to its own folder."""

    @classmethod
    def build(
        cls,
        cfg: AWACRunConfig,
        ds: EpisodeDataset,
        env_name: str,
        device: torch.device,
        loggers: list[RunLogger],
    ) -> Team:
        configs = seed_configs(cfg)
        if len(configs) == 1:
            return cls([AWACAgent(cfg, ds, env_name, device)], loggers, None, "learner")
        seeds = [learner_seed(c) for c in configs]
        stacked, view = (
            (lambda first: AWACSeeds(first.in_dim, 2, cfg.awac, seeds=seeds, device=device), AWACSeedView)
            if cfg.learner == "awac"
            else (lambda first: BCSeeds(first.in_dim, 2, cfg.bc, seeds=seeds, device=device), BCSeedView)
        )
        agents, stack = agents_together(
            len(configs),
            lambda k, learner, counters: AWACAgent(configs[k], ds, env_name, device, learner, counters),
            stacked,
            view,
            "learner",
        )
        return cls(agents, loggers, stack, "learner")

    def explore(self, current: list[np.ndarray], goal: list[np.ndarray]) -> list[np.ndarray]:
        """Every agent's exploration actions, in one batched call when trained together."""
        if self.stacked is None:
            return [self.agents[0].act(current[0], goal[0], explore=True)]
        x = self.stacked_input([np.concatenate([o, g], axis=1) for o, g in zip(current, goal, strict=True)])
        if self.agents[0].cfg.explore == "sample":
            actions = self.stacked.explore(x, [a.explore_generator for a in self.agents])
        else:
            actions = self.stacked.act(x)
        return list(actions.cpu().numpy())


# ---------------------------------------------------------------------------------------- phase 2
def train_offline(team: Team, folder: Path, progress: bool, stop_at: int | None) -> bool:
    """``offline_steps`` updates on dataset batches, evaluations and checkpoints on schedule;
    returns False when stopped early (``stop_at`` gradient steps, for tests of exact resume)."""
    cfg, c = team.agents[0].cfg, team.counters
    bar = tqdm(total=cfg.offline_steps, initial=c.updates, desc="offline", disable=not progress, unit="step")
    start, updates_at_start = time.monotonic(), c.updates
    while c.updates < cfg.offline_steps:
        if c.updates >= c.next_eval:
            _evaluate_and_log(team, "eval/")
            c.next_eval += cfg.eval_every_offline
        metrics = team.update([a.offline_batch() for a in team.agents])
        c.updates += 1
        bar.update(1)
        if c.updates >= c.next_log:
            rate = (c.updates - updates_at_start) / max(time.monotonic() - start, 1e-9)
            for logger, m in zip(team.loggers, metrics, strict=True):
                logger.log(c.updates, {**_floats(m, cfg.learner), "offline/updates_per_second": rate})
            c.next_log += cfg.log_every
        if c.updates >= c.next_checkpoint or (stop_at is not None and c.updates >= stop_at):
            c.next_checkpoint += cfg.checkpoint_every
            checkpoint.save(folder, team.state_dict())
            save_seed_checkpoints(team)
            if stop_at is not None and c.updates >= stop_at:
                bar.close()
                return False
    bar.close()
    results = _evaluate_and_log(team, "offline/", FINAL_ROUND)
    for agent, result in zip(team.agents, results, strict=True):
        agent.offline_success = float(result.success.mean())
    c.offline_done = True
    c.next_eval = cfg.eval_every_online
    c.next_checkpoint = cfg.checkpoint_every
    checkpoint.save(folder, team.state_dict())  # the phase boundary
    save_seed_checkpoints(team)
    return True


# ---------------------------------------------------------------------------------------- phase 3
def make_online_buffer(agent: AWACAgent) -> EpisodeReplay:
    """One buffer initialised with the dataset's episodes (newest last), room for the online ones."""
    cfg, ds = agent.cfg, agent.ds
    steps = agent.env.config.max_episode_steps
    online_slots = (cfg.online_steps // steps + cfg.num_envs) * (steps + 1)
    capacity = cfg.replay_capacity or (ds.num_observations + online_slots)
    replay = EpisodeReplay(
        capacity, {"obs": FieldSpec((agent.obs_dim,)), "goal": FieldSpec((agent.goal_dim,))}, 2
    )
    for i in range(ds.num_episodes):  # only the features the buffer holds are read
        start, steps = int(ds.episode_start[i]), int(ds.lengths[i])
        rows = np.arange(start, start + steps + 1)
        action = ds.gather("action", np.arange(start - i, start - i + steps))
        if agent.encode is None:
            obs, goal = ds.gather(STATE, rows), ds.gather(DESIRED_GOAL, rows)
        else:
            obs = agent.encode(ds.gather(IMAGE, rows))
            goal = np.repeat(agent.encode(ds.gather("goal_image", np.array([i]))), len(obs), axis=0)
        replay.add_episodes({"obs": obs[None], "goal": goal[None]}, action[None])
    return replay


# ---------------------------------------------------------------------------------------- phase 4
def run_episode_batch(team: Team, bar: Any = None) -> None:
    """One synchronous episode on every table of every agent with the env's goals, gradient steps as
    env steps accrue; the episodes then join each agent's buffer."""
    agents, c = team.agents, team.counters
    cfg, n = agents[0].cfg, agents[0].cfg.num_envs
    goal = [np.zeros((n, a.goal_dim), dtype=np.float32) for a in agents]
    current = [np.zeros((n, a.obs_dim), dtype=np.float32) for a in agents]
    metrics: list[dict[str, torch.Tensor]] = [{} for _ in agents]

    def hooks(k: int) -> tuple[Any, Any]:
        agent = agents[k]

        def on_reset(obs: dict[str, np.ndarray]) -> None:
            goal[k][:] = (
                agent.encode(agent.env.render_goal()) if agent.encode is not None else obs[DESIRED_GOAL]
            )

        def observe(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            current[k][:] = agent.observation(obs)
            return {"obs": current[k].copy(), "goal": goal[k].copy()}

        return on_reset, observe

    def policy(obs: list[dict[str, np.ndarray]], t: int) -> list[np.ndarray]:
        return team.explore(current, goal)

    def after_step() -> None:
        c.env_steps += n
        if bar is not None:
            bar.update(n)
        c.update_budget += n * cfg.updates_per_step
        while c.update_budget >= 1:
            for own, new in zip(metrics, team.update([a.online_batch() for a in agents]), strict=True):
                own.update(new)
            c.updates += 1
            c.update_budget -= 1

    on_reset, observe = zip(*(hooks(k) for k in range(len(agents))), strict=True)
    batches = run_episodes_together([a.env for a in agents], policy, observe, after_step, on_reset)
    for agent, batch, own in zip(agents, batches, metrics, strict=True):
        assert agent.replay is not None
        agent.replay.add_episodes(batch.fields, batch.actions)
        agent.last_metrics = {
            **_floats(own, cfg.learner),
            "online/train_success_rate": float(np.mean(batch.final_info["success"])),
        }
    c.episodes += n


def train_online(team: Team, folder: Path, progress: bool, stop_at: int | None) -> bool:
    """``online_steps`` env steps; returns False when stopped early (``stop_at`` env steps)."""
    cfg, c = team.agents[0].cfg, team.counters
    bar = tqdm(total=cfg.online_steps, initial=c.env_steps, desc="online", disable=not progress, unit="step")
    while c.env_steps < cfg.online_steps:
        run_episode_batch(team, bar)
        if c.updates >= c.next_log:
            for agent, logger in zip(team.agents, team.loggers, strict=True):
                logger.log(c.updates, {**agent.last_metrics, "online/env_steps": c.env_steps})
            while c.next_log <= c.updates:
                c.next_log += cfg.log_every
        if c.env_steps >= c.next_eval:
            _evaluate_and_log(team, "eval/")
            c.next_eval += cfg.eval_every_online
        stopping = stop_at is not None and c.env_steps >= stop_at
        if c.env_steps >= c.next_checkpoint or stopping or c.env_steps >= cfg.online_steps:
            while c.next_checkpoint <= c.env_steps:
                c.next_checkpoint += cfg.checkpoint_every
            checkpoint.save(folder, team.state_dict(), team.replay_state())
            save_seed_checkpoints(team)
        if stopping:
            bar.close()
            return False
    bar.close()
    return True


def _evaluate_and_log(team: Team, prefix: str, round_: int | None = None) -> list[EvalResult]:
    """Every agent evaluated on its seed's goals of the next round (or of ``round_``), logged under
    ``prefix`` in its own folder."""
    c = team.counters
    results = []
    for agent, logger in zip(team.agents, team.loggers, strict=True):
        seed = eval_seed(agent.cfg, c.evaluations if round_ is None else round_)
        result = evaluate(agent, agent.cfg.eval_episodes, seed)
        logger.log(c.updates, {**result.metrics(prefix), "online/env_steps": c.env_steps})
        results.append(result)
    c.evaluations += 1
    return results


def _floats(metrics: dict[str, torch.Tensor], learner: str) -> dict[str, float]:
    return {(k if "/" in k else f"{learner}/{k}"): float(v) for k, v in metrics.items()}


# ----------------------------------------------------------------------------------- the run
def run(
    cfg: AWACRunConfig | None = None,
    resume: Path | None = None,
    progress: bool = True,
    stop_at: tuple[str, int] | None = None,
) -> Path:
    """Run (or resume) AWAC; returns the path of the report. ``stop_at=("offline", updates)`` or
    ``("online", env_steps)`` stops there with a checkpoint, as a killed run would have.

    With ``seeds > 1`` the run folder holds a folder ``seed_<s>`` per seed (its metrics, report,
    summary and final agent checkpoint, as a run of that seed alone), the checkpoint of all seeds
    together, and a report and summary of every seed and their mean."""
    if resume is not None:
        run_dir = Path(resume)
        cfg = load_run_config(run_dir)
    else:
        cfg = cfg or default_preset()
        run_dir = make_run_dir(cfg.runs_dir, cfg.learner, resolve(cfg.env or _dataset_env(cfg)).name)
    ds, env_name = open_dataset(cfg)
    device = resolve_device(cfg.device)
    configs = seed_configs(cfg)
    folders = seed_folders(run_dir, configs)
    with contextlib.ExitStack() as stack:
        if len(configs) > 1:  # the whole run's config, for --resume
            stack.enter_context(
                RunLogger(
                    run_dir, method=cfg.learner, env=env_name, seed=cfg.seed, config=cfg,
                    tensorboard=False, resume=resume is not None,
                )
            )  # fmt: skip
        loggers = [
            stack.enter_context(
                RunLogger(
                    folder, method=c.learner, env=env_name, seed=c.seed, config=c, resume=resume is not None
                )
            )
            for c, folder in zip(configs, folders, strict=True)
        ]
        team = Team.build(cfg, ds, env_name, device, loggers)
        folder = run_dir / ARTIFACTS / "agent"
        replay_state = None
        if (folder / checkpoint.STATE_FILE).exists():
            state, replay_state = checkpoint.load(folder)
            team.load_state_dict(state)
        if not team.counters.offline_done:
            offline_stop = stop_at[1] if stop_at and stop_at[0] == "offline" else None
            if not train_offline(team, folder, progress, offline_stop):
                return _stopped(run_dir)
        if cfg.online_steps:
            for agent in team.agents:
                agent.replay = make_online_buffer(agent)
            if replay_state is not None:
                team.load_replay_state(replay_state)
            online_stop = stop_at[1] if stop_at and stop_at[0] == "online" else None
            if not train_online(team, folder, progress, online_stop):
                return _stopped(run_dir)
        summaries = []
        learner_cfg = cfg.awac if cfg.learner == "awac" else cfg.bc
        for agent, logger, seed_dir in zip(team.agents, loggers, folders, strict=True):
            final = evaluate(agent, cfg.eval_episodes, eval_seed(agent.cfg, FINAL_ROUND))
            c = agent.counters
            logger.log(c.updates, {**final.metrics("final/"), "online/env_steps": c.env_steps})
            summary = {
                "learner": cfg.learner,
                "seed": agent.cfg.seed,
                "offline_success": agent.offline_success,
                "final_success": float(final.success.mean()),
                "final_object_distance": float(final.metrics("")["final_object_distance"])
                if final.object_distance is not None
                else None,
                "updates": c.updates,
                "env_steps": c.env_steps,
                "linear_layer": linear_description(
                    learner_cfg.implementation == "fast" and device.type == "cpu"
                ),
            }
            atomic.write_json(seed_dir / "summary.json", summary)
            report = _write_report(seed_dir, agent.cfg, env_name, ds, summary, final)
            summaries.append(summary)
        if len(configs) == 1:
            return report
        return _write_seeds_report(run_dir, cfg, env_name, summaries)


def save_seed_checkpoints(team: Team) -> None:
    """Each seed's agent to ``seed_<s>/checkpoints/agent`` after a joint checkpoint (several seeds)."""
    team.save_seed_checkpoints([log.run_dir / ARTIFACTS / "agent" for log in team.loggers])


def _stopped(run_dir: Path) -> Path:
    print(f"checkpoint written; continue with: affordkit awac --resume {run_dir}")
    return run_dir / "report.md"


def _dataset_env(cfg: AWACRunConfig) -> str:
    from affordkit.data.dataset import read_meta

    return str(read_meta(cfg.dataset).get("env", {}).get("name", ""))


def _write_report(
    run_dir: Path,
    cfg: AWACRunConfig,
    env_name: str,
    ds: EpisodeDataset,
    summary: dict[str, Any],
    final: EvalResult,
) -> Path:
    stats = ds.stats()
    data_success = stats.get("success_rate")
    lines = [
        f"# {cfg.learner.upper()} on {env_name} ({cfg.observation} observations)",
        "",
        f"Preset `{cfg.preset}`, seed {cfg.seed}. Dataset `{cfg.dataset}`: {ds.num_episodes} episodes, "
        f"{ds.num_steps} steps"
        + (f", {data_success:.1%} of them successful." if data_success is not None else "."),
        "",
        f"{cfg.offline_steps:,} offline gradient steps, then {summary['env_steps']:,} online env steps "
        f"({summary['updates']:,} gradient steps in all); {summary['linear_layer']}.",
        "",
        f"Evaluation on {cfg.eval_episodes} goals the run never trained on:",
        "",
        "| phase | success rate |",
        "|---|---|",
        f"| after the offline phase | {summary['offline_success']:.3f} |",
    ]
    if cfg.online_steps:
        lines.append(f"| after online fine-tuning | {summary['final_success']:.3f} |")
    lines += ["", "Final evaluation:", "", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in final.metrics("").items()]
    path = run_dir / "report.md"
    atomic.write_text(path, "\n".join(lines) + "\n")
    return path


def _write_seeds_report(
    run_dir: Path, cfg: AWACRunConfig, env_name: str, summaries: list[dict[str, Any]]
) -> Path:
    labels = {"offline_success": "success after the offline phase"}
    if cfg.online_steps:
        labels["final_success"] = "success after online fine-tuning"
    labels["final_object_distance"] = "final object distance"
    intro = (
        f"Preset `{cfg.preset}`, seeds {summaries[0]['seed']}-{summaries[-1]['seed']} trained together in "
        f"one process (one batched update for all); each seed's own report in `seed_<s>/report.md`. "
        f"{cfg.offline_steps:,} offline gradient steps, then {summaries[0]['env_steps']:,} online env "
        f"steps per seed; evaluation on {cfg.eval_episodes} goals per seed that no seed trained on."
    )
    title = f"{cfg.learner.upper()} on {env_name} ({cfg.observation} observations), {len(summaries)} seeds"
    return write_seeds_summary(run_dir, title, intro, summaries, labels, {"learner": cfg.learner})


def load_run_config(run_dir: Path) -> AWACRunConfig:
    """The config a run was started with, from its config.json."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise checkpoint.CheckpointError(f"{run_dir} is not a run folder: {path.name} is missing")
    raw = json.loads(path.read_text())["config"]
    nested = {"awac": AWACConfig, "bc": BCConfig, "goal_mix": GoalMix}
    values: dict[str, Any] = {}
    for f in dataclasses.fields(AWACRunConfig):
        if f.name not in raw:
            continue
        v = raw[f.name]
        if f.name in nested:
            v = nested[f.name](**{k: tuple(x) if isinstance(x, list) else x for k, x in v.items()})
        elif f.name in ("runs_dir", "dataset") or (f.name == "encoder" and v is not None):
            v = Path(v)
        values[f.name] = v
    return AWACRunConfig(**values)
