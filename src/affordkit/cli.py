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

from affordkit.errors import AffordkitError
from affordkit.methods.quickstart import QuickstartConfig


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


Command = (
    Annotated[Envs, tyro.conf.subcommand("envs")]
    | Annotated[
        QuickstartConfig,
        tyro.conf.subcommand(
            "quickstart",
            description="Collect a little random data on an env, draw it, write a run folder with a report.",
        ),
    ]
)


def main(argv: Sequence[str] | None = None) -> int:
    cmd = tyro.cli(
        Command,
        args=argv,
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
    if isinstance(cmd, QuickstartConfig):
        from affordkit.methods.quickstart import run

        report = run(cmd)
        print(f"report: {report}")
        return 0
    raise AssertionError(f"unhandled command {cmd!r}")


def _envs_list() -> int:
    from affordkit.envs import ENVS

    width = max(len(e.name) for e in ENVS.values())
    for e in ENVS.values():
        print(f"{e.name:<{width}}  {e.gym_id:<26}  {e.max_episode_steps:>4} steps  {e.description}")
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
