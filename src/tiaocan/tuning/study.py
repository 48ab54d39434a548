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
from .budget import Budget, Ledger, Spend, check_budget, in_full_runs, parse_budget
from .halving import Brackets, promote
from .objective import LOSS_METRICS, Objective, TrialFailed, metric_direction
from .progress import AfterTrial, Progress, finished_trials
from .pruning import EVALS_PER_RUN, check_pruner, first_rung, make_pruner
from .space import SearchSpace, build_space, capacity_may_matter, parse_space_overrides
from .options import TuneOptions
from .results import TuneResult
from .storage import default_url, open_storage, redact

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
        from ..planning import make_plan

        cfg = make_plan(model, data, gpu=gpu).to_train_config()
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


def tune(model: str | None = None, data: str | None = None, *, config: Any = None,
         options: TuneOptions | None = None, on_trial: Callable[[dict[str, Any]], None] | None = None,
         **changes: Any) -> TuneResult:
    """Search for a better configuration within the budget; returns a TuneResult (see tuning/results.py).

    `options` (TuneOptions) and/or its fields as keywords (`budget="5x"`, `workers=2`, ...). `workers`: processes on
    this machine (one per GPU) working on the study; more machines join by running the same call with the same
    `storage` and `study`."""
    opts = TuneOptions.build(options, **changes)
    metric_direction(opts.metric)  # flag errors first, before the plan reads the data
    if not isinstance(opts.budget, Budget):
        opts = opts.model_copy(update={"budget": parse_budget(opts.budget)})
    base, micro, plan = base_config(model, data, config, opts.gpu, opts.overrides)
    return _search(base, opts, micro=micro, est_seconds=plan.steps.est_seconds if plan is not None else None,
                   on_trial=on_trial)


def worker(base: TrainConfig, opts: TuneOptions, space: SearchSpace) -> None:
    """A worker process's whole job (workers.py starts it): the same search on the same study, no outputs.
    It is one worker: it never starts workers of its own."""
    _search(base, opts.model_copy(update={"workers": 1}), space=space, write=False)


