"""Storage of experience: the episode-aware replay buffer (and, later, datasets on disk)."""

from affordkit.data.replay import EpisodeReplay, FieldSpec

__all__ = ["EpisodeReplay", "FieldSpec"]
