"""Training: `train(config)` runs one configuration and returns a `RunSummary` (see run.py)."""
import sys
import types

from .run import train
from .summary import RunSummary

__all__ = ["train", "RunSummary"]


class _CallableModule(types.ModuleType):
    """`tiaocan.train` is both this subpackage and the public function: importing the subpackage replaces
    the attribute `tiaocan.train`, so the module itself must be callable for `tiaocan.train(cfg)` to keep working."""

    def __call__(self, *args, **kwargs):
        return train(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
