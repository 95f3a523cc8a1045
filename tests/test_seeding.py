"""Runs seeded 0, 1, 2, ... share no random stream: their table seeds and the seeds of every other
stream are distinct, and the methods use them."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from affordkit.errors import ConfigError, InvalidSeedError
from affordkit.methods import rig
from affordkit.seeding import Stream, derived_seed, table_seeds


def test_table_and_stream_seeds_of_runs_do_not_overlap() -> None:
    """Runs seeded 0..19 with 64 tables in every table stream, and every stream's own seed: all
    distinct (the s + i convention would share 63 of 64 tables between neighbouring runs), and each
    run's reproducible."""
    seeds = [s for run in range(20) for stream in Stream for s in table_seeds(run, 64, stream)]
    seeds += [
        derived_seed(run, Stream.FINETUNE, r, part) for run in range(20) for r in range(3) for part in (0, 1)
    ]
    assert len(set(seeds)) == len(seeds) and all(0 <= s < 2**32 for s in seeds)
    assert table_seeds(3, 5) == table_seeds(3, 5) == table_seeds(3, 8)[:5]
    assert derived_seed(3, Stream.NOISE) == table_seeds(3, 1, Stream.NOISE)[0]
    for bad in (-1, 1.5):
        with pytest.raises(InvalidSeedError):
            table_seeds(bad, 2)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="count=-1"):
        table_seeds(0, -1)


def _states(agent: rig.RIGAgent) -> list[str]:
    """The state of every random stream of a RIG agent, as text."""
    streams = [agent.rng, agent.action_rng, *agent.env.core.rngs]
    out = [str(r.bit_generator.state["state"]) for r in streams]
    out.append(str(agent.noise.state_dict()))
    out += [str(agent.prior_generator.get_state().tolist()), str(agent.td3.generator.get_state().tolist())]
    return out


def test_neighbouring_rig_runs_share_no_stream() -> None:
    cfg = dataclasses.replace(rig.smoke_preset(), observation="state", device="cpu")
    agents = [
        rig.RIGAgent(
            dataclasses.replace(cfg, seed=s), None, rig.goal_state_bank(cfg, 16), None, torch.device("cpu")
        )
        for s in (0, 1, 2)
    ]
    states = [_states(a) for a in agents]
    flat = [s for agent in states for s in agent]
    assert len(set(flat)) == len(flat)
    banks = [rig.goal_state_bank(dataclasses.replace(cfg, seed=s), 16).state_dict() for s in (0, 1)]
    assert not torch.equal(*(next(iter(b.values())) for b in banks))
