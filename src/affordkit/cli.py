"""The ``affordkit`` command, generated from config dataclasses with tyro.

Every subcommand has ``--help``; unknown flags are errors. Errors that affordkit raises on purpose
(bad names, bad values) print one line and exit with status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from affordkit.errors import AffordkitError, ConfigError
from affordkit.methods.awac import AWACRunConfig
from affordkit.methods.awac import preset as awac_preset
from affordkit.methods.data import CollectConfig
from affordkit.methods.quickstart import QuickstartConfig
from affordkit.methods.rig import RIGConfig
from affordkit.methods.rig import preset as rig_preset


@dataclass(frozen=True)
class EnvsList:
    """List the registered environments."""


@dataclass(frozen=True)
class EnvsShow:
    """Write a picture: start observations beside their goal images and the scripted solver's last
    step, over a few resets."""

    env: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV")]
    """Environment name (see `affordkit envs list`)."""
    out: Path = Path("env.png")
    """Where to write the PNG."""
    resets: int = 4
    """Number of episodes (rows)."""
    seed: int = 0
    """Seed of the first episode; row i uses seed + i."""
    image_size: int = 48
    """Observation size in pixels: 48 or 84."""


@dataclass(frozen=True)
class Envs:
    """Environments: list them, or draw one."""

    command: (
        Annotated[EnvsList, tyro.conf.subcommand("list")] | Annotated[EnvsShow, tyro.conf.subcommand("show")]
    )


@dataclass(frozen=True)
class Eval:
    """Evaluate a run's latest checkpoint on fresh goal images."""

    run_dir: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="RUN_DIR")]
    """The run folder."""
    episodes: int = 64
    """Goal images to evaluate on (one episode each)."""
    seed: int = 123_456
    """Seed of the evaluation goals."""


@dataclass(frozen=True)
class DataInfo:
    """Print a dataset's counts, features, statistics, success rate and labels."""

    root: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="DIR")]
    """The dataset folder."""
    verify: bool = False
    """Also check every file's SHA-256 against meta.json (reads the whole dataset)."""
    recompute_stats: bool = False
    """Recompute stats.json from the data first."""


@dataclass(frozen=True)
class DataShow:
    """Draw a few episodes of a dataset: a PNG sheet of frames, or an animated GIF."""

    root: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="DIR")]
    """The dataset folder (with image observations)."""
    out: Path = Path("dataset.png")
    """Where to write: a .png sheet or a .gif animation."""
    episodes: int = 4
    """Episodes to draw (the first ones)."""
    every: int = 5
    """PNG: draw every this many-th frame."""


@dataclass(frozen=True)
class Data:
    """Episode datasets: collect one from an env, describe one, draw one."""

    command: (
        Annotated[CollectConfig, tyro.conf.subcommand("collect")]
        | Annotated[DataInfo, tyro.conf.subcommand("info")]
        | Annotated[DataShow, tyro.conf.subcommand("show")]
    )


QUICKSTART_HELP = "Collect a little random data on an env, draw it, write a run folder with a report."
RIG_HELP = (
    "RIG: beta-VAE, imagined goals, TD3 on latents. `--preset NAME` (default, quick, smoke) picks the "
    "starting values that the other flags change; `--resume RUN_DIR` continues a stopped run exactly."
)
CCRIG_HELP = (
    "CC-RIG: a context-conditioned VAE, so imagined goals keep the scene of the episode's first image "
    "(RIG's pipeline with latent_model=ccvae, on ColorPush). `--preset NAME` (default, quick, smoke); "
    "`--resume RUN_DIR` continues a stopped run exactly."
)
CCRIG_PRESETS = {"default": "ccrig", "quick": "ccrig-quick", "smoke": "ccrig-smoke"}


AWAC_HELP = (
    "AWAC offline-to-online from a dataset (`--learner bc`: the BC baseline). `--preset NAME` (default, "
    "bench, smoke) picks the starting values; `--resume RUN_DIR` continues a stopped run exactly."
)


def _command(
    rig_default: RIGConfig, awac_default: AWACRunConfig | None = None, ccrig_default: RIGConfig | None = None
) -> object:
    """The command union; the rig, ccrig and awac subcommands' defaults come from the chosen presets."""
    awac_default = awac_default or AWACRunConfig()
    ccrig_default = ccrig_default or rig_preset("ccrig")
    return (
        Annotated[Envs, tyro.conf.subcommand("envs")]
        | Annotated[Data, tyro.conf.subcommand("data")]
        | Annotated[AWACRunConfig, tyro.conf.subcommand("awac", default=awac_default, description=AWAC_HELP)]
        | Annotated[QuickstartConfig, tyro.conf.subcommand("quickstart", description=QUICKSTART_HELP)]
        | Annotated[RIGConfig, tyro.conf.subcommand("rig", default=rig_default, description=RIG_HELP)]
        | Annotated[RIGConfig, tyro.conf.subcommand("ccrig", default=ccrig_default, description=CCRIG_HELP)]
        | Annotated[Eval, tyro.conf.subcommand("eval")]
    )


