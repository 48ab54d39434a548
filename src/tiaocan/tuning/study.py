"""`tiaocan.tune(...)`: plan → search space → an Optuna study of short `train` runs → the best config.

One process is one worker (one device). More workers — other GPUs, other machines — run the same command with
the same `--storage` and `--study` and join the study; the budget is shared through the trials' recorded spend.
"""
from __future__ import annotations

import hashlib
import math
import time
import warnings
from pathlib import Path
from typing import Any, Callable

from ..config import TrainConfig, build_config, load_config
from ..errors import UserError
from .attrs import TrialAttrs
from .budget import Budget, Spend, check_budget, in_full_runs, parse_budget, study_spend
from .halving import Brackets, promote
from .objective import LOSS_METRICS, Objective, TrialFailed, metric_direction
from .pruning import EVALS_PER_RUN, check_pruner, first_rung, make_pruner
from .space import SearchSpace, build_space, capacity_may_matter, parse_space_overrides
from .storage import GRACE_S, HEARTBEAT_S, default_url, open_storage, redact

DEFAULT_VAL = 0.1


def base_config(model: str | None, data: str | None, config: Any = None, gpu: str | None = None,
                overrides: dict[str, Any] | None = None) -> tuple[TrainConfig, int | None, Any]:
    """The configuration tuning starts from: a given config, else the planner's advice (else defaults).
    Returns (config, micro batch the memory fitter allows or None, the Plan or None)."""
    plan = None
    if isinstance(config, TrainConfig):
        cfg = config.model_copy(deep=True)
    elif isinstance(config, dict):
        cfg = build_config(dict(config))
    elif config is not None:
        cfg = load_config(config)
    else:
        if not model or not data:
            raise UserError("tune needs --model and --data (or --config YAML)")
        try:
            from ..planning import make_plan
        except ImportError:
            make_plan = None
        if make_plan is not None:
            plan = make_plan(model, data, gpu=gpu)
            cfg = plan.to_train_config()
        else:
            cfg = build_config({"model_name_or_path": model, "dataset": data})
    upd = dict(overrides or {})
    if model and config is not None:
        upd["model_name_or_path"] = model
    if data and config is not None:
        upd["dataset"] = data
    if upd:
        cfg = build_config({**cfg.model_dump(exclude_none=True), **upd})
    if cfg.val_size <= 0 and not cfg.eval_dataset:
        cfg = cfg.model_copy(update={"val_size": DEFAULT_VAL})  # tuning needs held-out loss
    micro = plan.config.get("per_device_train_batch_size") if plan is not None else None
    return cfg, micro, plan


def measure_data(cfg: TrainConfig) -> tuple[int, int]:
    """(training examples, input tokens per epoch) after the split and rendering a trial will do."""
    from ..models import load_tokenizer
    from ..training.data import prepare_data

    tok = load_tokenizer(cfg.model_name_or_path, cfg.trust_remote_code)
    data = prepare_data(cfg, tok, None)
    return len(data.train), int(sum(len(x) for x in data.train["input_ids"]))


def full_run(cfg: TrainConfig, n_train: int, tokens_per_epoch: int) -> tuple[int, int]:
    """(examples, tokens) one full run of `cfg` processes."""
    if cfg.max_steps > 0:
        examples = cfg.max_steps * cfg.effective_batch()
        return examples, int(tokens_per_epoch * examples / max(1, n_train))
    return int(math.ceil(n_train * cfg.num_train_epochs)), int(tokens_per_epoch * cfg.num_train_epochs)


def spread_trials(study, space: SearchSpace, base: TrainConfig, n: int, seed: int) -> None:
    """Without budget-aware halving: the plan as trial 0, then n-1 full trials spread over the space
    (`SearchSpace.space_filling`), so the sampler starts from an even cover instead of a few random draws."""
    plan = space.params_of(base)
    study.enqueue_trial(plan, user_attrs={"role": "plan"}, skip_if_exists=True)
    for values in space.space_filling(n - 1, seed=seed, taken=plan) if n > 1 else []:
        study.enqueue_trial(values, user_attrs={"role": "spread"}, skip_if_exists=True)


