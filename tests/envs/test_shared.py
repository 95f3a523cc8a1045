"""The pieces every env family shares: seeds, auto-reset modes, action and state checks, reward."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from affordkit.envs.base import autoreset_mode, check_render_mode, vector_seeds
from affordkit.envs.common import check_actions, check_state_rows, reward_from_metrics
from affordkit.errors import ConfigError, InvalidActionError, InvalidSeedError, InvalidStateError


def test_vector_seeds() -> None:
    assert vector_seeds(None, 3) == [None, None, None]
    assert vector_seeds(7, 3) == [7, 8, 9]
    assert vector_seeds(np.int64(2), 2) == [2, 3]
    assert vector_seeds([5, 1], 2) == [5, 1]
    with pytest.raises(InvalidSeedError, match="got 1 seeds for 2"):
        vector_seeds([5], 2)
    for bad in (-1, True, [1, -2], 1.5):
        with pytest.raises(InvalidSeedError):
            vector_seeds(bad, 2)  # type: ignore[arg-type]


def test_autoreset_and_render_modes() -> None:
    assert autoreset_mode("Same-Step") is AutoresetMode.SAME_STEP
    assert autoreset_mode(AutoresetMode.DISABLED) is AutoresetMode.DISABLED
    with pytest.raises(ConfigError, match="accepted values"):
        autoreset_mode("sometimes")
    check_render_mode(None)
    check_render_mode("rgb_array")
    with pytest.raises(ConfigError, match="render_mode"):
        check_render_mode("human")


def test_check_actions() -> None:
    assert check_actions([0.5, -1.0], 1, 2, "effector dx, dy").shape == (1, 2)
    assert check_actions(np.zeros((3, 3)), 3, 3, "dx, dy, dz").dtype == np.float64
    with pytest.raises(InvalidActionError, match=r"shape \(3, 2\) \(effector dx, dy in \[-1, 1\]\)"):
        check_actions(np.zeros((3, 3)), 3, 2, "effector dx, dy")
    with pytest.raises(InvalidActionError, match=r"environments \[1\]"):
        check_actions([[0, 0], [np.nan, 0]], 2, 2, "effector dx, dy")
    with pytest.raises(InvalidActionError, match="must be numbers"):
        check_actions("left", 1, 2, "effector dx, dy")


def test_check_state_rows() -> None:
    assert check_state_rows([[0.0, 1.0]], 2, "hand xy").shape == (1, 2)
    with pytest.raises(InvalidStateError, match=r"shape \(M, 4\) \(hand xy then puck xy\)"):
        check_state_rows([0.0, 1.0, 2.0, 3.0], 4, "hand xy then puck xy")
    with pytest.raises(InvalidStateError, match="NaN"):
        check_state_rows([[np.inf, 0.0]], 2, "hand xy")


def test_reward_from_metrics() -> None:
    metrics = {
        "hand_distance": np.array([0.1, 0.2]),
        "object_distance": np.array([0.5, 0.0]),
        "success": np.array([False, True]),
    }
    np.testing.assert_array_equal(reward_from_metrics("sparse", 2, metrics), [-1.0, 0.0])
    np.testing.assert_allclose(reward_from_metrics("dense", 2, metrics), [-1.1, -0.2])
    np.testing.assert_allclose(reward_from_metrics("dense", 0, metrics), [-0.1, -0.2])
