"""affordkit's episode dataset format: versioned, self-describing, chunked, memory-mapped.

On disk (docs/datasets.md has the full description and a reader that needs only NumPy)::

    DIR/meta.json                     format, version, features (shape, dtype, level), env, counts, chunks
    DIR/stats.json                    per-feature statistics computed from the data, success rate, labels
    DIR/chunks/chunk-000000/
        lengths.npy                   (E,) int64: transitions per episode
        episodes.json                 per-episode labels: task, domain, scene
        <feature>.npy                 one plain .npy per feature, rows of all the chunk's episodes in order

A feature has a level: ``observation`` features have T + 1 rows per episode (observations 0..T),
``transition`` features T rows (action, reward, terminated, truncated, success after the step),
``episode`` features one row (e.g. the goal image).

Writing is atomic per chunk: a chunk is written under a temporary name, flushed, renamed into place,
and only then listed in a rewritten ``meta.json``; a reader sees the chunks that ``meta.json``
lists and nothing else, so a writer killed half-way leaves the dataset as it was after its last
committed chunk. ``meta.json`` records every file's size and SHA-256: opening checks sizes and NumPy
headers (cheap), ``verify="checksum"`` also the contents.

Reading maps every file with ``np.load(mmap_mode="r")``: nothing is read until indexed, so a
dataset larger than RAM trains from the page cache. ``gather(feature, positions)`` reads rows at
global positions across chunks; ``episode(i)`` returns one episode.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from affordkit import atomic
from affordkit.errors import AffordkitError

FORMAT = "affordkit-episodes"
VERSION = 1
READABLE_VERSIONS = (1,)
META_FILE, STATS_FILE, CHUNKS_DIR = "meta.json", "stats.json", "chunks"
LENGTHS_FILE, LABELS_FILE = "lengths.npy", "episodes.json"
LABEL_KEYS = ("task", "domain", "scene")
STATS_BLOCK = 2048  # rows per block when computing statistics

Level = Literal["observation", "transition", "episode"]
LEVELS: tuple[Level, ...] = ("observation", "transition", "episode")
Verify = Literal["size", "checksum"]


class DatasetError(AffordkitError, ValueError):
    """A dataset folder is missing, malformed, corrupt, or does not hold what was asked for."""


class DatasetVersionError(DatasetError):
    """The dataset was written in a format version this affordkit cannot read."""


class DatasetCorruptError(DatasetError):
    """A file of the dataset is truncated, corrupted, or disagrees with ``meta.json``."""


class MissingFeatureError(DatasetError, LookupError):
    """A feature was asked for that the dataset does not have; the message lists those it has."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Feature:
    """One stored array: the shape of one row, its dtype and its level."""

    shape: tuple[int, ...]
    dtype: str
    level: Level
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        if self.level not in LEVELS:
            raise DatasetError(f"feature level {self.level!r}; accepted values: {list(LEVELS)}")
        try:
            np.dtype(self.dtype)
        except TypeError as e:
            raise DatasetError(f"feature dtype {self.dtype!r} is not a NumPy dtype") from e
        if any(s < 1 for s in self.shape):
            raise DatasetError(f"feature shape {self.shape}: every size must be >= 1")

    def to_json(self) -> dict[str, Any]:
        return {
            "shape": list(self.shape),
            "dtype": self.dtype,
            "level": self.level,
            "description": self.description,
        }

    @staticmethod
    def from_json(name: str, raw: Any) -> Feature:
        try:
            return Feature(
                tuple(raw["shape"]), str(raw["dtype"]), raw["level"], str(raw.get("description", ""))
            )
        except (KeyError, TypeError, ValueError) as e:
            raise DatasetCorruptError(f"meta.json: feature {name!r} is malformed ({raw!r}): {e}") from e


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


