"""Configuration of the 2-D tabletop and the named task presets.

One frozen dataclass describes a whole task; `PointReach`, `Push`, `MultiPush` and `ColorPush` are
presets of it, not subclasses. Lengths are in table units: the table is
[-table_half, table_half]^2 (2 x 2 by default), so 0.1 is 5% of its width.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from affordkit.envs.render import SUPPORTED_IMAGE_SIZES
from affordkit.errors import ConfigError

Shape = Literal["disc", "box"]
ResetMode = Literal["fixed", "random"]
RewardType = Literal["sparse", "dense"]
RGB = tuple[int, int, int]

SHAPES: tuple[Shape, ...] = ("disc", "box")

# Saturated colours that stay distinct from each other, from the table and from the effector,
# also after 48x48 downsampling.
PALETTE: tuple[RGB, ...] = (
    (220, 45, 45),  # red
    (45, 95, 220),  # blue
    (40, 165, 60),  # green
    (235, 195, 30),  # yellow
    (190, 60, 200),  # magenta
    (30, 185, 195),  # cyan
)


@dataclass(frozen=True)
class TabletopConfig:
    """A top-down table with a point effector and movable discs and boxes."""

    task: str = "Push"
    """Name of the preset this config came from (informational)."""
    num_objects: int = 1
    """Number of movable objects (0 for a pure reacher)."""
    image_size: int = 48
    """Side of the square RGB observation in pixels: 48 (default) or 84."""
    table_half: float = 1.0
    """Half-width of the square table; the image frames the table at zoom 1."""
    hand_radius: float = 0.1
    """Radius of the point effector's disc."""
    disc_radius: float = 0.15
    """Radius of disc objects (pucks)."""
    box_half: float = 0.13
    """Half-side of box objects (same area as a disc of radius 0.147)."""
    object_shapes: tuple[Shape, ...] = ("disc",)
    """Object k has shape object_shapes[k % len] or, with randomize_appearance, one drawn per episode."""
    palette: tuple[RGB, ...] = PALETTE
    """Object k has colour palette[k % len] or, with randomize_appearance, one drawn per episode
    (distinct objects get distinct colours)."""
    randomize_appearance: bool = False
    """Draw each object's shape and colour at every reset (the changing context of CC-RIG)."""
    action_scale: float = 0.1
    """Effector displacement for an action of magnitude 1 per axis (actions live in [-1, 1]^2)."""
    max_episode_steps: int = 50
    """Episode length; the vector env truncates there, the single env through Gymnasium's TimeLimit."""
    reset_mode: ResetMode = "fixed"
    """`fixed`: effector and objects start at hand_reset / object_resets, as in the RIG visual pusher
    (multiworld SawyerPushAndReachXYEnv); `random`: uniform valid positions in the goal regions."""
    hand_reset: tuple[float, float] = (0.0, -0.6)
    """Effector start position for reset_mode fixed."""
    object_resets: tuple[tuple[float, float], ...] = ((0.0, 0.0),)
    """Object start positions for reset_mode fixed (at least num_objects)."""
    hand_goal_half: float = 0.8
    """Effector goals are drawn uniformly from [-h, h]^2."""
    object_goal_half: float = 0.6
    """Object goals are drawn uniformly from [-h, h]^2 (kept off the edges so every goal can be
    pushed to from any side)."""
    hand_success_threshold: float = 0.15
    """Success needs the effector within this distance of its goal."""
    object_success_threshold: float = 0.15
    """Success needs every object within this distance of its goal."""
    reward_type: RewardType = "sparse"
    """`sparse`: 0 on success else -1; `dense`: minus the sum of effector and object distances."""
    walls: tuple[tuple[float, float, float, float], ...] = ()
    """Static walls as (center_x, center_y, half_width, half_height); nothing passes through them."""
    background_color: RGB = (232, 226, 214)
    """Table colour."""
    hand_color: RGB = (35, 35, 40)
    """Effector colour."""
    camera_center: tuple[float, float] = (0.0, 0.0)
    """World point at the image centre."""
    camera_zoom: float = 1.0
    """1 frames the whole table."""
    physics_iterations: int = field(default=4)
    """Jacobi iterations for object-object contacts per step."""

    def __post_init__(self) -> None:
        if self.image_size not in SUPPORTED_IMAGE_SIZES:
            raise ConfigError(
                f"image_size={self.image_size!r} is not supported; "
                f"accepted values: {list(SUPPORTED_IMAGE_SIZES)}"
            )
        if not isinstance(self.num_objects, int) or not 0 <= self.num_objects <= 8:
            raise ConfigError(f"num_objects={self.num_objects!r}: expected an integer in [0, 8]")
        if self.num_objects and not self.object_shapes:
            raise ConfigError("object_shapes is empty: give at least one of " + repr(SHAPES))
        for s in self.object_shapes:
            if s not in SHAPES:
                raise ConfigError(f"object shape {s!r} is unknown; accepted values: {list(SHAPES)}")
        if self.randomize_appearance and len(self.palette) < self.num_objects:
            raise ConfigError(
                f"randomize_appearance gives each of the {self.num_objects} objects its own colour, "
                f"but the palette has only {len(self.palette)}"
            )
        smallest = min([self.hand_radius] + ([self.disc_radius, self.box_half] if self.num_objects else []))
        if not 0 < self.action_scale <= smallest:
            raise ConfigError(
                f"action_scale={self.action_scale} must be in (0, {smallest}] (the smallest body size), "
                "so that nothing passes through anything within one step"
            )
        if self.max_episode_steps < 1:
            raise ConfigError(f"max_episode_steps={self.max_episode_steps}: expected >= 1")
        if self.reset_mode not in ("fixed", "random"):
            raise ConfigError(f"reset_mode={self.reset_mode!r}; accepted values: ['fixed', 'random']")
        if self.reward_type not in ("sparse", "dense"):
            raise ConfigError(f"reward_type={self.reward_type!r}; accepted values: ['sparse', 'dense']")
        if self.reset_mode == "fixed" and len(self.object_resets) < self.num_objects:
            raise ConfigError(
                f"reset_mode='fixed' needs a start position per object: {self.num_objects} objects, "
                f"{len(self.object_resets)} object_resets"
            )
        for name in ("hand_goal_half", "object_goal_half"):
            value = getattr(self, name)
            if not 0 < value < self.table_half:
                raise ConfigError(f"{name}={value}: expected in (0, table_half={self.table_half})")
        if self.hand_success_threshold <= 0 or self.object_success_threshold <= 0:
            raise ConfigError("success thresholds must be positive")
        if self.camera_zoom <= 0:
            raise ConfigError(f"camera_zoom={self.camera_zoom}: expected > 0")
        if self.physics_iterations < 1:
            raise ConfigError(f"physics_iterations={self.physics_iterations}: expected >= 1")

    @property
    def goal_dim(self) -> int:
        """Goal space: effector xy, then each object's xy."""
        return 2 * (1 + self.num_objects)

    def replace(self, **overrides: object) -> TabletopConfig:
        """A copy with fields replaced; unknown names raise a ConfigError listing the fields."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ConfigError(f"unknown tabletop setting(s) {unknown}; accepted: {sorted(names)}")
        fixed = {k: _tuplify(v) for k, v in overrides.items()}
        return dataclasses.replace(self, **fixed)  # type: ignore[arg-type]


def _tuplify(value: object) -> object:
    """Lists from JSON or kwargs become the tuples the frozen config stores."""
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


def point_reach() -> TabletopConfig:
    """Visual reacher: move the effector to a goal position (RIG's visual reacher)."""
    return TabletopConfig(task="PointReach", num_objects=0, object_resets=(), hand_reset=(0.0, 0.0))


def push() -> TabletopConfig:
    """One puck; goals for effector and puck; success when both are within 0.15 (RIG's visual pusher)."""
    return TabletopConfig(task="Push")


def multi_push(num_objects: int = 2) -> TabletopConfig:
    """Two or three pucks of fixed colours; every puck and the effector have goals."""
    if num_objects not in (2, 3):
        raise ConfigError(f"MultiPush has 2 or 3 pucks, not {num_objects}")
    return TabletopConfig(
        task="MultiPush" if num_objects == 2 else "MultiPush3",
        num_objects=num_objects,
        object_resets=((-0.4, 0.0), (0.4, 0.0), (0.0, 0.45))[:num_objects],
        max_episode_steps=50 * num_objects,
    )


def color_push() -> TabletopConfig:
    """One object whose colour and shape (disc or box) are drawn per episode (CC-RIG's context)."""
    return TabletopConfig(task="ColorPush", object_shapes=SHAPES, randomize_appearance=True)


def color_multi_push() -> TabletopConfig:
    """Two objects whose colours (distinct) and shapes are drawn per episode: MultiPush's layout and
    goals with ColorPush's changing appearance (CC-RIG's second scene)."""
    return multi_push(2).replace(task="ColorMultiPush", object_shapes=SHAPES, randomize_appearance=True)


DESCRIPTIONS: dict[str, str] = {
    "PointReach": "move the effector (dark disc) to a goal position",
    "Push": "push one puck to its goal, then move the effector (dark disc) to its goal",
    "MultiPush": "push two pucks to their goals; the effector (dark disc) has a goal too",
    "MultiPush3": "push three pucks to their goals; the effector (dark disc) has a goal too",
    "ColorPush": "push one object whose colour and shape change every episode",
    "ColorMultiPush": "push two objects whose colours and shapes change every episode",
}

PRESETS: dict[str, Callable[[], TabletopConfig]] = {
    "PointReach": point_reach,
    "Push": push,
    "MultiPush": lambda: multi_push(2),
    "MultiPush3": lambda: multi_push(3),
    "ColorPush": color_push,
    "ColorMultiPush": color_multi_push,
}
