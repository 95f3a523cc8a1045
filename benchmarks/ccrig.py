"""CC-RIG against RIG on scenes whose objects change every episode, several seeds, one budget.

For each env (``ColorPush``: one object whose colour and shape are drawn per episode;
``ColorMultiPush``: two such objects) and seed, two `affordkit` run folders with the same preset
budget: ``ccrig`` (`affordkit ccrig`: the context-conditioned VAE, goals [z ~ N(0, I), z_c]) and
``rig`` (`affordkit rig`: the plain VAE and its prior). Runs are launched, resumed and read with
benchmarks/rig.py's machinery: a stopped run (session end, Ctrl-C, a killed process) is resumed
exactly, a finished one kept, so the command can be repeated until every run is done.

Results: ``benchmarks/results/<out>.json`` in the form
``{"consistency": {"ccvae": x, "vae": y}, "<env>": {"ccrig": {"success": [per seed], ...},
"rig": {...}}}`` (consistency: the best CC-VAE and plain-VAE rates of imagined goals that keep
their context's object, read from the newest consistency results file,
benchmarks/ccrig_consistency.py), ``<out>.md`` (every seed, mean and spread, the target check)
and ``<out>_<env>_curves.png``.

    python benchmarks/ccrig.py --seeds 0 1 2 3 4 --jobs 2          # 100k env steps per run
    python benchmarks/ccrig.py --preset quick --env-steps 30000      # a cheaper budget
    python benchmarks/ccrig.py --summarise                           # only collect finished runs
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

try:
    from benchmarks import rig as rig_bench
    from benchmarks._common import RESULTS, provenance, provenance_lines, write_results
except ImportError:  # run as a script from benchmarks/
    import rig as rig_bench  # type: ignore[no-redef]
    from _common import RESULTS, provenance, provenance_lines, write_results  # type: ignore[no-redef]

ENVS = ("ColorPush", "ColorMultiPush")
METHODS = ("ccrig", "rig")
CONSISTENCY_FILES = ("ccrig_consistency_broadcast.json", "ccrig_consistency.json")  # newest first


@dataclasses.dataclass
class EnvArgs:
    """What benchmarks/rig.py's functions read, for one env of this benchmark."""

    env: str
    seeds: list[int]
    methods: list[str]
    preset: str
    env_steps: int
    jobs: int
    runs_dir: Path
    out: str
    extra: list[str]


def env_args(args: argparse.Namespace, env: str) -> argparse.Namespace:
    fields = EnvArgs(
        env=env, seeds=args.seeds, methods=list(METHODS), preset=args.preset, env_steps=args.env_steps,
        jobs=args.jobs, runs_dir=args.runs_dir / env, out=f"{args.out}_{env}", extra=args.extra,
    )  # fmt: skip
    return argparse.Namespace(**dataclasses.asdict(fields))


def consistency() -> dict[str, Any] | None:
    """Best CC-VAE and plain-VAE consistency (mean over seeds) of the newest consistency results."""
    for name in CONSISTENCY_FILES:
        path = RESULTS / name
        if path.exists():
            means = json.loads(path.read_text())["mean"]
            best = {
                kind: max((m["consistent"], k) for k, m in means.items() if k.startswith(kind))
                for kind in ("ccvae", "vae")
            }
            return {
                "ccvae": best["ccvae"][0],
                "vae": best["vae"][0],
                "models": {"ccvae": best["ccvae"][1], "vae": best["vae"][1]},
                "file": f"benchmarks/results/{name}",
            }
    return None


def verdict(results: dict[str, Any]) -> str:
    """CC-RIG ahead of RIG by more than the seed spread (the larger of the two sds)?"""
    if not all(m in results and len(results[m]["success"]) > 1 for m in METHODS):
        return "not enough finished seeds to compare"
    cc, rg = results["ccrig"]["success"], results["rig"]["success"]
    gap = statistics.mean(cc) - statistics.mean(rg)
    spread = max(statistics.stdev(cc), statistics.stdev(rg))
    met = "met" if gap > spread else "NOT met"
    return f"CC-RIG - RIG = {gap:+.3f} success against a seed spread of {spread:.3f} ({met})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--envs", nargs="+", default=list(ENVS))
    rig_bench.add_run_arguments(parser, runs_dir="runs/benchmark-ccrig", out="ccrig")
    args = parser.parse_args()
    per_env = {env: env_args(args, env) for env in args.envs}
    if not args.summarise:
        todo = [(env, m, s) for s in args.seeds for env in args.envs for m in METHODS]
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            done = pool.map(lambda t: rig_bench.launch(per_env[t[0]], t[1], t[2]), todo)
            for (env, _, _), (method, seed, code) in zip(todo, done, strict=True):
                if code:
                    print(f"{env} {method} seed {seed} exited with {code}: see its log", file=sys.stderr)
    results = {env: rig_bench.summarise(a) for env, a in per_env.items()}
    if not any(results.values()):
        sys.exit(f"no finished runs under {args.runs_dir}")
    meta = provenance()
    cons = consistency()
    lines = [
        "# CC-RIG against RIG on scenes whose objects change every episode",
        "",
        *provenance_lines(meta),
    ]
    if cons is not None:
        lines += [
            "",
            f"Goal consistency (from `{cons['file']}`): CC-VAE {cons['ccvae']:.3f} "
            f"({cons['models']['ccvae']}), plain VAE {cons['vae']:.3f} ({cons['models']['vae']}).",
        ]
    for env, res in results.items():
        if not res:
            continue
        rig_bench.plot(res, RESULTS / rig_bench.curves_name(per_env[env]))
        lines += [
            "",
            f"## {env}",
            "",
            f"Target (CC-RIG ahead by more than the seed spread): {verdict(res)}.",
            "",
        ]
        lines += rig_bench.method_table(per_env[env], res)
    payload: dict[str, Any] = {"provenance": meta, "consistency": cons}
    for env, res in results.items():
        payload[env] = {m: {k: v for k, v in r.items() if k != "runs"} for m, r in res.items()}
        payload[env]["runs"] = {m: r["runs"] for m, r in res.items()}
    j, m = write_results(args.out, payload, "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {j} and {m}")


if __name__ == "__main__":
    main()
