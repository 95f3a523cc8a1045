"""The fast update equals the reference update to float rounding (TD3, AWAC, BC), both directions of
checkpoint loading work, and configs written before the ``implementation`` field still load."""

from __future__ import annotations

import copy
from dataclasses import asdict, replace

import pytest
import torch
from torch import nn

from affordkit.algos import AWAC, BC, TD3, AWACConfig, BCConfig, TD3Config
from affordkit.algos.common import adam, load_optimizer
from affordkit.errors import ConfigError
from affordkit.networks import fast
from affordkit.networks.fast import OneDNNLinear
from tests.algos.test_awac import ACTION_DIM, OBS_DIM, make_batch

CONFIGS = {
    "td3": TD3Config(hidden=(64, 48)),
    "awac": AWACConfig(policy_hidden=(64, 48), q_hidden=(64, 48)),
    "bc": BCConfig(policy_hidden=(64, 48)),
}
LEARNERS = {"td3": TD3, "awac": AWAC, "bc": BC}


@pytest.fixture(autouse=True)
def onednn_when_present(monkeypatch: pytest.MonkeyPatch):
    """The fast path takes the oneDNN layer whenever the op exists and is right, whatever the
    start-up timing says on a busy test machine."""
    monkeypatch.setenv(fast.ENV_VAR, "onednn")
    monkeypatch.setattr(fast, "MIN_WORK", 0)  # these small networks and batches on oneDNN too
    fast.onednn_check.cache_clear()
    yield
    monkeypatch.undo()
    fast.onednn_check.cache_clear()


def make(name: str, implementation: str, seed: int = 0):
    config = replace(CONFIGS[name], implementation=implementation)  # type: ignore[type-var]
    return LEARNERS[name](OBS_DIM, ACTION_DIM, config, seed=seed)


def tensors(state, prefix: str = ""):
    """(path, tensor) of every tensor in a nested state_dict."""
    if isinstance(state, torch.Tensor):
        yield prefix, state
    elif isinstance(state, dict):
        for k, v in state.items():
            yield from tensors(v, f"{prefix}/{k}")
    elif isinstance(state, list | tuple):
        for i, v in enumerate(state):
            yield from tensors(v, f"{prefix}/{i}")


def assert_states_close(a, b, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    sa, sb = dict(tensors(a)), dict(tensors(b))
    assert sa.keys() == sb.keys()
    for key in sa:
        if key.endswith("generator"):
            assert torch.equal(sa[key], sb[key]), key
        else:
            torch.testing.assert_close(sa[key], sb[key], rtol=rtol, atol=atol, msg=key)


@pytest.mark.parametrize("name", list(LEARNERS))
def test_fast_update_equals_the_reference(name: str) -> None:
    reference, fast_learner = make(name, "reference"), make(name, "fast")
    if fast._op() is not None:
        policy = fast_learner.actor if name == "td3" else fast_learner.policy
        assert any(isinstance(m, OneDNNLinear) for m in policy.modules())
    assert_states_close(reference.state_dict(), fast_learner.state_dict(), rtol=0, atol=0)  # same init
    for step in range(4):  # TD3: two actor steps and target updates among them
        batch = make_batch(step)
        m_ref, m_fast = reference.update(batch), fast_learner.update(batch)
        assert m_ref.keys() == m_fast.keys()
        for key in m_ref:
            torch.testing.assert_close(m_fast[key], m_ref[key], rtol=1e-4, atol=1e-5, msg=key)
        assert_states_close(reference.state_dict(), fast_learner.state_dict())
    obs = make_batch(9).obs
    torch.testing.assert_close(fast_learner.act(obs), reference.act(obs), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", list(LEARNERS))
def test_checkpoints_move_between_implementations(name: str) -> None:
    source = make(name, "reference")
    for step in range(3):
        source.update(make_batch(step))
    state = copy.deepcopy(source.state_dict())  # a saved checkpoint shares no tensor with its learner
    target = make(name, "fast", seed=5)
    target.load_state_dict(state)
    assert_states_close(state, target.state_dict(), rtol=0, atol=0)
    # the fast learner keeps its own optimiser kernel after loading a reference checkpoint
    for opt in (v for v in vars(target).values() if isinstance(v, torch.optim.Optimizer)):
        assert opt.param_groups[0]["fused"] is True
    back = make(name, "reference", seed=6)
    back.load_state_dict(copy.deepcopy(target.state_dict()))
    for opt in (v for v in vars(back).values() if isinstance(v, torch.optim.Optimizer)):
        assert opt.param_groups[0]["fused"] is None
    # and both continue alike
    batch = make_batch(7)
    source.update(batch), target.update(batch), back.update(batch)
    assert_states_close(source.state_dict(), target.state_dict())
    assert_states_close(source.state_dict(), back.state_dict(), rtol=0, atol=0)


@pytest.mark.parametrize("name", list(LEARNERS))
def test_configs_without_the_field_load_and_other_settings_still_refuse(name: str) -> None:
    learner = make(name, "fast")
    state = learner.state_dict()
    old = dict(state, config={k: v for k, v in state["config"].items() if k != "implementation"})
    assert type(CONFIGS[name])(**old["config"]).implementation == "fast"
    make(name, "fast").load_state_dict(old)
    make(name, "reference").load_state_dict(old)
    other = asdict(CONFIGS[name])
    other["batch_size"] += 1
    with pytest.raises(ConfigError):
        make(name, "fast").load_state_dict(dict(state, config=other))


def test_implementation_is_validated() -> None:
    for config in CONFIGS.values():
        with pytest.raises(ConfigError):
            replace(config, implementation="turbo")  # type: ignore[type-var]


def test_fused_adam_equals_the_default_and_load_keeps_each_kernel() -> None:
    torch.manual_seed(0)
    params = [nn.Parameter(torch.randn(20, 10)), nn.Parameter(torch.randn(10))]
    copies = [nn.Parameter(p.detach().clone()) for p in params]
    fused, default = adam(params, 1e-2, "fast", 1e-4), adam(copies, 1e-2, "reference", 1e-4)
    assert fused.param_groups[0]["fused"] is True and default.param_groups[0]["fused"] is None
    for step in range(5):
        for p, q in zip(params, copies, strict=True):
            p.grad = torch.full_like(p, 0.1 * (step - 2)) + p.detach() ** 2
            q.grad = p.grad.clone()
        fused.step(), default.step()
    for p, q in zip(params, copies, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    load_optimizer(default, fused.state_dict())
    assert default.param_groups[0]["fused"] is None
