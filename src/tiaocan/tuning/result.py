"""TuneResult: what `tiaocan tune` found, serialised to the JSON `--json` writes."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class TrialRecord(BaseModel):
    number: int
    state: str  # COMPLETE | PRUNED | FAIL | RUNNING | WAITING
    value: float | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    role: str | None = Field(None, description="'plan': the base configuration (trial 0); 'probe': a point spread "
                             "over the space in the first bracket; 'promoted': a longer re-run of a rung's best "
                             "third; 'spread': spread start points without successive halving; None: proposed by TPE.")
    bracket: int | None = Field(None, description="Successive-halving bracket (0 = the first).")
    rung: int | None = Field(None, description="Rung in its bracket: 0 = the shortest runs; the last = full runs.")
    steps: int = 0
    examples: int = Field(0, description="Training examples processed before the trial ended (a rung trial's length, "
                                         "or where a pruner stopped it).")
    tokens: int = 0
    wall_s: float = 0.0
    fail_reason: str | None = None
    retry_of: int | None = Field(None, description="The trial this one retries after its worker died.")
    curve: list[tuple[int, float]] = Field(default_factory=list, description="(examples seen, eval loss) reports.")


class TuneResult(BaseModel):
    study_name: str
    storage: str = Field(description="Storage URL, password hidden.")
    metric: str
    direction: str
    budget: str
    budget_spent: str
    space: list[dict[str, Any]]
    full_run_tokens: int
    n_trials: int
    n_complete: int
    n_pruned: int
    n_failed: int
    best_value: float | None = None
    best_trial: int | None = None
    best_params: dict[str, Any] = Field(default_factory=dict)
    best_config: dict[str, Any] = Field(default_factory=dict, description="The best trial's TrainConfig (non-default keys).")
    plan_value: float | None = Field(None, description="The metric of the base (plan) configuration, trial 0.")
    gain_over_plan: float | None = Field(None, description="Relative improvement of best over plan (0.05 = 5 % better).")
    importances: dict[str, float] = Field(default_factory=dict, description="Optuna's parameter importances (fANOVA).")
    compute_full_runs: float = Field(0.0, description="Tokens spent / tokens of one full base run.")
    trials: list[TrialRecord] = Field(default_factory=list)
    outputs: dict[str, str] = Field(default_factory=dict, description="Written files: best YAMLs, report, final run.")
    final_run: dict[str, Any] | None = Field(None, description="RunSummary of the --final retrain.")
    notes: list[str] = Field(default_factory=list)
