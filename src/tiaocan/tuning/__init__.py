"""Budgeted, early-stopping hyperparameter search seeded by the plan: `tune(...)` returns a TuneResult."""
from .budget import Budget, parse_budget
from .objective import Objective, TrialFailed
from .options import TuneOptions
from .results import TrialRecord, TuneResult
from .space import SearchSpace, build_space, parse_space_overrides
from .study import tune

__all__ = ["tune", "TuneOptions", "TuneResult", "TrialRecord", "Objective", "TrialFailed", "SearchSpace", "build_space",
           "parse_space_overrides", "Budget", "parse_budget"]
