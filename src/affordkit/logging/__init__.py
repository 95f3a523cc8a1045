"""Run folders and the shared logger (CSV + TensorBoard + media), and image grids."""

from affordkit.logging.images import image_grid, save_png, save_sheet
from affordkit.logging.run import RunLogger, make_run_dir, run_metadata

__all__ = ["RunLogger", "image_grid", "make_run_dir", "run_metadata", "save_png", "save_sheet"]
