"""`tiaocan.tune(...)`: plan → search space → an Optuna study of short `train` runs → the best config.

One process is one worker (one device). More workers — other GPUs, other machines — run the same command with
the same `--storage` and `--study` and join the study; the budget is shared through the trials' recorded spend.
"""
from __future__ import annotations

import hashlib
import time
import warnings
from dataclasses import replace
from typing import Any, Callable

from ..config import TrainConfig
from ..errors import UserError
from .attrs import StudyAttrs
from .budget import Budget, Ledger, parse_budget
from .objective import Objective, TrialFailed, metric_direction
from .options import TuneOptions
from .progress import AfterTrial, Progress, finished_trials
from .outputs import write_outputs
from .results import TuneResult, collect
from .search import Search, base_config
from .space import SearchSpace, build_space, capacity_may_matter
from .storage import open_storage


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
    """measure → space → study → optimise → collect, in that order (the plan was made by the caller). `space`
    given: a worker joining a study whose space is settled."""
    notes: list[str] = []
    search = Search.settle(base, opts, est_seconds)
    space, base_sig = _space(search, micro, notes) if space is None else (space, "")
    study, space = open_study(search, space, base_sig)
    # the study's own unit of a full run: a continued study keeps the one it was created with
    search = replace(search, full_tokens=StudyAttrs.of(study).full_run_tokens or search.full_tokens)
    ledger = Ledger(study, search.budget, search.full_tokens, est_seconds, slack=search.pruning.slack)
    notes += search.pruning.notes()
    if not study.trials and search.pruning.start(study, space, base, ledger.in_runs()[0], opts.seed) is None:
        raise UserError(f"--budget {search.budget.text} does not fit one full run of {search.full_tokens:,} tokens; "
                        "raise it")
    started = time.time()
    _optimise(search, study, space, ledger, on_trial, notes)
    result = collect(study, search, space, ledger.spent(), notes)
    if write:
        write_outputs(result, search, space)
    if not opts.quiet:
        from ..console import make_console

        make_console().print(f"[dim]tuned for {time.time() - started:.0f} s[/]")
    return result


def _space(search: Search, micro: int | None, notes: list[str]) -> tuple[SearchSpace, str]:
    """The search space around the base config, and the signature of what shaped it (a continued study with the
    same signature keeps its stored space)."""
    base, opts = search.base, search.opts
    runs = search.budget_runs()
    tune_rank = capacity_may_matter(int(search.tokens_per_epoch * 0.5)) if opts.tune_rank is None else opts.tune_rank
    overrides = search.space_overrides
    lr_upper = _lr_upper(search, notes) if opts.lr_range_test else None
    space = build_space(base, expected_trials=3 * runs if runs is not None else 20, micro_batch=micro,
                        lr_upper=lr_upper, tune_rank=tune_rank, search_epochs=search.pruning.search_epochs,
                        overrides=overrides)
    if not search.pruning.search_epochs and "num_train_epochs" not in space.names() \
            and "num_train_epochs" not in (overrides or {}) and base.max_steps <= 0:
        notes.append(f"epochs stay at {base.num_train_epochs:g}: successive halving compares shorter runs, where more "
                     "epochs would just mean more data; --space num_train_epochs=1:4 searches them anyway")
    base_sig = hashlib.sha256(f"{base.model_dump_json()}|{micro}|{lr_upper}|{tune_rank}".encode()).hexdigest()[:16]
    return space, base_sig


def open_study(search: Search, space: SearchSpace, base_sig: str = ""):
    """Create or continue the study; refuse one that was created with a different space or metric.

    A study continued from the same base config without --space keeps its stored space, so a larger --budget
    (which would otherwise search more dimensions) extends the study instead of being refused."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our progress line replaces Optuna's per-trial log
    storage = open_storage(search.url, heartbeat_s=search.opts.heartbeat_s, grace_s=search.opts.grace_s)
    name, direction = search.name, search.direction
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # multivariate / constant_liar are "experimental"
        study = optuna.create_study(storage=storage, study_name=name, direction=direction,
                                    pruner=search.pruning.pruner(), load_if_exists=True)
        # Seeded by the trials already there: a resumed run or a second worker must not replay the same samples.
        study.sampler = optuna.samplers.TPESampler(seed=search.opts.seed + len(study.trials), n_startup_trials=4,
                                                   multivariate=True, constant_liar=True,
                                                   warn_independent_sampling=False)
    have = StudyAttrs.of(study)
    if have.space_signature is None:
        StudyAttrs.write(study, space=space.model_dump(mode="json"), space_signature=space.signature(),
                         full_run_tokens=search.full_tokens, base_signature=base_sig)
    elif have.space_signature != space.signature() and not search.space_overrides and base_sig \
            and have.base_signature == base_sig:
        space = SearchSpace.model_validate(have.space)
    elif have.space_signature != space.signature():
        old = {p["name"]: p for p in (have.space or {}).get("params", [])}
        new = {p.name: p.model_dump(mode="json") for p in space.params}
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise UserError(f"--study {name} already exists with a different search space (differs in: "
                        f"{', '.join(diff) or 'micro batch'}). Use another --study name, or the same model, data, "
                        "and --space as when it was created.")
    if study.direction.name.lower() != direction:
        raise UserError(f"--study {name} was created to {study.direction.name.lower()} its metric; "
                        f"this --metric wants to {direction}. Use another --study name.")
    return study, space


def _optimise(search: Search, study, space: SearchSpace, ledger: Ledger, on_trial, notes: list[str]) -> None:
    """This process's trials (and its local workers'), until the budget, --max-trials or the brackets end them."""
    opts, pruning = search.opts, search.pruning
    objective = Objective(search.base, space, opts, full_run_examples=search.full_examples, pruning=pruning,
                          ledger=ledger)
    after_trial = AfterTrial(ledger, pruning, opts.max_trials, Progress(search.budget, ledger.spent, opts.quiet, on_trial))
    procs = []
    if opts.workers > 1:
        from .workers import start_workers

        procs = start_workers(opts.workers, worker, dict(
            base=search.base, space=space, opts=opts.model_copy(update=dict(  # base and space settled: no re-planning
                storage=search.url, study=search.name, seed=opts.seed + 1000, quiet=True, space=None, overrides=None,
                lr_range_test=False, final=False, workers=1))))
    _quiet_libraries()
    pruning.promote(study)  # a study interrupted between a rung and its promotion
    spare = not pruning.finished(study, *ledger.in_runs())
    if spare and not ledger.exhausted() and (opts.max_trials is None or finished_trials(study) < opts.max_trials):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning)
            study.optimize(objective, catch=(TrialFailed,), callbacks=[after_trial], gc_after_trial=True)
    else:
        notes.append("the budget was already spent by earlier runs of this study: nothing new was trained"
                     if spare else "the budget left by earlier runs of this study fits no further bracket of "
                     "successive halving (one needs at least a full run): nothing new was trained")
    if procs:
        from .workers import join_workers

        notes.extend(join_workers(procs))


def _lr_upper(search: Search, notes: list[str]) -> float:
    """The top of the learning-rate range from a short LR range test (tuning/lr_range.py)."""
    from .lr_range import lr_range_test

    lr_upper, blew_up = lr_range_test(search.base, search.out / "lr-range-test", quiet=search.opts.quiet)
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
