"""Episode-aware replay storage: whole episodes, contiguous, in a ring of observation slots.

An episode of T transitions takes T + 1 consecutive slots: slot t holds observation t (its image as
uint8, its latent, its state, ...) and the action taken there; the last slot holds the final
observation and no action. So an image is stored once, not as "obs" and "next_obs", and the next
observation of the transition at slot p is slot p + 1.

Positions are absolute (they count every slot ever written); slot = position % capacity. Every slot
records the position of its episode's final slot (``episode_end``). A position p starts a
transition when p < episode_end[p]; its future (HER) goals are the observations at positions
p + 1 .. episode_end[p]. An episode is sampled only while all of it is in the ring: when writing
overwrites the start of an old episode, the rest of that episode stops being sampled. So no index
the buffer hands out ever crosses an episode boundary or reads a slot that has been overwritten
(the ring-buffer wrap), which `tests/data/test_replay.py` checks as properties.

The buffer holds no env and no model: latents are written by the caller and re-encoded explicitly
(`affordkit.relabel.latents.reencode`) after the encoder is fine-tuned.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from affordkit.errors import ConfigError


@dataclass(frozen=True)
class FieldSpec:
    """Shape (per slot) and dtype of one stored field."""

    shape: tuple[int, ...]
    dtype: Any = np.float32


class EpisodeReplay:
    """Ring storage of whole episodes; see the module docstring for the layout and guarantees.

    Args:
        capacity: number of observation slots (an episode of T steps uses T + 1).
        fields: name -> FieldSpec of what is stored per observation slot (e.g. ``image``,
            ``latent``, ``state``, ``desired_goal``).
        action_dim: size of the action stored per transition.
    """

    def __init__(self, capacity: int, fields: Mapping[str, FieldSpec], action_dim: int) -> None:
        if capacity < 2:
            raise ConfigError(f"replay capacity={capacity}: expected at least 2 slots")
        if "action" in fields or "episode_end" in fields:
            raise ConfigError("'action' and 'episode_end' are kept by the buffer itself; rename the field")
        self.capacity = int(capacity)
        self.specs = dict(fields)
        self.action_dim = int(action_dim)
        self.fields: dict[str, np.ndarray] = {
            name: np.zeros((self.capacity, *spec.shape), dtype=spec.dtype)
            for name, spec in self.specs.items()
        }
        self.action = np.zeros((self.capacity, self.action_dim), dtype=np.float32)
        self.episode_end = np.full(self.capacity, -1, dtype=np.int64)  # absolute position of the final slot
        self.total = 0  # slots ever written
        self._episode_starts: deque[int] = deque()  # absolute start positions of episodes in the ring
        self.episodes_added = 0

    # ---------------------------------------------------------------------------------- writing
    def add_episodes(self, observations: Mapping[str, np.ndarray], actions: np.ndarray) -> None:
        """Append E whole episodes of equal length T.

        Args:
            observations: every field, shape (E, T + 1, *field_shape): observations 0..T.
            actions: (E, T, action_dim).
        """
        actions = np.asarray(actions, dtype=np.float32)
        if actions.ndim != 3 or actions.shape[2] != self.action_dim:
            raise ConfigError(f"actions must have shape (E, T, {self.action_dim}); got {actions.shape}")
        num, steps = actions.shape[:2]
        if steps < 1:
            raise ConfigError("an episode needs at least one transition")
        if steps + 1 > self.capacity:
            raise ConfigError(
                f"an episode of {steps} steps needs {steps + 1} slots; capacity is {self.capacity}"
            )
        missing = set(self.specs) - set(observations)
        extra = set(observations) - set(self.specs)
        if missing or extra:
            raise ConfigError(
                f"episode fields differ from the buffer's: missing {sorted(missing)}, extra {sorted(extra)}"
            )
        for name, value in observations.items():
            want = (num, steps + 1, *self.specs[name].shape)
            if value.shape != want:
                raise ConfigError(f"field {name!r} must have shape {want} (E, T + 1, ...); got {value.shape}")
        length = steps + 1
        for e in range(num):
            start = self.total
            slots = np.arange(start, start + length) % self.capacity
            for name, value in observations.items():
                self.fields[name][slots] = value[e]
            self.action[slots[:-1]] = actions[e]
            self.action[slots[-1]] = 0.0
            self.episode_end[slots] = start + length - 1
            self.total += length
            self._episode_starts.append(start)
            self.episodes_added += 1
        oldest = self.total - self.capacity
        while self._episode_starts and self._episode_starts[0] < oldest:
            self._episode_starts.popleft()

    # ---------------------------------------------------------------------------------- reading
    @property
    def first_valid(self) -> int:
        """Absolute position of the oldest slot whose whole episode is still stored."""
        return self._episode_starts[0] if self._episode_starts else self.total

    @property
    def num_transitions(self) -> int:
        """Transitions that can be sampled now."""
        return (self.total - self.first_valid) - len(self._episode_starts)

    def sample_positions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` absolute positions of transitions, uniform over the stored ones, (n,) int64."""
        if self.num_transitions == 0:
            raise ConfigError("the replay buffer holds no complete episode yet")
        low, high = self.first_valid, self.total
        pos = rng.integers(low, high, size=n)
        while True:  # final slots start no transition: redraw them (about 1 in T + 1)
            bad = pos >= self.episode_end[pos % self.capacity]
            if not bad.any():
                return pos
            pos[bad] = rng.integers(low, high, size=int(bad.sum()))

    def slots(self, positions: np.ndarray) -> np.ndarray:
        """Ring slots of absolute positions."""
        return positions % self.capacity

    def episode_end_of(self, positions: np.ndarray) -> np.ndarray:
        return self.episode_end[positions % self.capacity]

    # ---------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (only the written part of the arrays)."""
        used = min(self.total, self.capacity)
        state: dict[str, Any] = {f"field/{k}": v[:used] for k, v in self.fields.items()}
        state.update(
            action=self.action[:used],
            episode_end=self.episode_end[:used],
            total=np.int64(self.total),
            episodes_added=np.int64(self.episodes_added),
            episode_starts=np.asarray(self._episode_starts, dtype=np.int64),
            capacity=np.int64(self.capacity),
        )
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if int(state["capacity"]) != self.capacity:
            raise ConfigError(
                f"checkpoint buffer capacity {int(state['capacity'])} != this buffer's {self.capacity}"
            )
        used = len(state["episode_end"])
        for name in self.fields:
            self.fields[name][:used] = state[f"field/{name}"]
        self.action[:used] = state["action"]
        self.episode_end[:used] = state["episode_end"]
        self.total = int(state["total"])
        self.episodes_added = int(state["episodes_added"])
        self._episode_starts = deque(int(s) for s in state["episode_starts"])
