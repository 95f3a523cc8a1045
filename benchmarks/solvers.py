"""Success rate of each env's scripted solver over many episodes (the solvers make demonstration
data and sanity-check that every sampled goal is reachable).

    python benchmarks/solvers.py --episodes 200 --seed 0
"""

from __future__ import annotations

import argparse

import numpy as np

from affordkit.envs import ENVS, ScriptedSolver, make_vector_env

try:
    from benchmarks._common import provenance, provenance_lines, write_results
except ImportError:  # run as a script from benchmarks/
    from _common import provenance, provenance_lines, write_results  # type: ignore[no-redef]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = {}
    for name, entry in ENVS.items():
        env = make_vector_env(name, args.episodes, autoreset_mode="disabled")
        obs, _ = env.reset(seed=args.seed)
        solver = ScriptedSolver(env)
        info: dict = {}
        for _ in range(entry.max_episode_steps):
            obs, _, _, _, info = env.step(solver.act(obs))
        results[name] = {
            "success_rate": float(np.mean(info["success"])),
            "final_hand_distance": float(np.mean(info["hand_distance"])),
            "final_object_distance": float(np.mean(info["object_distance"]))
            if "object_distance" in info
            else None,
            "episode_steps": entry.max_episode_steps,
        }
    meta = provenance()
    lines = [
        "# Scripted solvers: success at the end of the episode",
        "",
        *provenance_lines(meta),
        f"- {args.episodes} episodes per env, seeds {args.seed}..{args.seed + args.episodes - 1}",
        "",
        "| env | episode steps | success rate | final hand distance | final object distance |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        obj = r["final_object_distance"]
        lines.append(
            f"| {name} | {r['episode_steps']} | {r['success_rate']:.3f} | {r['final_hand_distance']:.3f} | "
            f"{'' if obj is None else f'{obj:.3f}'} |"
        )
    j, m = write_results(
        "solvers", {"provenance": meta, "settings": vars(args), "results": results}, "\n".join(lines) + "\n"
    )
    print("\n".join(lines))
    print(f"wrote {j} and {m}")


if __name__ == "__main__":
    main()
