"""After the search: the study's trials → TuneResult, the best config as tiaocan + LLaMA-Factory YAML, the HTML
report, and the optional `--final` retrain of the best configuration to full length."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import TrainConfig, save_config
from .budget import Budget
from .result import TrialRecord, TuneResult
from .space import SearchSpace


def trial_record(t) -> TrialRecord:
    ua = t.user_attrs
    return TrialRecord(
        number=t.number, state=t.state.name, value=t.value, params=dict(t.params), role=ua.get("role"),
        bracket=ua.get("bracket"), rung=ua.get("rung"),
        steps=int(ua.get("steps", 0)), examples=int(ua.get("examples", max(t.intermediate_values or {0: 0}))),
        tokens=int(ua.get("tokens", 0)), wall_s=float(ua.get("wall_s", 0.0)), fail_reason=ua.get("fail_reason"),
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


def collect(study, name: str, storage: str, metric: str, direction: str, budget: Budget, space: SearchSpace,
            base: TrainConfig, full_tokens: int, spent: float, notes: list[str]) -> TuneResult:
    trials = [trial_record(t) for t in study.get_trials(deepcopy=False)]
    complete = [t for t in trials if t.state == "COMPLETE" and t.value is not None]
    best = (min if direction == "minimize" else max)(complete, key=lambda t: t.value) if complete else None
    plan = next((t for t in complete if t.role == "plan"), None)
    plan_probe = next((t for t in trials if t.role == "plan"), None)
    if plan is None and plan_probe is not None:  # the plan ran at a short rung first, then was promoted
        plan = next((t for t in complete if t.role == "promoted" and t.params == plan_probe.params), None)
    if plan is None and plan_probe is not None and plan_probe.state == "PRUNED":
        runs = [t for t in trials if t.params == plan_probe.params and t.examples]
        longest = max(runs, key=lambda t: t.examples) if runs else plan_probe
        notes.append(f"the plan's configuration did not run to the end (longest run: trial {longest.number}, "
                     f"{longest.examples} examples): at least two thirds of the configurations run as long did "
                     f"better")
    gain = None
    if best and plan and plan.value:
        sign = 1 if direction == "minimize" else -1
        gain = round(sign * (plan.value - best.value) / abs(plan.value), 5)
    best_cfg = space.apply(base, best.params) if best else None
    tokens = sum(t.tokens for t in trials)
    if not complete:
        notes.append("no trial completed: raise --budget, or read the failed trials' reasons below")
    return TuneResult(
        study_name=name, storage=storage, metric=metric, direction=direction, budget=budget.text,
        budget_spent=f"{budget.describe(spent)}", space=[p.model_dump(mode="json") for p in space.params],
        full_run_tokens=full_tokens, n_trials=len(trials), n_complete=len(complete),
        n_pruned=sum(t.state == "PRUNED" for t in trials), n_failed=sum(t.state == "FAIL" for t in trials),
        best_value=best.value if best else None, best_trial=best.number if best else None,
        best_params=best.params if best else {}, best_config=best_cfg.to_yaml_dict() if best_cfg else {},
        plan_value=plan.value if plan else None, gain_over_plan=gain, importances=importances(study),
        compute_full_runs=round(tokens / full_tokens, 3) if full_tokens else 0.0, trials=trials, notes=notes)


def write_outputs(result: TuneResult, base: TrainConfig, space: SearchSpace, study, out: Path, *, final: bool,
                  quiet: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if result.best_trial is not None:
        best = space.apply(base, result.best_params)
        result.outputs["best_config"] = str(save_config(best, out / "best_config.yaml", include_defaults=False))
        result.outputs["best_llamafactory"] = _llamafactory(best, out)
        if final:
            result.final_run = _final(best.model_copy(update={"per_device_eval_batch_size": space.micro_batch}), out, quiet)
            result.outputs["final_run"] = str(out / "final")
    from .report import write_report

    result.outputs["report"] = str(write_report(result, out / "tune_report.html"))
    (out / "tune_result.json").write_text(json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False),
                                          encoding="utf-8")
    result.outputs["result"] = str(out / "tune_result.json")


def _llamafactory(cfg: TrainConfig, out: Path) -> str:
    """The best config in LLaMA-Factory's keys (the export module when present, else TrainConfig's LF names)."""
    lf_dir = out / "llamafactory"
    try:
        from ..exporting import export_config
    except ImportError:
        export_config = None
    if export_config is not None:
        res = export_config(cfg.model_copy(update={"output_dir": "saves/tiaocan-tuned"}), "llamafactory", lf_dir)
        return res.files[0]
    import yaml

    d: dict[str, Any] = cfg.to_yaml_dict()
    for k in ("truncation", "stop_loss_band", "early_stopping_patience", "divergence_factor", "merge_adapter"):
        d.pop(k, None)
    d.setdefault("stage", "sft")
    d.setdefault("do_train", True)
    lf_dir.mkdir(parents=True, exist_ok=True)
    p = lf_dir / "llamafactory_sft.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return str(p)


def _final(best: TrainConfig, out: Path, quiet: bool) -> dict[str, Any]:
    """Retrain the best configuration to full length, with the normal eval cadence and the plot (and the trials'
    eval batch size, so its eval loss is comparable with theirs)."""
    from ..training import train

    cfg = best.model_copy(update={"output_dir": str(out / "final")})
    return train(cfg, overwrite=True, quiet=quiet).model_dump(mode="json")
