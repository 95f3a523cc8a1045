"""Env steps per second of RIG's training loop (phase 4: rollouts on every table, VAE encoding,
relabelled minibatches, TD3 updates at ``updates_per_step``) with TD3's fast and reference update,
on one CPU thread.

The loop is the one ``affordkit rig`` runs (methods/rig.py ``run_episode_batch``), at the default
preset's settings (Push at 48x48, 8 tables, 4 gradient steps per env step, batch 128, [400, 300]),
after the uniform warm-up. The VAE is untrained (its speed does not depend on its weights) and the
prior is fitted to a few hundred of its encodings, so the measurement starts in seconds. The two
implementations are interleaved in rounds of whole episode batches and the ratio is taken within
each round.

With ``--seeds K`` it measures instead K seeds trained together (``affordkit rig --seeds K``:
the K envs in lockstep, one batched TD3 update; methods/seeds.py) against the same K seeds run one
after another (K lone agents, an episode batch each in turn), both with the fast update; the
throughput is env steps of all seeds per second, the ratio taken within each round.

    OMP_NUM_THREADS=1 python benchmarks/end_to_end.py       # writes results/end_to_end.{md,json}
    OMP_NUM_THREADS=1 python benchmarks/end_to_end.py --seeds 5   # results/end_to_end_seeds5.{md,json}
    OMP_NUM_THREADS=1 python benchmarks/end_to_end.py --breakdown # results/end_to_end_breakdown.{md,json}
    python benchmarks/end_to_end.py --quick --results-dir /tmp/speed
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from affordkit import atomic
from affordkit.device import set_cpu_threads
from affordkit.generative.vae import BetaVAE
from affordkit.methods import rig
from affordkit.networks import fast

try:
    from benchmarks._common import RESULTS, provenance, provenance_lines
except ImportError:  # run as a script from benchmarks/
    from _common import RESULTS, provenance, provenance_lines  # type: ignore[no-redef]

IMPLEMENTATIONS = ("fast", "reference")
DEVICE = torch.device("cpu")
"""Where the VAE and the learners run (``--device``); the envs always step on the CPU."""


def device_name() -> str:
    return torch.cuda.get_device_name(DEVICE) if DEVICE.type == "cuda" else "cpu"


def measured_on(threads: int, check: fast.OneDNNCheck) -> dict[str, Any]:
    """The fields every results file of this script starts with: device, threads, oneDNN check."""
    return {
        "device": device_name(),
        "threads": threads,
        "onednn_check": {"use": check.use, "reason": check.reason},
    }


def intro_lines(payload: dict[str, Any]) -> list[str]:
    """Provenance, device, threads and the oneDNN check, as the results files' first lines."""
    check = payload["onednn_check"]
    return [
        *provenance_lines(payload["provenance"]),
        f"- device: {payload['device']}; threads: {payload['threads']}; oneDNN Linear in the fast path: "
        f"{check['use']} ({check['reason']})",
    ]


