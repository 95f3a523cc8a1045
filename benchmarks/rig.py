"""RIG against its two baselines on one env, several seeds, the same budget for every method:

- ``rig``: RIG (VAE latents, imagined goals), ``affordkit rig --observation latent``;
- ``state_her``: TD3 + HER on the true state, the oracle (``--observation state``);
- ``pixel_her``: TD3 + HER on raw pixels with a conv encoder trained end to end, the baseline the
  RIG paper beat (``--observation pixels``).

Each (method, seed) is one `affordkit rig` run folder under ``--runs-dir``; a run that was stopped
(session end, Ctrl-C, a killed process) is resumed exactly, a finished one is kept, so the command
can be repeated until every run is done. Each finished run's numbers and curve are also kept in
``benchmarks/results/<out>_records/<method>-seed<N>.json`` (run folders under ``runs/`` are not in
git), and a run whose folder is gone is summarised from that record; a benchmark of another setting
takes another ``--out``. Results: ``benchmarks/results/<out>.json`` (per method:
per-seed final success rate, final object and hand distance, wall-clock minutes, env steps),
``<out>.md`` (every seed, mean and spread, the evaluation curves) and ``<out>_curves.png``.

    python benchmarks/rig.py --env Push --seeds 0 1 2 3 4 --jobs 2
    python benchmarks/rig.py --summarise          # only collect what the run folders hold
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

try:
    from benchmarks._common import RESULTS, provenance, provenance_lines, write_results
except ImportError:  # run as a script from benchmarks/
    from _common import RESULTS, provenance, provenance_lines, write_results  # type: ignore[no-redef]

from affordkit import atomic

METHODS = {"rig": "latent", "state_her": "state", "pixel_her": "pixels"}
"""This benchmark's methods and their ``--observation``; benchmarks/ccrig.py adds ``ccrig``."""
COMMANDS = {
    "rig": ["rig", "--observation", "latent"],
    "state_her": ["rig", "--observation", "state"],
    "pixel_her": ["rig", "--observation", "pixels"],
    "ccrig": ["ccrig"],  # `affordkit ccrig --preset default|quick|smoke`: CC-RIG's presets
}
LABELS = {
    "rig": "RIG",
    "state_her": "TD3+HER, true state (oracle)",
    "pixel_her": "TD3+HER, raw pixels",
    "ccrig": "CC-RIG",
}


def run_folder(runs_dir: Path, method: str, seed: int) -> Path | None:
    """The one run folder of (method, seed), or None before it starts."""
    parent = runs_dir / f"{method}-seed{seed}"
    found = sorted(p for p in parent.glob("*") if (p / "config.json").exists()) if parent.exists() else []
    return found[-1] if found else None


# the command line of the interpreter running this script, so that an unactivated virtual
# environment (.venv/bin/python benchmarks/rig.py) runs its own affordkit
AFFORDKIT = [sys.executable, "-m", "affordkit"]


def command(args: argparse.Namespace, method: str, seed: int) -> list[str]:
    folder = run_folder(args.runs_dir, method, seed)
    if folder is not None:  # started before: every finished phase is reused, RL continues exactly
        return [*AFFORDKIT, "rig", "--resume", str(folder)]
    return [
        *AFFORDKIT, *COMMANDS[method], "--preset", args.preset, "--env", args.env, "--seed", str(seed),
        "--env-steps", str(args.env_steps),
        "--runs-dir", str(args.runs_dir / f"{method}-seed{seed}"), *args.extra,
    ]  # fmt: skip


def launch(args: argparse.Namespace, method: str, seed: int) -> tuple[str, int, int]:
    folder = run_folder(args.runs_dir, method, seed)
    if folder is not None and (folder / "report.md").exists():
        return method, seed, 0
    if folder is None and record_path(args, method, seed).exists():  # finished; its folder is gone
        return method, seed, 0
    cmd = command(args, method, seed)
    log = args.runs_dir / f"{method}-seed{seed}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(" ".join(cmd), flush=True)
    with open(log, "a") as f:
        code = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, env=_one_thread_env())
    if code == 0:
        finished_run(args, method, seed)  # its record, at once: a later run may not finish
    return method, seed, code


