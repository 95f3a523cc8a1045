"""Distance rewards: values, the choice of norm, and why the 1-norm exists."""

import numpy as np
import pytest

from affordkit.errors import ConfigError
from affordkit.relabel import distance_reward, l1_distance, latent_distance, sparse_threshold


def test_norms_on_known_vectors():
    a = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    g = np.zeros((2, 3), dtype=np.float32)
    np.testing.assert_allclose(latent_distance(a, g), [-5.0, 0.0])
    np.testing.assert_allclose(l1_distance(a, g), [-7.0, 0.0])
    assert distance_reward("l2") is latent_distance
    assert distance_reward("l1") is l1_distance


def test_l1_counts_progress_of_one_body_in_full_while_another_is_far():
    """Hand 1.0 from its goal, puck 0.4 from its goal; the puck reaches its goal. Under the 2-norm
    the reward moves by 1 - sqrt(1.16) = 0.077, under the 1-norm by the full 0.4."""
    goal = np.zeros((1, 4), dtype=np.float32)
    before = np.array([[1.0, 0.0, 0.4, 0.0]], dtype=np.float32)
    after = np.array([[1.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    gain_l2 = float(latent_distance(after, goal)[0] - latent_distance(before, goal)[0])
    gain_l1 = float(l1_distance(after, goal)[0] - l1_distance(before, goal)[0])
    assert gain_l2 == pytest.approx(np.sqrt(1.16) - 1.0, rel=1e-5)
    assert gain_l1 == pytest.approx(0.4, rel=1e-5)


def test_unknown_norm_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match="'l2', 'l1'"):
        distance_reward("linf")  # type: ignore[arg-type]


def test_sparse_threshold_uses_its_norm():
    a = np.array([[0.3, 0.3]], dtype=np.float32)  # 2-norm 0.42, 1-norm 0.6
    g = np.zeros((1, 2), dtype=np.float32)
    assert sparse_threshold(0.5)(a, g)[0] == 0.0
    assert sparse_threshold(0.5, "l1")(a, g)[0] == -1.0
    with pytest.raises(ConfigError, match="epsilon"):
        sparse_threshold(0.0)
