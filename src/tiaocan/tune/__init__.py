"""Budgeted, early-stopping hyperparameter search seeded by the plan: `tune(...)` returns a TuneResult."""
from .budget import Budget, parse_budget
from .objective import Objective, TrialFailed
from .result import TrialRecord, TuneResult
from .space import SearchSpace, build_space, parse_space_overrides
from .study import tune

__all__ = ["tune", "TuneResult", "TrialRecord", "Objective", "TrialFailed", "SearchSpace", "build_space",
           "parse_space_overrides", "Budget", "parse_budget"]

import sys as _sys
import types as _types


class _CallableModule(_types.ModuleType):
    """`tiaocan.tune` is both this subpackage and the public function: importing the subpackage replaces the
    attribute `tiaocan.tune`, so the module itself must be callable for `tiaocan.tune(...)` to keep working."""

    def __call__(self, *args, **kwargs):
        return tune(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
