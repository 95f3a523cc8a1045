"""Several seeds of one method trained together in one process (``--seeds K``).

Agent k is the run of seed ``seed + k``: its own env, buffer, random streams and counters' values,
exactly what a run of that seed alone builds. The agents step their envs in lockstep
(loops/rollout.py ``run_episodes_together``), so their counters move together and are one object;
their learners are the K learners of one stacked learner (algos/stacked.py), whose batched update
takes one minibatch per agent, each drawn from that agent's own data. Agent k therefore computes
what its seed's lone run computes, to float rounding; the methods' tests check it.

A method's agents hold their learner under ``learner_key`` (a view of learner k of the stack) and
have ``counters``, ``replay``, ``state_dict()`` and ``load_state_dict(state, learner=...)``.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import torch

from affordkit import atomic
from affordkit.loops import checkpoint
from affordkit.types import Batch

C = TypeVar("C")
A = TypeVar("A")

BATCH_FIELDS = ("obs", "action", "reward", "next_obs", "done")


def seed_configs(cfg: C) -> list[C]:
    """The run of each seed trained together: ``cfg.seed``, ``cfg.seed + 1``, ... (``cfg.seeds`` of
    them), each a one-seed config; ``[cfg]`` when it trains one seed."""
    seeds = int(cfg.seeds)  # type: ignore[attr-defined]
    if seeds == 1:
        return [cfg]
    first = int(cfg.seed)  # type: ignore[attr-defined]
    return [dataclasses.replace(cfg, seed=first + k, seeds=1) for k in range(seeds)]  # type: ignore[type-var]


def seed_folders(run_dir: Path, configs: Sequence[Any]) -> list[Path]:
    """Where each seed's logs, report and final checkpoints go: the run folder for one seed,
    ``seed_<s>/`` inside it for several."""
    return [run_dir] if len(configs) == 1 else [run_dir / f"seed_{c.seed}" for c in configs]


class _Pending:
    """Stands for agent 0's learner while its sizes are read."""


def agents_together(
    num: int,
    make_agent: Callable[[int, Any, Any], A],
    make_stack: Callable[[A], Any],
    view: Callable[[Any, int], Any],
    learner_key: str,
) -> tuple[list[A], Any]:
    """``num`` agents trained together: ``make_agent(k, learner, counters)`` builds agent k around
    ``learner`` (a ``view(stack, k)``) and the shared ``counters`` (None: its own, for agent 0);
    ``make_stack(agent_0)`` builds the stacked learner from agent 0's sizes."""
    first = make_agent(0, _Pending(), None)
    stack = make_stack(first)
    setattr(first, learner_key, view(stack, 0))
    counters = first.counters  # type: ignore[attr-defined]
    return [first] + [make_agent(k, view(stack, k), counters) for k in range(1, num)], stack


