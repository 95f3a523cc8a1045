"""Goal-conditioned image environments. Importing this package registers them with Gymnasium."""

from affordkit.envs.config import PRESETS, TabletopConfig
from affordkit.envs.registry import ENVS, make_env, make_vector_env, register_all, resolve
from affordkit.envs.solvers import ScriptedSolver
from affordkit.envs.tabletop import TabletopEnv, TabletopVectorEnv

register_all()

__all__ = [
    "ENVS",
    "PRESETS",
    "ScriptedSolver",
    "TabletopConfig",
    "TabletopEnv",
    "TabletopVectorEnv",
    "make_env",
    "make_vector_env",
    "register_all",
    "resolve",
]
