"""Which trials stop early: budget-aware successive halving (`sh`, the default, tuning/halving.py) or one of
Optuna's pruners that judge a full-length trial part-way through its run (`asha`, `hyperband`), or none.

The mid-run pruners are kept for comparison and for users who want Optuna's own behaviour; they judge a run at a
high learning rate, before its decay, which favours configurations that make early progress (low learning rates)
over those that end best — see tuning/halving.py and bench/RESULTS.md "tune quality".
"""
from __future__ import annotations

import math

import optuna

from ..errors import UserError
from .halving import MIN_RUNG_STEPS, REDUCTION

EVALS_PER_RUN = REDUCTION ** 2  # mid-run pruners: evals at 1/9, 2/9, ... of a run (two rungs below the full run)
PRUNERS = ("sh", "asha", "hyperband", "none")


def first_rung(full_examples: int, base_batch: int) -> int | None:
    """Mid-run pruners' first rung, in examples seen: 1/9 of a full run but at least MIN_RUNG_STEPS optimizer
    steps of the base batch, rounded up to whole steps (so evals land on it); None when runs are too short to
    prune reliably (the first rung would come after a third of the run)."""
    eb = max(1, base_batch)
    first = max(1, full_examples // EVALS_PER_RUN, MIN_RUNG_STEPS * eb)
    first = math.ceil(first / eb) * eb
    return first if first * REDUCTION <= full_examples else None


def check_pruner(kind: str) -> str:
    kind = {"successive_halving": "sh", "halving": "sh", "off": "none"}.get(kind, kind)
    if kind not in PRUNERS:
        raise UserError(f"--pruner {kind}: choose sh (budget-aware successive halving), asha, hyperband or none")
    return kind


def make_pruner(kind: str, full_examples: int, base_batch: int = 1):
    """The Optuna pruner for `kind`: budget-aware halving decides rung lengths before a trial starts, so it (and
    runs too short to judge mid-way) prune nothing during a run."""
    kind = check_pruner(kind)
    first = first_rung(full_examples, base_batch)
    if kind == "asha" and first is not None:
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=first, reduction_factor=REDUCTION)
    if kind == "hyperband" and first is not None:
        return optuna.pruners.HyperbandPruner(min_resource=first, max_resource=full_examples,
                                              reduction_factor=REDUCTION)
    return optuna.pruners.NopPruner()
