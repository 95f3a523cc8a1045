"""Image steps per second of the tabletop envs, single and batched, beside a MuJoCo scene of the
same content (a disc effector and a puck on a plane, shadows and multisampling off, rendered
headless), and of the 3-D arm envs (Meta-World Sawyer, Fetch; ``sim`` extra), measured in the same
run, interleaved, one thread.

    python benchmarks/env_speed.py            # writes benchmarks/results/env_speed.{md,json}
    python benchmarks/env_speed.py --only-arm --seconds 1 --rounds 1 --out arm_speed_check

A measurement steps with uniform random actions for ``--seconds`` and counts image observations
(one per env per step). Each configuration is measured ``--rounds`` times, rounds interleaved so
that load from other processes hits every configuration alike; the median is reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from affordkit.envs import ARM_ENVS, TabletopEnv, make_vector_env  # noqa: E402
from affordkit.envs.arm.render import select_gl_backend  # noqa: E402

select_gl_backend()  # before anything imports MuJoCo

try:
    from benchmarks._common import provenance, provenance_lines, write_results
except ImportError:  # run as a script from benchmarks/
    from _common import provenance, provenance_lines, write_results  # type: ignore[no-redef]

Stepper = Callable[[], int]  # one call = one step of every env; returns images produced


def ours_single(task: str, size: int) -> Stepper:
    env = TabletopEnv(task, image_size=size)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(4096, 2)).astype(np.float32)
    state = {"t": 0}
    horizon = env.config.max_episode_steps

    def step() -> int:
        t = state["t"]
        env.step(actions[t % 4096])
        state["t"] = t + 1
        if (t + 1) % horizon == 0:
            env.reset()
        return 1

    return step


def ours_batched(task: str, size: int, n: int) -> Stepper:
    env = make_vector_env(task, n, image_size=size)  # next-step auto-reset, as in training
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(64, n, 2)).astype(np.float32)
    state = {"t": 0}

    def step() -> int:
        env.step(actions[state["t"] % 64])
        state["t"] += 1
        return n

    return step


MJCF = """
<mujoco model="push_reference">
  <option timestep="0.01"/>
  <visual>
    <quality shadowsize="0" offsamples="0"/>
    <global offwidth="{size}" offheight="{size}"/>
  </visual>
  <worldbody>
    <light directional="true" pos="0 0 3" dir="0 0 -1" castshadow="false"/>
    <geom name="table" type="plane" size="1 1 0.1" rgba="0.91 0.89 0.84 1"/>
    <geom type="box" pos="0 1.05 0.05" size="1.1 0.05 0.05" rgba="0.5 0.5 0.5 1"/>
    <geom type="box" pos="0 -1.05 0.05" size="1.1 0.05 0.05" rgba="0.5 0.5 0.5 1"/>
    <geom type="box" pos="1.05 0 0.05" size="0.05 1.1 0.05" rgba="0.5 0.5 0.5 1"/>
    <geom type="box" pos="-1.05 0 0.05" size="0.05 1.1 0.05" rgba="0.5 0.5 0.5 1"/>
    <camera name="top" pos="0 0 3" xyaxes="1 0 0 0 1 0" {ortho} fovy="2"/>
    <body name="hand" pos="0 -0.6 0.05">
      <joint name="hand_x" type="slide" axis="1 0 0" damping="5"/>
      <joint name="hand_y" type="slide" axis="0 1 0" damping="5"/>
      <geom type="cylinder" size="0.1 0.05" rgba="0.14 0.14 0.16 1" mass="1"/>
    </body>
    <body name="puck" pos="0 0 0.05">
      <freejoint/>
      <geom type="cylinder" size="0.15 0.05" rgba="0.86 0.18 0.18 1" mass="0.2"/>
    </body>
  </worldbody>
  <actuator>
    <position joint="hand_x" kp="400" ctrlrange="-1 1"/>
    <position joint="hand_y" kp="400" ctrlrange="-1 1"/>
  </actuator>
