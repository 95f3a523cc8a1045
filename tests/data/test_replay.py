"""Replay storage properties: episodes round-trip, sampling never crosses an episode or the wrap."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from affordkit.data import EpisodeReplay, FieldSpec
from affordkit.errors import ConfigError

FIELDS = {"episode": FieldSpec((), np.int64), "t": FieldSpec((), np.int64), "latent": FieldSpec((2,))}


def episodes(first_id: int, num: int, steps: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    ids = np.arange(first_id, first_id + num)
    obs = {
        "episode": np.repeat(ids[:, None], steps + 1, axis=1),
        "t": np.tile(np.arange(steps + 1), (num, 1)),
        "latent": np.random.default_rng(first_id).normal(size=(num, steps + 1, 2)).astype(np.float32),
    }
    actions = np.tile(np.arange(steps, dtype=np.float32)[None, :, None], (num, 1, 1))
    return obs, actions


def fill(buffer: EpisodeReplay, plan: list[tuple[int, int]]) -> None:
    next_id = 0
    for num, steps in plan:
        obs, act = episodes(next_id, num, steps)
        buffer.add_episodes(obs, act)
        next_id += num


plans = st.lists(st.tuples(st.integers(1, 3), st.integers(1, 12)), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(plans, st.integers(14, 60), st.integers(0, 2**32 - 1))
def test_samples_start_transitions_of_whole_stored_episodes(plan, capacity, seed) -> None:
    buffer = EpisodeReplay(capacity, FIELDS, action_dim=1)
    fill(buffer, plan)
    if buffer.num_transitions == 0:
        with pytest.raises(ConfigError):
            buffer.sample_positions(4, np.random.default_rng(seed))
        return
    rng = np.random.default_rng(seed)
    pos = buffer.sample_positions(256, rng)
    assert np.all(pos >= buffer.total - buffer.capacity) and np.all(pos < buffer.total)
    slots = buffer.slots(pos)
    episode, t = buffer.fields["episode"][slots], buffer.fields["t"][slots]
    end = buffer.episode_end_of(pos)
    assert np.all(pos < end)  # a transition, not a final observation
    # the episode's first slot is still in the ring and holds the same episode (not overwritten)
    start = pos - t
    assert np.all(start >= buffer.total - buffer.capacity)
    np.testing.assert_array_equal(buffer.fields["episode"][buffer.slots(start)], episode)
    np.testing.assert_array_equal(buffer.fields["episode"][buffer.slots(end)], episode)
    # the next observation is the next step of the same episode; the action is the one stored
    np.testing.assert_array_equal(buffer.fields["episode"][buffer.slots(pos + 1)], episode)
    np.testing.assert_array_equal(buffer.fields["t"][buffer.slots(pos + 1)], t + 1)
    np.testing.assert_array_equal(buffer.action[slots, 0], t)


@settings(max_examples=50, deadline=None)
@given(plans, st.integers(14, 60))
def test_every_stored_transition_can_be_sampled(plan, capacity) -> None:
    buffer = EpisodeReplay(capacity, FIELDS, action_dim=1)
    fill(buffer, plan)
    if buffer.num_transitions == 0:
        return
    pos = buffer.sample_positions(20_000, np.random.default_rng(0))
    assert len(np.unique(pos)) == buffer.num_transitions


def test_round_trip_and_state_dict() -> None:
    buffer = EpisodeReplay(50, FIELDS, action_dim=1)
    fill(buffer, [(2, 10), (3, 7), (1, 12)])  # 22 + 24 + 13 slots: wraps once
    restored = EpisodeReplay(50, FIELDS, action_dim=1)
    restored.load_state_dict(buffer.state_dict())
    a = buffer.sample_positions(100, np.random.default_rng(3))
    b = restored.sample_positions(100, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    for name in FIELDS:
        np.testing.assert_array_equal(buffer.fields[name], restored.fields[name])
    assert restored.num_transitions == buffer.num_transitions


def test_bad_episodes_are_refused() -> None:
    buffer = EpisodeReplay(20, FIELDS, action_dim=1)
    obs, act = episodes(0, 1, 5)
    with pytest.raises(ConfigError, match="missing"):
        buffer.add_episodes({"t": obs["t"], "latent": obs["latent"]}, act)
    with pytest.raises(ConfigError, match=r"\(E, T \+ 1"):
        buffer.add_episodes({**obs, "t": obs["t"][:, :-1]}, act)
    with pytest.raises(ConfigError, match="capacity"):
        buffer.add_episodes(*episodes(0, 1, 25))