def _split_rig_flags(args: list[str], command: str = "rig") -> tuple[list[str], str, Path | None]:
    """Take ``--preset NAME`` and ``--resume DIR`` out of a ``rig`` (or ``awac``) command line (tyro
    builds the rest from the preset's values)."""
    name, resume, rest, i = "default", None, [], 0
    while i < len(args):
        flag = args[i]
        key, _, inline = flag.partition("=")
        if key in ("--preset", "--resume"):
            value = inline if inline else (args[i + 1] if i + 1 < len(args) else "")
            i += 1 if inline else 2
            if not value:
                raise SystemExit(f"affordkit {command}: {key} needs a value")
            if key == "--preset":
                name = value
            else:
                resume = Path(value)
            continue
        rest.append(flag)
        i += 1
    return rest, name, resume


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    rig_default, awac_default, ccrig_default = RIGConfig(), AWACRunConfig(), None
    if args[:1] in (["rig"], ["awac"], ["ccrig"]):  # commands with --preset NAME and --resume RUN_DIR
        command = args[0]
        rest, name, resume = _split_rig_flags(args[1:], command)
        try:
            if resume is not None:
                if [a for a in rest if a not in ("--no-progress",)]:
                    print(
                        "affordkit: error: --resume continues a run with its own config; give no other flags",
                        file=sys.stderr,
                    )
                    return 2
                return _awac(None, resume) if command == "awac" else _rig(None, resume)
            if command == "rig":
                rig_default = rig_preset(name)
            elif command == "ccrig":
                if name not in CCRIG_PRESETS:
                    known = sorted(CCRIG_PRESETS)
                    raise ConfigError(f"unknown CC-RIG preset {name!r}; known presets: {known}")
                ccrig_default = rig_preset(CCRIG_PRESETS[name])
            else:
                awac_default = awac_preset(name)
        except AffordkitError as e:
            print(f"affordkit: error: {e}", file=sys.stderr)
            return 2
        args = [command, *rest]
    cmd = tyro.cli(
        _command(rig_default, awac_default, ccrig_default),  # type: ignore[call-overload]
        args=args,
        prog="affordkit",
        description="affordkit: goal-conditioned robot learning from pixels.",
        config=(tyro.conf.OmitSubcommandPrefixes,),
    )
    try:
        return _dispatch(cmd)
    except AffordkitError as e:
        print(f"affordkit: error: {e}", file=sys.stderr)
        return 2


def _dispatch(cmd: object) -> int:
    if isinstance(cmd, Envs):
        if isinstance(cmd.command, EnvsList):
            return _envs_list()
        return _envs_show(cmd.command)
    if isinstance(cmd, RIGConfig):
        return _rig(cmd, None)
    if isinstance(cmd, AWACRunConfig):
        return _awac(cmd, None)
    if isinstance(cmd, Data):
        return _data(cmd.command)
    if isinstance(cmd, Eval):
        from affordkit.methods.rig import evaluate_run

        metrics = evaluate_run(cmd.run_dir, cmd.episodes, cmd.seed)
        for k, v in metrics.items():
            print(f"{k}: {v:.4g}")
        return 0
    if isinstance(cmd, QuickstartConfig):
        from affordkit.methods.quickstart import run

        report = run(cmd)
        print(f"report: {report}")
        return 0
    raise AssertionError(f"unhandled command {cmd!r}")


def _rig(cfg: RIGConfig | None, resume: Path | None) -> int:
    import torch

    from affordkit.methods.rig import run

    torch.set_num_threads(1)  # one thread: on a shared machine more threads were 8-25x slower
    report = run(cfg, resume=resume)
    print(f"report: {report}")
    return 0


def _awac(cfg: AWACRunConfig | None, resume: Path | None) -> int:
    import torch

    from affordkit.methods.awac import run

    torch.set_num_threads(1)
    report = run(cfg, resume=resume)
    print(f"report: {report}")
    return 0


def _data(cmd: CollectConfig | DataInfo | DataShow) -> int:
    from affordkit.methods import data

    if isinstance(cmd, CollectConfig):
        ds = data.collect(cmd, progress=True)
        print(f"wrote {cmd.out}: {ds.num_episodes} episodes, {ds.num_steps} steps")
        print(data.describe(cmd.out))
    elif isinstance(cmd, DataInfo):
        print(data.describe(cmd.root, recompute_stats=cmd.recompute_stats, verify=cmd.verify))
    else:
        print(f"wrote {data.show(cmd.root, cmd.out, cmd.episodes, cmd.every)}")
    return 0


def _envs_list() -> int:
    from affordkit.envs import ARM_ENVS, ENVS

    everything = [*ENVS.values(), *ARM_ENVS.values()]
    width = max(len(e.name) for e in everything)
    for e in everything:
        print(f"{e.name:<{width}}  {e.gym_id:<26}  {e.max_episode_steps:>4} steps  {e.description}")
    print("(the lower-case 3-D arm envs need the sim extra: pip install 'affordkit[sim]')")
    return 0


def _envs_show(cmd: EnvsShow) -> int:
    from affordkit.envs import resolve
    from affordkit.envs.showcase import SHEET_COLUMNS, showcase
    from affordkit.logging import save_sheet

    entry = resolve(cmd.env)
    images, labels = showcase(entry.name, cmd.resets, cmd.seed, image_size=cmd.image_size)
    path = save_sheet(cmd.out, images, SHEET_COLUMNS, labels, title=f"{entry.name}: {entry.description}")
    print(f"wrote {path}")
    return 0


def entry() -> None:
    sys.exit(main())
