"""affordkit: self-supervised, goal-conditioned robot learning from pixels."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("affordkit")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from affordkit import envs  # noqa: E402  (registers the environments with Gymnasium)

__all__ = ["__version__", "envs"]
