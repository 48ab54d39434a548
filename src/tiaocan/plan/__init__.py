"""Plan a fine-tuning run: memory model, GPU fit and the rule-based advisor (see advisor.make_plan)."""
from __future__ import annotations

import sys
import types

from .advisor import make_plan
from .facts import DataFacts
from .hardware import GPU, parse_gpu
from .memory import MemoryEstimate, MemoryInputs, estimate_memory
from .result import Plan, Rec
from .shapes import ModelShape, load_shape, shape_from_config

__all__ = ["make_plan", "DataFacts", "GPU", "parse_gpu", "MemoryEstimate", "MemoryInputs", "estimate_memory",
           "Plan", "Rec", "ModelShape", "load_shape", "shape_from_config"]


class _CallableModule(types.ModuleType):
    """`tiaocan.plan` is both this subpackage and the public function (importing the subpackage replaces the
    attribute on `tiaocan`), so the module itself is callable: `tiaocan.plan(model, data, gpu=...)`."""

    def __call__(self, *args, **kwargs):
        return make_plan(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
