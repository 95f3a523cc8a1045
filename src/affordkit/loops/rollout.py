"""Synchronous episodes on a batched env: every env starts together and runs the env's full
episode length, so whole episodes go to replay at once and a run can checkpoint between them.

The loop knows nothing of models: the policy, what to store per observation (e.g. its latent) and
what to do after each step (e.g. gradient updates) are passed in as plain callables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    (batch,) = run_episodes_together(
        [env],
        lambda obs, t: [policy(obs[0], t)],
        [observe],
        after_step,
        None if on_reset is None else [on_reset],
    )
    return batch


def run_episodes_together(
    envs: Sequence[TabletopVectorEnv],
    policy: Callable[[list[dict[str, np.ndarray]], int], Sequence[np.ndarray]],
    observe: Sequence[Observe],
    after_step: Callable[[], None] | None = None,
    on_reset: Sequence[Callable[[dict[str, np.ndarray]], None]] | None = None,
) -> list[EpisodeBatch]:
    """``run_episodes`` on K batched envs in lockstep (K seeds trained together): one joint
    ``policy(observations, t)`` call per step gives the K envs' actions, then every env steps, then
    ``after_step`` runs once. ``observe[k]`` and ``on_reset[k]`` belong to env k; the envs need the
    same episode length."""
    steps = {env.config.max_episode_steps for env in envs}
    if len(steps) != 1:
        raise ValueError(f"envs run in lockstep need one episode length; got {sorted(steps)}")
    (length,) = steps
    obs = [env.reset()[0] for env in envs]
    if on_reset is not None:
        for hook, o in zip(on_reset, obs, strict=True):
            hook(o)
    fields, actions = [], []
    for env, look, o in zip(envs, observe, obs, strict=True):
        first = look(o)
        stored = {
            k: np.empty((env.num_envs, length + 1, *v.shape[1:]), dtype=v.dtype) for k, v in first.items()
        }
        for k, v in first.items():
            stored[k][:, 0] = v
        fields.append(stored)
        shape = tuple(env.single_action_space.shape or ())
        actions.append(np.empty((env.num_envs, length, *shape), dtype=np.float32))
    infos: list[dict[str, Any]] = [{} for _ in envs]
    for t in range(length):
        chosen = policy(obs, t)
        for i, env in enumerate(envs):
            obs[i], _, _, _, infos[i] = env.step(chosen[i])
            for name, v in observe[i](obs[i]).items():
                fields[i][name][:, t + 1] = v
            actions[i][:, t] = chosen[i]
        if after_step is not None:
            after_step()
    return [
        EpisodeBatch(fields=f, actions=a, final_info=i)
        for f, a, i in zip(fields, actions, infos, strict=True)
    ]
