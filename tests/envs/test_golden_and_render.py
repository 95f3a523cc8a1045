"""Seeded golden numbers (they pin the goal sampler, the dynamics and the renderer: if a change
moves them on purpose, update them in the same commit and say why) and rendering checks."""

from __future__ import annotations

import numpy as np
import pytest

from affordkit.envs import TabletopEnv
from affordkit.envs.config import PALETTE

GOLDEN = {
    "Push": (
        [0.21913869678974152, -0.36834126710891724, -0.5508317947387695, -0.5801668167114258],
        [0.11483574658632278, 0.2619040310382843, -0.23032702505588531, -0.027747269719839096],
        1523238,
    ),
    "ColorPush": (
        [0.501232385635376, 0.6604089140892029, 0.12796293199062347, 0.27539587020874023],
        [0.11483574658632278, 0.2619040310382843, -0.19434547424316406, -0.07845117151737213],
        1529745,
    ),
    "MultiPush": (
        [
            0.21913869678974152,
            -0.36834126710891724,
            -0.5508317947387695,
            -0.5801668167114258,
            0.375924289226532,
            0.49530670046806335,
        ],
        [
            0.11483574658632278,
            0.2619040310382843,
            -0.4000000059604645,
            0.0,
            0.4248098134994507,
            0.020052021369338036,
        ],
        1510491,
    ),
    "ColorMultiPush": (
        [
            0.581086277961731,
            0.066337950527668,
            -0.24034573137760162,
            -0.09277533739805222,
            -0.5660163760185242,
            -0.45086005330085754,
        ],
        [
            0.11483574658632278,
            0.2619040310382843,
            -0.4000000059604645,
            0.0,
            0.45880985260009766,
            0.010530858300626278,
        ],
        1513876,
    ),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_seeded_golden_numbers(name: str) -> None:
    goal, state, image_sum = GOLDEN[name]
    env = TabletopEnv(name)
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs["desired_goal"], goal, atol=1e-6)
    for t in range(20):
        obs, *_ = env.step(np.array([np.cos(t / 3), np.sin(t / 5)], dtype=np.float32))
    np.testing.assert_allclose(obs["state"], state, atol=1e-6)
    assert abs(int(obs["image"].astype(np.int64).sum()) - image_sum) <= 16


def pixel(image: np.ndarray, xy: tuple[float, float], size: int) -> np.ndarray:
    col = int((xy[0] + 1) / 2 * size)
    row = int((1 - xy[1]) / 2 * size)
    return image[row, col]


@pytest.mark.parametrize("size", [48, 84])
def test_bodies_are_drawn_where_they_are(size: int) -> None:
    env = TabletopEnv("Push", image_size=size)
    env.reset(seed=0)
    image = env.set_state(np.array([-0.5, 0.5, 0.4, -0.3]))["image"]
    np.testing.assert_array_equal(pixel(image, (-0.5, 0.5), size), env.config.hand_color)
    np.testing.assert_array_equal(pixel(image, (0.4, -0.3), size), PALETTE[0])
    np.testing.assert_array_equal(pixel(image, (0.5, 0.5), size), env.config.background_color)
    np.testing.assert_array_equal(image[0, 0], env.config.background_color)
    # puck area in pixels ~ pi r^2 (anti-aliased edge counted by coverage)
    red = np.all(image == PALETTE[0], axis=-1).sum()
    expected = np.pi * (0.15 * size / 2) ** 2
    assert 0.6 * expected < red < 1.1 * expected


def test_camera_zoom_magnifies() -> None:
    areas = []
    for zoom in (1.0, 2.0):
        env = TabletopEnv("Push", camera_zoom=zoom)
        env.reset(seed=0)
        image = env.set_state(np.array([-0.3, -0.3, 0.1, 0.1]))["image"]
        areas.append(np.abs(image.astype(int) - env.config.background_color).sum(-1).astype(bool).sum())
    assert 3.0 < areas[1] / areas[0] < 5.0


def test_boxes_are_square_and_discs_round() -> None:
    env = TabletopEnv("ColorPush", image_size=84)
    for seed in range(20):
        env.reset(seed=seed)
        image = env.set_state(np.array([-0.7, -0.7, 0.0, 0.0]))["image"]
        color = env.context()["object_colors"][0]
        mask = np.all(np.abs(image.astype(int) - color) < 40, axis=-1)
        rows, cols = np.nonzero(mask)
        fill = mask.sum() / ((np.ptp(rows) + 1) * (np.ptp(cols) + 1))  # box ~ 1, disc ~ pi/4
        is_box = env.context()["object_shapes"][0] == env.config.object_shapes.index("box")
        assert (fill > 0.9) if is_box else (fill < 0.85)