def open_study(storage, name: str, space: SearchSpace, direction: str, full_tokens: int, seed: int, pruner,
               base_sig: str = "", explicit_space: bool = False):
    """Create or continue the study; refuse one that was created with a different space or metric.

    A study continued from the same base config without --space keeps its stored space, so a larger --budget
    (which would otherwise search more dimensions) extends the study instead of being refused."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # multivariate / constant_liar are "experimental"
        study = optuna.create_study(storage=storage, study_name=name, direction=direction, pruner=pruner,
                                    load_if_exists=True)
        # Seeded by the trials already there: a resumed run or a second worker must not replay the same samples.
        study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials), n_startup_trials=4,
                                                   multivariate=True, constant_liar=True,
                                                   warn_independent_sampling=False)
    have = study.user_attrs.get("tiaocan_space_signature")
    if have is None:
        study.set_user_attr("tiaocan_space", space.model_dump(mode="json"))
        study.set_user_attr("tiaocan_space_signature", space.signature())
        study.set_user_attr("tiaocan_full_run_tokens", full_tokens)
        study.set_user_attr("tiaocan_base_signature", base_sig)
    elif have != space.signature() and not explicit_space and base_sig \
            and study.user_attrs.get("tiaocan_base_signature") == base_sig:
        space = SearchSpace.model_validate(study.user_attrs["tiaocan_space"])
    elif have != space.signature():
        old = {p["name"]: p for p in study.user_attrs.get("tiaocan_space", {}).get("params", [])}
        new = {p.name: p.model_dump(mode="json") for p in space.params}
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise UserError(f"--study {name} already exists with a different search space (differs in: "
                        f"{', '.join(diff) or 'micro batch'}). Use another --study name, or the same model, data, "
                        "and --space as when it was created.")
    if study.direction.name.lower() != direction:
        raise UserError(f"--study {name} was created to {study.direction.name.lower()} its metric; "
                        f"this --metric wants to {direction}. Use another --study name.")
    return study, space


def tune(model: str | None = None, data: str | None = None, *, config: Any = None, budget: str | Budget = "5x",
         gpu: str | None = None, storage: str | None = None, study: str | None = None, metric: str = "eval_loss",
         output_dir: str | Path = "runs/tune", final: bool = False, space: dict[str, Any] | list[str] | None = None,
         overrides: dict[str, Any] | None = None, pruner: str = "sh", max_trials: int | None = None,
         tune_rank: bool | None = None, lr_range_test: bool = False, eval_data: str | None = None, seed: int = 0,
         heartbeat_s: int = HEARTBEAT_S, grace_s: int = GRACE_S, quiet: bool = False, workers: int = 1,
         on_trial: Callable[[dict[str, Any]], None] | None = None, _space: SearchSpace | None = None,
         _write: bool = True):
    """Search for a better configuration within `budget`; returns a TuneResult (see tuning/results.py).

    `workers`: processes on this machine (one per GPU) working on the study; more machines join by running the
    same call with the same `storage` and `study`."""
    from .results import collect, write_outputs

    out = Path(output_dir)
    direction = metric_direction(metric)
    bud = budget if isinstance(budget, Budget) else parse_budget(budget)
    base, micro, plan = base_config(model, data, config, gpu, overrides)
    n_train, tokens_epoch = measure_data(base)
    full_examples, full_tokens = full_run(base, n_train, tokens_epoch)
    est_seconds = plan.steps.est_seconds if plan is not None else None
    pruner = check_pruner(pruner)
    halving = pruner == "sh"
    # Halving needs at least its last rung, one full run; Optuna's pruners can stop at their first rung.
    check_budget(bud, full_tokens, 1 / EVALS_PER_RUN if pruner in ("asha", "hyperband") else 1.0,
                 tokens_per_second=full_tokens / est_seconds if est_seconds else None)
    if workers < 1:
        raise UserError(f"--workers {workers}: give at least 1")
    runs = in_full_runs(bud, Spend(), full_tokens, est_seconds)[0]  # the budget in full runs, before any trial
    notes: list[str] = []
    if tune_rank is None:
        tune_rank = capacity_may_matter(int(tokens_epoch * 0.5))
    overrides_space = parse_space_overrides(space) if isinstance(space, list) else space
    lr_upper = _lr_upper(base, out, quiet, notes) if lr_range_test and _space is None else None
    sp = _space or build_space(base, expected_trials=3 * runs if runs is not None else 20, micro_batch=micro,
                               lr_upper=lr_upper, tune_rank=tune_rank, search_epochs=not halving,
                               overrides=overrides_space)
    if halving and "num_train_epochs" not in sp.names() and "num_train_epochs" not in (overrides_space or {}) \
            and base.max_steps <= 0:
        notes.append(f"epochs stay at {base.num_train_epochs:g}: successive halving compares shorter runs, where more "
                     "epochs would just mean more data; --space num_train_epochs=1:4 searches them anyway")
    url = storage or default_url(out)
    st = open_storage(url, heartbeat_s=heartbeat_s, grace_s=grace_s)
    name = study or f"tune-{Path(str(base.model_name_or_path)).name}-{Path(str(base.dataset)).stem}"
    base_sig = hashlib.sha256(f"{base.model_dump_json()}|{micro}|{lr_upper}|{tune_rank}".encode()).hexdigest()[:16]
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our progress line replaces Optuna's per-trial log
    study_obj, sp = open_study(st, name, sp, direction, full_tokens, seed,
                               make_pruner(pruner, full_examples, base.effective_batch()),
                               base_sig, explicit_space=bool(overrides_space))
    full_tokens = int(study_obj.user_attrs.get("tiaocan_full_run_tokens", full_tokens))
    brackets = Brackets(full_examples, base.effective_batch(), full_tokens) if halving else None

    def spent(extra: tuple[float, int] = (0.0, 0), exclude: int | None = None) -> float:
        return study_spend(study_obj.get_trials(deepcopy=False), full_tokens, extra, exclude).of(bud)

    def in_runs() -> tuple[float | None, float]:
        return in_full_runs(bud, study_spend(study_obj.get_trials(deepcopy=False), full_tokens), full_tokens,
                            est_seconds)

    # Halving sizes each bracket to the budget before it starts and then finishes it: trials are only cut when the
    # estimate was far off (e.g. a time budget), not for the small overshoot of a bracket's last trial.
    slack = 1.25 if halving else 1.0

    def over_budget(number: int, seconds: float, tokens: int) -> bool:
        return spent((seconds, tokens), number) >= bud.amount * slack

    if brackets is not None and brackets.s_max == 0:
        notes.append(f"runs are too short to judge shorter runs (a full run is {full_examples} examples, "
                     f"{math.ceil(full_examples / base.effective_batch())} steps): every trial runs to the end")
    mid_run = first_rung(full_examples, base.effective_batch()) if pruner in ("asha", "hyperband") else None
    if pruner in ("asha", "hyperband") and mid_run is None:
        notes.append(f"runs are too short to prune reliably (a full run is {full_examples} examples): every trial "
                     "runs to the end")
    if not study_obj.trials:
        if brackets is not None:
            if brackets.start(study_obj, sp, base, in_runs()[0], seed) is None:
                raise UserError(f"--budget {bud.text} does not fit one full run of {full_tokens:,} tokens; raise it")
        else:
            spread_trials(study_obj, sp, base, max(1, min(4, math.ceil(runs) if runs is not None else 4)), seed)

    def place(trial):
        return brackets.place(study_obj, trial, *in_runs())

    objective = Objective(base, sp, out / "trials", full_run_examples=full_examples, metric=metric,
                          evals_per_run=EVALS_PER_RUN if mid_run else 4, eval_every_examples=mid_run,
                          prune=mid_run is not None and metric in LOSS_METRICS, over_budget=over_budget,
                          eval_data=eval_data, quiet=True, place=place if brackets is not None else None,
                          rung_fraction=brackets.rung_fraction if brackets is not None else None)
    started = time.time()
    progress = _Progress(bud, spent, quiet, on_trial)
    procs = []
    if workers > 1:
        from .workers import start_workers

        procs = start_workers(workers, tune, dict(
            config=base, budget=bud, storage=url, study=name, metric=metric, output_dir=out, pruner=pruner,
            max_trials=max_trials, eval_data=eval_data, seed=seed + 1000, heartbeat_s=heartbeat_s, grace_s=grace_s,
            quiet=True, _space=sp, _write=False))

    def stop_when_spent(st_, trial) -> None:
        if brackets is not None:
            promote(st_)  # a rung that just finished: queue its best third at the next rung
        progress(st_, trial)
        if spent() >= bud.amount * slack or (max_trials is not None and _finished(st_) >= max_trials) or \
                (brackets is not None and brackets.finished(st_, *in_runs())):
            st_.stop()

    _quiet_libraries()
    if brackets is not None:
        promote(study_obj)  # a study interrupted between a rung and its promotion
    spare = brackets is None or not brackets.finished(study_obj, *in_runs())
    if spare and spent() < bud.amount * slack and (max_trials is None or _finished(study_obj) < max_trials):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning)
            study_obj.optimize(objective, catch=(TrialFailed,), callbacks=[stop_when_spent], gc_after_trial=True)
    else:
        notes.append("the budget was already spent by earlier runs of this study: nothing new was trained"
                     if spare else "the budget left by earlier runs of this study fits no further bracket of "
                     "successive halving (one needs at least a full run): nothing new was trained")
    if procs:
        from .workers import join_workers

        notes.extend(join_workers(procs))
    result = collect(study_obj, name, redact(url), metric, direction, bud, sp, base, full_tokens, spent(), notes)
    if _write:
        write_outputs(result, base, sp, study_obj, out, final=final, quiet=quiet)
    if not quiet:
        from ..console import make_console

        make_console().print(f"[dim]tuned for {time.time() - started:.0f} s[/]")
    return result


def _lr_upper(base: TrainConfig, out: Path, quiet: bool, notes: list[str]) -> float:
    """The top of the learning-rate range from a short LR range test (tuning/lr_range.py)."""
    from .lr_range import lr_range_test

    lr_upper, blew_up = lr_range_test(base, out / "lr-range-test", quiet=quiet)
    notes.append(f"LR range test: the loss blew up at {2 * lr_upper:.3g}; the search stops at {lr_upper:.3g}"
                 if blew_up else f"LR range test: no blow-up up to {lr_upper:.3g}; the search goes up to there")
    return lr_upper


def _quiet_libraries() -> None:
    """Trials run many short trainings: per-trial progress bars from datasets/transformers would drown the
    one progress line per trial."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def _finished(study) -> int:
    from optuna.trial import TrialState

    return sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL) for t in study.get_trials(deepcopy=False))


class _Progress:
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
