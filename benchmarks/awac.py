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
    python benchmarks/awac.py --jobs 2         # again after a stop: finished seeds are reused
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
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from affordkit import atomic
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


def settings_key(preset_name: str) -> str:
    """What a finished seed's result depends on: the data recipe and the preset (paths aside)."""
    preset = dataclasses.asdict(awac.preset(preset_name))
    recipe = {"episodes": EPISODES, "noise": NOISE, "random_episode_prob": RANDOM_EPISODE_PROB}
    return json.dumps({"data": recipe, "preset": preset}, sort_keys=True, default=str)


def one_seed(seed: int, work: Path, preset_name: str = "bench") -> dict[str, Any]:
    """The seed's results, from ``work/seed<N>.json`` when a run with the same settings finished it
    (so a stopped benchmark resumes at the first unfinished seed), else run and saved there."""
    done = work / f"seed{seed}.json"
    if done.exists():
        saved = json.loads(done.read_text())
        if saved.get("settings_key") == settings_key(preset_name):
            print(f"seed {seed}: finished earlier ({done})", flush=True)
            return dict(saved["result"])
    scratch = work / f"scratch-seed{seed}"
    shutil.rmtree(scratch, ignore_errors=True)
    start = time.monotonic()
    data, data_success = collect_data(seed, scratch)
    base = dataclasses.replace(
        awac.preset(preset_name), dataset=data, seed=seed, runs_dir=scratch / "runs", device="cpu"
    )
    out: dict[str, Any] = {"data_success": data_success}
    bc_report = awac.run(dataclasses.replace(base, learner="bc", online_steps=0), progress=False)
    out["bc"] = json.loads((bc_report.parent / "summary.json").read_text())
    out["bc"]["offline_curve"] = offline_curve(bc_report.parent)
    report = awac.run(base, progress=False)
    out["awac"] = json.loads((report.parent / "summary.json").read_text())
    out["awac"]["offline_curve"] = offline_curve(report.parent)
    out["awac"]["online_curve"] = online_curve(report.parent)
    out["minutes"] = (time.monotonic() - start) / 60
    atomic.write_json(done, {"settings_key": settings_key(preset_name), "result": out})
    shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"seed {seed}: data {out['data_success']:.2f}  BC {out['bc']['final_success']:.2f}  "
        f"AWAC offline {out['awac']['offline_success']:.2f}  online {out['awac']['final_success']:.2f}",
        flush=True,
    )
    return out


def metric_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


def offline_curve(run_dir: Path) -> list[tuple[int, float]]:
    """(gradient steps, success) of every evaluation of the offline phase, from metrics.csv."""
    rows = metric_rows(run_dir)
    curve = [(int(r["step"]), float(r["eval/success_rate"])) for r in rows if r.get("eval/success_rate")]
    curve += [
        (int(r["step"]), float(r["offline/success_rate"])) for r in rows if r.get("offline/success_rate")
    ]
    return [(step, rate) for step, rate in curve if step > 0]


def online_curve(run_dir: Path) -> list[tuple[int, float]]:
    """(env steps, success) of every online evaluation, the phase boundary at 0 env steps."""
    rows = metric_rows(run_dir)
    curve = [(0, float(r["offline/success_rate"])) for r in rows if r.get("offline/success_rate")]
    curve += [
        (int(float(r["online/env_steps"])), float(r["eval/success_rate"]))
        for r in rows
        if r.get("eval/success_rate") and r.get("online/env_steps") and float(r["online/env_steps"]) > 0
    ]
    curve += [
        (int(float(r["online/env_steps"])), float(r["final/success_rate"]))
        for r in rows
        if r.get("final/success_rate")
    ]
    return curve


def at_step(curve: list[tuple[int, float]], step: int) -> float:
    hits = [rate for s, rate in curve if s == step]
    return hits[0] if hits else math.nan


def spread(values: list[float]) -> str:
    if any(math.isnan(v) for v in values):
        return "n/a"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} +- {sd:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", default="awac")
    parser.add_argument("--jobs", type=int, default=1, help="seeds at a time, one process each (<= cores)")
    parser.add_argument("--preset", default="bench", help="AWAC preset (smoke: a check of the script)")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("runs/benchmark-awac"),
        help="finished seeds are kept here (seed<N>.json) and reused by a rerun with the same settings",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    if args.jobs > 1:  # one process per seed, one torch thread each; results in seed order
        with ProcessPoolExecutor(max_workers=args.jobs, initializer=torch.set_num_threads,
                                 initargs=(1,)) as pool:  # fmt: skip
            n = len(args.seeds)
            per_seed = list(pool.map(one_seed, args.seeds, [work] * n, [args.preset] * n))
    else:
        per_seed = [one_seed(s, work, args.preset) for s in args.seeds]
    preset = awac.preset(args.preset)
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
        "awac_online": {
            "success": on,
            "env_steps": preset.online_steps,
            "online_curve": [r["awac"].get("online_curve") for r in per_seed],
        },
        "minutes": [r.get("minutes") for r in per_seed],
        "settings": {
            "env": "Push",
            "observation": "state",
            "reward": "sparse -1/0",
            "dataset": {"episodes": EPISODES, "noise": NOISE, "random_episode_prob": RANDOM_EPISODE_PROB},
            "preset": args.preset,
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
    curves = [r["awac"].get("online_curve") for r in per_seed]
    if all(curves):
        steps = sorted({step for c in curves for step, _ in c})
        lines += [
            "AWAC during online fine-tuning (success on each evaluation's goals; 0 and the last row: the "
            "final goals of the table above, other rows: other goals):",
            "",
            "| env steps | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean +- sd |",
            "|---:|" + "---:|" * (len(args.seeds) + 1),
        ]
        for step in steps:
            rates = [dict(c).get(step, math.nan) for c in curves]
            lines.append(f"| {step:,} | " + " | ".join(f"{x:.3f}" for x in rates) + f" | {spread(rates)} |")
        lines.append("")
    minutes = [r.get("minutes") for r in per_seed]
    if all(m is not None for m in minutes):
        lines += [
            "Minutes per seed (data, BC and AWAC, one process and one torch thread each, "
            f"{args.jobs} at a time): " + ", ".join(f"{m:.1f}" for m in minutes),
            "",
        ]
    write_results(args.out, payload, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