def _one_thread_env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def read_run(folder: Path) -> dict[str, Any] | None:
    """Final metrics, curve and minutes of a finished run folder (None if it has not finished)."""
    with open(folder / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    final = {k[len("final/") :]: float(v) for r in rows for k, v in r.items() if v and k.startswith("final/")}
    if not final:
        return None
    curve = [
        [int(r["step"]), float(r["seconds"]) / 60, float(r["eval/success_rate"]),
         float(r.get("eval/final_object_distance") or "nan"), float(r["eval/final_hand_distance"])]
        for r in rows if r.get("eval/success_rate")
    ]  # fmt: skip
    config = json.loads((folder / "config.json").read_text())
    summary = folder / "summary.json"
    linear = json.loads(summary.read_text()).get("linear_layer") if summary.exists() else None
    return {
        "folder": str(folder),
        "command": config.get("command"),
        "commit": config["git_commit"],
        "dirty": config["git_dirty"],
        "env_steps": config["config"]["env_steps"],
        "final": final,
        "minutes": float(rows[-1]["seconds"]) / 60,
        "curve": curve,
        "linear_layer": linear,  # oneDNN or PyTorch Linear: wall-clock depends on it
    }


def record_path(args: argparse.Namespace, method: str, seed: int) -> Path:
    """Where a finished run's :func:`read_run` record is kept in git."""
    return RESULTS / f"{args.out}_records" / f"{method}-seed{seed}.json"


def finished_run(args: argparse.Namespace, method: str, seed: int) -> dict[str, Any] | None:
    """The record of a finished (method, seed): read from its run folder (and then stored in
    ``benchmarks/results/<out>_records/``), or, where the folder is gone, from the stored record."""
    folder = run_folder(args.runs_dir, method, seed)
    path = record_path(args, method, seed)
    run = read_run(folder) if folder is not None else None
    if run is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, json.dumps(run, indent=1) + "\n")
        return run
    if folder is None and path.exists():
        stored: dict[str, Any] = json.loads(path.read_text())
        return stored
    return None


