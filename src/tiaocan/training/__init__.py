"""Training: `train(config)` runs one configuration and returns a `RunSummary` (see run.py)."""

from .run import train
from .summary import RunSummary

__all__ = ["train", "RunSummary"]