</mujoco>
"""


def mujoco_single(size: int, substeps: int = 5) -> Stepper:
    """The MuJoCo reference: position-controlled effector, 5 physics steps per action, one
    offscreen render per action."""
    import mujoco

    try:  # newer mujoco names the camera projection; 3.3.0 (pinned by the sim extra) has a flag
        model = mujoco.MjModel.from_xml_string(MJCF.format(size=size, ortho='projection="orthographic"'))
    except ValueError:
        model = mujoco.MjModel.from_xml_string(MJCF.format(size=size, ortho='orthographic="true"'))
    data = mujoco.MjData(model)
    renderer = mujoco.Renderer(model, size, size)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(4096, 2))
    state = {"t": 0}

    def step() -> int:
        t = state["t"]
        data.ctrl[:] = np.clip(data.qpos[:2] + 0.1 * actions[t % 4096], -0.9, 0.9)
        for _ in range(substeps):
            mujoco.mj_step(model, data)
        renderer.update_scene(data, camera="top")
        renderer.render()
        state["t"] = t + 1
        if (t + 1) % 50 == 0:
            mujoco.mj_resetData(model, data)
        return 1

    return step


def arm_single(name: str, size: int) -> Stepper:
    """One arm env (one simulator, one renderer), uniform random actions, reset at the episode end
    (included in the timing)."""
    from affordkit.envs.arm import ArmEnv

    env = ArmEnv(name, image_size=size)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(4096, env.config.spec.action_dim)).astype(np.float32)
    state = {"t": 0}

    def step() -> int:
        t = state["t"]
        env.step(actions[t % 4096])
        state["t"] = t + 1
        if (t + 1) % env.config.max_episode_steps == 0:
            env.reset()
        return 1

    return step


def measure(step: Stepper, seconds: float) -> float:
    for _ in range(3):  # warm-up
        step()
    images, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        images += step()
    return images / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of one measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions (median reported)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[48, 84])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 16, 64, 256])
    parser.add_argument("--out", default="env_speed", help="results name under benchmarks/results/")
    parser.add_argument("--arm", nargs="*", default=list(ARM_ENVS), help="3-D arm envs to measure")
    parser.add_argument("--only-arm", action="store_true", help="measure the arm envs alone")
    args = parser.parse_args()

    configs: dict[str, Callable[[], Stepper]] = {}
    for size in args.sizes:
        for name in args.arm:
            configs[f"{name} {size}"] = lambda s=size, n=name: arm_single(n, s)
        if args.only_arm:
            continue
        configs[f"Push single {size}"] = lambda s=size: ours_single("Push", s)
        for n in args.batch:
            configs[f"Push batched N={n} {size}"] = lambda s=size, n=n: ours_batched("Push", s, n)
        for task in ("PointReach", "MultiPush", "MultiPush3", "ColorPush"):
            configs[f"{task} batched N=64 {size}"] = lambda s=size, t=task: ours_batched(t, s, 64)
        configs[f"MuJoCo reference {size}"] = lambda s=size: mujoco_single(s)
    mujoco_error = None
    steppers: dict[str, Stepper] = {}
    for name, make in configs.items():
        try:
            steppers[name] = make()
        except Exception as e:  # MuJoCo, the sim extra or a GL backend missing: report it, keep the rest
            if not (name.startswith("MuJoCo") or name.split()[0] in ARM_ENVS):
                raise
            mujoco_error = f"{type(e).__name__}: {e}"
    samples: dict[str, list[float]] = {k: [] for k in steppers}
    for r in range(args.rounds):
        for name, step in steppers.items():
            samples[name].append(measure(step, args.seconds))
        print(f"round {r + 1}/{args.rounds} done")
    median = {k: statistics.median(v) for k, v in samples.items()}
    ratios = {}
    for size in args.sizes:
        ref = median.get(f"MuJoCo reference {size}")
        if ref:
            for name, value in median.items():
                tabletop = not name.startswith("MuJoCo") and name.split()[0] not in ARM_ENVS
                if name.endswith(f" {size}") and tabletop:  # the arms are other scenes: no ratio
                    ratios[name] = value / ref
    meta = provenance()
    meta["mujoco_gl"] = os.environ.get("MUJOCO_GL")
    if mujoco_error is None:
        import mujoco

        meta["mujoco"] = mujoco.__version__
    payload = {
        "provenance": meta,
        "settings": vars(args),
        "image_steps_per_second": {k: round(v, 1) for k, v in median.items()},
        "all_samples": {k: [round(x, 1) for x in v] for k, v in samples.items()},
        "ratio_to_mujoco_reference": {k: round(v, 2) for k, v in ratios.items()},
        "mujoco_error": mujoco_error,
    }
    lines = [
        "# Env speed: image steps per second",
        "",
        *provenance_lines(meta),
        f"- MuJoCo {meta.get('mujoco', 'unavailable')} with MUJOCO_GL={meta['mujoco_gl']}; one thread; "
        f"median of {args.rounds} interleaved rounds of {args.seconds} s each",
        "",
        "| configuration | image steps/s | x MuJoCo reference (same size) |",
        "|---|---:|---:|",
    ]
    for name, value in median.items():
        ratio = f"{ratios[name]:.1f}" if name in ratios else ""
        lines.append(f"| {name} | {value:,.0f} | {ratio} |")
    arm = {k: v for k, v in median.items() if k.split()[0] in ARM_ENVS}
    if arm:
        lines += [
            "",
            "| 3-D arm env | image steps/s | minutes per 100k image steps (extrapolated) |",
            "|---|---:|---:|",
        ]
        lines += [f"| {k} | {v:,.0f} | {100_000 / v / 60:,.0f} |" for k, v in arm.items()]
    lines += [
        "",
        "The MuJoCo reference steps one scene of the same content (disc effector, one puck, a plane with",
        "rim walls) with 5 physics steps per action and renders it offscreen with shadows and",
        "multisampling off. Ours steps all N tables in one set of NumPy calls and auto-resets at the",
        "episode end (included in the timings). A 3-D arm env steps its MuJoCo scene (25 or 40",
        "physics steps per action) and renders it offscreen, shadows and multisampling off.",
    ]
    if mujoco_error:
        lines += ["", f"MuJoCo reference not measured: {mujoco_error}"]
    j, m = write_results(args.out, payload, "\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {j} and {m}")


if __name__ == "__main__":
    main()
