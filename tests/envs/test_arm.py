"""What the 3-D arm envs add to the env contract (tests/envs/test_contract.py runs that over them):
exact restoration of the physics state around goal images, batches that replay single envs, typed
errors, and a clear error without the sim extra."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from affordkit.envs import make_vector_env
from affordkit.errors import ConfigError, InvalidActionError, InvalidStateError, MissingDependencyError
from affordkit.types import DESIRED_GOAL, IMAGE, OBSERVATION_KEYS

MISSING = [m for m in ("mujoco", "metaworld", "gymnasium_robotics") if importlib.util.find_spec(m) is None]
needs_sim = pytest.mark.skipif(
    bool(MISSING), reason=f"the sim extra is not installed (no {MISSING}); pip install 'affordkit[sim]'"
)


def test_core_import_pulls_no_simulator() -> None:
    code = (
        "import sys, affordkit, affordkit.envs; "
        "print(sorted(m for m in ('mujoco', 'metaworld') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_missing_sim_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from affordkit.envs.arm import ArmEnv

    monkeypatch.setitem(sys.modules, "metaworld.envs", None)  # makes the import fail
    with pytest.raises(MissingDependencyError, match=r"pip install 'affordkit\[sim\]'"):
        ArmEnv("sawyer-push")


@needs_sim
@pytest.mark.parametrize("name", ["sawyer-push", "fetch-push"])
def test_render_goal_restores_the_exact_physics_state(name: str) -> None:
    from affordkit.envs.arm import ArmEnv

    env, twin = ArmEnv(name), ArmEnv(name)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(8, 2))
    for e in (env, twin):
        e.reset(seed=3)
        for a in actions[:4]:
            e.step(a)
    sim = env.core.sim
    before = env.physics_state()
    env.render_goal()
    env.render_goal(env.core.goal[0][None].repeat(2, axis=0))
    np.testing.assert_array_equal(env.physics_state(), before)
    sim.restore(env.physics_state())
    qpos, qvel, mocap = sim.data.qpos.copy(), sim.data.qvel.copy(), sim.data.mocap_pos.copy()
    sim.restore(twin.physics_state())
    np.testing.assert_array_equal(sim.data.qpos, qpos)
    np.testing.assert_array_equal(sim.data.qvel, qvel)
    np.testing.assert_array_equal(sim.data.mocap_pos, mocap)
    for a in actions[4:]:  # and the future is unchanged
        o1, r1, *_ = env.step(a)
        o2, r2, *_ = twin.step(a)
        for key in OBSERVATION_KEYS:
            np.testing.assert_array_equal(o1[key], o2[key])
        assert r1 == r2
    env.close()
    twin.close()


@needs_sim
def test_goal_images_depend_on_the_goal_alone() -> None:
    from affordkit.envs.arm import ArmEnv

    env = ArmEnv("sawyer-push")
    obs, _ = env.reset(seed=1)
    first = env.render_goal()
    for _ in range(5):
        env.step(np.array([1.0, -1.0]))
    np.testing.assert_array_equal(env.render_goal(), first)
    assert not np.array_equal(first, obs[IMAGE])
    env.close()


@needs_sim
def test_vector_env_replays_single_envs() -> None:
    from affordkit.envs.arm import ArmEnv

    envs = make_vector_env("sawyer-push", 3, autoreset_mode="disabled")
    obs, _ = envs.reset(seed=10)
    rng = np.random.default_rng(1)
    actions = rng.uniform(-1, 1, size=(6, 3, 2))
    batch = [obs]
    for a in actions:
        batch.append(envs.step(a)[0])
    single = ArmEnv("sawyer-push")
    for i in (0, 2):
        o, _ = single.reset(seed=10 + i)
        trajectory = [o] + [single.step(a[i])[0] for a in actions]
        for b, s in zip(batch, trajectory, strict=True):
            for key in OBSERVATION_KEYS:
                np.testing.assert_array_equal(b[key][i], s[key])
    np.testing.assert_array_equal(envs.render_goal()[1], single.render_goal(batch[0][DESIRED_GOAL][1]))
    envs.close()
    single.close()


@needs_sim
def test_bad_input_raises_typed_errors() -> None:
    from affordkit.envs.arm import ArmEnv

    with pytest.raises(ConfigError, match=r"unknown arm setting\(s\) \['imag_size'\]"):
        ArmEnv("sawyer-push", imag_size=84)
    with pytest.raises(ConfigError, match=r"accepted values: \[48, 84\]"):
        ArmEnv("sawyer-push", image_size=64)
    env = ArmEnv("sawyer-push")
    env.reset(seed=0)
    with pytest.raises(InvalidActionError, match=r"shape \(2,\)"):
        env.step(np.zeros(4))
    with pytest.raises(InvalidActionError, match="NaN or infinite"):
        env.step(np.array([np.nan, 0.0]))
    with pytest.raises(InvalidStateError, match="out of reach"):
        env.render_goal(np.array([2.0, 0.6, 0.0, 0.6]))
    with pytest.raises(InvalidStateError, match="inside another object"):
        env.set_state(np.array([0.0, 0.6, 0.0, 0.6]))
    with pytest.raises(InvalidStateError, match=r"shape \(M, 4\)"):
        env.render_goal(np.zeros(3))
    env.close()


@needs_sim
def test_exit_with_open_envs_prints_no_gl_errors() -> None:
    # A finaliser made before MuJoCo's first context (as tqdm, tempfile and others do) once put
    # the renderers' exit hook behind MuJoCo's EGL teardown: every open env printed an EGLError.
    code = (
        "import weakref, tempfile; weakref.finalize(tempfile, lambda: None)\n"
        "from affordkit.envs import make_vector_env\n"
        "env = make_vector_env('sawyer-reach', 2, autoreset_mode='disabled')\n"
        "env.reset(seed=0)\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert "Exception ignored" not in done.stderr and "EGLError" not in done.stderr, done.stderr
