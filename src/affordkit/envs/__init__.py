"""Goal-conditioned image environments. Importing this package registers them with Gymnasium."""

from affordkit.envs.config import PRESETS, TabletopConfig
from affordkit.envs.registry import ARM_ENVS, ENVS, is_arm, make_env, make_vector_env, register_all, resolve
from affordkit.envs.solvers import ScriptedSolver
from affordkit.envs.tabletop import TabletopEnv, TabletopVectorEnv

register_all()

__all__ = [
    "ARM_ENVS",
    "ENVS",
    "PRESETS",
    "ScriptedSolver",
    "TabletopConfig",
    "TabletopEnv",
    "TabletopVectorEnv",
    "is_arm",
    "make_env",
    "make_vector_env",
    "register_all",
    "resolve",
]
