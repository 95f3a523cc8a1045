"""Relabeling properties: exact fractions, future goals from the same episode, rewards recomputed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from affordkit.data import EpisodeReplay, FieldSpec
from affordkit.errors import ConfigError
from affordkit.relabel import (
    FUTURE,
    PRIOR,
    ROLLOUT,
    GoalMix,
    goal_conditioned_batch,
    latent_distance,
    relabel,
    sparse_threshold,
)

FIELDS = {
    "episode": FieldSpec((), np.int64),
    "t": FieldSpec((), np.int64),
    "latent": FieldSpec((2,)),
    "goal": FieldSpec((2,)),
}
fractions = st.tuples(st.integers(0, 10), st.integers(0, 10), st.integers(0, 10)).filter(lambda x: sum(x) > 0)


def mix_from(weights: tuple[int, int, int]) -> GoalMix:
    total = sum(weights)
    r, p = weights[0] / total, weights[1] / total
    return GoalMix(rollout=r, prior=p, future=weights[2] / total)


@settings(max_examples=300, deadline=None)
@given(fractions, st.integers(0, 1000))
def test_counts_are_exact(weights, n) -> None:
    mix = mix_from(weights)
    counts = mix.counts(n)
    assert counts.sum() == n
    for c, f in zip(counts, (mix.rollout, mix.prior, mix.future), strict=True):
        assert np.floor(n * f) - 1e-9 <= c <= np.ceil(n * f) + 1e-9


@pytest.mark.parametrize(
    "bad", [dict(rollout=0.5, prior=0.5, future=0.5), dict(rollout=-0.1, prior=0.6, future=0.5)]
)
def test_invalid_mixes(bad) -> None:
    with pytest.raises(ConfigError):
        GoalMix(**bad)


def make_buffer(capacity: int, plan) -> EpisodeReplay:
    buffer = EpisodeReplay(
        capacity, {k: v for k, v in FIELDS.items() if k != "goal"} | {"goal": FIELDS["goal"]}, 1
    )
    next_id = 0
    for num, steps in plan:
        rng = np.random.default_rng(next_id)
        ids = np.arange(next_id, next_id + num)
        obs = {
            "episode": np.repeat(ids[:, None], steps + 1, axis=1),
            "t": np.tile(np.arange(steps + 1), (num, 1)),
            "latent": rng.normal(size=(num, steps + 1, 2)).astype(np.float32),
            # the rollout goal is constant within an episode and encodes the episode id
            "goal": np.repeat(np.stack([ids, -ids], 1)[:, None, :], steps + 1, axis=1).astype(np.float32),
        }
        buffer.add_episodes(obs, np.zeros((num, steps, 1), dtype=np.float32))
        next_id += num
    return buffer


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 3), st.integers(1, 10)), min_size=1, max_size=10),
    st.integers(12, 50),
    fractions,
    st.integers(0, 2**32 - 1),
)
def test_relabeled_goals_come_from_the_right_place(plan, capacity, weights, seed) -> None:
    buffer = make_buffer(capacity, plan)
    if buffer.num_transitions == 0:
        return
    rng = np.random.default_rng(seed)
    pos = buffer.sample_positions(64, rng)
    mix = mix_from(weights)
    prior_value = np.float32(1e6)
    goals, source = relabel(
        buffer,
        pos,
        mix,
        rng,
        goal_field="goal",
        achieved_field="latent",
        prior_goals=lambda pos: np.full((len(pos), 2), prior_value, dtype=np.float32),
    )
    np.testing.assert_array_equal(np.bincount(source, minlength=3), mix.counts(64))
    episode = buffer.fields["episode"][buffer.slots(pos)]
    r = source == ROLLOUT
    np.testing.assert_array_equal(goals[r, 0], episode[r])
    assert np.all(goals[source == PRIOR] == prior_value)
    # every future goal equals the latent of a later observation of the same episode
    f = np.flatnonzero(source == FUTURE)
    for i in f:
        p, end = pos[i], buffer.episode_end_of(pos[i : i + 1])[0]
        later = buffer.fields["latent"][buffer.slots(np.arange(p + 1, end + 1))]
        assert any(np.array_equal(goals[i], z) for z in later), "future goal not from the same episode"


def test_prior_goals_are_drawn_for_the_positions_they_label() -> None:
    # a context-aware prior (CC-RIG, VAL) reads each labeled transition's own episode
    buffer = make_buffer(120, [(3, 7), (2, 9)])
    rng = np.random.default_rng(1)
    pos = buffer.sample_positions(50, rng)
    seen: list[np.ndarray] = []

    def episode_prior(p: np.ndarray) -> np.ndarray:
        seen.append(p)
        episode = buffer.fields["episode"][buffer.slots(p)].astype(np.float32)
        return np.stack([episode, -np.ones_like(episode)], axis=1)

    goals, source = relabel(
        buffer, pos, GoalMix(0.2, 0.5, 0.3), rng,
        goal_field="goal", achieved_field="latent", prior_goals=episode_prior,
    )  # fmt: skip
    (asked,) = seen
    np.testing.assert_array_equal(asked, pos[source == PRIOR])
    episode = buffer.fields["episode"][buffer.slots(pos)]
    np.testing.assert_array_equal(goals[source == PRIOR, 0], episode[source == PRIOR])


def test_future_goals_cover_next_to_final_observation() -> None:
    buffer = make_buffer(100, [(1, 5)])
    rng = np.random.default_rng(0)
    from affordkit.relabel import future_positions

    pos = np.zeros(5000, dtype=np.int64)  # the first transition of the episode
    later = future_positions(pos, buffer.episode_end_of(pos), rng)
    assert set(np.unique(later)) == {1, 2, 3, 4, 5}


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_rewards_are_recomputed_for_the_new_goal(seed) -> None:
    buffer = make_buffer(80, [(2, 8), (3, 6)])
    rng = np.random.default_rng(seed)
    pos = buffer.sample_positions(32, rng)
    goals, _ = relabel(
        buffer,
        pos,
        GoalMix(0.2, 0.4, 0.4),
        rng,
        goal_field="goal",
        achieved_field="latent",
        prior_goals=lambda pos: rng.normal(size=(len(pos), 2)).astype(np.float32),
    )
    batch = goal_conditioned_batch(buffer, pos, goals, latent_distance, obs_field="latent")
    next_latent = buffer.fields["latent"][buffer.slots(pos + 1)]
    np.testing.assert_allclose(batch["reward"], -np.linalg.norm(next_latent - goals, axis=1), rtol=1e-6)
    np.testing.assert_array_equal(batch["obs"][:, 2:], goals)
    np.testing.assert_array_equal(batch["next_obs"][:, :2], next_latent)
    assert np.all(batch["done"] == 0)
    # reaching the goal exactly gives the best reward, for the sparse reward too
    same = goal_conditioned_batch(buffer, pos, next_latent, sparse_threshold(0.1), obs_field="latent")
    assert np.all(same["reward"] == 0.0)
