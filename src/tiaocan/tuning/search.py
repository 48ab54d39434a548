"""What a search settles before its first trial, handed from phase to phase of `tune` (tuning/study.py): the base
configuration (the plan's, or a given one), what one full run of it costs, the budget in those units, the pruning
scheme, and the study's name and storage. One object instead of a dozen arguments threaded through every phase.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import TrainConfig, build_config, load_config
from ..errors import UserError
from .budget import Budget, Spend, check_budget, in_full_runs, parse_budget
from .objective import metric_direction
from .options import TuneOptions
from .pruning import Pruning, pruning_for
from .space import parse_space_overrides
from .storage import default_url

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


@dataclass(frozen=True)
class Search:
    """One search's settled facts. Frozen: a phase that learns something new (the stored study's full-run tokens)
    makes a new one with `dataclasses.replace`, visibly, in the loop."""

    base: TrainConfig
    opts: TuneOptions  # `budget` parsed
    budget: Budget
    direction: str  # minimize | maximize the metric
    tokens_per_epoch: int
    full_examples: int  # one full run of the base config: rung lengths are cut from it
    full_tokens: int  # ... and the budget's unit (the study's own record once it exists)
    pruning: Pruning
    est_seconds: float | None  # the plan's time estimate of a full run (converts a time budget before any trial)
    name: str  # the study's
    url: str  # its storage, password included (shown only through storage.redact)

    @classmethod
    def settle(cls, base: TrainConfig, opts: TuneOptions, est_seconds: float | None = None) -> "Search":
        """Measure one full run of `base` and refuse what cannot work (a budget below one trial, no workers)
        before anything is trained or stored."""
        direction = metric_direction(opts.metric)
        budget = opts.budget if isinstance(opts.budget, Budget) else parse_budget(opts.budget)
        n_train, tokens_epoch = measure_data(base)
        full_examples, full_tokens = full_run(base, n_train, tokens_epoch)
        pruning = pruning_for(opts.pruner, full_examples, base.effective_batch())
        check_budget(budget, full_tokens, pruning.min_fraction,
                     tokens_per_second=full_tokens / est_seconds if est_seconds else None)
        if opts.workers < 1:
            raise UserError(f"--workers {opts.workers}: give at least 1")
        name = opts.study or f"tune-{Path(str(base.model_name_or_path)).name}-{Path(str(base.dataset)).stem}"
        return cls(base=base, opts=opts.model_copy(update={"budget": budget}), budget=budget, direction=direction,
                   tokens_per_epoch=tokens_epoch, full_examples=full_examples, full_tokens=full_tokens,
                   pruning=pruning, est_seconds=est_seconds, name=name,
                   url=opts.storage or default_url(opts.output_dir))

    @property
    def out(self) -> Path:
        return Path(self.opts.output_dir)

    @property
    def space_overrides(self) -> dict[str, Any] | None:
        """--space as a dict (the CLI gives KEY=VALUE strings)."""
        sp = self.opts.space
        return parse_space_overrides(sp) if isinstance(sp, list) else sp

    def budget_runs(self) -> float | None:
        """The budget in full runs before any trial ran (None: a time budget without an estimate)."""
        return in_full_runs(self.budget, Spend(), self.full_tokens, self.est_seconds)[0]
