"""AWAC offline-to-online on Push with state observations and the sparse -1/0 reward, against BC on
the same data, five seeds.

Per seed s: a noisy-scripted dataset (1,000 episodes of 50 steps: the scripted solver plus Gaussian
noise 0.3, and with probability 0.6 a whole episode of uniformly random actions; about 30% of the
episodes succeed) collected with seed s; BC and AWAC (preset ``bench``) trained offline on it;
AWAC then fine-tuned online for 50,000 env steps from one buffer holding the data. Evaluation: the
preset's episodes on goals no run trained on; BC, AWAC after the offline phase and AWAC at the end
on the same goals (the seed's final round), so the columns and the gain are paired. Seeds run one
after another, or `--jobs` at a time in their own processes.

    python benchmarks/awac.py --jobs 2         # seeds 0-4, two at a time; results/awac.{md,json}
    python benchmarks/awac.py --seeds 100 --out awac_tuning   # a tuning seed, never reported
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import shutil
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from affordkit.methods import awac
from affordkit.methods.data import CollectConfig, collect

try:
    from benchmarks._common import provenance, provenance_lines, write_results
except ImportError:  # run as a script from benchmarks/
    from _common import provenance, provenance_lines, write_results  # type: ignore[no-redef]

EPISODES, NOISE, RANDOM_EPISODE_PROB = 1_000, 0.3, 0.6
PAPER_OFFLINE_STEPS = 25_000  # AWAC's offline steps (of batch 1,024) on manipulation


def collect_data(seed: int, work: Path) -> tuple[Path, float]:
    """The seed's noisy-scripted Push dataset under ``work``, and the success rate of its episodes."""
    data = work / f"push-seed{seed}"
    ds = collect(
        CollectConfig(
            env="Push", out=data, policy="noisy-scripted", episodes=EPISODES, noise=NOISE,
            random_episode_prob=RANDOM_EPISODE_PROB, seed=seed, images=False,
        )
    )  # fmt: skip
    return data, float(ds.stats()["success_rate"])


def one_seed(seed: int, work: Path) -> dict[str, Any]:
    data, data_success = collect_data(seed, work)
    base = dataclasses.replace(
        awac.bench_preset(), dataset=data, seed=seed, runs_dir=work / "runs", device="cpu"
    )
    out: dict[str, Any] = {"data_success": data_success}
    bc_report = awac.run(dataclasses.replace(base, learner="bc", online_steps=0), progress=False)
    out["bc"] = json.loads((bc_report.parent / "summary.json").read_text())
    out["bc"]["offline_curve"] = offline_curve(bc_report.parent)
    report = awac.run(base, progress=False)
    out["awac"] = json.loads((report.parent / "summary.json").read_text())
    out["awac"]["offline_curve"] = offline_curve(report.parent)
    print(
        f"seed {seed}: data {out['data_success']:.2f}  BC {out['bc']['final_success']:.2f}  "
        f"AWAC offline {out['awac']['offline_success']:.2f}  online {out['awac']['final_success']:.2f}",
        flush=True,
    )
    return out


def offline_curve(run_dir: Path) -> list[tuple[int, float]]:
    """(gradient steps, success) of every evaluation of the offline phase, from metrics.csv."""
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    curve = [(int(r["step"]), float(r["eval/success_rate"])) for r in rows if r.get("eval/success_rate")]
    curve += [
        (int(r["step"]), float(r["offline/success_rate"])) for r in rows if r.get("offline/success_rate")
    ]
    return [(step, rate) for step, rate in curve if step > 0]


def at_step(curve: list[tuple[int, float]], step: int) -> float:
    hits = [rate for s, rate in curve if s == step]
    return hits[0] if hits else math.nan


