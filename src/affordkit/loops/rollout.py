"""Synchronous episodes on a batched env: every env starts together and runs the env's full
episode length, so whole episodes go to replay at once and a run can checkpoint between them.

The loop knows nothing of models: the policy, what to store per observation (e.g. its latent) and
what to do after each step (e.g. gradient updates) are passed in as plain callables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from affordkit.envs import TabletopVectorEnv

Policy = Callable[[dict[str, np.ndarray], int], np.ndarray]  # (observation batch, step) -> (N, A)
Observe = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]  # observation batch -> fields to store


@dataclass
class EpisodeBatch:
    """N whole episodes of T steps."""

    fields: dict[str, np.ndarray]  # name -> (N, T + 1, ...)
    actions: np.ndarray  # (N, T, A) float32
    final_info: dict[str, Any]  # the env's info after the last step, (N,) arrays

    @property
    def num_steps(self) -> int:
        """Env steps in the batch (N * T)."""
        return int(self.actions.shape[0] * self.actions.shape[1])


def run_episodes(
    env: TabletopVectorEnv,
    policy: Policy,
    observe: Observe,
    after_step: Callable[[], None] | None = None,
    on_reset: Callable[[dict[str, np.ndarray]], None] | None = None,
) -> EpisodeBatch:
    """Reset every env (from its own generator) and run one episode in each.

    ``on_reset(obs)`` runs right after the reset (e.g. to choose goals); ``observe`` is called on
    the first and every later observation; ``after_step`` after each batched env step.
    """
    steps = env.config.max_episode_steps
    obs, _ = env.reset()
    if on_reset is not None:
        on_reset(obs)
    first = observe(obs)
    fields = {k: np.empty((env.num_envs, steps + 1, *v.shape[1:]), dtype=v.dtype) for k, v in first.items()}
    for k, v in first.items():
        fields[k][:, 0] = v
    action_shape = tuple(env.single_action_space.shape or ())
    actions = np.empty((env.num_envs, steps, *action_shape), dtype=np.float32)
    info: dict[str, Any] = {}
    for t in range(steps):
        action = policy(obs, t)
        obs, _, _, _, info = env.step(action)
        for k, v in observe(obs).items():
            fields[k][:, t + 1] = v
        actions[:, t] = action
        if after_step is not None:
            after_step()
    return EpisodeBatch(fields=fields, actions=actions, final_info=info)
