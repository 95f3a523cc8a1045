"""The simulators' models: built by Meta-World and Gymnasium-Robotics, then driven by `sim.py`.

Only the model (MJCF scene, mocap weld set up by the library's constructor) and its data are
taken; stepping, resets, goals and rendering are affordkit's. Imports of the optional libraries
happen here, so a missing ``sim`` extra surfaces as one clear error.
"""

from __future__ import annotations

import importlib
from typing import Any

from affordkit.envs.arm.render import select_gl_backend
from affordkit.errors import MissingDependencyError

INSTALL_HINT = "install the sim extra: pip install 'affordkit[sim]' (or bash scripts/setup.sh sim)"


def require(module: str) -> Any:
    """Import ``module`` (after choosing the GL backend) or raise MissingDependencyError naming the
    sim extra."""
    select_gl_backend()
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(
            f"the 3-D arm environments need {module.split('.')[0]!r}, which is not importable "
            f"({type(e).__name__}: {e}); {INSTALL_HINT}"
        ) from e


def metaworld_model(class_name: str) -> tuple[Any, Any]:
    """Model and data of a Meta-World v3 Sawyer env (its constructor loads the scene and sets the
    mocap weld); the env object itself is dropped."""
    envs = require("metaworld.envs")
    env = getattr(envs, class_name)()
    return env.model, env.data


def fetch_model(class_name: str) -> tuple[Any, Any]:
    """Model and data of a Gymnasium-Robotics Fetch env after its set-up (base placed, mocap weld
    set, gripper moved into position)."""
    fetch = require("gymnasium_robotics.envs.fetch")
    module = {"MujocoFetchReachEnv": "reach", "MujocoFetchPushEnv": "push"}[class_name]
    env = getattr(importlib.import_module(f"{fetch.__name__}.{module}"), class_name)()
    return env.model, env.data
