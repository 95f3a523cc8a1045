"""One MuJoCo model and data driven through its mocap weld: step, read the goal-space state, put
the scene into a goal state, and save or restore the whole physics state.

The physics state saved and restored is MuJoCo's integration state (``mjSTATE_INTEGRATION``:
time, qpos, qvel, actuator activations, the constraint solver's warm start, controls, applied
forces, mocap pose), so restoring a saved state and stepping reproduces the original bit for bit.
That is what lets one simulator serve many environments (`core.py`) and what `render_goal` uses to
leave an environment exactly as it was.
"""

from __future__ import annotations

import numpy as np

from affordkit.envs.arm.backends import require
from affordkit.envs.arm.tasks import ArmTask

MOCAP_QUAT = np.array([1.0, 0.0, 1.0, 0.0])  # gripper pointing down (both libraries' convention)
HOME_SETTLE_STEPS = 60  # env steps with the mocap at home before the home state is saved
GOAL_SETTLE_ROUNDS = 6  # mocap corrections while placing the hand at a goal
GOAL_SETTLE_STEPS = 15  # env steps per correction
OBJECT_RGBA = np.array([45, 95, 220, 255]) / 255.0  # the tabletop palette's blue
PARK = np.array([5.0, 5.0])  # where free objects wait, out of reach and view, while the hand moves


