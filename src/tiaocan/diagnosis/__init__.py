"""Diagnose training runs from their logs: readers -> Curves, findings registry, suggested next config, report."""

from .core import diagnose, diagnose_curves
from .readers import read_run, read_runs
from .types import Change, Curves, Diagnosis, Finding, RunDiagnosis

__all__ = ["diagnose", "diagnose_curves", "read_run", "read_runs", "Curves", "Diagnosis", "RunDiagnosis",
           "Finding", "Change"]
