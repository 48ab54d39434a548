"""Diagnose training runs from their logs: readers -> Curves, findings registry, suggested next config, report."""
import sys
import types as _pytypes  # aliased: the submodule .types would shadow the name

from .core import diagnose, diagnose_curves
from .readers import read_run, read_runs
from .types import Change, Curves, Diagnosis, Finding, RunDiagnosis

__all__ = ["diagnose", "diagnose_curves", "read_run", "read_runs", "Curves", "Diagnosis", "RunDiagnosis",
           "Finding", "Change"]


class _CallableModule(_pytypes.ModuleType):
    """`tiaocan.diagnose` is both this subpackage and the public function: importing the subpackage replaces
    the attribute `tiaocan.diagnose`, so the module itself must be callable for `tiaocan.diagnose(run)` to work."""

    def __call__(self, *args, **kwargs):
        return diagnose(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
