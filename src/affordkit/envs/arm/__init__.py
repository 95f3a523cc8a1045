"""3-D arm environments on maintained MuJoCo simulators: Meta-World v3 Sawyer and
Gymnasium-Robotics Fetch, with the same image-goal contract as the tabletop (``sim`` extra).

Importing this package imports neither MuJoCo nor the simulators: the first environment built
chooses the headless GL backend (``render.select_gl_backend``), then imports them, and raises
:class:`~affordkit.errors.MissingDependencyError` naming the ``sim`` extra if they are missing.
"""

from affordkit.envs.arm.env import ArmConfig, ArmEnv, ArmVectorEnv
from affordkit.envs.arm.solvers import ArmSolver
from affordkit.envs.arm.tasks import TASKS, ArmTask

__all__ = ["TASKS", "ArmConfig", "ArmEnv", "ArmSolver", "ArmTask", "ArmVectorEnv"]