class SeedTeam(Generic[A]):
    """The agents a run trains (one, or several seeds together), each with its run logger, and, for
    several, the stacked learner (``stacked``) whose learner k is agent k's."""

    def __init__(self, agents: list[A], loggers: list[Any], stacked: Any, learner_key: str) -> None:
        self.agents, self.loggers, self.stacked, self.learner_key = agents, loggers, stacked, learner_key

    @property
    def together(self) -> bool:
        return self.stacked is not None

    @property
    def counters(self) -> Any:
        return self.agents[0].counters  # type: ignore[attr-defined]

    def update(self, batches: list[Batch]) -> list[dict[str, torch.Tensor]]:
        """One gradient step of every learner, each on its own agent's batch; metrics per agent."""
        if not self.together:
            return [getattr(self.agents[0], self.learner_key).update(batches[0])]
        joint = Batch(**{f: torch.stack([getattr(b, f) for b in batches]) for f in BATCH_FIELDS})
        metrics = self.stacked.update(joint)
        return [{name: value[k] for name, value in metrics.items()} for k in range(len(self.agents))]

    def save_seed_checkpoints(self, folders: Sequence[Path]) -> None:
        """With several seeds: each agent's own state (no replay) to its folder in ``folders``
        (one per agent, e.g. ``seed_<s>/checkpoints/rl``), in the form a run of that seed alone
        writes, so that a seed folder can be evaluated, or its encoder reused, while the run goes on.
        Call it after the joint checkpoint, which alone is what ``--resume`` reads. Nothing with one
        seed (its run folder is the seed's)."""
        if not self.together:
            return
        for agent, folder in zip(self.agents, folders, strict=True):
            checkpoint.save(folder, agent.state_dict())  # type: ignore[attr-defined]

    def stacked_input(self, rows: Sequence[np.ndarray], dtype: Any = np.float32) -> torch.Tensor:
        """The agents' policy inputs (N, d) as one (K, N, d) tensor of ``dtype`` on the learners'
        device."""
        return torch.from_numpy(np.stack([np.asarray(r, dtype=dtype) for r in rows])).to(self.stacked.device)

    def state_dict(self) -> dict[str, Any]:
        """One agent's own state, or the stacked learners and every agent's state but its learner."""
        if not self.together:
            return self.agents[0].state_dict()  # type: ignore[attr-defined]
        agents = [
            {k: v for k, v in a.state_dict().items() if k != self.learner_key}  # type: ignore[attr-defined]
            for a in self.agents
        ]
        return {"learners": self.stacked.state_dict(), "agents": agents}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if not self.together:
            if "learners" in state:
                raise checkpoint.CheckpointError(
                    f"the checkpoint holds {len(state['agents'])} seeds trained together; this run "
                    "trains one: resume it with the settings it was started with"
                )
            self.agents[0].load_state_dict(state)  # type: ignore[attr-defined]
            return
        if "learners" not in state or len(state["agents"]) != len(self.agents):
            raise checkpoint.CheckpointError(
                f"the checkpoint holds {len(state.get('agents', [state]))} seed(s); this run trains "
                f"{len(self.agents)} together: resume it with the settings it was started with"
            )
        self.stacked.load_state_dict(state["learners"])
        for agent, agent_state in zip(self.agents, state["agents"], strict=True):
            agent.load_state_dict(agent_state, learner=False)  # type: ignore[attr-defined]

    def replay_state(self) -> dict[str, np.ndarray] | None:
        """Every agent's buffer, under ``seed<k>/`` when several (None before the buffers exist)."""
        replays = [a.replay for a in self.agents]  # type: ignore[attr-defined]
        if any(r is None for r in replays):
            return None
        if not self.together:
            return replays[0].state_dict()
        return {f"seed{k}/{n}": v for k, r in enumerate(replays) for n, v in r.state_dict().items()}

    def load_replay_state(self, state: dict[str, np.ndarray]) -> None:
        for k, agent in enumerate(self.agents):
            replay = agent.replay  # type: ignore[attr-defined]
            if not self.together:
                replay.load_state_dict(state)
                continue
            prefix = f"seed{k}/"
            replay.load_state_dict({n[len(prefix) :]: v for n, v in state.items() if n.startswith(prefix)})


def mean_sd(values: Sequence[float]) -> dict[str, float]:
    return {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0}


def write_seeds_summary(
    run_dir: Path,
    title: str,
    intro: str,
    summaries: list[dict[str, Any]],
    labels: dict[str, str],
    extra: dict[str, Any] | None = None,
) -> Path:
    """The run's summary.json (every seed's summary, and the mean and sd over seeds of each metric
    in ``labels`` that every seed has) and its report.md: a row per seed and the mean +- sd."""
    keys = [k for k in labels if all(s.get(k) is not None for s in summaries)]
    aggregate = {k: mean_sd([float(s[k]) for s in summaries]) for k in keys}
    atomic.write_json(
        run_dir / "summary.json",
        {**(extra or {}), "seeds": [s["seed"] for s in summaries], "per_seed": summaries, **aggregate},
    )
    lines = [
        f"# {title}",
        "",
        intro,
        "",
        "| seed | " + " | ".join(labels[k] for k in keys) + " |",
        "|---:|" + "---:|" * len(keys),
    ]
    lines += [f"| {s['seed']} | " + " | ".join(f"{float(s[k]):.3f}" for k in keys) + " |" for s in summaries]
    lines.append(
        "| **mean +- sd** | "
        + " | ".join(f"{aggregate[k]['mean']:.3f} +- {aggregate[k]['sd']:.3f}" for k in keys)
        + " |"
    )
    path = run_dir / "report.md"
    atomic.write_text(path, "\n".join(lines) + "\n")
    return path
