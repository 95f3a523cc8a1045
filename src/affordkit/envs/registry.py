"""The names of affordkit's environments, their Gymnasium registration, and `make` helpers.

The 3-D arm envs (``sawyer-push``, ``fetch-reach``, ...) are listed in ``ARM_ENVS`` and registered
as ``affordkit/<name>-v0`` too; their module (and MuJoCo, which needs the ``sim`` extra) is imported
only when one is made.

Every env is registered as ``affordkit/<Name>-v0`` with both an ``entry_point`` (one env) and a
``vector_entry_point`` (the batched simulator), so after ``import affordkit``::

    env = gymnasium.make("affordkit/Push-v0", image_size=84)
    envs = gymnasium.make_vec("affordkit/Push-v0", num_envs=64, vectorization_mode="vector_entry_point")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from affordkit.envs.arm.tasks import TASKS as ARM_TASKS
from affordkit.envs.config import DESCRIPTIONS, PRESETS
from affordkit.envs.tabletop import TabletopEnv, TabletopVectorEnv
from affordkit.errors import UnknownNameError

NAMESPACE = "affordkit"


@dataclass(frozen=True)
class EnvEntry:
    name: str
    gym_id: str
    description: str
    max_episode_steps: int


def _entries() -> dict[str, EnvEntry]:
    out = {}
    for name, preset in PRESETS.items():
        out[name] = EnvEntry(name, f"{NAMESPACE}/{name}-v0", DESCRIPTIONS[name], preset().max_episode_steps)
    return out


ENVS: dict[str, EnvEntry] = _entries()
ARM_ENVS: dict[str, EnvEntry] = {
    name: EnvEntry(name, f"{NAMESPACE}/{name}-v0", task.description, task.max_episode_steps)
    for name, task in ARM_TASKS.items()
}


def register_all() -> None:
    """Register every env with Gymnasium (idempotent)."""
    families = (
        (ENVS, "affordkit.envs.tabletop:TabletopEnv", "affordkit.envs.tabletop:TabletopVectorEnv"),
        (ARM_ENVS, "affordkit.envs.arm.env:ArmEnv", "affordkit.envs.arm.env:ArmVectorEnv"),
    )
    for entries, entry_point, vector_entry_point in families:
        for entry in entries.values():
            if entry.gym_id in gym.registry:
                continue
            gym.register(
                id=entry.gym_id,
                entry_point=entry_point,
                vector_entry_point=vector_entry_point,
                max_episode_steps=entry.max_episode_steps,
                kwargs={"task": entry.name},
            )


def resolve(name: str) -> EnvEntry:
    """An entry by short name (``Push``), Gymnasium id (``affordkit/Push-v0``), any letter case."""
    for entry in (*ENVS.values(), *ARM_ENVS.values()):
        if name.lower() in (entry.name.lower(), entry.gym_id.lower()):
            return entry
    raise UnknownNameError(
        f"unknown environment {name!r}; known environments: {sorted(ENVS)} and, with the sim extra, "
        f"{sorted(ARM_ENVS)}"
    )


def is_arm(name: str) -> bool:
    """Whether ``name`` is a 3-D arm env (needs the ``sim`` extra)."""
    return resolve(name).name in ARM_ENVS


def make_env(name: str, **overrides: Any) -> gym.Env:
    """One env with Gymnasium's TimeLimit at the task's episode length (``max_episode_steps``)."""
    entry = resolve(name)
    steps = overrides.pop("max_episode_steps", entry.max_episode_steps)
    if entry.name in ARM_ENVS:
        from affordkit.envs.arm.env import ArmEnv

        return gym.wrappers.TimeLimit(ArmEnv(entry.name, max_episode_steps=steps, **overrides), steps)
    return gym.wrappers.TimeLimit(TabletopEnv(entry.name, max_episode_steps=steps, **overrides), steps)


def make_vector_env(name: str, num_envs: int, **kwargs: Any) -> TabletopVectorEnv:
    """The batched form: ``num_envs`` envs stepped and rendered together (for an arm env, an
    ``ArmVectorEnv``: the same API on one simulator)."""
    entry = resolve(name)
    if entry.name in ARM_ENVS:
        from affordkit.envs.arm.env import ArmVectorEnv

        return ArmVectorEnv(num_envs, entry.name, **kwargs)  # type: ignore[return-value]
    return TabletopVectorEnv(num_envs, entry.name, **kwargs)
