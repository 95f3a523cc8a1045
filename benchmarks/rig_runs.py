"""Summarise finished `affordkit rig` (and `affordkit ccrig`) run folders into one results file:
each run's command, commit, preset and VAE settings (from its config.json) and its evaluation
curve and final numbers (from its metrics.csv). For single runs kept as evidence until the
five-seed benchmark exists.

    python benchmarks/rig_runs.py RUN_DIR [RUN_DIR ...] --out rig_runs
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any

try:
    from benchmarks._common import provenance, provenance_lines, write_results
except ImportError:  # run as a script from benchmarks/
    from _common import provenance, provenance_lines, write_results  # type: ignore[no-redef]


def summarise(run_dir: Path) -> dict[str, Any]:
    config = json.loads((run_dir / "config.json").read_text())
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    curve = [
        {k: float(r[k]) for k in r if r[k] and (k.startswith("eval/") or k == "step")}
        for r in rows
        if r.get("eval/success_rate")
    ]
    final = {k: float(v) for r in rows for k, v in r.items() if v and k.startswith("final/")}
    cfg = config["config"]
    return {
        "run": run_dir.name,
        "env": config["env"],
        "seed": config["seed"],
        "command": config["command"],
        "commit": config["git_commit"],
        "dirty": config["git_dirty"],
        "preset": cfg["preset"],
        "env_steps": cfg["env_steps"],
        "latent_model": cfg.get("latent_model", "vae"),
        "vae": {k: cfg["vae"].get(k) for k in ("latent_dim", "beta", "decoder", "reconstruction")},
        "ccvae": {
            k: cfg.get("ccvae", {}).get(k)
            for k in ("latent_dim", "context_dim", "beta_end", "decoder", "context_dropout")
        },
        "observation": cfg.get("observation", "latent"),
        "prior": cfg.get("prior", "fitted"),
        "steps_done": int(curve[-1]["step"]) if curve else 0,
        "minutes": float(rows[-1]["seconds"]) / 60 if rows else None,
        "curve": curve,
        "final": final,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", default="rig_runs")
    args = parser.parse_args()
    runs = [summarise(r) for r in args.runs]
    meta = provenance()
    lines = [
        "# RIG single runs (one seed each; not the five-seed benchmark)",
        "",
        *provenance_lines(meta),
        "",
        "Minutes are wall-clock of one process with one torch thread; the 2-core machine was shared "
        "with other jobs during most runs, so they are upper bounds, not speed measurements.",
        "",
    ]
    for r in runs:
        vae = r["vae"]
        decoder = vae.get("decoder") or "rig"
        what = (
            f"VAE latent {vae['latent_dim']}, beta {vae['beta']}, decoder {decoder}, prior {r['prior']}"
            if r["observation"] == "latent"
            else f"baseline: observation {r['observation']}"
        )
        if r["latent_model"] == "ccvae":
            cc = r["ccvae"]
            what = (
                f"CC-VAE latent {cc['latent_dim']}, context {cc['context_dim']}, beta {cc['beta_end']}, "
                f"decoder {cc['decoder']}, context dropout {cc['context_dropout']}, prior {r['prior']}"
            )
        lines += [
            f"## {r['env']}, preset {r['preset']}, seed {r['seed']}: {what}",
            "",
            f"- run command: `{r['command']}` at commit `{r['commit']}`"
            + (" (with uncommitted changes)" if r["dirty"] else ""),
            f"- {r['env_steps']:,} env steps, {r['minutes']:.1f} minutes wall-clock (one thread)"
            if r["final"]
            else f"- stopped at {r['steps_done']:,} of {r['env_steps']:,} env steps after {r['minutes']:.1f} "
            "minutes (a tuning run; no final evaluation)",
            "",
            "| env steps | success rate | final hand distance | final object distance |",
            "|---:|---:|---:|---:|",
        ]
        for p in r["curve"]:
            obj = p.get("eval/final_object_distance")
            lines.append(
                f"| {int(p['step']):,} | {p['eval/success_rate']:.3f} | "
                f"{p['eval/final_hand_distance']:.3f} | {'' if obj is None else f'{obj:.3f}'} |"
            )
        f = r["final"]
        if f:
            obj = f.get("final/final_object_distance")
            lines.append(
                f"| final | {f['final/success_rate']:.3f} | {f['final/final_hand_distance']:.3f} | "
                f"{'' if obj is None else f'{obj:.3f}'} |"
            )
        lines.append("")
    j, m = write_results(args.out, {"provenance": meta, "runs": runs}, "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {j} and {m}")


if __name__ == "__main__":
    main()
