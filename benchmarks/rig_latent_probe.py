"""How a RIG run's VAE encodes each body of the scene. For the VAE of each run folder (the one
stored with its latest RL checkpoint), on images the env renders from random goal states:

- decodability: the position error (table units) of each body read back from the posterior mean,
  linearly (least squares on 3,000 scenes) and by 5 nearest neighbours, on 1,000 held-out scenes;
  the 5-NN error of the true states themselves is the floor set by how densely 3,000 scenes cover
  the table;
- geometry: the latent distance ||mu(s') - mu(s)|| when one body moves by 0.05, 0.1 and 0.2 in a
  random direction (medians over scenes), i.e. what the latent-distance reward sees of each body,
  in the L2 norm (RIG's reward), the L1 norm (``--reward-norm l1``) and L2 with each latent
  dimension divided by its spread over the scenes; and the object's share in each;
- range: the same L2 distance when one body jumps to another random place (the other body still),
  binned by how far it went, and the rank correlation of the two: whether the reward still
  grows with the distance to a far goal, or levels off;
- CC-VAE only, the context gap: ||mu(s, s_0') - mu(s, s_0)|| for the same image under another
  table's context (what separates a goal code encoded in another scene from every code the current
  scene can reach), and how far that moves the bodies' linearly read positions.

    python benchmarks/rig_latent_probe.py RUN_DIR [RUN_DIR ...] --out rig_latent_probe

A run folder whose RL has not checkpointed yet is probed with its pre-trained VAE. A CC-RIG run's
CC-VAE is probed through the state code it gives the policy, mu(s_t, s_0), each scene drawn on one
of 100 tables (objects of its own colour and shape on ColorPush) with that table's reset image as
the context s_0.

Scenes keep the effector and the object apart (centres more than 0.26 apart on Push: no overlap).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from affordkit.envs import make_vector_env
from affordkit.generative import CCVAE
from affordkit.loops import checkpoint
from affordkit.methods import rig
from affordkit.types import IMAGE

try:
    from benchmarks._common import provenance, provenance_lines, write_results
except ImportError:  # run as a script from benchmarks/
    from _common import provenance, provenance_lines, write_results  # type: ignore[no-redef]

TRAIN, TEST, CHUNK = 3_000, 1_000, 100
MOVES = (0.05, 0.1, 0.2)
RANGES = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.4), (0.4, 0.8), (0.8, 2.0))
BODIES = {"effector": slice(0, 2), "object": slice(2, 4)}


def load_vae(run_dir: Path) -> tuple[Any, str]:
    """The VAE of the run's latest RL checkpoint, or, before the first one, the pre-trained VAE."""
    cfg = rig.load_run_config(run_dir)
    if cfg.observation != "latent":
        raise SystemExit(f"{run_dir}: not a RIG or CC-RIG run (observation {cfg.observation!r})")
    artifacts = Path(run_dir) / rig.ARTIFACTS
    if not (artifacts / "rl").exists() and (artifacts / "vae.pt").exists():
        state, _ = checkpoint.load(artifacts / "vae.pt", with_replay=False)
        vae = rig.make_latent_model(dataclasses.replace(cfg, device="cpu"), torch.device("cpu"))
        vae.load_state_dict(state["vae"])
        return vae.eval(), cfg.env
    agent, _ = rig.load_agent(run_dir, device="cpu")
    return agent.vae, cfg.env


def min_gap(cfg: Any) -> float:
    """Centre distance that keeps the effector off the object whatever its shape: 0.26 on Push
    (discs), more where boxes may appear (their corners reach further)."""
    boxes = cfg.randomize_appearance or "box" in cfg.object_shapes
    extent = max(cfg.disc_radius, cfg.box_half * np.sqrt(2)) if boxes else cfg.disc_radius
    return float(cfg.hand_radius + extent + 0.01)


