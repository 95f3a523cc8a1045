"""The episode dataset format: round trip, atomic chunks, memory maps, index math, and typed errors on
truncated, corrupted, wrong-version, hand-edited or incomplete folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from affordkit.data import (
    DatasetCorruptError,
    DatasetError,
    DatasetVersionError,
    DatasetWriter,
    EpisodeDataset,
    Feature,
    MissingFeatureError,
)

FEATURES = {
    "image": Feature((4, 4, 3), "uint8", "observation"),
    "state": Feature((2,), "float32", "observation"),
    "action": Feature((2,), "float32", "transition"),
    "reward": Feature((), "float32", "transition"),
    "terminated": Feature((), "bool", "transition"),
    "truncated": Feature((), "bool", "transition"),
    "success": Feature((), "bool", "transition"),
    "goal_image": Feature((4, 4, 3), "uint8", "episode"),
}


def make_episode(rng: np.random.Generator, steps: int, ident: int) -> dict[str, np.ndarray]:
    return {
        "image": rng.integers(0, 256, size=(steps + 1, 4, 4, 3), dtype=np.uint8),
        # state[:, 0] = episode id, state[:, 1] = observation index: lets tests check index math
        "state": np.stack([np.full(steps + 1, ident), np.arange(steps + 1)], axis=1).astype(np.float32),
        "action": rng.uniform(-1, 1, size=(steps, 2)).astype(np.float32),
        "reward": -np.ones(steps, dtype=np.float32),
        "terminated": np.zeros(steps, dtype=bool),
        "truncated": np.arange(steps) == steps - 1,
        "success": np.full(steps, ident % 2 == 0),
        "goal_image": rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8),
    }


def split(ep: dict[str, np.ndarray]) -> tuple[dict, dict, dict]:
    levels: dict[str, dict] = {"observation": {}, "transition": {}, "episode": {}}
    for k, v in ep.items():
        levels[FEATURES[k].level][k] = v
    return levels["observation"], levels["transition"], levels["episode"]


def write(
    root: Path, lengths: list[int], chunk_episodes: int = 2, seed: int = 0
) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    eps = [make_episode(rng, t, i) for i, t in enumerate(lengths)]
    with DatasetWriter(
        root, FEATURES, env={"name": "Test"}, control_hz=10.0, chunk_episodes=chunk_episodes
    ) as w:
        for i, ep in enumerate(eps):
            w.add_episode(*split(ep), labels={"task": f"t{i % 3}", "domain": "sim"})
    return eps


def test_round_trip_is_identical(tmp_path: Path) -> None:
    eps = write(tmp_path / "d", [3, 5, 1, 4, 2])
    ds = EpisodeDataset(tmp_path / "d", verify="checksum")
    assert (ds.num_episodes, ds.num_steps, ds.num_observations) == (5, 15, 20)
    assert len(ds.meta["chunks"]) == 3  # chunks of 2, 2, 1 episodes
    for i, (want, got) in enumerate(zip(eps, ds, strict=True)):
        for k, v in want.items():
            assert got[k].dtype == v.dtype and np.array_equal(got[k], v), k
        assert got["labels"] == {"task": f"t{i % 3}", "domain": "sim"}
    meta = json.loads((tmp_path / "d" / "meta.json").read_text())
    assert meta["version"] == 1 and meta["control_hz"] == 10.0 and meta["env"] == {"name": "Test"}
    assert meta["features"]["image"] == {
        "shape": [4, 4, 3],
        "dtype": "uint8",
        "level": "observation",
        "description": "",
    }


def test_arrays_are_memory_mapped(tmp_path: Path) -> None:
    write(tmp_path / "d", [3, 5])
    ds = EpisodeDataset(tmp_path / "d")
    assert all(isinstance(a, np.memmap) for a in ds.feature_chunks("image"))


def test_stats_are_computed_from_the_data(tmp_path: Path) -> None:
    eps = write(tmp_path / "d", [3, 5, 1, 4, 2])
    stats = EpisodeDataset(tmp_path / "d").stats()
    states = np.concatenate([e["state"] for e in eps]).astype(np.float64)
    np.testing.assert_allclose(stats["features"]["state"]["mean"], states.mean(0), atol=1e-5)
    np.testing.assert_allclose(stats["features"]["state"]["std"], states.std(0), atol=1e-5)
    assert stats["features"]["state"]["max"] == states.max(0).tolist()
    assert stats["success_rate"] == pytest.approx(3 / 5)  # episodes 0, 2, 4
    assert stats["mean_episode_return"] == pytest.approx(-15 / 5)
    assert stats["labels"] == {"task": {"t0": 2, "t1": 2, "t2": 1}, "domain": {"sim": 5}}


def test_append_continues_and_an_unfinished_chunk_is_invisible(tmp_path: Path) -> None:
    root = tmp_path / "d"
    write(root, [2, 2, 2])
    rng = np.random.default_rng(5)
    w = DatasetWriter(root, FEATURES, chunk_episodes=10, append=True)
    w.add_episode(*split(make_episode(rng, 3, 7)))
    # killed before flush: the pending episode was never committed
    assert EpisodeDataset(root).num_episodes == 3
    w.close()
    ds = EpisodeDataset(root)
    assert ds.num_episodes == 4 and ds.episode(3)["state"][0, 0] == 7
    # a chunk folder that meta.json does not list (a rename that was never committed) is ignored
    orphan = root / "chunks" / "chunk-000099"
    orphan.mkdir()
    assert EpisodeDataset(root).num_episodes == 4
    DatasetWriter(root, FEATURES, append=True).close()
    assert not orphan.exists()


def test_writer_refuses_bad_episodes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    w = DatasetWriter(tmp_path / "d", FEATURES)
    ep = make_episode(rng, 3, 0)
    with pytest.raises(DatasetError, match="image"):
        bad = dict(ep, image=ep["image"][:-1])
        w.add_episode(*split(bad))
    with pytest.raises(DatasetError, match="differ"):
        w.add_episode(*split({k: v for k, v in ep.items() if k != "reward"}))
    with pytest.raises(DatasetError, match="labels"):
        w.add_episode(*split(ep), labels={"robot": "x"})
    with pytest.raises(DatasetError, match="dtype"):
        w.add_episode(*split(dict(ep, image=ep["image"].astype(np.float32))))
    with pytest.raises(DatasetError, match="already holds"):
        w.add_episode(*split(ep))
        w.close()
        DatasetWriter(tmp_path / "d", FEATURES)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=7), st.integers(1, 3), st.integers(0, 2**31))
def test_positions_gather_and_transition_index(tmp_path_factory, lengths, chunk, seed) -> None:
    root = tmp_path_factory.mktemp("d")
    eps = write(root, lengths, chunk_episodes=chunk)
    ds = EpisodeDataset(root)
    pos = ds.sample_positions(200, np.random.default_rng(seed))
    state = ds.gather("state", pos)
    episode = ds.episode_of(pos)
    assert np.array_equal(state[:, 0], episode)  # the gathered row belongs to the episode
    t = state[:, 1].astype(int)
    assert np.all(t < np.asarray(lengths)[episode])  # never an episode's final observation
    assert np.array_equal(ds.gather("state", pos + 1)[:, 0], episode)  # next obs: same episode
    actions = ds.gather("action", ds.transition_index(pos))
    want = np.stack([eps[e]["action"][k] for e, k in zip(episode, t, strict=True)])
    assert np.array_equal(actions, want)
    assert np.array_equal(ds.episode_last[episode] - pos, np.asarray(lengths)[episode] - t)


# ---- typed errors ---------------------------------------------------------------------------------


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    write(tmp_path / "d", [3, 4, 2])
    return tmp_path / "d"


def chunk_file(root: Path, name: str, chunk: int = 0) -> Path:
    return root / "chunks" / f"chunk-{chunk:06d}" / name


def edit_meta(root: Path, change) -> None:
    meta = json.loads((root / "meta.json").read_text())
    change(meta)
    (root / "meta.json").write_text(json.dumps(meta))


def test_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="meta.json is missing"):
        EpisodeDataset(tmp_path)


def test_truncated_file(dataset: Path) -> None:
    path = chunk_file(dataset, "state.npy")
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DatasetCorruptError, match="truncated"):
        EpisodeDataset(dataset)


def test_corrupted_contents_are_caught_by_the_checksum(dataset: Path) -> None:
    path = chunk_file(dataset, "image.npy")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # same size, valid header: only the checksum can tell
    path.write_bytes(bytes(data))
    EpisodeDataset(dataset)  # the cheap check passes
    with pytest.raises(DatasetCorruptError, match="checksum"):
        EpisodeDataset(dataset, verify="checksum")


def test_corrupted_header(dataset: Path) -> None:
    path = chunk_file(dataset, "action.npy")
    data = bytearray(path.read_bytes())
    data[:6] = b"garbag"
    path.write_bytes(bytes(data))
    with pytest.raises(DatasetCorruptError, match="not a readable .npy"):
        EpisodeDataset(dataset)


def test_wrong_version(dataset: Path) -> None:
    edit_meta(dataset, lambda m: m.update(version=99))
    with pytest.raises(DatasetVersionError, match="version 99"):
        EpisodeDataset(dataset)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda m: m["features"]["state"].update(shape=[3]), "promises"),
        (lambda m: m["features"]["state"].update(dtype="float64"), "promises"),
        (lambda m: m.update(num_episodes=4), "counts"),
        (lambda m: m.pop("chunks"), "'chunks' is missing"),
        (lambda m: m["chunks"][0].update(steps=99), "disagrees"),
        (
            lambda m: m["features"].update(depth={"shape": [1], "dtype": "float32", "level": "observation"}),
            "depth",
        ),
        (lambda m: m["features"]["state"].update(level="frame"), "malformed"),
        (lambda m: m.update(format="something-else"), "format"),
    ],
)
def test_hand_edited_meta(dataset: Path, change, match) -> None:
    edit_meta(dataset, change)
    with pytest.raises(DatasetError, match=match):
        EpisodeDataset(dataset)


def test_meta_that_is_not_json(dataset: Path) -> None:
    (dataset / "meta.json").write_text('{"format": "affordkit-episodes", "vers')
    with pytest.raises(DatasetCorruptError, match="not valid JSON"):
        EpisodeDataset(dataset)


def test_hand_edited_stats_and_labels(dataset: Path) -> None:
    (dataset / "stats.json").write_text(json.dumps({"num_episodes": 1}))
    with pytest.raises(DatasetCorruptError, match="does not describe"):
        EpisodeDataset(dataset).stats()
    chunk_file(dataset, "episodes.json").write_text("[]")
    with pytest.raises(DatasetCorruptError):  # its size no longer matches meta.json
        EpisodeDataset(dataset)


def test_missing_feature_and_missing_file(dataset: Path) -> None:
    ds = EpisodeDataset(dataset)
    with pytest.raises(MissingFeatureError, match="depth"):
        ds.require(["state", "depth"])
    chunk_file(dataset, "reward.npy", chunk=1).unlink()
    with pytest.raises(DatasetCorruptError, match="missing"):
        EpisodeDataset(dataset)