# ------------------------------------------------------------------------------------------ writer
class DatasetWriter:
    """Append episodes to a dataset folder; every ``chunk_episodes`` episodes become one chunk.

    ``DatasetWriter(DIR, features, env={...})`` creates a dataset (``DIR`` must not hold one unless
    ``append=True``, which continues it after checking the features agree). Use it as a context
    manager, or call :meth:`close`, which commits the last partial chunk and writes ``stats.json``.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        features: Mapping[str, Feature],
        *,
        env: Mapping[str, Any] | None = None,
        control_hz: float | None = None,
        info: Mapping[str, Any] | None = None,
        chunk_episodes: int = 100,
        append: bool = False,
    ) -> None:
        if chunk_episodes < 1:
            raise DatasetError(f"chunk_episodes={chunk_episodes}: expected >= 1")
        self.root = Path(root)
        self.features = dict(features)
        for name in self.features:
            if name in (LENGTHS_FILE[:-4], LABELS_FILE[:-5]) or not name.isidentifier():
                raise DatasetError(f"feature name {name!r}: expected an identifier other than 'lengths'")
        self.chunk_episodes = chunk_episodes
        self._pending: list[tuple[dict[str, np.ndarray], int, dict[str, str]]] = []
        if (self.root / META_FILE).exists():
            if not append:
                raise DatasetError(f"{self.root} already holds a dataset; pass append=True to add to it")
            self.meta = read_meta(self.root)
            have = {k: Feature.from_json(k, v) for k, v in self.meta["features"].items()}
            if have != self.features:
                raise DatasetError(f"{self.root}: its features {sorted(have)} differ from the ones given")
        else:
            self.meta = {
                "format": FORMAT,
                "version": VERSION,
                "features": {k: f.to_json() for k, f in self.features.items()},
                "env": dict(env or {}),
                "control_hz": control_hz,
                "info": dict(info or {}),
                "num_episodes": 0,
                "num_steps": 0,
                "chunks": [],
            }
        (self.root / CHUNKS_DIR).mkdir(parents=True, exist_ok=True)
        # a chunk folder that meta.json does not list is a commit that never finished: drop it
        listed = {c["name"] for c in self.meta["chunks"]}
        for path in (self.root / CHUNKS_DIR).iterdir():
            if path.name not in listed:
                shutil.rmtree(path, ignore_errors=True)
        atomic.write_json(self.root / META_FILE, self.meta)

    def add_episode(
        self,
        observations: Mapping[str, np.ndarray],
        transitions: Mapping[str, np.ndarray],
        episode: Mapping[str, np.ndarray] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """One episode of T transitions: observation features (T + 1, ...), transition features
        (T, ...), episode features (...), labels among task / domain / scene."""
        arrays = {**observations, **transitions, **(episode or {})}
        if set(arrays) != set(self.features):
            raise DatasetError(
                f"episode features {sorted(arrays)} differ from the dataset's {sorted(self.features)}"
            )
        if not transitions:
            raise DatasetError("an episode needs its transition features (action, ...)")
        steps = len(next(iter(transitions.values())))
        if steps < 1:
            raise DatasetError("an episode needs at least one transition")
        rows = {"observation": steps + 1, "transition": steps}
        checked: dict[str, np.ndarray] = {}
        for name, value in arrays.items():
            f = self.features[name]
            value = np.asarray(value)
            want = f.shape if f.level == "episode" else (rows[f.level], *f.shape)
            if value.shape != want:
                raise DatasetError(f"feature {name!r} ({f.level}) has shape {value.shape}; expected {want}")
            if not np.can_cast(value.dtype, f.dtype, casting="same_kind"):
                raise DatasetError(f"feature {name!r} has dtype {value.dtype}; the dataset stores {f.dtype}")
            checked[name] = value.astype(f.dtype, copy=False)
        label = {k: str(v) for k, v in (labels or {}).items()}
        unknown = set(label) - set(LABEL_KEYS)
        if unknown:
            raise DatasetError(f"unknown labels {sorted(unknown)}; accepted: {list(LABEL_KEYS)}")
        self._pending.append((checked, steps, label))
        if len(self._pending) >= self.chunk_episodes:
            self.flush()

    def flush(self) -> None:
        """Commit the pending episodes as one chunk (nothing if none are pending)."""
        if not self._pending:
            return
        index = len(self.meta["chunks"])
        name = f"chunk-{index:06d}"
        chunks = self.root / CHUNKS_DIR
        tmp = Path(tempfile.mkdtemp(dir=chunks, prefix=f".{name}."))
        try:
            lengths = np.array([s for _, s, _ in self._pending], dtype=np.int64)
            _save_npy(tmp / LENGTHS_FILE, lengths)
            for feature, f in self.features.items():
                parts = [a[feature] for a, _, _ in self._pending]
                data = np.stack(parts) if f.level == "episode" else np.concatenate(parts)
                _save_npy(tmp / f"{feature}.npy", data)
            atomic.write_json(tmp / LABELS_FILE, [lab for _, _, lab in self._pending])
            files = {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in sorted(tmp.iterdir())}
            os.replace(tmp, chunks / name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        entry = {"name": name, "episodes": len(lengths), "steps": int(lengths.sum()), "files": files}
        self.meta["chunks"].append(entry)
        self.meta["num_episodes"] += entry["episodes"]
        self.meta["num_steps"] += entry["steps"]
        atomic.write_json(self.root / META_FILE, self.meta)  # the commit point
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        if self.meta["num_episodes"]:
            atomic.write_json(self.root / STATS_FILE, compute_stats(EpisodeDataset(self.root)))

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()  # on an error the committed chunks stay; the partial one is dropped


# ------------------------------------------------------------------------------------------ reader
def read_meta(root: str | os.PathLike[str]) -> dict[str, Any]:
    """``meta.json`` of a dataset, checked for format, version and required keys."""
    path = Path(root) / META_FILE
    if not path.exists():
        raise DatasetError(f"{root} is not an affordkit dataset: {META_FILE} is missing")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DatasetCorruptError(f"{path} is not valid JSON ({e}); was it edited or cut short?") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DatasetError(f"{path}: format is not {FORMAT!r}; this folder holds something else")
    version = meta.get("version")
    if version not in READABLE_VERSIONS:
        raise DatasetVersionError(
            f"{path}: format version {version!r}; this affordkit reads versions {list(READABLE_VERSIONS)}"
            " (a newer affordkit may read it)"
        )
    for key in ("features", "num_episodes", "num_steps", "chunks"):
        if key not in meta:
            raise DatasetCorruptError(f"{path}: the key {key!r} is missing")
    return meta


class EpisodeDataset:
    """A dataset folder opened for reading; arrays are memory-mapped, nothing is loaded eagerly.

    Global positions: observation rows of all episodes in order are positions 0 .. num_observations
    - 1; the transition from observation position p to p + 1 exists when p < ``episode_end[p]``.
    """

    def __init__(self, root: str | os.PathLike[str], verify: Verify = "size") -> None:
        self.root = Path(root)
        self.meta = read_meta(self.root)
        self.features = {k: Feature.from_json(k, v) for k, v in self.meta["features"].items()}
        self.env: dict[str, Any] = dict(self.meta.get("env", {}))
        self._chunks: list[dict[str, np.ndarray]] = []
        self.labels: list[dict[str, str]] = []
        per_chunk: list[np.ndarray] = []
        for entry in self.meta["chunks"]:
            arrays, lengths, labels = self._open_chunk(entry, verify)
            self._chunks.append(arrays)
            per_chunk.append(np.array(lengths))
            self.labels += labels
        self.lengths = np.concatenate(per_chunk) if per_chunk else np.zeros(0, dtype=np.int64)  # (E,)
        if (
            len(self.lengths) != self.meta["num_episodes"]
            or int(self.lengths.sum()) != self.meta["num_steps"]
        ):
            raise DatasetCorruptError(
                f"{self.root}: meta.json counts {self.meta['num_episodes']} episodes and "
                f"{self.meta['num_steps']} steps; the chunks hold {len(self.lengths)} and "
                f"{int(self.lengths.sum())}"
            )
        # observation position of each episode's first and last observation, (E,)
        self.episode_start = (np.cumsum(self.lengths + 1) - (self.lengths + 1)).astype(np.int64)
        self.episode_last = self.episode_start + self.lengths
        counts = {
            "observation": [len(x) + int(x.sum()) for x in per_chunk],
            "transition": [int(x.sum()) for x in per_chunk],
            "episode": [len(x) for x in per_chunk],
        }
        # global index where each chunk starts, per level, (num_chunks + 1,)
        self._offsets = {lv: np.concatenate([[0], np.cumsum(v)]).astype(np.int64) for lv, v in counts.items()}

    def _open_chunk(
        self, entry: Mapping[str, Any], verify: Verify
    ) -> tuple[dict[str, np.ndarray], np.ndarray, list[dict[str, str]]]:
        try:
            folder = self.root / CHUNKS_DIR / str(entry["name"])
            files: Mapping[str, Any] = entry["files"]
            episodes, steps = int(entry["episodes"]), int(entry["steps"])
        except (KeyError, TypeError, ValueError) as e:
            raise DatasetCorruptError(f"{self.root}/meta.json: a chunk entry is malformed: {entry!r}") from e
        needed = [LENGTHS_FILE, LABELS_FILE] + [f"{k}.npy" for k in self.features]
        for name in needed:
            path = folder / name
            if name not in files:
                raise DatasetCorruptError(f"{folder.name}: meta.json lists no file {name}")
            if not path.exists():
                raise DatasetCorruptError(f"{path} is missing (the dataset was copied only in part?)")
            size = path.stat().st_size
            if size != files[name]["bytes"]:
                raise DatasetCorruptError(
                    f"{path} has {size} bytes; meta.json says {files[name]['bytes']}: the file is truncated "
                    "or was changed after writing"
                )
            if verify == "checksum" and _sha256(path) != files[name]["sha256"]:
                raise DatasetCorruptError(f"{path}: checksum mismatch, the file is corrupted")
        arrays = {LENGTHS_FILE: self._load(folder / LENGTHS_FILE, "int64", (episodes,))}
        if int(arrays[LENGTHS_FILE].sum()) != steps or np.any(arrays[LENGTHS_FILE] < 1):
            raise DatasetCorruptError(f"{folder}/{LENGTHS_FILE} disagrees with meta.json ({steps} steps)")
        rows = {"observation": steps + episodes, "transition": steps, "episode": episodes}
        for name, f in self.features.items():
            arrays[name] = self._load(folder / f"{name}.npy", f.dtype, (rows[f.level], *f.shape))
        try:
            labels = json.loads((folder / LABELS_FILE).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DatasetCorruptError(f"{folder}/{LABELS_FILE} is not valid JSON: {e}") from e
        if not isinstance(labels, list) or len(labels) != episodes:
            raise DatasetCorruptError(f"{folder}/{LABELS_FILE}: expected a list of {episodes} label dicts")
        return arrays, arrays[LENGTHS_FILE], labels

    @staticmethod
    def _load(path: Path, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise DatasetCorruptError(f"{path} is not a readable .npy file: {e}") from e
        if array.dtype != np.dtype(dtype) or array.shape != shape:
            raise DatasetCorruptError(
                f"{path} holds {array.dtype} {array.shape}; meta.json promises {dtype} {shape}"
            )
        return array

    # ---------------------------------------------------------------------------------- queries
    @property
    def num_episodes(self) -> int:
        return len(self.lengths)

    @property
    def num_steps(self) -> int:
        return int(self.lengths.sum())

    @property
    def num_observations(self) -> int:
        return self.num_steps + self.num_episodes

    def __len__(self) -> int:
        return self.num_episodes

    def require(self, names: Sequence[str]) -> None:
        """Raise :class:`MissingFeatureError` unless every feature in ``names`` is stored."""
        missing = [n for n in names if n not in self.features]
        if missing:
            raise MissingFeatureError(f"{self.root} has no feature {missing}; it has {sorted(self.features)}")

    def feature_chunks(self, name: str) -> list[np.ndarray]:
        """The memory-mapped arrays of one feature, one per chunk."""
        self.require([name])
        return [c[name] for c in self._chunks]

    def gather(self, name: str, index: np.ndarray) -> np.ndarray:
        """Rows of feature ``name`` at global indices ``index`` (n,) of its level (observation
        positions, transition indices or episode indices), read from the memory maps."""
        self.require([name])
        f = self.features[name]
        offsets = self._offsets[f.level]
        index = np.asarray(index, dtype=np.int64)
        if index.size and (index.min() < 0 or index.max() >= offsets[-1]):
            raise DatasetError(f"{name}: index out of range [0, {offsets[-1]})")
        out = np.empty((len(index), *f.shape), dtype=f.dtype)
        chunk = np.searchsorted(offsets, index, side="right") - 1
        for c in np.unique(chunk):
            sel = np.flatnonzero(chunk == c)
            local = index[sel] - offsets[c]
            order = np.argsort(local, kind="stable")  # ascending reads are kinder to the page cache
            out[sel[order]] = self._chunks[c][name][local[order]]
        return out

    def episode_of(self, positions: np.ndarray) -> np.ndarray:
        """Episode index of each observation position (n,)."""
        return np.searchsorted(self.episode_start, positions, side="right") - 1

    def transition_index(self, positions: np.ndarray) -> np.ndarray:
        """Transition index (row of transition features) of the transition starting at each
        observation position: position minus the episodes before it."""
        return positions - self.episode_of(positions)

    def sample_positions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` observation positions that start a transition, uniform over all transitions."""
        if self.num_steps == 0:
            raise DatasetError(f"{self.root} holds no transition")
        t = rng.integers(0, self.num_steps, size=n)
        episode = np.searchsorted(np.cumsum(self.lengths), t, side="right")
        return t + episode  # skipping one final observation per earlier episode

    def episode(self, i: int) -> dict[str, Any]:
        """Episode ``i``: every feature (observation ones (T + 1, ...), transition ones (T, ...),
        episode ones (...)) plus ``labels``, as NumPy arrays in memory."""
        if not 0 <= i < self.num_episodes:
            raise DatasetError(f"episode {i} out of range: the dataset has {self.num_episodes}")
        out: dict[str, Any] = {}
        start, steps = int(self.episode_start[i]), int(self.lengths[i])
        t0 = start - i
        for name, f in self.features.items():
            idx = {
                "observation": np.arange(start, start + steps + 1),
                "transition": np.arange(t0, t0 + steps),
                "episode": np.array([i]),
            }[f.level]
            value = self.gather(name, idx)
            out[name] = value[0] if f.level == "episode" else value
        out["labels"] = dict(self.labels[i])
        return out

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for i in range(self.num_episodes):
            yield self.episode(i)

    def stats(self) -> dict[str, Any]:
        """``stats.json`` (computed from the data when it was written)."""
        path = self.root / STATS_FILE
        if not path.exists():
            raise DatasetError(f"{path} is missing: the writer was not closed; reopen it and close it")
        try:
            stats = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DatasetCorruptError(f"{path} is not valid JSON: {e}") from e
        if not isinstance(stats, dict) or stats.get("num_episodes") != self.num_episodes:
            raise DatasetCorruptError(
                f"{path} does not describe this data; rewrite it with `affordkit data info --recompute-stats`"
            )
        return stats


