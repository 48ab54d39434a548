"""Which trials stop early: budget-aware successive halving (`sh`, the default, tuning/halving.py) or one of
Optuna's pruners that judge a full-length trial part-way through its run (`asha`, `hyperband`), or none.

The mid-run pruners are kept for comparison and for users who want Optuna's own behaviour; they judge a run at a
high learning rate, before its decay, which favours configurations that make early progress (low learning rates)
over those that end best — see tuning/halving.py and bench/RESULTS.md "tune quality".

Both kinds answer the same questions (`Pruning`), so the search loop, the objective and the after-trial callback
ask them without branching on the kind.
"""
from __future__ import annotations

import math
from typing import Any, Protocol

from ..errors import UserError
from .halving import MIN_RUNG_STEPS, REDUCTION, SuccessiveHalving

EVALS_PER_RUN = REDUCTION ** 2  # mid-run pruners: evals at 1/9, 2/9, ... of a run (two rungs below the full run)
PRUNERS = ("sh", "asha", "hyperband", "none")


class Pruning(Protocol):
    """What the search asks of its pruning scheme (SuccessiveHalving or OptunaPruning)."""

    kind: str
    min_fraction: float  # the least share of a full run one trial costs: a smaller budget is refused
    slack: float  # the spend may reach budget x slack before a running trial is cut (Ledger)
    search_epochs: bool  # whether the search space varies num_train_epochs
    prunes_mid_run: bool  # whether a full-length trial may be stopped at one of its evals
    eval_every: int | None  # examples between a full-length trial's evals; None: the objective's default

    def pruner(self) -> Any: ...  # the optuna pruner the study is created with
    def notes(self) -> list[str]: ...  # said in the report: why runs are not cut as asked
    def start(self, study, space, base, budget_runs: float | None, seed: int) -> int | None: ...  # first trials
    def place(self, study, trial, budget_runs: float | None, spent_runs: float) -> dict[str, Any] | str | None: ...
    def fraction(self, trial) -> float: ...  # the share of its own full run a trial trains on
    def promote(self, study) -> int: ...  # queue what finished rungs promote; how many were queued
    def finished(self, study, budget_runs: float | None, spent_runs: float) -> bool: ...


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


def pruning_for(kind: str, full_examples: int, base_batch: int = 1) -> "SuccessiveHalving | OptunaPruning":
    """The scheme `--pruner kind` names, for runs of `full_examples` at the base effective batch."""
    kind = check_pruner(kind)
    if kind == "sh":
        return SuccessiveHalving(full_examples, base_batch)
    return OptunaPruning(kind, full_examples, base_batch)


class OptunaPruning:
    """`asha` / `hyperband`: Optuna's pruner stops a full-length trial at an eval (rungs 1/9, 1/3 of the run);
    `none`: every trial runs to the end. No brackets: the first trials are the plan and points spread over the space,
    the sampler proposes the rest, and every trial is a full run."""

    slack = 1.0
    search_epochs = True

    def __init__(self, kind: str, full_examples: int, base_batch: int = 1):
        self.kind, self.full_examples = kind, full_examples
        mid_run = kind in ("asha", "hyperband")
        # the budget must fit a trial stopped at its first rung
        self.min_fraction = 1 / EVALS_PER_RUN if mid_run else 1.0
        self.eval_every = first_rung(full_examples, base_batch) if mid_run else None  # evals land on every rung
        self.prunes_mid_run = self.eval_every is not None

    def pruner(self):
        import optuna

        first = self.eval_every
        if self.kind == "asha" and first is not None:
            return optuna.pruners.SuccessiveHalvingPruner(min_resource=first, reduction_factor=REDUCTION)
        if self.kind == "hyperband" and first is not None:
            return optuna.pruners.HyperbandPruner(min_resource=first, max_resource=self.full_examples,
                                                  reduction_factor=REDUCTION)
        return optuna.pruners.NopPruner()  # none, or runs too short to judge mid-way

    def notes(self) -> list[str]:
        if self.kind == "none" or self.prunes_mid_run:
            return []
        return [f"runs are too short to prune reliably (a full run is {self.full_examples} examples): every trial "
                "runs to the end"]

    def start(self, study, space, base, budget_runs: float | None, seed: int) -> int:
        """The plan as trial 0, then full trials spread over the space (`SearchSpace.space_filling`) — as many as
        the budget has full runs, 1 to 4 — so the sampler starts from an even cover instead of a few random draws."""
        from .attrs import TrialAttrs

        n = max(1, min(4, math.ceil(budget_runs) if budget_runs is not None else 4))
        plan = space.params_of(base)
        study.enqueue_trial(plan, user_attrs=TrialAttrs.queued(role="plan"), skip_if_exists=True)
        for values in space.space_filling(n - 1, seed=seed, taken=plan) if n > 1 else []:
            study.enqueue_trial(values, user_attrs=TrialAttrs.queued(role="spread"), skip_if_exists=True)
        return n

    def place(self, study, trial, budget_runs: float | None, spent_runs: float) -> None:
        return None  # no rungs: every trial is a full run

    def fraction(self, trial) -> float:
        return 1.0

    def promote(self, study) -> int:
        return 0  # the pruner decides during a run; nothing is re-run longer

    def finished(self, study, budget_runs: float | None, spent_runs: float) -> bool:
        return False  # the budget and --max-trials end the search
