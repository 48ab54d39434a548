"""What runs after each trial (an Optuna callback): queue a finished rung's best third, print one progress line,
stop the study when the budget, the trial cap or the brackets say so."""
from __future__ import annotations

from typing import Callable

from .attrs import TrialAttrs
from .budget import Budget, Ledger
from .pruning import Pruning


class AfterTrial:
    """Optuna callback after each trial: queue a finished rung's best third, print progress, stop when spent."""

    def __init__(self, ledger: Ledger, pruning: Pruning, max_trials: int | None, progress: "Progress"):
        self.ledger, self.pruning, self.max_trials, self.progress = ledger, pruning, max_trials, progress

    def __call__(self, study, trial) -> None:
        self.pruning.promote(study)  # a rung that just finished: queue its best third at the next rung
        self.progress(study, trial)
        if self.ledger.exhausted() or (self.max_trials is not None and finished_trials(study) >= self.max_trials) or \
                self.pruning.finished(study, *self.ledger.in_runs()):
            study.stop()


def finished_trials(study) -> int:
    from optuna.trial import TrialState

    return sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL) for t in study.get_trials(deepcopy=False))


class Progress:
    """One line per finished trial: done / pruned / failed / running, best so far, budget left."""

    def __init__(self, budget: Budget, spent: Callable[[], float], quiet: bool, hook):
        from ..console import make_console

        self.budget, self.spent, self.quiet, self.hook = budget, spent, quiet, hook
        self.console = make_console()

    def __call__(self, study, trial) -> None:
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False)
        count = {s: sum(t.state == s for t in trials) for s in TrialState}
        try:
            best = f"{study.best_value:.4f} (trial {study.best_trial.number})"
        except ValueError:
            best = "-"
        a = TrialAttrs.of(trial)
        value = f"{trial.value:.4f}" if trial.value is not None else (
            (a.fail_reason or "")[:60] or f"at {a.examples or 0} examples")
        info = dict(trial=trial.number, state=trial.state.name, value=trial.value, done=count[TrialState.COMPLETE],
                    pruned=count[TrialState.PRUNED], failed=count[TrialState.FAIL], running=count[TrialState.RUNNING],
                    best=best, budget_left=self.budget.describe(self.spent()))
        if self.hook:
            self.hook(info)
        if not self.quiet:
            colour = {"COMPLETE": "green", "PRUNED": "yellow", "FAIL": "red"}.get(trial.state.name, "white")
            rung = f"rung {a.rung}/{a.rungs} " if a.rung is not None else ""
            self.console.print(
                f"trial {trial.number:>3} {rung}[{colour}]{trial.state.name.lower():<8}[/] {value:<14} | "
                f"done {info['done']} pruned {info['pruned']} failed {info['failed']} running {info['running']} | "
                f"best {best} | {info['budget_left']}")