# ------------------------------------------------------------------------------------------- stats
def compute_stats(dataset: EpisodeDataset) -> dict[str, Any]:
    """Per-dimension mean, std, min and max of every numeric feature (per channel for images),
    streamed chunk by chunk; success rate (``success`` at the last step) and label counts."""
    out: dict[str, Any] = {
        "num_episodes": dataset.num_episodes,
        "num_steps": dataset.num_steps,
        "features": {},
    }
    for name, f in dataset.features.items():
        count, total, total_sq = 0, 0.0, 0.0
        low: Any = None
        high: Any = None
        blocks = (
            a[i : i + STATS_BLOCK]
            for a in dataset.feature_chunks(name)
            for i in range(0, len(a), STATS_BLOCK)
        )
        for block in blocks:  # a block at a time: float64 copies of whole image chunks would not fit
            x = np.asarray(block, dtype=np.float64)
            x = x.reshape(-1, f.shape[-1]) if f.shape else x.reshape(-1, 1)
            count += len(x)
            total = total + x.sum(0)
            total_sq = total_sq + (x * x).sum(0)
            low = x.min(0) if low is None else np.minimum(low, x.min(0))
            high = x.max(0) if high is None else np.maximum(high, x.max(0))
        mean = total / max(count, 1)
        std = np.sqrt(np.maximum(total_sq / max(count, 1) - mean * mean, 0.0))
        out["features"][name] = {
            "mean": np.round(mean, 6).tolist(),
            "std": np.round(std, 6).tolist(),
            "min": np.asarray(low).tolist(),
            "max": np.asarray(high).tolist(),
            "count": count,
        }
    if "success" in dataset.features and dataset.num_episodes:
        last = dataset.gather("success", np.cumsum(dataset.lengths) - 1)
        out["success_rate"] = float(np.mean(last.astype(bool)))
    if "reward" in dataset.features and dataset.num_episodes:
        total_reward = sum(float(np.sum(a, dtype=np.float64)) for a in dataset.feature_chunks("reward"))
        out["mean_episode_return"] = total_reward / dataset.num_episodes
    labels: dict[str, dict[str, int]] = {}
    for lab in dataset.labels:
        for k, v in lab.items():
            labels.setdefault(k, {})
            labels[k][v] = labels[k].get(v, 0) + 1
    out["labels"] = labels
    return out
