"""Goal relabeling: pure, vectorised index math and a validated mixture of goal sources.

Contract. Given transitions at absolute replay positions ``p`` (see `affordkit.data.replay`):

- ``rollout`` goals are the goals the episode was collected with (the field ``goal_field`` at p);
- ``future`` goals are achieved observations later in the same episode: the field
  ``achieved_field`` at a position drawn uniformly from p + 1 .. episode_end[p] (so the next
  observation is a possible future goal, and nothing past the episode's final observation is);
- ``prior`` goals are drawn by an injected sampler, given the positions of the transitions they are
  for (RIG: the VAE prior, which ignores them; CC-RIG: the prior joined to the context latent of
  each transition's episode; VAL: the affordance model conditioned on the episode's first latent).

Exact counts: for a batch of n, each source gets floor(n * fraction) goals and the remainders go
to the sources with the largest fractional parts, so the fractions hold per batch, not just on
average. Rewards are never read from the buffer: the caller recomputes them for the new goals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

import numpy as np

from affordkit.data.replay import EpisodeReplay
from affordkit.errors import ConfigError

ROLLOUT, PRIOR, FUTURE = 0, 1, 2
SOURCE_NAMES = ("rollout", "prior", "future")


@dataclass(frozen=True)
class GoalMix:
    """Fractions of relabeled goals per source; they must sum to 1.

    Defaults are the original RIG code's (rlkit v0.1.2): 0.1 / 0.5 / 0.4. The RIG paper used
    0 / 0.5 / 0.5, Skew-Fit and CC-RIG 0.2 / 0.5 / 0.3 (ALGORITHMS.md).
    """

    rollout: float = 0.1
    """Goals the episode was collected with."""
    prior: float = 0.5
    """Goals sampled from the prior (imagined goals)."""
    future: float = 0.4
    """Achieved states later in the same episode (hindsight)."""

    def __post_init__(self) -> None:
        values = [getattr(self, f.name) for f in fields(self)]
        if any(not 0.0 <= v <= 1.0 for v in values):
            raise ConfigError(f"goal mix fractions must lie in [0, 1]; got {self}")
        if abs(sum(values) - 1.0) > 1e-6:
            raise ConfigError(f"goal mix fractions must sum to 1; got {self} (sum {sum(values):.6f})")

    def counts(self, n: int) -> np.ndarray:
        """Goals per source (rollout, prior, future) for a batch of n: exact, summing to n."""
        fractions = np.array([self.rollout, self.prior, self.future]) * n
        counts = np.floor(fractions + 1e-9).astype(np.int64)
        remainder = n - int(counts.sum())
        if remainder:
            order = np.argsort(-(fractions - counts), kind="stable")
            counts[order[:remainder]] += 1
        return counts


def future_positions(positions: np.ndarray, episode_end: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For transitions at ``positions`` (n,) with final slots ``episode_end`` (n,), positions
    drawn uniformly from p + 1 .. episode_end (inclusive)."""
    span = episode_end - positions  # >= 1 for a transition
    if np.any(span < 1):
        raise ConfigError("future goals asked for a position that starts no transition")
    return positions + 1 + np.floor(rng.random(len(positions)) * span).astype(np.int64)


def relabel_fields(
    buffer: EpisodeReplay,
    positions: np.ndarray,
    mix: GoalMix,
    rng: np.random.Generator,
    *,
    pairs: Mapping[str, tuple[str, str]],
    prior_goals: Callable[[np.ndarray], Mapping[str, np.ndarray]] | None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Several views of the same relabeled goals: ``pairs`` maps a name to (goal field, achieved
    field), and every view takes its goal from the same source and position (a goal image and its
    true state, say). ``prior_goals(p)`` returns, for every name, one prior goal per position in
    ``p`` (k,), the transitions that receive prior goals.

    Returns:
        the goals per name (n, ...) in their fields' dtype, and the source of each goal (n,) int8
        (0 rollout, 1 prior, 2 future), in blocks: the first ``counts[0]`` are rollout goals, and
        so on.
    """
    n = len(positions)
    counts = mix.counts(n)
    source = np.repeat(np.arange(3, dtype=np.int8), counts)
    r, p, f = source == ROLLOUT, source == PRIOR, source == FUTURE
    prior: Mapping[str, np.ndarray] = {}
    if counts[PRIOR]:
        if prior_goals is None:
            raise ConfigError(f"{mix} draws prior goals, but no prior sampler was given")
        prior = prior_goals(positions[p])
    later = (
        future_positions(positions[f], buffer.episode_end_of(positions[f]), rng) if counts[FUTURE] else None
    )
    goals: dict[str, np.ndarray] = {}
    for name, (goal_field, achieved_field) in pairs.items():
        spec = buffer.fields[goal_field]
        out = np.empty((n, *spec.shape[1:]), dtype=spec.dtype)
        out[r] = spec[buffer.slots(positions[r])]
        if counts[PRIOR]:
            out[p] = prior[name]
        if later is not None:
            out[f] = buffer.fields[achieved_field][buffer.slots(later)]
        goals[name] = out
    return goals, source


def relabel(
    buffer: EpisodeReplay,
    positions: np.ndarray,
    mix: GoalMix,
    rng: np.random.Generator,
    *,
    goal_field: str,
    achieved_field: str,
    prior_goals: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Goals for the transitions at ``positions``: one view of :func:`relabel_fields`.

    Returns:
        goals (n, goal_dim) float32 and the source of each goal (n,) int8 (0 rollout, 1 prior,
        2 future), in blocks: the first ``counts[0]`` are rollout goals, and so on.
    """
    goals, source = relabel_fields(
        buffer, positions, mix, rng,
        pairs={"goal": (goal_field, achieved_field)},
        prior_goals=lambda pos: {"goal": prior_goals(pos)},
    )  # fmt: skip
    return goals["goal"].astype(np.float32, copy=False), source
