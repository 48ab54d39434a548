"""After the search: TuneResult (what `tiaocan tune` found, the JSON `--json` writes), built from the study's trials.
The files written from it are tuning/outputs.py's."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .attrs import TrialAttrs
from .search import Search
from .space import SearchSpace


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
    gain_over_plan: float | None = Field(None, description="Relative improvement of best over plan (0.05 = 5 % better), "
                                         "both full runs.")
    plan_outcome: str | None = Field(None, description="What became of the plan's configuration: ran to the end, "
                                     "stopped at a rung (and how it compared there), or failed.")
    plan_compared_at: dict[str, Any] | None = Field(None, description="When halving stopped the plan: its rung "
                                                    "(bracket, rung, examples), its trial and value, the compared "
                                                    "trial and value, and the relative gain at that rung.")
    importances: dict[str, float] = Field(default_factory=dict, description="Optuna's parameter importances (fANOVA).")
    compute_full_runs: float = Field(0.0, description="Tokens spent / tokens of one full base run.")
    trials: list[TrialRecord] = Field(default_factory=list)
    outputs: dict[str, str] = Field(default_factory=dict, description="Written files: best YAMLs, report, final run.")
    final_run: dict[str, Any] | None = Field(None, description="RunSummary of the --final retrain.")
    notes: list[str] = Field(default_factory=list)


def trial_record(t) -> TrialRecord:
    a = TrialAttrs.of(t)
    return TrialRecord(
        number=t.number, state=t.state.name, value=t.value, params=dict(t.params), role=a.role,
        bracket=a.bracket, rung=a.rung, steps=a.steps,
        examples=a.examples if a.examples is not None else max(t.intermediate_values or {0: 0}),
        tokens=a.tokens, wall_s=a.wall_s, fail_reason=a.fail_reason,
        retry_of=t.system_attrs.get("failed_trial"), curve=sorted((int(k), float(v)) for k, v in t.intermediate_values.items()))


def importances(study) -> dict[str, float]:
    """Optuna's fANOVA importances; empty when too few completed trials or a single searched parameter."""
    import optuna
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if len(done) < 3 or len({k for t in done for k in t.params}) < 2:
        return {}
    try:
        imp = optuna.importance.get_param_importances(study)
    except Exception:  # noqa: BLE001 — importances are a nicety; a degenerate study must not fail the tune
        return {}
    return {k: round(float(v), 4) for k, v in imp.items()}


def collect(study, search: Search, space: SearchSpace, spent: float, notes: list[str]) -> TuneResult:
    """The result of the search so far, from the study's trials (every worker's); `spent`: in the budget's unit."""
    from .storage import redact

    metric, direction, budget, full_tokens = search.opts.metric, search.direction, search.budget, search.full_tokens
    trials = [trial_record(t) for t in study.get_trials(deepcopy=False)]
    complete = [t for t in trials if t.state == "COMPLETE" and t.value is not None]
    best = (min if direction == "minimize" else max)(complete, key=lambda t: t.value) if complete else None
    plan = next((t for t in complete if t.role == "plan"), None)
    plan_probe = next((t for t in trials if t.role == "plan"), None)
    if plan is None and plan_probe is not None:  # the plan ran at a short rung first, then was promoted
        plan = next((t for t in complete if t.role == "promoted" and t.params == plan_probe.params), None)
    gain = None
    if best and plan and plan.value:
        sign = 1 if direction == "minimize" else -1
        gain = round(sign * (plan.value - best.value) / abs(plan.value), 5)
    outcome, at_rung = plan_outcome(trials, plan_probe, plan, best, metric, direction)
    if outcome and plan is None:
        notes.append(outcome)
    best_cfg = space.apply(search.base, best.params) if best else None
    tokens = sum(t.tokens for t in trials)
    if not complete:
        notes.append("no trial completed: raise --budget, or read the failed trials' reasons below")
    return TuneResult(
        study_name=search.name, storage=redact(search.url), metric=metric, direction=direction, budget=budget.text,
        budget_spent=f"{budget.describe(spent)}", space=[p.model_dump(mode="json") for p in space.params],
        full_run_tokens=full_tokens, n_trials=len(trials), n_complete=len(complete),
        n_pruned=sum(t.state == "PRUNED" for t in trials), n_failed=sum(t.state == "FAIL" for t in trials),
        best_value=best.value if best else None, best_trial=best.number if best else None,
        best_params=best.params if best else {}, best_config=best_cfg.to_yaml_dict() if best_cfg else {},
        plan_value=plan.value if plan else None, gain_over_plan=gain, plan_outcome=outcome,
        plan_compared_at=at_rung, importances=importances(study),
        compute_full_runs=round(tokens / full_tokens, 3) if full_tokens else 0.0, trials=trials, notes=notes)


def plan_outcome(trials: list[TrialRecord], probe: TrialRecord | None, plan: TrialRecord | None,
                 best: TrialRecord | None, metric: str, direction: str) -> tuple[str | None, dict | None]:
    """What became of the plan's configuration, in words, and — when successive halving stopped it — how it
    compared with the best configuration at the rung where they were compared (same bracket, same run length)."""
    if probe is None:
        return None, None
    if plan is not None:
        return f"ran to the end (trial {plan.number}): {metric} {plan.value:.4g}", None
    runs = [t for t in trials if t.params == probe.params and t.state in ("PRUNED", "COMPLETE", "FAIL")]
    last = max(runs, key=lambda t: (t.examples, t.number)) if runs else probe
    if last.state == "FAIL":
        return f"failed (trial {last.number}): {last.fail_reason or 'no reason recorded'}", None
    if last.value is None:
        return f"not finished yet (trial {last.number}, {last.state.lower()})", None
    where = (f"rung {last.rung + 1} of bracket {last.bracket}" if last.rung is not None and last.bracket is not None
             else "a pruner's check")
    text = (f"stopped at {where} (trial {last.number}, {last.examples} examples): {metric} {last.value:.4g}"
            + ("; it was not in the best third of the configurations run as long" if last.rung is not None else ""))
    peers = [t for t in trials if t.value is not None and t.number != last.number and t.bracket == last.bracket
             and t.rung == last.rung and last.rung is not None]
    sign = 1 if direction == "minimize" else -1
    # the best configuration's own run at that rung, else the rung's winner
    ref = next((t for t in peers if best is not None and t.params == best.params), None)
    ref = ref or (min(peers, key=lambda t: sign * t.value) if peers else None)
    if ref is None or not last.value:
        return text, None
    gain = round(sign * (last.value - ref.value) / abs(last.value), 5)
    who = "the best configuration" if best is not None and ref.params == best.params else "the rung's best"
    text += f"; {who} (trial {ref.number}) reached {ref.value:.4g} there, {100 * gain:+.1f} % vs the plan"
    return text, {"bracket": last.bracket, "rung": last.rung, "examples": last.examples, "plan_trial": last.number,
                  "plan_value": last.value, "trial": ref.number, "value": ref.value, "gain": gain}