def summarise(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for method in args.methods:
        read = {s: finished_run(args, method, s) for s in args.seeds}
        done = {s: r for s, r in read.items() if r is not None}
        if not done:
            continue
        seeds = sorted(done)
        out[method] = {
            "seeds": seeds,
            "success": [done[s]["final"]["success_rate"] for s in seeds],
            "final_object_distance": [done[s]["final"].get("final_object_distance") for s in seeds],
            "final_hand_distance": [done[s]["final"]["final_hand_distance"] for s in seeds],
            "minutes": [round(done[s]["minutes"], 2) for s in seeds],
            "env_steps": done[seeds[0]]["env_steps"],
            "missing_seeds": [s for s in args.seeds if s not in done],
            "runs": {str(s): done[s] for s in seeds},
        }
    return out


def _mean_std(values: list[float | None]) -> str:
    v = np.array([x for x in values if x is not None], dtype=float)
    if len(v) == 0:
        return "-"
    return f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.3f}"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for method, r in results.items():
        curves = [r["runs"][str(s)]["curve"] for s in r["seeds"]]
        n = min(len(c) for c in curves)
        arr = np.array([c[:n] for c in curves], dtype=float)  # (seeds, points, 5)
        steps, minutes = arr[0, :, 0], arr[:, :, 1].mean(0)
        for ax, x in ((axes[0], steps), (axes[1], minutes)):
            mean, lo, hi = arr[:, :, 2].mean(0), arr[:, :, 2].min(0), arr[:, :, 2].max(0)
            ax.plot(x, mean, label=LABELS[method])
            ax.fill_between(x, lo, hi, alpha=0.2)
        axes[2].plot(steps, arr[:, :, 3].mean(0), label=LABELS[method])
    axes[0].set(xlabel="env steps", ylabel="success rate", ylim=(-0.02, 1.02))
    axes[1].set(xlabel="wall-clock minutes (mean over seeds)", ylabel="success rate", ylim=(-0.02, 1.02))
    axes[2].set(xlabel="env steps", ylabel="final object distance")
    axes[0].legend(fontsize=8)
    fig.suptitle("evaluation on goal images: mean over seeds, band = min..max", fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    atomic.write_bytes(path, buf.getvalue())


def markdown(args: argparse.Namespace, results: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        f"# RIG and its baselines on {args.env}",
        "",
        *provenance_lines(meta),
        *method_table(args, results),
    ]
    return "\n".join(lines) + "\n"


def method_table(args: argparse.Namespace, results: dict[str, Any]) -> list[str]:
    """The budget line, the mean +- sd table, every seed and the curves of one env's runs."""
    at_a_time = (
        "collected from run folders started by earlier invocations (see their minutes)"
        if args.summarise
        else f"{args.jobs} run(s) at a time"
    )
    lines = [
        f"- runs: preset `{args.preset}`, {args.env_steps:,} env steps, extra flags "
        f"`{' '.join(args.extra) or '(none)'}`, {at_a_time}, one torch thread each",
        "",
        "Final evaluation: one episode per goal image the run never trained on (32 by default), "
        "success = effector and every object within 0.15 of their goals.",
        "",
        "| method | seeds | success | final object distance | final hand distance | minutes |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for method, r in results.items():
        lines.append(
            f"| {LABELS[method]} | {len(r['seeds'])} | {_mean_std(r['success'])} | "
            f"{_mean_std(r['final_object_distance'])} | {_mean_std(r['final_hand_distance'])} | "
            f"{_mean_std(r['minutes'])} |"
        )
    lines += ["", "Every seed:", "", "| method | seed | success | object | hand | minutes | run at commit |"]
    lines += ["|---|---:|---:|---:|---:|---:|---|"]
    for method, r in results.items():
        for i, s in enumerate(r["seeds"]):
            run = r["runs"][str(s)]
            obj = r["final_object_distance"][i]
            lines.append(
                f"| {LABELS[method]} | {s} | {r['success'][i]:.3f} | {'' if obj is None else f'{obj:.3f}'} | "
                f"{r['final_hand_distance'][i]:.3f} | {r['minutes'][i]:.1f} | `{run['commit'][:7]}`"
                + (" (dirty)" if run["dirty"] else "")
                + " |"
            )
        if r["missing_seeds"]:
            lines.append(f"| {LABELS[method]} | {r['missing_seeds']} | not finished | | | | |")
    lines += ["", f"![curves]({curves_name(args)})", ""]
    return lines


def curves_name(args: argparse.Namespace) -> str:
    return f"{args.out}_curves.png"


def add_run_arguments(parser: argparse.ArgumentParser, runs_dir: str, out: str) -> None:
    """The flags every run-folder benchmark shares (this one and benchmarks/ccrig.py)."""
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--preset", default="default", help="default (100k env steps), quick or smoke")
    parser.add_argument("--env-steps", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (at most one per core)")
    parser.add_argument("--runs-dir", type=Path, default=Path(runs_dir))
    parser.add_argument("--out", default=out)
    parser.add_argument("--summarise", action="store_true", help="only collect finished runs")
    parser.add_argument("extra", nargs="*", help="more `affordkit` flags after --, for every run")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", default="Push")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    add_run_arguments(parser, runs_dir="runs/benchmark-rig", out="rig")
    args = parser.parse_args()
    if not args.summarise:
        todo = [(m, s) for s in args.seeds for m in args.methods]
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for method, seed, code in pool.map(lambda ms: launch(args, *ms), todo):
                if code:
                    print(
                        f"{method} seed {seed} exited with {code}: see its log in {args.runs_dir}",
                        file=sys.stderr,
                    )
    results = summarise(args)
    if not results:
        sys.exit(f"no finished runs under {args.runs_dir}")
    meta = provenance()
    plot(results, RESULTS / curves_name(args))
    text = markdown(args, results, meta)
    payload = {
        "provenance": meta,
        "env": args.env,
        **{m: {k: v for k, v in r.items() if k != "runs"} for m, r in results.items()},
        "runs": {m: r["runs"] for m, r in results.items()},
    }
    j, m = write_results(args.out, payload, text)
    print(text)
    print(f"wrote {j} and {m}")


if __name__ == "__main__":
    main()
