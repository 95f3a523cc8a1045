"""The scene detector against the env's own record of each episode's object colour and shape, on
rendered ColorPush scenes: random resets, random states anywhere on the table, and the effector
pushing (touching) the object."""

from __future__ import annotations

import numpy as np
import pytest

from affordkit.envs import TabletopVectorEnv, make_vector_env
from affordkit.envs.config import PALETTE, color_push
from affordkit.envs.detect import ObjectDetections, detect_objects
from affordkit.envs.physics import is_valid
from affordkit.errors import ConfigError


def make_envs(n: int, size: int, seed: int) -> tuple[TabletopVectorEnv, np.ndarray, np.ndarray]:
    """ColorPush envs reset at random positions, with each env's palette index (n,) and shape (n,)
    read from the reset's info (the env's own record of the episode's appearance)."""
    envs = make_vector_env("ColorPush", n, autoreset_mode="disabled", reset_mode="random", image_size=size)
    _, info = envs.reset(seed=seed)
    colors = info["object_colors"][:, 0]  # (n, 3) uint8
    matches = (colors[:, None, :] == np.asarray(PALETTE, dtype=np.uint8)[None]).all(-1)  # (n, 6)
    assert (matches.sum(1) == 1).all()
    shapes = np.asarray(envs.config.object_shapes)[info["object_shapes"][:, 0]]
    return envs, matches.argmax(1), shapes


def random_states(envs: TabletopVectorEnv, rng: np.random.Generator) -> np.ndarray:
    """One valid state per env (n, 4) with effector and object anywhere on the table, edges
    included (not only in the goal regions), redrawn until valid."""
    core, n = envs.core, envs.num_envs
    states = np.empty((n, 2, 2))
    pending = np.arange(n)
    while len(pending):
        states[pending] = rng.uniform(-1.0, 1.0, size=(len(pending), 2, 2))
        ok = is_valid(
            states[pending], core.half[pending], core.radius[pending], core.walls, envs.config.table_half
        )
        pending = pending[~ok]
    return states.reshape(n, 4)


def pushed_images(envs: TabletopVectorEnv, rng: np.random.Generator, num_steps: int = 30) -> np.ndarray:
    """Images (n, H, W, 3) after the effector has walked at each object and pushed it, so that
    the two touch."""
    obs: dict[str, np.ndarray] = {}
    for _ in range(num_steps):
        state = envs.get_state()
        toward = (state[:, 2:] - state[:, :2]) / envs.config.action_scale
        obs, *_ = envs.step(np.clip(toward + rng.normal(0.0, 0.5, size=toward.shape), -1, 1))
    return obs["image"]


def scenes(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """3n images: n reset observations, n random states (render_goal), n pushing scenes; their
    palette indices and shapes (3n,) and a flag (3n,) for the effector touching the object."""
    envs, color, shape = make_envs(n, size, seed)
    rng = np.random.default_rng(seed)
    reset_images = envs.render()
    goal_images = envs.render_goal(random_states(envs, rng))
    push_images = pushed_images(envs, rng)
    state = envs.get_state()
    gap = np.linalg.norm(state[:, 2:] - state[:, :2], axis=1)
    touching = gap < envs.config.hand_radius + np.sqrt(2) * envs.config.box_half + 0.02  # in contact
    images = np.concatenate([np.stack(reset_images), goal_images, push_images])
    flags = np.concatenate([np.zeros(2 * n, bool), touching])
    return images, np.tile(color, 3), np.tile(shape, 3), flags


def accuracy(found: ObjectDetections, color: np.ndarray, shape: np.ndarray) -> float:
    return float(((found.color_index == color) & (found.shape == shape)).mean())


@pytest.mark.parametrize(("size", "n"), [(48, 400), (84, 100)])
def test_colour_and_shape_match_the_env(size: int, n: int) -> None:
    images, color, shape, touching = scenes(n, size, seed=size)
    assert len(images) == 3 * n and images.shape[1:] == (size, size, 3)
    assert set(shape) == {"disc", "box"} and len(set(color)) == len(PALETTE)  # every appearance occurs
    assert touching.sum() > 0.8 * n  # the pushing scenes do put effector and object in contact
    found = detect_objects(images)
    score = accuracy(found, color, shape)
    touching_score = accuracy(detect_objects(images[touching]), color[touching], shape[touching])
    print(
        f"\n{size}x{size}: {score:.4f} of {len(images)} scenes right; {touching_score:.4f} of "
        f"{touching.sum()} with the effector touching"
    )
    assert score >= 0.99
    assert touching_score >= 0.99
    # the shape statistic has a margin on both sides of the 0.9 split
    assert np.nanmax(found.fill[shape == "disc"]) < 0.87
    assert np.nanmin(found.fill[shape == "box"]) > 0.95


def test_fixed_resets_of_many_episodes() -> None:
    """ColorPush's own reset (object at the table centre): many episodes, every appearance."""
    envs = make_vector_env("ColorPush", 300, autoreset_mode="disabled")
    obs, info = envs.reset(seed=7)
    color = envs.core.color_index[:, 0]
    shape = np.asarray(envs.config.object_shapes)[envs.core.shape_index[:, 0]]
    assert (np.asarray(PALETTE, dtype=np.uint8)[color] == info["object_colors"][:, 0]).all()
    assert accuracy(detect_objects(obs["image"]), color, shape) >= 0.99


@pytest.mark.parametrize("size", [48, 84])
def test_no_object_gives_none(size: int) -> None:
    config = color_push()
    table = np.empty((3, size, size, 3), dtype=np.uint8)
    table[...] = config.background_color
    reacher = make_vector_env("PointReach", 5, reset_mode="random", image_size=size)
    effector_only = reacher.reset(seed=0)[0]["image"]  # the effector alone on the table
    found = detect_objects(np.concatenate([table, effector_only]))
    assert (found.shape == "none").all() and (found.color_index == -1).all()
    assert (found.num_pixels == 0).all() and np.isnan(found.fill).all()


def test_same_object_compares_colour_and_shape() -> None:
    images, color, shape, _ = scenes(20, 48, seed=3)
    found = detect_objects(images[:20])
    assert found.same_object(found).all()
    other = detect_objects(images[20:40])  # the same episodes, other states: the same objects
    assert found.same_object(other).all()
    shifted = detect_objects(np.roll(images[:20], 1, axis=0))
    differs = (color[:20] != np.roll(color[:20], 1)) | (shape[:20] != np.roll(shape[:20], 1))
    assert (found.same_object(shifted) == ~differs).all()
    empty = detect_objects(np.full((20, 48, 48, 3), 230, dtype=np.uint8))
    assert not found.same_object(empty).any()  # no object never matches
    with pytest.raises(ConfigError):
        found.same_object(detect_objects(images[:3]))


def test_empty_batch() -> None:
    found = detect_objects(np.zeros((0, 48, 48, 3), dtype=np.uint8))
    assert len(found) == 0 and found.shape.shape == (0,)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 48, 48, 3), np.float32),
        np.zeros((2, 64, 64, 3), np.uint8),
        np.zeros((48, 48, 3), np.uint8),
        np.zeros((2, 48, 84, 3), np.uint8),
    ],
)
def test_bad_images_raise(bad: np.ndarray) -> None:
    with pytest.raises(ConfigError, match="image"):
        detect_objects(bad)


@pytest.mark.parametrize("bad", [dict(box_fill=0.0), dict(color_tolerance=-1.0), dict(min_pixels=0)])
def test_bad_settings_raise(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        detect_objects(np.zeros((1, 48, 48, 3), np.uint8), **bad)
