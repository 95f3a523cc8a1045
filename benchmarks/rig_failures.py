"""What fails when a goal is missed: the effector, the object, or both. Evaluates the latest
checkpoint of each `affordkit rig` run folder (RIG or a baseline) on fresh goal images and writes,
per run, the success rate, the fraction of episodes whose effector and whose object end within the
env's success thresholds, and quantiles of both final distances.

    python benchmarks/rig_failures.py RUN_DIR [RUN_DIR ...] --episodes 200 --out rig_failures

The goals come from ``--seed`` (never the seeds of the runs' own evaluations), the same for every run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from affordkit.envs import make_vector_env
from affordkit.methods import rig

try:
    from benchmarks._common import provenance, provenance_lines, write_results
except ImportError:  # run as a script from benchmarks/
    from _common import provenance, provenance_lines, write_results  # type: ignore[no-redef]

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def breakdown(run_dir: Path, episodes: int, seed: int) -> dict[str, Any]:
    agent, env_steps = rig.load_agent(run_dir, device="cpu")
    config = make_vector_env(agent.cfg.env, 1, autoreset_mode="disabled").config
    result = rig.evaluate(agent, episodes, seed)
    hand = np.asarray(result.hand_distance, dtype=np.float64)
    out: dict[str, Any] = {
        "run": str(run_dir),
        "method": rig.method_name(agent.cfg),
        "seed": agent.cfg.seed,
        "env_steps": env_steps,
        "episodes": episodes,
        "success": float(np.mean(result.success)),
        "hand_within": float(np.mean(hand <= config.hand_success_threshold)),
        "hand_quantiles": [float(q) for q in np.quantile(hand, QUANTILES)],
    }
    if result.object_distance is not None:
        obj = np.asarray(result.object_distance, dtype=np.float64)
        out["object_within"] = float(np.mean(obj <= config.object_success_threshold))
        out["object_quantiles"] = [float(q) for q in np.quantile(obj, QUANTILES)]
    return out


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any], seed: int) -> str:
    qs = " / ".join(f"{int(q * 100)}%" for q in QUANTILES)
    lines = [
        "# RIG: which body misses the goal",
        "",
        *provenance_lines(meta),
        f"- goals: episodes from evaluation seed {seed}, the same goal images for every run",
        "",
        "Within: the fraction of episodes whose effector (object) ends within the env's success "
        "threshold of its goal; success needs both.",
        "",
        f"| run | method | seed | env steps | episodes | success | effector within | object within "
        f"| effector distance {qs} | object distance {qs} |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        obj_q = " / ".join(f"{q:.3f}" for q in r.get("object_quantiles", []))
        lines.append(
            f"| `{Path(r['run']).name}` | {r['method']} | {r['seed']} | {r['env_steps']:,} | {r['episodes']} "
            f"| {r['success']:.3f} | {r['hand_within']:.3f} | {r.get('object_within', float('nan')):.3f} "
            f"| {' / '.join(f'{q:.3f}' for q in r['hand_quantiles'])} | {obj_q} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=12_345)
    parser.add_argument("--out", default="rig_failures")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [breakdown(run, args.episodes, args.seed) for run in args.runs]
    meta = provenance()
    j, m = write_results(args.out, {"provenance": meta, "runs": rows}, markdown(rows, meta, args.seed))
    print(m.read_text())
    print(f"wrote {j} and {m}")


if __name__ == "__main__":
    main()