def _search(base: TrainConfig, opts: TuneOptions, *, micro: int | None = None, est_seconds: float | None = None,
            space: SearchSpace | None = None, write: bool = True, on_trial=None) -> TuneResult:
    """plan (done by the caller) → measure → space → study → optimise → collect, in that order."""
    from .results import collect, write_outputs

    # ---- what one full run of the base config costs, and the budget in those units
    out, metric = Path(opts.output_dir), opts.metric
    direction = metric_direction(metric)
    bud = opts.budget if isinstance(opts.budget, Budget) else parse_budget(opts.budget)
    n_train, tokens_epoch = measure_data(base)
    full_examples, full_tokens = full_run(base, n_train, tokens_epoch)
    pruner = check_pruner(opts.pruner)
    halving = pruner == "sh"
    # Halving needs at least its last rung, one full run; Optuna's pruners can stop at their first rung.
    check_budget(bud, full_tokens, 1 / EVALS_PER_RUN if pruner in ("asha", "hyperband") else 1.0,
                 tokens_per_second=full_tokens / est_seconds if est_seconds else None)
    if opts.workers < 1:
        raise UserError(f"--workers {opts.workers}: give at least 1")
    runs = in_full_runs(bud, Spend(), full_tokens, est_seconds)[0]  # the budget in full runs, before any trial
    notes: list[str] = []

    # ---- the search space around the base config
    tune_rank = capacity_may_matter(int(tokens_epoch * 0.5)) if opts.tune_rank is None else opts.tune_rank
    overrides_space = parse_space_overrides(opts.space) if isinstance(opts.space, list) else opts.space
    lr_upper = _lr_upper(base, out, opts.quiet, notes) if opts.lr_range_test and space is None else None
    sp = space or build_space(base, expected_trials=3 * runs if runs is not None else 20, micro_batch=micro,
                              lr_upper=lr_upper, tune_rank=tune_rank, search_epochs=not halving,
                              overrides=overrides_space)
    if halving and "num_train_epochs" not in sp.names() and "num_train_epochs" not in (overrides_space or {}) \
            and base.max_steps <= 0:
        notes.append(f"epochs stay at {base.num_train_epochs:g}: successive halving compares shorter runs, where more "
                     "epochs would just mean more data; --space num_train_epochs=1:4 searches them anyway")

    # ---- the study (created, or continued when it exists)
    url = opts.storage or default_url(out)
    st = open_storage(url, heartbeat_s=opts.heartbeat_s, grace_s=opts.grace_s)
    name = opts.study or f"tune-{Path(str(base.model_name_or_path)).name}-{Path(str(base.dataset)).stem}"
    base_sig = hashlib.sha256(f"{base.model_dump_json()}|{micro}|{lr_upper}|{tune_rank}".encode()).hexdigest()[:16]
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our progress line replaces Optuna's per-trial log
    study_obj, sp = open_study(st, name, sp, direction, full_tokens, opts.seed,
                               make_pruner(pruner, full_examples, base.effective_batch()),
                               base_sig, explicit_space=bool(overrides_space))
    full_tokens = int(study_obj.user_attrs.get("tiaocan_full_run_tokens", full_tokens))
    ledger = Ledger(study_obj, bud, full_tokens, est_seconds, slack=1.25 if halving else 1.0)
    brackets = Brackets(full_examples, base.effective_batch(), full_tokens) if halving else None
    if brackets is not None and brackets.s_max == 0:
        notes.append(f"runs are too short to judge shorter runs (a full run is {full_examples} examples, "
                     f"{math.ceil(full_examples / base.effective_batch())} steps): every trial runs to the end")
    mid_run = first_rung(full_examples, base.effective_batch()) if pruner in ("asha", "hyperband") else None
    if pruner in ("asha", "hyperband") and mid_run is None:
        notes.append(f"runs are too short to prune reliably (a full run is {full_examples} examples): every trial "
                     "runs to the end")
    if not study_obj.trials:  # the first trials: the plan and points spread over the space
        if brackets is not None:
            if brackets.start(study_obj, sp, base, ledger.in_runs()[0], opts.seed) is None:
                raise UserError(f"--budget {bud.text} does not fit one full run of {full_tokens:,} tokens; raise it")
        else:
            spread_trials(study_obj, sp, base, max(1, min(4, math.ceil(runs) if runs is not None else 4)), opts.seed)

    # ---- optimise: this process and its local workers
    objective = Objective(base, sp, out / "trials", full_run_examples=full_examples, metric=metric,
                          evals_per_run=EVALS_PER_RUN if mid_run else 4, eval_every_examples=mid_run,
                          prune=mid_run is not None and metric in LOSS_METRICS, over_budget=ledger.over_budget,
                          eval_data=opts.eval_data, quiet=True,
                          place=(lambda trial: brackets.place(study_obj, trial, *ledger.in_runs()))
                          if brackets is not None else None,
                          rung_fraction=brackets.rung_fraction if brackets is not None else None)
    started = time.time()
    after_trial = AfterTrial(ledger, brackets, opts.max_trials, Progress(bud, ledger.spent, opts.quiet, on_trial))
    procs = []
    if opts.workers > 1:
        from .workers import start_workers

        procs = start_workers(opts.workers, worker, dict(
            base=base, space=sp, opts=opts.model_copy(update=dict(  # the base and space are settled: no re-planning
                budget=bud, storage=url, study=name, seed=opts.seed + 1000, quiet=True, space=None, overrides=None,
                lr_range_test=False, final=False, workers=1))))
    _quiet_libraries()
    if brackets is not None:
        promote(study_obj)  # a study interrupted between a rung and its promotion
    spare = brackets is None or not brackets.finished(study_obj, *ledger.in_runs())
    if spare and not ledger.exhausted() and (opts.max_trials is None or finished_trials(study_obj) < opts.max_trials):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning)
            study_obj.optimize(objective, catch=(TrialFailed,), callbacks=[after_trial], gc_after_trial=True)
    else:
        notes.append("the budget was already spent by earlier runs of this study: nothing new was trained"
                     if spare else "the budget left by earlier runs of this study fits no further bracket of "
                     "successive halving (one needs at least a full run): nothing new was trained")
    if procs:
        from .workers import join_workers

        notes.extend(join_workers(procs))

    # ---- collect
    result = collect(study_obj, name, redact(url), metric, direction, bud, sp, base, full_tokens, ledger.spent(), notes)
    if write:
        write_outputs(result, base, sp, study_obj, out, final=opts.final, quiet=opts.quiet)
    if not opts.quiet:
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
