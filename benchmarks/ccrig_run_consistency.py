"""Goal consistency of the latent model a run trains its policy with: the imagined goals of a
CC-RIG (or RIG) run on ColorPush, drawn the way its RL phase draws them.

For each run folder: the pre-trained model and goal prior of its VAE phase (``checkpoints/vae.pt``;
CC-RIG keeps its CC-VAE frozen during RL, so this is the model the policy saw); 1,000 held-out
ColorPush contexts s_0 (``benchmarks/ccrig_consistency.py``'s held-out env seeds for ``--seed``);
one imagined goal per context, z_t drawn from the run's prior (CC-RIG: joined to the context's
z_c; RIG: the context is not seen) and decoded; the detector (``affordkit.envs.detect``) on each
goal and its context; a goal is consistent when both show an object of the same colour and shape.
The rates are those of ``ccrig_consistency.py``'s table, so the two read side by side.

    python benchmarks/ccrig_run_consistency.py RUN_DIR [RUN_DIR ...] --out ccrig_run_consistency
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch

from affordkit.envs.detect import detect_objects
from affordkit.generative import CCVAE
from affordkit.generative.priors import prior_from_state_dict, standard_normal_prior
from affordkit.logging import image_grid, save_png
from affordkit.loops import checkpoint
from affordkit.methods import rig
from affordkit.networks import to_uint8_images

try:
    from benchmarks import ccrig_consistency as consistency
    from benchmarks._common import RESULTS, provenance, provenance_lines, write_results
except ImportError:  # run as a script from benchmarks/
    import ccrig_consistency as consistency  # type: ignore[no-redef]
    from _common import RESULTS, provenance, provenance_lines, write_results  # type: ignore[no-redef]

PICTURE_COLUMNS = 12


def run_model(run_dir: Path) -> tuple[Any, Any, rig.RIGConfig]:
    """The run's pre-trained latent model (eval mode, CPU), its goal prior and its config."""
    cfg = rig.load_run_config(run_dir)
    if cfg.observation != "latent":
        raise SystemExit(f"{run_dir}: not a RIG or CC-RIG run (observation {cfg.observation!r})")
    if cfg.env != consistency.ENV:
        raise SystemExit(f"{run_dir}: a run on {cfg.env}; the detector reads {consistency.ENV}'s scenes")
    path = Path(run_dir) / rig.ARTIFACTS / "vae.pt"
    if not path.exists():
        raise SystemExit(f"{run_dir}: no {rig.ARTIFACTS}/vae.pt yet (its VAE phase has not finished)")
    state, _ = checkpoint.load(path, with_replay=False)
    model = rig.make_latent_model(dataclasses.replace(cfg, device="cpu"), torch.device("cpu"))
    model.load_state_dict(state["vae"])
    return model.eval(), prior_from_state_dict(state["prior"]), cfg


def imagine(model: Any, prior: Any, contexts: np.ndarray, generator: torch.Generator) -> np.ndarray:
    """One goal per context as the run's RL phase imagines it: z_t from the prior, for a CC-VAE
    joined to the context's z_c; decoded to uint8 images."""
    z = prior.sample(len(contexts), generator).float()
    with torch.no_grad():
        if isinstance(model, CCVAE):
            return to_uint8_images(model.decode(z, model.context(contexts)))
        return to_uint8_images(model.decode(z))


def measure(
    run_dir: Path, seed: int, contexts: int, prior_kind: str = "run"
) -> tuple[dict[str, Any], np.ndarray]:
    """``prior_kind``: ``run`` (the run's own goal prior) or ``standard`` (z_t ~ N(0, I) instead)."""
    model, prior, cfg = run_model(run_dir)
    if prior_kind == "standard":
        prior = standard_normal_prior(model.config.latent_dim)
    heldout = consistency.collect(
        contexts,
        consistency.HELDOUT_SEED_BASE + 100_000 * seed,
        seed,
        with_pairs=False,
        image_size=cfg.image_size,
    )
    detected = detect_objects(heldout.context)
    true_shape = detected.shape == heldout.shape
    detector = float(((detected.color_index == heldout.color) & true_shape).mean())
    goals = imagine(model, prior, heldout.context, torch.Generator().manual_seed(seed + 7))
    rates = consistency.agreement(detect_objects(goals), detected)
    row = {
        "run": str(run_dir),
        "latent_model": cfg.latent_model,
        "prior": cfg.prior if prior_kind == "run" else prior_kind,
        "model": dataclasses.asdict(cfg.ccvae if cfg.latent_model == "ccvae" else cfg.vae),
        "detector_accuracy_on_contexts": detector,
        **rates,
    }
    columns = consistency.picture_columns(heldout)[:PICTURE_COLUMNS]
    more = [
        imagine(model, prior, heldout.context[columns], torch.Generator().manual_seed(seed + k))
        for k in (1, 2)
    ]
    picture = np.stack([heldout.context[columns], goals[columns], *more])
    return row, picture


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        "# Goal consistency of the latent model of each run",
        "",
        *provenance_lines(meta),
        f"- {args.contexts:,} held-out {consistency.ENV} contexts (held-out env seeds of seed {args.seed} "
        "in ccrig_consistency.py); one imagined goal each, z_t drawn from "
        + ("the run's own prior" if args.prior == "run" else "N(0, I)"),
        "",
        "| run | model | prior | consistent | colour | shape | no object | shape, if found "
        "| detector on contexts |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        run = Path(r["run"])
        lines.append(
            f"| `{run.parent.name}/{run.name}` | {r['latent_model']} | {r['prior']} | {r['consistent']:.3f} "
            f"| {r['color']:.3f} | {r['shape']:.3f} | {r['no_object']:.3f} | {r['shape_if_found']:.3f} "
            f"| {r['detector_accuracy_on_contexts']:.3f} |"
        )
    lines += [
        "",
        f"Picture (`{args.out}_<i>.png`, one per run): top row contexts, below them three imagined "
        "goals each.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--seed", type=int, default=0, help="which held-out contexts")
    parser.add_argument("--contexts", type=int, default=1000)
    parser.add_argument(
        "--prior", choices=["run", "standard"], default="run", help="the run's goal prior, or N(0, I) for z_t"
    )
    parser.add_argument("--out", default="ccrig_run_consistency")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for i, run in enumerate(args.runs):
        row, picture = measure(run, args.seed, args.contexts, args.prior)
        rows.append(row)
        save_png(RESULTS / f"{args.out}_{i}.png", image_grid(picture, upscale=2))
    meta = provenance()
    payload = {"provenance": meta, "seed": args.seed, "contexts": args.contexts, "runs": rows}
    j, m = write_results(args.out, payload, markdown(rows, meta, args))
    print(m.read_text())
    print(f"wrote {j} and {m}")


if __name__ == "__main__":
    main()
