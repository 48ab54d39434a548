"""Successive halving for small budgets: rungs chosen from the run's length, a space-filling first wave of cheap
probes, and the promotion of the wave's best third.

Why a wave: Optuna's ASHA cannot pause a trial, so when trials run one after another it promotes each of the
first η-1 trials at every rung (nobody to compare with yet) and trial 0 always runs to the end. At a budget of
~3 full runs that spends a third of the budget before successive halving can act. Hyperband's most aggressive
bracket instead starts η^s configurations at 1/η^s of a run and keeps the best 1/η at each rung (Li et al. 2018;
ASHA, Li et al. 2020). Here the first wave is that bracket's bottom rung: every probe stops at the first rung;
then the best third is re-queued (same parameters, same seed — they retrain from the start, since Optuna cannot
resume a trial) and ASHA judges them and every later trial at the higher rungs.
"""
from __future__ import annotations

import math
from typing import Any

import optuna

from ..errors import UserError

REDUCTION = 3  # successive halving keeps the best third at each rung (η = 3, Hyperband's default)
EVALS_PER_RUN = REDUCTION ** 2  # with two rungs below the full run: evals at 1/9, 2/9, ... of a run
MIN_RUNG_STEPS = 3  # an eval loss after fewer optimizer steps mostly measures the warmup, not the config
RUNG0_KEY = "completed_rung_0"  # where Optuna's SuccessiveHalvingPruner records a trial's first-rung value


def first_rung(full_examples: int, base_batch: int) -> int | None:
    """Examples seen at the first pruning rung: 1/9 of a full run but at least MIN_RUNG_STEPS optimizer steps of
    the base batch, rounded up to whole steps (so evals land on it); None when runs are too short to prune
    reliably (the first rung would come after a third of the run)."""
    eb = max(1, base_batch)
    first = max(1, full_examples // EVALS_PER_RUN, MIN_RUNG_STEPS * eb)
    first = math.ceil(first / eb) * eb
    return first if first * REDUCTION <= full_examples else None


def rungs_below_full(full_examples: int, first: int | None) -> int:
    """How many rungs (first, first·η, ...) come before the end of a full run: s in Hyperband's notation."""
    if not first:
        return 0
    s, at = 0, first
    while at < full_examples:
        s, at = s + 1, at * REDUCTION
    return s


def wave_size(budget_runs: float | None, rungs: int) -> int:
    """Probes in the first wave (the plan included): one Hyperband bracket, η^s configs, which costs about s+1
    full runs; a smaller budget gets a proportionally smaller wave (never under η: the best third must exist)."""
    if rungs <= 0:
        return 0
    full = REDUCTION ** rungs
    share = 1.0 if budget_runs is None else min(1.0, budget_runs / (rungs + 1))
    return max(REDUCTION, int(round(full * share)))


class WavePruner(optuna.pruners.SuccessiveHalvingPruner):
    """ASHA, except for the wave: probes (user attr `probe`) always stop at the first rung once their value there
    is recorded — they only rank configurations for the promotion that follows; promoted re-runs pass the first
    rung (they already won it: ranked again against the re-runs' duplicate values, the last of them would lose)."""

    def prune(self, study, trial) -> bool:
        at_first_rung = RUNG0_KEY not in trial.system_attrs
        decision = super().prune(study, trial)  # records the rung value(s) the trial has reached
        if trial.user_attrs.get("probe") and RUNG0_KEY in study._storage.get_trial_system_attrs(trial._trial_id):
            return True
        if trial.user_attrs.get("role") == "promoted" and at_first_rung:
            return False
        return decision


def make_pruner(kind: str, full_examples: int, base_batch: int = 1):
    first = first_rung(full_examples, base_batch)
    if first is None:
        kind = "none"
    if kind in ("asha", "successive_halving", "sha"):
        return WavePruner(min_resource=first, reduction_factor=REDUCTION)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=first, max_resource=full_examples,
                                              reduction_factor=REDUCTION)
    if kind in ("none", "off"):
        return optuna.pruners.NopPruner()
    raise UserError(f"--pruner {kind}: choose asha, hyperband or none")


def promotions(trials, reduction: int = REDUCTION) -> list[tuple[int, dict[str, Any]]]:
    """(probe number, params) of the wave's best third by first-rung loss, best first — once every probe has
    finished and none was promoted yet; else []. Probes that failed (NaN at a high learning rate) are out."""
    from optuna.trial import TrialState

    probes = [t for t in trials if t.user_attrs.get("probe")]
    if not probes or any(t.state in (TrialState.WAITING, TrialState.RUNNING) for t in probes):
        return []
    if any(t.user_attrs.get("role") == "promoted" for t in trials):
        return []
    ranked = sorted((t for t in probes if RUNG0_KEY in t.system_attrs and math.isfinite(t.system_attrs[RUNG0_KEY])),
                    key=lambda t: t.system_attrs[RUNG0_KEY])
    keep = math.ceil(len(probes) / reduction)
    return [(t.number, dict(t.params)) for t in ranked[:keep]]


def promote(study) -> int:
    """Re-queue the wave's best third (see `promotions`); returns how many were queued. Several workers may call
    this: the study attr makes the second caller a no-op (a rare race re-queues twice, which only costs time)."""
    if study.user_attrs.get("tiaocan_promoted"):
        return 0
    todo = promotions(study.get_trials(deepcopy=False))
    if not todo:
        return 0
    study.set_user_attr("tiaocan_promoted", True)
    for number, params in todo:
        study.enqueue_trial(params, user_attrs={"role": "promoted", "promoted_from": number})
    return len(todo)
