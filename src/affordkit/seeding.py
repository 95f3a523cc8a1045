"""Seeds of a run's random streams, derived from the run's seed so that no two runs and no two
streams share one.

A run seeded s that seeds its streams s + 1, s + 2, ... (or its batched env's tables s + i,
Gymnasium's convention for ``reset(seed=s)``) shares them with the runs seeded s + 1, s + 2: one
run's warm-up actions are the next run's exploration noise, and runs 0 and 1 share all but one
table's episodes. Here each stream's seed comes from NumPy's ``SeedSequence`` of (run seed, stream),
a hash: distinct for every run and stream in practice (tests/test_seeding.py).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from affordkit.errors import ConfigError, InvalidSeedError


class Stream(IntEnum):
    """What a derived seed is for."""

    TRAIN = 0  # the training env's tables
    VAE_DATA = 1  # the tables that collect VAE images
    GOAL_BANK = 2  # the tables that draw the state oracle's goal bank
    GOAL_RENDER = 3  # the tables that render prior goal states (pixel baseline)
    EVALUATION = 4  # evaluation tables (from the evaluation round's seed)
    LEARNER = 10  # the RL learner's initial weights and its own sampling
    VAE_INIT = 11  # the VAE's initial weights
    VAE_FIT = 12  # the VAE fit's batch order and noise
    VAE_ACTIONS = 13  # random actions of the VAE data collection
    REPLAY = 14  # replay sampling and relabeling
    PRIOR = 15  # goals drawn from the prior
    NOISE = 16  # exploration noise
    WARMUP = 17  # warm-up actions
    EXPLORE = 18  # a stochastic policy's exploration samples
    FINETUNE = 19  # VAE fine-tuning rounds (one more key: the round)


def derived_seed(seed: int, stream: Stream, *key: int) -> int:
    """The seed (32-bit) of ``stream`` (and ``key``, e.g. a round) of the run seeded ``seed``."""
    return table_seeds(seed, 1, stream, *key)[0]


def table_seeds(seed: int, count: int, stream: Stream = Stream.TRAIN, *key: int) -> list[int]:
    """``count`` seeds for the tables of one run's batched env (``reset(seed=table_seeds(...))``),
    from ``SeedSequence(seed, spawn_key=(stream, *key))``; the first ``n`` do not depend on
    ``count``."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidSeedError(f"seed={seed!r}: a seed must be a non-negative integer")
    if count < 0:
        raise ConfigError(f"count={count}: expected >= 0")
    sequence = np.random.SeedSequence(entropy=int(seed), spawn_key=(int(stream), *map(int, key)))
    return [int(s) for s in sequence.generate_state(count, dtype=np.uint32)]
