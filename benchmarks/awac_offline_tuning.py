"""Variants of AWAC (and BC) on the Push data of benchmarks/awac.py, on tuning seeds: offline only
by default, or offline then online with ``--online-steps``.

The five-seed benchmark (benchmarks/awac.py) reports seeds 0-4; settings are chosen here, on other
seeds (100 and up by default), never on the reported ones. Each seed's noisy-scripted dataset is
collected once (exactly as the benchmark does) and every variant trains offline on it and is
evaluated on the same 50 goals. A variant is a name and the fields it changes in the ``bench``
preset (``offline_steps``) and in its AWAC settings (everything else).

    python benchmarks/awac_offline_tuning.py                       # all variants, seeds 100-102
    python benchmarks/awac_offline_tuning.py --variants bc bench steps25k --seeds 100
    python benchmarks/awac_offline_tuning.py --variants bench utd1 --online-steps 50000 --seeds 100
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from affordkit.methods import awac
from affordkit.relabel.goals import GoalMix

try:
    from benchmarks._common import provenance, provenance_lines, write_results
    from benchmarks.awac import collect_data
except ImportError:  # run as a script from benchmarks/
    from _common import provenance, provenance_lines, write_results  # type: ignore[no-redef]
    from awac import collect_data  # type: ignore[no-redef]

VARIANTS: dict[str, dict[str, Any]] = {
    "bc": {"learner": "bc"},
    "bc-25k": {"learner": "bc", "offline_steps": 25_000},
    "bench": {},
    "steps25k": {"offline_steps": 25_000},
    "beta1": {"beta": 1.0},
    "beta1-25k": {"beta": 1.0, "offline_steps": 25_000},
    "advclip": {"advantage_clip": 0.5},
    "advclip-25k": {"advantage_clip": 0.5, "offline_steps": 25_000},
    "exp-beta1": {"weighting": "clipped_exp", "beta": 1.0},
    "vsample": {"value_action": "sample"},
    # relative to the current bench preset (absolute where they name a step count)
    "beta0.3": {"beta": 0.3},
    "advclip-beta1": {"advantage_clip": 0.5},
    "net256": {"policy_hidden": [256, 256], "q_hidden": [256, 256]},
    "bc-net256": {"learner": "bc", "policy_hidden": [256, 256]},
    "steps50k": {"offline_steps": 50_000},
    "bc-50k": {"learner": "bc", "offline_steps": 50_000},
    "steps100k": {"offline_steps": 100_000},
    "bc-100k": {"learner": "bc", "offline_steps": 100_000},
    "rollout0.5": {"goal_mix": {"rollout": 0.5, "prior": 0.0, "future": 0.5}},
    "bc-rollout0.5": {"learner": "bc", "goal_mix": {"rollout": 0.5, "prior": 0.0, "future": 0.5}},
    # online phase (with --online-steps): gradient steps per env step; the bench preset had 0.5 when
    # these ran (awac_online_tuning_seed*.md) and has 2 since
    "utd0.5": {"updates_per_step": 0.5},
    "utd1": {"updates_per_step": 1.0},
    "utd2": {"updates_per_step": 2.0},
    "explore-mean": {"explore": "mean"},
}
RUN_FIELDS = {"learner", "offline_steps", "goal_mix", "updates_per_step", "explore"}


def variant_config(
    base: awac.AWACRunConfig, changes: dict[str, Any], online_steps: int = 0
) -> awac.AWACRunConfig:
    """``base`` with a variant's changes; BC always stops after the offline phase."""
    run = {k: v for k, v in changes.items() if k in RUN_FIELDS}
    if "goal_mix" in run:
        run["goal_mix"] = GoalMix(**run["goal_mix"])
    learner = {k: tuple(v) if isinstance(v, list) else v for k, v in changes.items() if k not in RUN_FIELDS}
    if run.get("learner") == "bc":  # the BC baseline takes the network fields it has
        bc = {k: v for k, v in learner.items() if k in {f.name for f in dataclasses.fields(base.bc)}}
        return dataclasses.replace(base, bc=dataclasses.replace(base.bc, **bc), online_steps=0, **run)
    awac_cfg = dataclasses.replace(base.awac, **learner)
    return dataclasses.replace(base, awac=awac_cfg, online_steps=online_steps, **run)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--eval-episodes", type=int, default=50, help="evaluation goals per run")
    parser.add_argument(
        "--online-steps", type=int, default=0, help="env steps of online fine-tuning after offline (AWAC)"
    )
    parser.add_argument("--preset", default="bench", help="AWAC preset the variants change (smoke: a check)")
    parser.add_argument("--out", default="awac_offline_tuning")
    args = parser.parse_args()
    if any(s < 100 for s in args.seeds):
        parser.error("tuning seeds are >= 100: seeds 0-4 are the benchmark's reported seeds")
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="affordkit-awac-tuning-"))
    success: dict[str, list[float]] = {v: [] for v in args.variants}
    offline: dict[str, list[float]] = {v: [] for v in args.variants}
    minutes: dict[str, list[float]] = {v: [] for v in args.variants}
    data_success: list[float] = []
    try:
        for i, seed in enumerate(args.seeds):
            data, rate = collect_data(seed, work)
            data_success.append(rate)
            base = dataclasses.replace(
                awac.preset(args.preset), dataset=data, seed=seed, runs_dir=work / "runs", device="cpu",
                eval_episodes=args.eval_episodes,
            )  # fmt: skip
            for name in args.variants:
                start = time.monotonic()
                cfg = variant_config(base, VARIANTS[name], args.online_steps)
                report = awac.run(cfg, progress=False)
                summary = json.loads((report.parent / "summary.json").read_text())
                success[name].append(summary["final_success"])
                offline[name].append(summary.get("offline_success", summary["final_success"]))
                minutes[name].append((time.monotonic() - start) / 60)
                print(
                    f"seed {seed} {name}: {summary['final_success']:.3f} "
                    f"(offline {offline[name][-1]:.3f}, {minutes[name][-1]:.1f} min)",
                    flush=True,
                )
                # after every run, so a stopped tuning keeps what it finished
                text = write(args, args.seeds[: i + 1], data_success, success, offline, minutes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(text)


def write(
    args: argparse.Namespace,
    seeds: list[int],
    data_success: list[float],
    success: dict[str, list[float]],
    offline: dict[str, list[float]],
    minutes: dict[str, list[float]],
) -> str:
    payload: dict[str, Any] = {
        "seeds": seeds,
        "data_success": data_success,
        "variants": {
            v: {
                "changes": VARIANTS[v],
                "success": success[v],
                "offline_success": offline[v],
                "minutes": minutes[v],
            }
            for v in args.variants
        },  # fmt: skip
        "online_steps": args.online_steps,
        "provenance": provenance(),
    }
    phase = (
        f"Then {args.online_steps:,} online env steps for AWAC (BC stays offline); the table shows the "
        "final success, and the offline success before fine-tuning in brackets."
        if args.online_steps
        else "Offline only: no online steps."
    )
    unfinished = [s for s in args.seeds if s not in seeds]
    if any(len(success[v]) < len(seeds) for v in args.variants):
        unfinished = [seeds[-1], *unfinished]  # the current seed: some variants still to run
    lines = [
        f"# AWAC {'offline-to-online' if args.online_steps else 'offline'} variants on Push "
        "(tuning seeds; state observations, sparse reward)",
        "",
        *provenance_lines(payload["provenance"]),
        "",
        "Data per seed as in benchmarks/awac.py (1,000 noisy-scripted episodes); preset "
        f"`{args.preset}` ({awac.preset(args.preset).offline_steps:,} offline gradient steps, lambda "
        f"{awac.preset(args.preset).awac.beta} unless changed); success on {args.eval_episodes} "
        "evaluation goals per run "
        f"(standard error about {0.5 / args.eval_episodes**0.5:.2f} per run). {phase}"
        + (f" Seeds not finished when this file was written: {unfinished}." if unfinished else ""),
        "",
        "| variant | changes | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |",
        "|---|---|" + "---:|" * (len(seeds) + 1),
    ]
    for v in args.variants:
        cells = [
            f"{x:.3f} ({o:.3f})" if args.online_steps and VARIANTS[v].get("learner") != "bc" else f"{x:.3f}"
            for x, o in zip(success[v], offline[v], strict=True)
        ] + ["not run"] * (len(seeds) - len(success[v]))
        mean = f"{statistics.mean(success[v]):.3f}" if success[v] else ""
        lines.append(f"| {v} | `{json.dumps(VARIANTS[v])}` | {' | '.join(cells)} | {mean} |")
    lines += ["", "Data success rate per seed: " + ", ".join(f"{d:.3f}" for d in data_success), ""]
    text = "\n".join(lines)
    write_results(args.out, payload, text)
    return text


if __name__ == "__main__":
    main()