def spread(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} +- {sd:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", default="awac")
    parser.add_argument("--jobs", type=int, default=1, help="seeds at a time, one process each (<= cores)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="affordkit-awac-bench-"))
    try:
        if args.jobs > 1:  # one process per seed, one torch thread each; results in seed order
            with ProcessPoolExecutor(max_workers=args.jobs, initializer=torch.set_num_threads,
                                     initargs=(1,)) as pool:  # fmt: skip
                per_seed = list(pool.map(one_seed, args.seeds, [work] * len(args.seeds)))
        else:
            per_seed = [one_seed(s, work) for s in args.seeds]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    preset = awac.bench_preset()
    bc = [r["bc"]["final_success"] for r in per_seed]
    short = PAPER_OFFLINE_STEPS
    bc_short = [at_step(r["bc"]["offline_curve"], short) for r in per_seed]
    bc_best = [max(rate for _, rate in r["bc"]["offline_curve"]) for r in per_seed]
    off_short = [at_step(r["awac"]["offline_curve"], short) for r in per_seed]
    off = [r["awac"]["offline_success"] for r in per_seed]
    on = [r["awac"]["final_success"] for r in per_seed]
    data = [r["data_success"] for r in per_seed]
    payload = {
        "seeds": args.seeds,
        "data_success": data,
        "bc": {
            "success": bc,
            f"success_at_{short}_steps": bc_short,
            "best_offline_evaluation": bc_best,
            "offline_curve": [r["bc"]["offline_curve"] for r in per_seed],
        },
        "awac_offline": {
            "success": off,
            "gradient_steps": preset.offline_steps,
            f"success_at_{short}_steps": off_short,
            "offline_curve": [r["awac"]["offline_curve"] for r in per_seed],
        },
        "awac_online": {"success": on, "env_steps": preset.online_steps},
        "settings": {
            "env": "Push",
            "observation": "state",
            "reward": "sparse -1/0",
            "dataset": {"episodes": EPISODES, "noise": NOISE, "random_episode_prob": RANDOM_EPISODE_PROB},
            "preset": "bench",
            "awac": dataclasses.asdict(preset.awac),
            "bc": dataclasses.asdict(preset.bc),
            "goal_mix": dataclasses.asdict(preset.goal_mix),
            "updates_per_step": preset.updates_per_step,
            "eval_episodes": preset.eval_episodes,
        },
        "provenance": provenance(),
    }
    gain = [b - a for a, b in zip(off, on, strict=True)]
    lines = [
        "# AWAC offline-to-online on Push (state observations, sparse reward)",
        "",
        *provenance_lines(payload["provenance"]),
        "",
        f"Data per seed: {EPISODES} noisy-scripted episodes (noise {NOISE}, random episodes "
        f"{RANDOM_EPISODE_PROB:.0%}); BC and AWAC offline for {preset.offline_steps:,} gradient steps; "
        f"AWAC online for {preset.online_steps:,} env steps ({preset.updates_per_step} gradient steps per "
        f"env step). Success on {preset.eval_episodes} evaluation goals per run, the same goals for BC, AWAC "
        "offline and AWAC online (the gain is a paired difference). Offline evaluations "
        f"every {preset.eval_every_offline:,} gradient steps: BC and AWAC are also shown at {short:,} "
        "steps (the paper's count), and BC at the best of its offline evaluations (an upper bound: "
        "chosen on evaluation goals).",
        "",
        f"| seed | data success | BC | BC, {short // 1000}k steps | BC, best evaluation | AWAC offline "
        f"| AWAC, {short // 1000}k steps | AWAC online | online gain |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s, d, b, bs, bb, o, os_, n, g in zip(
        args.seeds, data, bc, bc_short, bc_best, off, off_short, on, gain, strict=True
    ):
        lines.append(
            f"| {s} | {d:.3f} | {b:.3f} | {bs:.3f} | {bb:.3f} | {o:.3f} | {os_:.3f} | {n:.3f} | {g:+.3f} |"
        )
    lines += [
        f"| mean +- sd | {spread(data)} | {spread(bc)} | {spread(bc_short)} | {spread(bc_best)} "
        f"| {spread(off)} | {spread(off_short)} | {spread(on)} | {spread(gain)} |",
        "",
        "Targets: AWAC offline >= BC on the same data and steps "
        + ("(met)" if statistics.mean(off) >= statistics.mean(bc) else "(NOT met)")
        + "; against BC's best evaluation "
        + ("(also met)" if statistics.mean(off) >= statistics.mean(bc_best) else "(not met)")
        + "; online fine-tuning adds >= 20 points within 50k env steps "
        + ("(met)." if statistics.mean(gain) >= 0.2 else "(NOT met)."),
        "",
    ]
    write_results(args.out, payload, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
