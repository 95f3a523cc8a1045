"""The 3-D arm tasks: which simulator model each uses, its goal regions, camera and thresholds.

Lengths are metres in the simulator's world frame. Goals are hand position (xy for planar tasks,
whose hand moves at a fixed height like the RIG papers' Sawyer pusher and reacher; xyz otherwise)
followed by each object's goal coordinates (xy of a puck or block, the opening of a drawer in
metres, the angle of a door in radians).

Meta-World v3 (``metaworld``) gives the Sawyer arm's models and Gymnasium-Robotics (``gymnasium_robotics``)
the Fetch ones; both are driven here through their mocap weld, not through their own ``step``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from affordkit.envs.arm.render import CameraSpec

Vec2 = tuple[float, float]
Vec3 = tuple[float, float, float]
Joint = Literal["free", "slide", "hinge"]


@dataclass(frozen=True)
class ObjectSpec:
    """One thing the goal places besides the hand: a free body (puck, block) given by its xy, or a
    slide or hinge joint given by its opening (1-D)."""

    joint: str
    """Name of the joint in the model."""
    kind: Joint = "free"
    start: tuple[float, ...] = ()
    """Position at reset: xy for a free body, the opening for a joint."""
    goal_low: tuple[float, ...] = ()
    goal_high: tuple[float, ...] = ()
    sign: float = 1.0
    """Opening = sign * joint position (Meta-World's drawer slides and its door turns negative)."""

    @property
    def dim(self) -> int:
        return 2 if self.kind == "free" else 1


@dataclass(frozen=True)
class ArmTask:
    """Everything that makes one arm env: the model, how the hand moves, goals, camera, success."""

    name: str
    description: str
    build: Callable[[], tuple[Any, Any]]
    """Returns (mujoco.MjModel, mujoco.MjData) with the mocap weld set up."""
    hand_sites: tuple[str, ...]
    """The hand point is the mean of these sites' positions (between the fingertips)."""
    substeps: int
    """Physics steps per env step."""
    action_scale: float
    """Mocap displacement (metres) per env step for an action of magnitude 1 per axis."""
    mocap_low: Vec3
    mocap_high: Vec3
    home: Vec3
    """Mocap position at reset (and before goal placement)."""
    hand_goal_low: tuple[float, ...]
    hand_goal_high: tuple[float, ...]
    camera: CameraSpec
    planar: bool = True
    """The hand moves in the plane z = home[2] (actions and hand goals are xy); else xyz."""
    objects: tuple[ObjectSpec, ...] = ()
    gripper_ctrl: tuple[float, ...] = ()
    """Constant actuator controls (the gripper stays as it is: closed for pushing)."""
    hidden_bodies: tuple[str, ...] = ()
    """Bodies of the model that this task does not use: made invisible, weightless, contact-free."""
    max_episode_steps: int = 50
    hand_success_threshold: float = 0.05
    object_success_threshold: float = 0.05
    goal_separation: float = 0.08
    """Hand goals keep at least this xy distance from free objects' goals (the hand cannot stand
    inside a puck), and free objects from each other."""
    object_height: float = 0.0
    """Rest height (z) of free objects' centres."""
    extra: dict[str, float] = field(default_factory=dict)
    """Numbers for the scripted solver: ``contact`` (hand point to object centre when touching,
    metres), ``box`` (1 if the object is a box, pushed along x then y), ``unit`` (metres per tabletop
unit: scales the solver's clearances)."""

    @property
    def hand_dim(self) -> int:
        return 2 if self.planar else 3

    @property
    def action_dim(self) -> int:
        return self.hand_dim

    @property
    def goal_dim(self) -> int:
        return self.hand_dim + sum(o.dim for o in self.objects)

    @property
    def num_objects(self) -> int:
        return len(self.objects)


# ------------------------------------------------------------------------------------- builders
def _metaworld(class_name: str) -> Callable[[], tuple[Any, Any]]:
    def build() -> tuple[Any, Any]:
        from affordkit.envs.arm.backends import metaworld_model

        return metaworld_model(class_name)

    return build


def _fetch(class_name: str) -> Callable[[], tuple[Any, Any]]:
    def build() -> tuple[Any, Any]:
        from affordkit.envs.arm.backends import fetch_model

        return fetch_model(class_name)

    return build


SAWYER_SITES = ("rightEndEffector", "leftEndEffector")
# Both cameras look at the workspace from the front left, above, so that the arm hides little of it.
SAWYER_TABLE_CAMERA = CameraSpec(lookat=(0.0, 0.62, 0.0), distance=0.8, azimuth=135.0, elevation=-50.0)
FETCH_CAMERA = CameraSpec(lookat=(1.3, 0.75, 0.42), distance=0.8, azimuth=135.0, elevation=-50.0)
FETCH_HOME_XY = (1.342, 0.749)


def _around(center: Vec2, half: float) -> tuple[Vec2, Vec2]:
    return (center[0] - half, center[1] - half), (center[0] + half, center[1] + half)


def _tasks() -> dict[str, ArmTask]:
    sawyer = dict(
        hand_sites=SAWYER_SITES,
        substeps=25,  # 62.5 ms: the weld pulls the hand most of the way to its target
        action_scale=0.02,
        mocap_low=(-0.25, 0.40, 0.05),
        mocap_high=(0.25, 0.85, 0.30),
        gripper_ctrl=(1.0, -1.0),
    )
    fetch_push_low, fetch_push_high = _around(FETCH_HOME_XY, 0.15)
    fetch = dict(
        hand_sites=("robot0:grip",),
        substeps=40,
        action_scale=0.025,
        hand_goal_low=fetch_push_low,
        hand_goal_high=fetch_push_high,
        mocap_low=(1.05, 0.40, 0.42),
        mocap_high=(1.60, 1.10, 0.70),
        camera=FETCH_CAMERA,
    )
    tasks = [
        ArmTask(
            name="sawyer-reach",
            description="Meta-World Sawyer: move the gripper to a point above the table (xy, fixed height)",
            build=_metaworld("SawyerReachEnvV3"),
            home=(0.0, 0.5, 0.07),
            hand_goal_low=(-0.2, 0.45),
            hand_goal_high=(0.2, 0.8),
            camera=SAWYER_TABLE_CAMERA,
            hidden_bodies=("obj",),
            **sawyer,  # type: ignore[arg-type]
        ),
        ArmTask(
            name="sawyer-push",
            description="Meta-World Sawyer: push the puck to its goal and put the gripper at its own",
            build=_metaworld("SawyerPushEnvV3"),
            home=(0.0, 0.5, 0.07),
            hand_goal_low=(-0.2, 0.45),
            hand_goal_high=(0.2, 0.8),
            camera=SAWYER_TABLE_CAMERA,
            objects=(ObjectSpec("objjoint", "free", (0.0, 0.62), (-0.15, 0.52), (0.15, 0.75)),),
            object_height=0.02,
            max_episode_steps=75,
            extra={"contact": 0.04},  # puck radius 0.02 plus half a finger
            **sawyer,  # type: ignore[arg-type]
        ),
        ArmTask(
            name="fetch-reach",
            description="Gymnasium-Robotics Fetch: move the gripper to a point above the table (xy)",
            build=_fetch("MujocoFetchReachEnv"),
            home=(FETCH_HOME_XY[0], FETCH_HOME_XY[1], 0.52),
            **fetch,  # type: ignore[arg-type]
        ),
        ArmTask(
            name="fetch-push",
            description="Gymnasium-Robotics Fetch: push the block to its goal and put the gripper at its own",
            build=_fetch("MujocoFetchPushEnv"),
            home=(FETCH_HOME_XY[0], FETCH_HOME_XY[1], 0.42),
            objects=(ObjectSpec("object0:joint", "free", (1.25, 0.68), fetch_push_low, fetch_push_high),),
            object_height=0.425,
            max_episode_steps=75,
            extra={"contact": 0.04, "box": 1.0, "unit": 0.3},  # the gripper is wider across than along
            **fetch,  # type: ignore[arg-type]
        ),
    ]
    return {t.name: t for t in tasks}


TASKS: dict[str, ArmTask] = _tasks()
