"""diagnose: read runs, compute signals once, run every registered finding, merge their changes."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .findings import run_checks
from .readers import read_run
from .signals import compute
from .suggest import suggest_config
from .types import Curves, Diagnosis, RunDiagnosis


def diagnose_curves(curves: Curves, band: tuple[float, float] | None = None, check_data: bool = True,
                    only: list[str] | None = None) -> RunDiagnosis:
    sig = compute(curves, band)
    sig.check_data = check_data
    findings = run_checks(sig, only) if sig.n or sig.nonfinite_steps else []
    cfg, changes = suggest_config(curves.config, findings)
    ev = curves.arr("eval_loss")
    notes = list(curves.notes) + sig.notes
    if curves.finished is False:
        notes.append("the run has not finished (still running or stopped early): end-of-run checks "
                     "(underfitting, schedule) were skipped")
    if not curves.has_eval:
        notes.append("no eval loss logged: overfitting can only be judged from the train loss "
                     "(set val_size or eval_dataset to log one)")
    return RunDiagnosis(
        name=curves.name, path=curves.path, source=curves.source,
        healthy=not any(f.severity in ("critical", "warning") for f in findings),
        finished=curves.finished, last_step=max(curves.steps + curves.eval_steps) if curves.steps or curves.eval_steps else None,
        final_loss=sig.end if sig.n and math.isfinite(sig.end) else None,
        best_eval_loss=float(np.nanmin(ev)) if curves.has_eval else None, band=sig.band,
        findings=findings, suggested_config=cfg, changes=changes, notes=notes)


def diagnose(runs: str | Path | list[str | Path], band: tuple[float, float] | None = None,
             check_data: bool = True) -> Diagnosis:
    """Read each run (tiaocan / LLaMA-Factory / HF output dir or log file) and say what is wrong and what to change."""
    paths = [runs] if isinstance(runs, (str, Path)) else list(runs)
    from ..errors import UserError

    if not paths:
        raise UserError("give at least one run directory or log file")
    from .readers import read_some

    curves, skipped = read_some(paths)
    return Diagnosis(runs=[diagnose_curves(c, band, check_data) for c in curves], skipped=skipped)
