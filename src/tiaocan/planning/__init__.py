"""Plan a fine-tuning run: memory model, GPU fit and the rule-based advisor (see advisor.make_plan)."""
from __future__ import annotations

from .advisor import make_plan
from .facts import DataFacts
from .hardware import GPU, parse_gpu
from .memory import MemoryEstimate, MemoryInputs, estimate_memory
from .result import Plan, Rec
from .shapes import ModelShape, load_shape, shape_from_config

__all__ = ["make_plan", "DataFacts", "GPU", "parse_gpu", "MemoryEstimate", "MemoryInputs", "estimate_memory",
           "Plan", "Rec", "ModelShape", "load_shape", "shape_from_config"]
