"""Contact geometry and pushing: property tests with an independent overlap check."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from affordkit.envs import TabletopEnv, make_vector_env
from affordkit.envs.geometry import penetration
from affordkit.envs.physics import Walls, step_bodies

TOL = 1e-6


def gap(c1, h1, r1, c2, h2, r2) -> float:
    """Separation of two bodies, computed independently of affordkit: sampled boundary points of
    body 2 against the signed distance of body 1 is not independent, so use closed forms per pair
    of shape kinds (disc: h = 0; box: r = 0)."""
    c1, c2, h1, h2 = map(np.asarray, (c1, c2, h1, h2))
    if not h1.any() and not h2.any():  # disc - disc
        return float(np.hypot(*(c1 - c2)) - r1 - r2)
    if h1.any() and h2.any():  # box - box: separated along some axis
        return float(np.max(np.abs(c1 - c2) - h1 - h2))
    if h1.any():  # make body 1 the disc
        c1, c2, h1, h2, r1, r2 = c2, c1, h2, h1, r2, r1
    nearest = np.clip(c1, c2 - h2, c2 + h2)
    d = float(np.hypot(*(c1 - nearest)))
    if d > 0:
        return d - r1
    return -float(np.min(h2 - np.abs(c1 - c2))) - r1  # centre inside the box


def assert_valid(core) -> None:
    cfg = core.config
    for n in range(core.num_envs):
        bodies = [(core.pos[n, b], core.half[n, b], core.radius[n, b]) for b in range(core.pos.shape[1])]
        for i in range(len(bodies)):
            c, h, r = bodies[i]
            ext = h + r
            assert np.all(np.abs(c) <= cfg.table_half - ext + TOL), f"body {i} off the table: {c}"
            for w in range(len(core.walls)):
                g = gap(c, h, r, core.walls.centers[w], core.walls.halves[w], 0.0)
                assert g >= -TOL, f"body {i} inside wall {w} by {-g}"
            for j in range(i + 1, len(bodies)):
                g = gap(*bodies[i], *bodies[j])
                assert g >= -TOL, f"bodies {i} and {j} overlap by {-g} in env {n}"


shape = st.sampled_from(["disc", "box"])
coord = st.floats(-1.0, 1.0, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(shape, shape, coord, coord, st.floats(0.05, 0.3), st.floats(0.05, 0.3))
def test_penetration_matches_closed_forms_and_resolves(kind_a, kind_b, x, y, size_a, size_b) -> None:
    ha = np.full(2, size_a) if kind_a == "box" else np.zeros(2)
    hb = np.full(2, size_b) if kind_b == "box" else np.zeros(2)
    ra = 0.0 if kind_a == "box" else size_a
    rb = 0.0 if kind_b == "box" else size_b
    offset = np.array([x, y])
    depth, normal = penetration(offset, ha + hb, np.asarray(ra + rb))
    expected = -gap(np.zeros(2), ha, ra, offset, hb, rb)
    if expected > 0 or depth > 0:  # overlapping: depth is exactly the overlap for these shapes
        np.testing.assert_allclose(depth, expected, atol=1e-9)
        moved = offset + normal * depth
        assert abs(gap(np.zeros(2), ha, ra, moved, hb, rb)) < 1e-9
    assert abs(np.hypot(*normal) - 1) < 1e-9


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(["Push", "MultiPush", "MultiPush3", "ColorPush"]), st.integers(0, 2**31), st.booleans()
)
def test_bodies_never_overlap_leave_the_table_or_enter_walls(name, seed, with_walls) -> None:
    walls = ((0.0, 0.55, 0.45, 0.05), (-0.7, -0.4, 0.05, 0.3)) if with_walls else ()
    env = make_vector_env(name, 8, walls=walls, reset_mode="random", autoreset_mode="disabled")
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    # biased random walks drive the effector into objects, corners and walls
    drift = rng.uniform(-1, 1, size=(8, 2))
    for t in range(60):
        env.step(np.clip(drift + 0.5 * rng.normal(size=(8, 2)), -1, 1) * (1.5 if t % 7 == 0 else 1.0))
        assert_valid(env.core)


def test_effector_pushes_a_puck_straight_ahead() -> None:
    env = TabletopEnv("Push")
    env.reset(seed=0)
    env.set_state(np.array([0.0, -0.25, 0.0, 0.0]))  # effector just below the puck, touching
    for _ in range(5):
        env.step(np.array([0.0, 1.0], dtype=np.float32))
    state = env.get_state()
    np.testing.assert_allclose(state, [0.0, 0.25, 0.0, 0.5], atol=1e-9)


def test_puck_against_the_table_edge_stops_the_effector() -> None:
    env = TabletopEnv("Push")
    env.reset(seed=0)
    env.set_state(np.array([0.0, 0.5, 0.0, 0.75]))
    for _ in range(10):
        env.step(np.array([0.0, 1.0], dtype=np.float32))
    hand, puck = env.get_state()[:2], env.get_state()[2:]
    np.testing.assert_allclose(puck, [0.0, 0.85], atol=1e-9)  # puck touches the edge (1 - 0.15)
    np.testing.assert_allclose(hand, [0.0, 0.6], atol=1e-9)  # effector touches the puck


def test_pucks_push_each_other() -> None:
    env = TabletopEnv("MultiPush")
    env.reset(seed=0)
    env.set_state(np.array([-0.6, 0.0, -0.35, 0.0, -0.05, 0.0]))
    for _ in range(4):
        env.step(np.array([1.0, 0.0], dtype=np.float32))
    hand, p1, p2 = env.get_state().reshape(3, 2)
    np.testing.assert_allclose(hand, [-0.2, 0.0], atol=1e-9)
    np.testing.assert_allclose(p1, [0.05, 0.0], atol=1e-9)
    np.testing.assert_allclose(p2, [0.35, 0.0], atol=1e-9)


def test_nothing_passes_through_a_wall() -> None:
    walls = Walls.from_tuples(((0.0, 0.0, 0.5, 0.05),))
    pos = np.array([[[0.0, -0.2]]])
    for _ in range(20):
        pos = step_bodies(pos, np.zeros((1, 1, 2)), np.full((1, 1), 0.1), np.array([[0.0, 0.1]]), walls, 1.0)
        assert pos[0, 0, 1] <= -0.15 + 1e-9