class ArmSim:
    """A task's model and data. Not thread-safe; one per core."""

    def __init__(self, task: ArmTask) -> None:
        self._mj = mujoco = require("mujoco")
        self.task = task
        self.model, self.data = task.build()
        m = self.model
        for name in task.hidden_bodies:
            body = m.body(name).id
            geoms = m.geom_bodyid == body
            m.geom_rgba[geoms, 3] = 0.0
            m.geom_contype[geoms] = 0
            m.geom_conaffinity[geoms] = 0
            m.body_gravcomp[body] = 1.0
        for body in np.flatnonzero(m.body_mocapid >= 0):  # mocap markers are not part of the scene
            m.geom_rgba[m.geom_bodyid == body, 3] = 0.0
        for obj in task.objects:  # objects in one saturated colour, easy to see at 48x48
            geoms = m.geom_bodyid == m.jnt_bodyid[m.joint(obj.joint).id]
            m.geom_matid[geoms] = -1
            m.geom_rgba[geoms] = OBJECT_RGBA
        weld = int(np.flatnonzero(m.eq_type == mujoco.mjtEq.mjEQ_WELD)[0])
        ends = (int(m.eq_obj1id[weld]), int(m.eq_obj2id[weld]))
        self._welded = ends[1] if m.body_mocapid[ends[0]] >= 0 else ends[0]  # the body the mocap pulls
        self._hand_sites = [m.site(s).id for s in task.hand_sites]
        self._qpos_adr = [int(m.joint(o.joint).qposadr[0]) for o in task.objects]
        self._dof_adr = [int(m.joint(o.joint).dofadr[0]) for o in task.objects]
        self._spec = mujoco.mjtState.mjSTATE_INTEGRATION
        self.state_size = mujoco.mj_stateSize(m, self._spec)
        self.mocap_low = np.asarray(task.mocap_low, dtype=np.float64)
        self.mocap_high = np.asarray(task.mocap_high, dtype=np.float64)
        if task.gripper_ctrl:
            self.data.ctrl[: len(task.gripper_ctrl)] = task.gripper_ctrl
        self.home_state = self._settle_home()
        self.start_state = self._start_state()

    # --------------------------------------------------------------------------- physics state
    def capture(self) -> np.ndarray:
        """The full integration state (state_size,) float64."""
        out = np.empty(self.state_size)
        self._mj.mj_getState(self.model, self.data, out, self._spec)
        return out

    def restore(self, state: np.ndarray) -> None:
        """Load a state from :meth:`capture` and bring kinematics up to date."""
        self._mj.mj_setState(self.model, self.data, state, self._spec)
        self._mj.mj_forward(self.model, self.data)

    # ------------------------------------------------------------------------------- dynamics
    def step(self, action: np.ndarray) -> None:
        """Put the mocap at the hand body's position plus ``action`` (action_dim,) in [-1, 1] times
        the action scale (clipped to the mocap box; planar tasks keep their height), then run the
        physics substeps. Starting from the body, not from the last mocap target, keeps the target
        from running ahead of a hand that lags or is blocked (Gymnasium-Robotics does the same)."""
        delta = np.zeros(3)
        delta[: self.task.action_dim] = np.clip(action, -1.0, 1.0) * self.task.action_scale
        self._move_mocap(self.data.xpos[self._welded] + delta)
        self._mj.mj_step(self.model, self.data, nstep=self.task.substeps)
        self._mj.mj_forward(self.model, self.data)

    def _move_mocap(self, target: np.ndarray) -> None:
        target = np.clip(target, self.mocap_low, self.mocap_high)
        if self.task.planar:
            target[2] = self.task.home[2]
        self.data.mocap_pos[0] = target
        self.data.mocap_quat[0] = MOCAP_QUAT

    # ---------------------------------------------------------------------------- observation
    def hand(self) -> np.ndarray:
        """The hand point (3,): the mean of the task's hand sites."""
        return self.data.site_xpos[self._hand_sites].mean(axis=0)

    def achieved(self) -> np.ndarray:
        """The goal-space state (goal_dim,) float64: hand, then each object."""
        parts = [self.hand()[: self.task.hand_dim]]
        for obj, adr in zip(self.task.objects, self._qpos_adr, strict=True):
            q = self.data.qpos
            parts.append(q[adr : adr + 2].copy() if obj.kind == "free" else np.array([obj.sign * q[adr]]))
        return np.concatenate(parts)

    # -------------------------------------------------------------------------------- placing
    def _set_objects(self, values: list[np.ndarray]) -> None:
        q, v = self.data.qpos, self.data.qvel
        for obj, adr, dof, value in zip(
            self.task.objects, self._qpos_adr, self._dof_adr, values, strict=True
        ):
            if obj.kind == "free":
                q[adr : adr + 7] = [value[0], value[1], self.task.object_height, 1.0, 0.0, 0.0, 0.0]
                v[dof : dof + 6] = 0.0
            else:
                q[adr] = obj.sign * value[0]
                v[dof] = 0.0

    def _split(self, goal: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        hand, i, objects = goal[: self.task.hand_dim], self.task.hand_dim, []
        for obj in self.task.objects:
            objects.append(goal[i : i + obj.dim])
            i += obj.dim
        return hand, objects

    def place(self, goal: np.ndarray) -> None:
        """Put the scene in the goal state ``goal`` (goal_dim,): from the home state, free objects
        parked out of the way, the mocap is steered until the hand point is at the goal; then the
        objects are placed and every velocity is zeroed. The result depends on ``goal`` alone."""
        self.restore(self.home_state)
        hand_goal, object_goals = self._split(np.asarray(goal, dtype=np.float64))
        parked = [
            PARK + 0.5 * k if o.kind == "free" else g
            for k, (o, g) in enumerate(zip(self.task.objects, object_goals, strict=True))
        ]
        self._set_objects(parked)
        dim = self.task.hand_dim
        target = self.data.mocap_pos[0].copy()
        target[:dim] = hand_goal
        for _ in range(GOAL_SETTLE_ROUNDS):
            self._move_mocap(target)
            self._mj.mj_step(self.model, self.data, nstep=self.task.substeps * GOAL_SETTLE_STEPS)
            self._mj.mj_forward(self.model, self.data)
            target[:dim] += hand_goal - self.hand()[:dim]
        self._set_objects(object_goals)
        self.data.qvel[:] = 0.0
        self._mj.mj_forward(self.model, self.data)

    def _settle_home(self) -> np.ndarray:
        self._set_objects([np.asarray(o.start, dtype=np.float64) for o in self.task.objects])
        for _ in range(HOME_SETTLE_STEPS):
            self._move_mocap(np.asarray(self.task.home, dtype=np.float64))
            self._mj.mj_step(self.model, self.data, nstep=self.task.substeps)
        self.data.qvel[:] = 0.0
        self.data.time = 0.0
        self._mj.mj_forward(self.model, self.data)
        return self.capture()

    def _start_state(self) -> np.ndarray:
        """Home with every object at its start position."""
        self.restore(self.home_state)
        self._set_objects([np.asarray(o.start, dtype=np.float64) for o in self.task.objects])
        self._mj.mj_forward(self.model, self.data)
        return self.capture()
