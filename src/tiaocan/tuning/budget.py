"""Budgets: wall time ("2h"), tokens ("5M-tokens", "5M tok") or a multiple of one full training run ("5x").

Spending is counted per trial (its wall seconds and tokens, written into the study as the trial runs), so a
budget is shared by every worker on a study and survives a restart: "2h" means two hours of trial compute
(GPU-hours), whether one worker spends them or four.
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from ..errors import UserError
from .attrs import TrialAttrs

_TIME = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}
_SCALE = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9}


class Budget(BaseModel):
    """A parsed budget. `amount` is seconds, tokens or full runs depending on `kind`."""

    kind: Literal["time", "tokens", "runs"]
    amount: float
    text: str

    def describe(self, spent: float) -> str:
        left = max(0.0, self.amount - spent)
        if self.kind == "time":
            return f"{_hms(left)} of {_hms(self.amount)} left"
        if self.kind == "tokens":
            return f"{left / 1e6:.2f}M of {self.amount / 1e6:.2f}M tokens left"
        return f"{left:.2f} of {self.amount:g} full runs left"


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def parse_budget(text: str | float | int) -> Budget:
    """'2h', '90m', '1h30m', '600s' | '5x' | '2M-tokens', '5M tok', '500k tokens', '3000000 tokens'."""
    raw = str(text).strip()
    t = raw.lower().replace("_", "")
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*x", t)
    if m:
        amount = float(m.group(1))
        if amount <= 0:
            raise UserError(f"--budget {raw}: the multiple of a full run must be above 0, e.g. 5x")
        return Budget(kind="runs", amount=amount, text=raw)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmbg]?)\s*[- ]?\s*(tok|toks|token|tokens)", t)
    if m:
        amount = float(m.group(1)) * _SCALE[m.group(2)]
        if amount < 1:
            raise UserError(f"--budget {raw}: the token budget must be at least 1 token")
        return Budget(kind="tokens", amount=amount, text=raw)
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(sec|min|hr|s|m|h|d)", t)
    if parts and re.fullmatch(r"(?:\s*\d+(?:\.\d+)?\s*(?:sec|min|hr|s|m|h|d))+\s*", t):
        seconds = sum(float(n) * _TIME[u] for n, u in parts)
        if seconds <= 0:
            raise UserError(f"--budget {raw}: the time budget must be above 0, e.g. 2h")
        return Budget(kind="time", amount=seconds, text=raw)
    raise UserError(f"--budget {raw}: not understood. Give wall time (2h, 90m, 1h30m), tokens (2M-tokens, "
                    "500k tokens) or a multiple of one full training run (5x).")


class Spend(BaseModel):
    """What trials have spent so far, summed over the study."""

    seconds: float = 0.0
    tokens: int = 0
    full_runs: float = 0.0  # tokens / tokens of one full run of the base config

    def of(self, budget: Budget) -> float:
        return {"time": self.seconds, "tokens": float(self.tokens), "runs": self.full_runs}[budget.kind]


def study_spend(trials, full_run_tokens: int, running_extra: tuple[float, int] = (0.0, 0),
                exclude: int | None = None) -> Spend:
    """Sum the per-trial costs recorded in user attrs (`wall_s`, `tokens`); running trials count what they
    reported so far. `running_extra` is this process's current trial (number `exclude`), counted live instead."""
    trials = [t for t in trials if t.number != exclude]
    spends = [TrialAttrs.of(t) for t in trials]
    seconds = sum(a.wall_s for a in spends) + running_extra[0]
    tokens = sum(a.tokens for a in spends) + running_extra[1]
    return Spend(seconds=seconds, tokens=tokens, full_runs=tokens / full_run_tokens if full_run_tokens else 0.0)


def min_trial_cost(budget: Budget, full_run_tokens: int, min_fraction: float) -> float | None:
    """The least one trial can spend (its first pruning rung) in the budget's unit; None for time budgets
    before anything was measured (the first trial measures throughput)."""
    if budget.kind == "tokens":
        return full_run_tokens * min_fraction
    if budget.kind == "runs":
        return min_fraction
    return None


def check_budget(budget: Budget, full_run_tokens: int, min_fraction: float, tokens_per_second: float | None = None) -> None:
    """Refuse a budget smaller than one trial's minimum, with the numbers."""
    need = min_trial_cost(budget, full_run_tokens, min_fraction)
    if need is None and tokens_per_second:
        need = full_run_tokens * min_fraction / tokens_per_second
    if need is not None and budget.amount < need:
        unit = {"time": lambda v: _hms(v), "tokens": lambda v: f"{v / 1e6:.3g}M tokens",
                "runs": lambda v: f"{v:.3g}x"}[budget.kind]
        what = "one full run, the last rung of successive halving" if min_fraction >= 1 else \
            f"the first pruning rung, {min_fraction:.0%} of one full run"
        raise UserError(f"--budget {budget.text} is smaller than one trial's minimum ({unit(need)}: {what} of "
                        f"{full_run_tokens:,} tokens). Raise --budget to at least {unit(need * 3)} to compare a few "
                        "configurations, or shorten the runs (num_train_epochs, max_samples).")


def in_full_runs(budget: Budget, spend: Spend, full_run_tokens: int,
                 seconds_per_run: float | None) -> tuple[float | None, float]:
    """(the budget, what was spent) in full-run equivalents, the unit brackets are sized in. A time budget
    converts at the measured seconds per full run once trials have run (else `seconds_per_run`, the plan's
    estimate); None when neither is known."""
    if budget.kind == "runs":
        return budget.amount, spend.full_runs
    if budget.kind == "tokens":
        return budget.amount / max(1, full_run_tokens), spend.full_runs
    per_run = spend.seconds / spend.full_runs if spend.full_runs > 0.05 else seconds_per_run
    if not per_run:
        return None, spend.full_runs
    return budget.amount / per_run, spend.seconds / per_run


class Ledger:
    """A study's spend against its budget, read afresh from the storage at each question (other workers spend too).

    `slack`: successive halving sizes each bracket to the budget before it starts and then finishes it, so a running
    trial is only cut when the estimate was far off (e.g. a time budget), not for a bracket's last small overshoot."""

    def __init__(self, study, budget: Budget, full_run_tokens: int, seconds_per_run: float | None, slack: float = 1.0):
        self.study, self.budget, self.full_run_tokens = study, budget, full_run_tokens
        self.seconds_per_run, self.slack = seconds_per_run, slack

    def spend(self, extra: tuple[float, int] = (0.0, 0), exclude: int | None = None) -> Spend:
        return study_spend(self.study.get_trials(deepcopy=False), self.full_run_tokens, extra, exclude)

    def spent(self) -> float:
        """What all trials spent so far, in the budget's unit."""
        return self.spend().of(self.budget)

    def in_runs(self) -> tuple[float | None, float]:
        """(budget, spent) in full runs: what brackets are sized in."""
        return in_full_runs(self.budget, self.spend(), self.full_run_tokens, self.seconds_per_run)

    def exhausted(self) -> bool:
        return self.spent() >= self.budget.amount * self.slack

    def over_budget(self, number: int, seconds: float, tokens: int) -> bool:
        """Asked by the running trial `number` at each eval, counting its live spend instead of its last record."""
        return self.spend((seconds, tokens), number).of(self.budget) >= self.budget.amount * self.slack