def scenes(
    n: int, rng: np.random.Generator, hand_half: float, object_half: float, gap: float = 0.26
) -> np.ndarray:
    """(n, 4) random goal states [effector xy, object xy] with the two bodies ``gap`` apart."""
    out: list[np.ndarray] = []
    while sum(len(o) for o in out) < n:
        h = rng.uniform(-hand_half, hand_half, (4 * n, 2))
        p = rng.uniform(-object_half, object_half, (4 * n, 2))
        keep = np.linalg.norm(h - p, axis=1) > gap
        out.append(np.concatenate([h, p], axis=1)[keep])
    return np.concatenate(out)[:n].astype(np.float32)


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho (ranks without ties: continuous values)."""
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def probe(run_dir: Path, seed: int) -> dict[str, Any]:
    vae, env_name = load_vae(run_dir)
    env = make_vector_env(env_name, CHUNK, autoreset_mode="disabled")
    first, _ = env.reset(seed=seed)
    contexts = first[IMAGE]  # CC-VAE: each table's reset image is the context of its scenes
    cfg = env.config
    if cfg.num_objects != 1:
        raise SystemExit(f"{run_dir}: the probe reads one object; {env_name} has {cfg.num_objects}")
    rng = np.random.default_rng(seed)

    def encode_chunk(images: np.ndarray) -> np.ndarray:
        if isinstance(vae, CCVAE):
            return vae.encode_mean(images, contexts[: len(images)]).float().numpy()
        return vae.encode_mean(images).float().numpy()

    def encode(states: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [encode_chunk(env.render_goal(states[i : i + CHUNK])) for i in range(0, len(states), CHUNK)]
        )

    gap = min_gap(cfg)
    s = scenes(TRAIN + TEST, rng, cfg.hand_goal_half, cfg.object_goal_half, gap)
    z = encode(s)
    tr, te = slice(0, TRAIN), slice(TRAIN, TRAIN + TEST)
    weights = np.linalg.lstsq(np.c_[z[tr], np.ones(TRAIN)], s[tr], rcond=None)[0]
    linear = np.c_[z[te], np.ones(TEST)] @ weights

    def knn(features: np.ndarray) -> np.ndarray:
        d = ((features[te, None, :] - features[None, tr, :]) ** 2).sum(-1)
        return s[tr][np.argsort(d, axis=1)[:, :5]].mean(axis=1)

    from_latent, from_state = knn(z), knn(s)
    out: dict[str, Any] = {"run": str(run_dir), "env": env_name, "bodies": {}}
    if isinstance(vae, CCVAE):  # the same images under the next table's context
        images = np.concatenate(
            [env.render_goal(s[i : i + CHUNK]) for i in range(TRAIN, TRAIN + TEST, CHUNK)]
        )
        other = np.concatenate(
            [vae.encode_mean(images[i : i + CHUNK], np.roll(contexts, 1, axis=0)).float().numpy()
             for i in range(0, TEST, CHUNK)]
        )  # fmt: skip
        shift = (np.c_[other, np.ones(TEST)] - np.c_[z[te], np.ones(TEST)]) @ weights
        out["context_gap"] = {
            "median": float(np.median(np.linalg.norm(other - z[te], axis=1))),
            "read_effector_shift": float(np.median(np.linalg.norm(shift[:, :2], axis=1))),
            "read_object_shift": float(np.median(np.linalg.norm(shift[:, 2:], axis=1))),
        }
    for body, cols in BODIES.items():

        def err(pred: np.ndarray, cols: slice = cols) -> float:
            return float(np.median(np.linalg.norm(pred[:, cols] - s[te][:, cols], axis=1)))

        moves, moves_l1, moves_std = {}, {}, {}
        spread = z.std(axis=0) + 1e-8  # per latent dimension, over all scenes
        for step in MOVES:
            moved = s[:TEST].copy()
            angle = rng.uniform(0, 2 * np.pi, TEST)
            moved[:, cols] += step * np.stack([np.cos(angle), np.sin(angle)], axis=1)
            half = cfg.hand_goal_half if body == "effector" else cfg.object_goal_half
            moved[:, cols] = np.clip(moved[:, cols], -half, half)
            apart = np.linalg.norm(moved[:, :2] - moved[:, 2:], axis=1) > gap
            moved[~apart] = s[:TEST][~apart]  # a move into the other body is left out
            change = (encode(moved) - z[:TEST])[apart]
            moves[str(step)] = float(np.median(np.linalg.norm(change, axis=1)))
            moves_l1[str(step)] = float(np.median(np.abs(change).sum(axis=1)))
            moves_std[str(step)] = float(np.median(np.linalg.norm(change / spread, axis=1)))
        # range: the body jumps anywhere in its goal region (kept apart from the other body)
        jumped = s[:TEST].copy()
        half = cfg.hand_goal_half if body == "effector" else cfg.object_goal_half
        jumped[:, cols] = rng.uniform(-half, half, (TEST, 2))
        for _ in range(50):  # redraw the places that land on the other body
            clash = np.linalg.norm(jumped[:, :2] - jumped[:, 2:], axis=1) <= gap
            if not clash.any():
                break
            jumped[clash, cols] = rng.uniform(-half, half, (int(clash.sum()), 2))
        apart = np.linalg.norm(jumped[:, :2] - jumped[:, 2:], axis=1) > gap
        went = np.linalg.norm(jumped[:, cols] - s[:TEST][:, cols], axis=1)[apart]
        latent = np.linalg.norm(encode(jumped)[apart] - z[:TEST][apart], axis=1)
        by_range = {}
        for lo, hi in RANGES:
            inside = (went >= lo) & (went < hi)
            by_range[f"{lo}-{hi}"] = float(np.median(latent[inside])) if inside.sum() >= 10 else None
        out["bodies"][body] = {
            "latent_distance_by_range": by_range,
            "rank_correlation": rank_correlation(went, latent),
            "linear_error": err(linear),
            "knn_error": err(from_latent),
            "knn_error_true_state": err(from_state),
            "latent_distance_per_move": moves,
            "latent_l1_distance_per_move": moves_l1,
            "standardized_distance_per_move": moves_std,
        }
    return out


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    moves = " / ".join(str(m) for m in MOVES)
    lines = [
        "# RIG and CC-RIG: how the VAE encodes each body",
        "",
        *provenance_lines(meta),
        f"- scenes: {TRAIN:,} to fit, {TEST:,} held out; random goal states, bodies apart",
        "",
        "Errors are median distances (table units) between a body's true position and the one read "
        "from the posterior mean; the floor is the 5-NN error of the true states (scene density).",
        "",
        f"| run | body | linear error | 5-NN error | 5-NN floor | latent distance for a move of {moves} |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        for body, b in r["bodies"].items():
            per = " / ".join(f"{v:.3f}" for v in b["latent_distance_per_move"].values())
            run = Path(r["run"])
            lines.append(
                f"| `{run.parent.name}/{run.name}` | {body} | {b['linear_error']:.3f} | {b['knn_error']:.3f} "
                f"| {b['knn_error_true_state']:.3f} | {per} |"
            )
    lines += [
        "",
        "What the reward sees of each body: the object's latent distance over the effector's for a move "
        "of 0.1, in the two norms of `--reward-norm`, and in L2 after dividing each latent dimension by "
        "its spread over the scenes (above 1: a move of the object counts for more).",
        "",
        "| run | object / effector, L2 | object / effector, L1 | object / effector, standardized L2 |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        b, run = r["bodies"], Path(r["run"])
        ratios = [
            b["object"][key]["0.1"] / b["effector"][key]["0.1"]
            for key in (
                "latent_distance_per_move",
                "latent_l1_distance_per_move",
                "standardized_distance_per_move",
            )
            if key in b["object"]
        ]
        lines.append(f"| `{run.parent.name}/{run.name}` | " + " | ".join(f"{x:.2f}" for x in ratios) + " |")
    gaps = [r for r in rows if "context_gap" in r]
    if gaps:
        lines += [
            "",
            "The context gap (CC-VAE): the median latent distance between one image's codes under its own "
            "table's context and under another table's, and how far that moves each body's linearly read "
            "position (table units): the part of a goal code encoded in another scene that no code of the "
            "current scene can match.",
            "",
            "| run | context gap | effector read shift | object read shift |",
            "|---|---:|---:|---:|",
        ]
        for r in gaps:
            g, run = r["context_gap"], Path(r["run"])
            lines.append(
                f"| `{run.parent.name}/{run.name}` | {g['median']:.3f} | {g['read_effector_shift']:.4f} "
                f"| {g['read_object_shift']:.4f} |"
            )
    lines += [
        "",
        "The range of the reward: the median L2 latent distance when one body jumps to another random "
        "place (the other body still), by how far it went (table units; '-' under 10 scenes), and the "
        "rank correlation of latent and true distance over all jumps.",
        "",
        "| run | body | " + " | ".join(f"{lo}-{hi}" for lo, hi in RANGES) + " | rank correlation |",
        "|---|---|" + "---:|" * (len(RANGES) + 1),
    ]
    for r in rows:
        run = Path(r["run"])
        for body, b in r["bodies"].items():
            if "latent_distance_by_range" not in b:
                continue
            cells = [("-" if v is None else f"{v:.3f}") for v in b["latent_distance_by_range"].values()]
            lines.append(
                f"| `{run.parent.name}/{run.name}` | {body} | "
                + " | ".join(cells)
                + f" | {b['rank_correlation']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="rig_latent_probe")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [probe(run, args.seed) for run in args.runs]
    meta = provenance()
    j, m = write_results(args.out, {"provenance": meta, "runs": rows}, markdown(rows, meta))
    print(m.read_text())
    print(f"wrote {j} and {m}")


if __name__ == "__main__":
    main()