def synchronize() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def latent_space(cfg: rig.RIGConfig) -> tuple[BetaVAE, Any, Any]:
    """An untrained VAE (its speed does not depend on its weights), its data and fitted prior."""
    images = rig.collect_vae_data(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        vae = BetaVAE(cfg.vae).to(DEVICE)
    vae.eval()
    return vae, rig.make_prior(cfg, vae, images), images


def make_agents(cfg: rig.RIGConfig) -> dict[str, rig.RIGAgent]:
    """One agent per implementation, same seed, same VAE and prior, filled past the warm-up."""
    device = DEVICE
    vae, prior, images = latent_space(cfg)
    agents = {}
    for implementation in IMPLEMENTATIONS:
        td3 = dataclasses.replace(cfg.td3, implementation=implementation)
        agent = rig.RIGAgent(dataclasses.replace(cfg, td3=td3), vae, prior, images, device)
        while agent.counters.env_steps < cfg.warmup_steps:
            rig.run_episode_batch(agent)
        rig.run_episode_batch(agent)  # one batch with updates, as a warm-up of the update path
        agents[implementation] = agent
    return agents


def make_seed_runs(cfg: rig.RIGConfig, k: int) -> tuple[rig.RIGTeam, list[rig.RIGAgent]]:
    """K seeds together and the same K seeds alone, one untrained VAE and prior shared by all (the
    speed does not depend on the weights), filled past the warm-up."""
    device = DEVICE
    vae, prior, images = latent_space(cfg)
    configs = rig.seed_configs(dataclasses.replace(cfg, seeds=k))
    team = rig.RIGTeam.build(configs, [(vae, prior, images)] * k, device, [])
    alone = [rig.RIGAgent(c, vae, prior, images, device) for c in configs]
    while team.counters.env_steps <= cfg.warmup_steps:  # and one batch with updates
        rig.run_team_episodes(team)
    for agent in alone:
        while agent.counters.env_steps <= cfg.warmup_steps:
            rig.run_episode_batch(agent)
    return team, alone


def interleaved(measure: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Each measurement once per round, the order alternating between rounds; rates per name."""
    rates: dict[str, list[float]] = {name: [] for name in measure}
    names = list(measure)
    for r in range(rounds):
        for name in names[r % 2 :] + names[: r % 2]:
            rates[name].append(measure[name]())
        print(
            f"round {r}: " + ", ".join(f"{k} {v[-1]:.1f} env steps/s" for k, v in rates.items()), flush=True
        )
    return rates


def loop_settings(cfg: rig.RIGConfig, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "env": cfg.env,
        "image_size": cfg.image_size,
        "num_envs": cfg.num_envs,
        "updates_per_step": cfg.updates_per_step,
        "td3": dataclasses.asdict(cfg.td3),
        "rounds": args.rounds,
        "episode_batches_per_round": args.batches,
    }


def all_steps(runs: rig.RIGTeam | list[rig.RIGAgent]) -> int:
    """Env steps taken so far by all seeds."""
    if isinstance(runs, rig.RIGTeam):
        return int(runs.counters.env_steps) * len(runs.agents)  # the counters are shared
    return sum(a.counters.env_steps for a in runs)


def seeds_rate(runs: rig.RIGTeam | list[rig.RIGAgent], batches: int) -> float:
    """Env steps of all seeds per second over ``batches`` episode batches of every seed."""
    synchronize()
    steps, start = all_steps(runs), time.perf_counter()
    for _ in range(batches):
        if isinstance(runs, rig.RIGTeam):
            rig.run_team_episodes(runs)
        else:
            for agent in runs:
                rig.run_episode_batch(agent)
    synchronize()
    return (all_steps(runs) - steps) / (time.perf_counter() - start)


def main_seeds(args: argparse.Namespace, cfg: rig.RIGConfig) -> None:
    threads = set_cpu_threads("one")
    check = fast.onednn_check()
    team, alone = make_seed_runs(cfg, args.seeds)
    rates = interleaved(
        {
            "together": lambda: seeds_rate(team, args.batches),
            "one after another": lambda: seeds_rate(alone, args.batches),
        },
        args.rounds,
    )
    ratios = [t / s for t, s in zip(rates["together"], rates["one after another"], strict=True)]
    payload: dict[str, Any] = {
        **measured_on(threads, check),
        "settings": {"seeds": args.seeds, **loop_settings(cfg, args)},
        "env_steps_per_second_all_seeds": {
            k: {"median": statistics.median(v), "rounds": v} for k, v in rates.items()
        },
        "ratio_together_over_one_after_another": {"median": statistics.median(ratios), "rounds": ratios},
        "provenance": provenance(),
    }
    lines = [
        f"# RIG training loop: {args.seeds} seeds together against one after another",
        "",
        *intro_lines(payload),
        f"- {cfg.env} {cfg.image_size}x{cfg.image_size}, {cfg.num_envs} tables per seed, "
        f"{cfg.updates_per_step} updates per env step, TD3 batch {cfg.td3.batch_size}, hidden "
        f"{list(cfg.td3.hidden)}, fast update; {args.rounds} rounds of {args.batches} episode batches of "
        "every seed, the two ways interleaved",
        "",
        "| seeds trained | env steps/s of all seeds (median of rounds) |",
        "|---|---:|",
        *(f"| {k} | {statistics.median(v):.1f} |" for k, v in rates.items()),
        "",
        f"Together over one after another, per round: median {statistics.median(ratios):.2f}x "
        f"(range {min(ratios):.2f}-{max(ratios):.2f}x).",
        "",
    ]
    out = f"{args.out}_seeds{args.seeds}" if args.out in ("end_to_end", "end_to_end_cuda") else args.out
    args.results_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_text(args.results_dir / f"{out}.json", json.dumps(payload, indent=2) + "\n")
    atomic.write_text(args.results_dir / f"{out}.md", "\n".join(lines))
    print("\n".join(lines))


def episode_rate(agent: rig.RIGAgent, batches: int) -> float:
    synchronize()
    steps = agent.counters.env_steps
    start = time.perf_counter()
    for _ in range(batches):
        rig.run_episode_batch(agent)
    synchronize()
    return (agent.counters.env_steps - steps) / (time.perf_counter() - start)


def main_breakdown(args: argparse.Namespace, cfg: rig.RIGConfig) -> None:
    """The share of the loop's time that goes to the TD3 updates: the same loop with the preset's
    updates per env step and with none (env steps, rendering, encoding, replay writes), interleaved;
    share = 1 - rate(with) / rate(without). What is left is what batched env stepping and encoding
    across seeds could save."""
    threads = set_cpu_threads("one")
    check = fast.onednn_check()
    device = DEVICE
    vae, prior, images = latent_space(cfg)
    agents = {}
    for name, updates in (("with updates", cfg.updates_per_step), ("no updates", 0.0)):
        agent = rig.RIGAgent(dataclasses.replace(cfg, updates_per_step=updates), vae, prior, images, device)
        while agent.counters.env_steps <= cfg.warmup_steps:
            rig.run_episode_batch(agent)
        agents[name] = agent
    rates = interleaved(
        {name: (lambda agent=agent: episode_rate(agent, args.batches)) for name, agent in agents.items()},
        args.rounds,
    )
    shares = [1 - u / n for u, n in zip(rates["with updates"], rates["no updates"], strict=True)]
    payload: dict[str, Any] = {
        **measured_on(threads, check),
        "settings": loop_settings(cfg, args),
        "env_steps_per_second": {k: {"median": statistics.median(v), "rounds": v} for k, v in rates.items()},
        "update_share_of_loop_time": {"median": statistics.median(shares), "rounds": shares},
        "provenance": provenance(),
    }
    lines = [
        "# RIG training loop: the share of its time in the TD3 updates",
        "",
        *intro_lines(payload),
        f"- {cfg.env} {cfg.image_size}x{cfg.image_size}, {cfg.num_envs} tables, {cfg.updates_per_step} "
        f"updates per env step (or none), TD3 batch {cfg.td3.batch_size}, hidden {list(cfg.td3.hidden)}, "
        f"fast update; {args.rounds} rounds of {args.batches} episode batches, interleaved",
        "",
        "| loop | env steps/s (median of rounds) |",
        "|---|---:|",
        *(f"| {k} | {statistics.median(v):.1f} |" for k, v in rates.items()),
        "",
        f"Share of the loop's time in the updates, per round: median {statistics.median(shares):.1%} "
        f"(range {min(shares):.1%}-{max(shares):.1%}); the rest (env steps, rendering, encoding, replay) "
        "bounds what batching the envs across seeds can save.",
        "",
    ]
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = f"{args.out}_breakdown" if args.out in ("end_to_end", "end_to_end_cuda") else args.out
    atomic.write_text(args.results_dir / f"{out}.json", json.dumps(payload, indent=2) + "\n")
    atomic.write_text(args.results_dir / f"{out}.md", "\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=2, help="episode batches per implementation per round")
    parser.add_argument("--quick", action="store_true", help="1 round, 1 batch, small settings: a check")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--out", default="end_to_end")
    parser.add_argument(
        "--seeds", type=int, default=0, help="K > 1: K seeds together against one after another"
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="the loop with and without its updates: the updates' share"
    )
    parser.add_argument("--hidden", type=int, nargs="+", help="TD3 hidden sizes (default: the preset's)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="of the VAE and learners")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: this torch sees no CUDA device")
    global DEVICE
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda" and args.out == "end_to_end":
        args.out = "end_to_end_cuda"
    cfg = dataclasses.replace(rig.default_preset(), vae_images=512, warmup_steps=1_000, device=args.device)
    if args.quick:
        args.rounds, args.batches = 1, 1
        cfg = dataclasses.replace(
            cfg, vae_images=128, warmup_steps=200, num_envs=2, updates_per_step=1.0,
            td3=dataclasses.replace(cfg.td3, batch_size=32),
        )  # fmt: skip
    if args.hidden:
        cfg = dataclasses.replace(cfg, td3=dataclasses.replace(cfg.td3, hidden=tuple(args.hidden)))
    if args.breakdown:
        main_breakdown(args, cfg)
        return
    if args.seeds > 1:
        main_seeds(args, cfg)
        return
    threads = set_cpu_threads("one")
    check = fast.onednn_check()
    agents = make_agents(cfg)
    rates = interleaved(
        {name: (lambda agent=agent: episode_rate(agent, args.batches)) for name, agent in agents.items()},
        args.rounds,
    )
    ratios = [f / ref for f, ref in zip(rates["fast"], rates["reference"], strict=True)]
    payload: dict[str, Any] = {
        **measured_on(threads, check),
        "settings": loop_settings(cfg, args),
        "env_steps_per_second": {k: {"median": statistics.median(v), "rounds": v} for k, v in rates.items()},
        "ratio_fast_over_reference": {"median": statistics.median(ratios), "rounds": ratios},
        "provenance": provenance(),
    }
    lines = [
        "# RIG training loop: env steps per second, TD3 fast against reference",
        "",
        *intro_lines(payload),
        f"- {cfg.env} {cfg.image_size}x{cfg.image_size}, {cfg.num_envs} tables, {cfg.updates_per_step} "
        f"updates per env step, TD3 batch {cfg.td3.batch_size}, hidden {list(cfg.td3.hidden)}",
        "",
        "| implementation | env steps/s (median of rounds) |",
        "|---|---:|",
        *(f"| {k} | {statistics.median(v):.1f} |" for k, v in rates.items()),
        "",
        f"Fast over reference, per round: median {statistics.median(ratios):.2f}x "
        f"(range {min(ratios):.2f}-{max(ratios):.2f}x).",
        "",
    ]
    args.results_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_text(args.results_dir / f"{args.out}.json", json.dumps(payload, indent=2) + "\n")
    atomic.write_text(args.results_dir / f"{args.out}.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
