"""Storage of experience: the episode-aware replay buffer and the episode dataset format on disk."""

from affordkit.data.dataset import (
    DatasetCorruptError,
    DatasetError,
    DatasetVersionError,
    DatasetWriter,
    EpisodeDataset,
    Feature,
    MissingFeatureError,
    compute_stats,
)
from affordkit.data.replay import EpisodeReplay, FieldSpec

__all__ = [
    "DatasetCorruptError",
    "DatasetError",
    "DatasetVersionError",
    "DatasetWriter",
    "EpisodeDataset",
    "EpisodeReplay",
    "Feature",
    "FieldSpec",
    "MissingFeatureError",
    "compute_stats",
]
