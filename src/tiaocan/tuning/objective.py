"""The objective: one trial = one `tiaocan.train` run of a sampled config (the same code path as `tiaocan train`).

Testable without a study: `Objective(...)(optuna.trial.FixedTrial({...}))` trains that config and returns its
metric. In a study, the trial reports the eval loss at regular points (examples seen, so trials with different
batch sizes are compared at equal data). Under budget-aware successive halving (tuning/halving.py) a trial may be a
rung trial: a complete run shortened to the rung's share of its length, its value reported at its end and the trial recorded
as pruned there. Under Optuna's pruners a full-length trial may be stopped at an eval instead. A crashed trial
(OOM, NaN/divergence, any error) is recorded as failed with its reason in the `fail_reason` user attr, and the
search goes on.
"""
from __future__ import annotations

import math
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any, Callable

from transformers import TrainerCallback

from ..config import TrainConfig
from ..errors import UserError
from .attrs import TrialAttrs
from .budget import Ledger
from .options import TuneOptions
from .pruning import Pruning
from .space import SearchSpace

LOSS_METRICS = ("eval_loss",)
# Metrics from `tiaocan.evaluate` (scored after a trial finishes; higher is better).
EVAL_METRICS = ("fact_accuracy", "pass_rate", "chrf", "rouge_l", "exact_match", "keyword_coverage")


# A scored run (a tune trial, a `plan --probe` run) is judged by its held-out loss, so it writes no checkpoints or
# plots, never merges, and never stops early on its own: its length is what the caller chose.
SCORED_RUN = dict(overwrite_output_dir=True, save_steps=10**9, save_total_limit=1, plot_loss=False, report_to="none",
                  early_stopping_patience=None, merge_adapter=False)


def shortened(cfg: TrainConfig, steps: int, own_steps: int) -> dict[str, Any]:
    """Updates that make `cfg` a complete run of `steps` optimizer steps, evaluated once at its end. Its warmup and
    decay fit that length: a warmup ratio and max_steps do so by themselves, an absolute warmup shrinks with the run
    (`own_steps`: the length it was set for)."""
    upd: dict[str, Any] = dict(max_steps=steps, eval_steps=steps)
    if cfg.warmup_steps > 0:
        upd["warmup_steps"] = round(cfg.warmup_steps * steps / max(1, own_steps))
    return upd


class TrialFailed(Exception):
    """A trial that crashed or diverged; its reason is in the trial's `fail_reason` user attr."""


class BudgetExhausted(Exception):
    """The study's budget ran out while this trial was running."""


def metric_direction(metric: str) -> str:
    if metric in LOSS_METRICS:
        return "minimize"
    if metric in EVAL_METRICS:
        return "maximize"
    raise UserError(f"--metric {metric}: choose eval_loss or one of tiaocan eval's scores: {', '.join(EVAL_METRICS)}")


class ReportCallback(TrainerCallback):
    """Reports each eval loss to the trial at step = examples seen, records the spend, asks the pruner."""

    def __init__(self, trial, effective_batch: int, prune: bool, over_budget: Callable[[int, float, int], bool] | None,
                 report: bool = True):
        self.trial, self.eb, self.prune, self.over_budget = trial, effective_batch, prune, over_budget
        self.report = report  # False when the metric is not the eval loss: its values must not mix with losses
        self.started = time.time()
        self.tokens = 0
        self.steps = 0

    def spend(self) -> tuple[float, int]:
        return time.time() - self.started, self.tokens

    def on_step_end(self, args, state, control, **kwargs):
        self.tokens, self.steps = int(state.num_input_tokens_seen or 0), state.global_step

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not metrics or "eval_loss" not in metrics:
            return
        loss = float(metrics["eval_loss"])
        self.tokens, self.steps = int(state.num_input_tokens_seen or 0), state.global_step
        examples = state.global_step * self.eb
        seconds, tokens = self.spend()
        # Written as the trial runs, so a killed worker's spend still counts against the shared budget.
        TrialAttrs.write(self.trial, wall_s=round(seconds, 2), tokens=tokens, steps=state.global_step, examples=examples)
        if not math.isfinite(loss):
            return  # the divergence handling below fails the trial; a NaN must not reach the pruner
        if self.report:
            self.trial.report(loss, examples)
        last = state.global_step >= state.max_steps  # a trial at its last eval is done: let it complete
        if self.over_budget is not None and not last and self.over_budget(self.trial.number, seconds, tokens):
            raise BudgetExhausted(f"budget used up at {examples} examples")
        if self.prune and self.trial.should_prune():
            import optuna

            raise optuna.TrialPruned(f"pruned at {examples} examples (step {state.global_step}), eval loss {loss:.4f}")


def classify_failure(exc: BaseException) -> str:
    """A short reason for a crashed trial: OOM, NaN, or the exception."""
    text = f"{type(exc).__name__}: {exc}"
    low = text.lower()
    if "outofmemory" in type(exc).__name__.lower() or "out of memory" in low or isinstance(exc, MemoryError):
        return f"OOM: {text[:300]}"
    if "nan" in low or "inf" in low.split():
        return f"NaN: {text[:300]}"
    return text[:400]


class Objective:
    """Callable for `study.optimize`: samples a config from `space` around `base`, trains it, returns the metric.

    `opts`: the search's TuneOptions (metric, eval data; trials go to output_dir/trials).
    `full_run_examples`: examples one full run of the base config processes; a full-length trial is evaluated every
    full / `evals_per_run` examples (or at the pruning scheme's `eval_every`), so every trial is evaluated at the
    same examples-seen points.
    `pruning` (tuning/pruning.py): where a trial sits (its rung, or why it must not train) and the share of its
    full run it trains on. `ledger` (tuning/budget.py): the study and its spend, asked at each eval.
    Without them (an `optuna.trial.FixedTrial`) a trial is one full run.
    """

    def __init__(self, base: TrainConfig, space: SearchSpace, opts: TuneOptions, *, full_run_examples: int,
                 evals_per_run: int = 4, pruning: Pruning | None = None, ledger: Ledger | None = None):
        metric, eval_data = opts.metric, opts.eval_data
        if base.val_size <= 0 and not base.eval_dataset:
            raise UserError("tune needs held-out data for eval loss: set val_size (e.g. 0.1) or eval_dataset")
        if metric in EVAL_METRICS and not eval_data:
            raise UserError(f"--metric {metric} is scored by `tiaocan eval` on a test file: pass --eval-data TEST.jsonl")
        metric_direction(metric)
        self.base, self.space, self.workdir = base, space, Path(opts.output_dir) / "trials"
        self.metric, self.eval_data = metric, eval_data
        self.full_run_examples, self.evals_per_run = max(1, full_run_examples), evals_per_run
        self.pruning, self.ledger = pruning, ledger
        # the pruner compares eval losses; other metrics come at the end
        self.prune = pruning is not None and pruning.prunes_mid_run and metric in LOSS_METRICS

    def fraction_for(self, trial) -> float:
        """The share of its own full run this trial trains on: its rung's (a shortened run), else 1."""
        return self.pruning.fraction(trial) if self.pruning is not None else 1.0

    def config_for(self, trial, values: dict[str, Any], fraction: float = 1.0) -> TrainConfig:
        """The trial's TrainConfig; a `fraction` below 1 makes it a complete run of that share of its own length
        (so epochs still compare at a rung), whose warmup and decay fit that length, evaluated once at its end."""
        cfg = self.space.apply(self.base, values)
        eb = cfg.effective_batch()
        upd: dict[str, Any] = {}
        if fraction < 1.0:
            own_steps = cfg.max_steps if cfg.max_steps > 0 else \
                math.ceil(self.full_run_examples * cfg.num_train_epochs / max(1e-9, self.base.num_train_epochs) / eb)
            upd.update(shortened(cfg, max(1, round(fraction * own_steps)), own_steps))
        else:
            every = self.pruning.eval_every if self.pruning is not None else None
            every_examples = every or self.full_run_examples / self.evals_per_run
            upd["eval_steps"] = max(1, round(every_examples / eb))
        return cfg.model_copy(update=dict(
            output_dir=str(self.workdir / f"trial-{trial.number:04d}"), **SCORED_RUN,
            # One eval batch size for every trial: the eval loss is a mean over batches, so it must not change.
            per_device_eval_batch_size=self.space.micro_batch, **upd))

    def __call__(self, trial) -> float:
        from ..training import train

        values = self.space.suggest(trial)
        self._place(trial)
        fraction = self.fraction_for(trial)
        cfg = self.config_for(trial, values, fraction)
        # who ran it: several machines share a study
        TrialAttrs.write(trial, config=cfg.to_yaml_dict(include_defaults=False),
                         worker=f"{socket.gethostname()}:{os.getpid()}")
        reporter = ReportCallback(trial, cfg.effective_batch(), self.prune,
                                  self.ledger.over_budget if self.ledger is not None else None,
                                  report=self.metric in LOSS_METRICS)
        try:
            summary = train(cfg, callbacks=[reporter], overwrite=True, quiet=True)  # one progress line per trial instead
        except UserError:
            raise  # a config problem is the user's to fix, not a trial outcome
        except BaseException as e:  # noqa: BLE001 — record every outcome, then re-raise what optuna must see
            import optuna

            self._record(trial, reporter)
            self._tidy(cfg)
            if isinstance(e, (optuna.TrialPruned, KeyboardInterrupt)):
                raise
            if isinstance(e, BudgetExhausted):
                TrialAttrs.write(trial, stopped_by="budget")
                raise optuna.TrialPruned(str(e)) from None
            reason = classify_failure(e)
            TrialAttrs.write(trial, fail_reason=reason)
            raise TrialFailed(reason) from e
        self._record(trial, reporter)
        TrialAttrs.write(trial, stop_reason=summary.stop_reason)
        if summary.stop_reason == "diverged":
            reason = f"NaN/divergence: {summary.stop_message}"
            TrialAttrs.write(trial, fail_reason=reason)
            self._tidy(cfg)
            raise TrialFailed(reason)
        try:
            value = self._metric(summary, cfg)
        finally:
            self._tidy(cfg)
        if value is None or not math.isfinite(value):
            reason = f"no finite {self.metric} (stop: {summary.stop_reason} {summary.stop_message})".strip()
            TrialAttrs.write(trial, fail_reason=reason)
            raise TrialFailed(reason)
        if fraction < 1.0:
            import optuna

            # A rung trial: its value is the end of a shorter run. Recorded as pruned at its length, so the
            # sampler ranks it below longer runs and the best trial is always a full run. (An eval loss was
            # reported by the callback at that eval already.)
            if self.metric not in LOSS_METRICS:
                trial.report(value, reporter.steps * cfg.effective_batch())
            raise optuna.TrialPruned(f"rung {TrialAttrs.of(trial).rung}: a complete run of {fraction:.0%} of "
                                     "its full length")
        return value

    def _place(self, trial) -> None:
        """Tag the trial with its rung (successive halving); prune it untrained when the scheme says it must not
        train (no bracket fits the budget left, a duplicate promotion)."""
        if self.pruning is None:
            return
        study = self.ledger.study if self.ledger is not None else None
        budget_runs, spent_runs = self.ledger.in_runs() if self.ledger is not None else (None, 0.0)
        tags = self.pruning.place(study, trial, budget_runs, spent_runs)
        if isinstance(tags, str):
            import optuna

            TrialAttrs.write(trial, stopped_by=tags)
            raise optuna.TrialPruned(tags)
        if tags and tags != TrialAttrs.of(trial).placement():
            TrialAttrs.write(trial, **tags)

    def _metric(self, summary, cfg: TrainConfig) -> float | None:
        if self.metric == "eval_loss":
            return summary.final_eval_loss  # the model this config gives you, not its best moment
        from ..evaluation import evaluate

        report = evaluate(cfg.output_dir, self.eval_data, progress=False)
        return getattr(report.tuned.scores, self.metric)

    @staticmethod
    def _record(trial, reporter: ReportCallback) -> None:
        seconds, tokens = reporter.spend()
        TrialAttrs.write(trial, wall_s=round(seconds, 2), tokens=tokens, steps=reporter.steps)

    @staticmethod
    def _tidy(cfg: TrainConfig) -> None:
        """Trials keep their logs and summary; weights are dropped (a full fine-tune per trial would fill the disk)."""
        out = Path(cfg.output_dir)
        for p in out.glob("checkpoint-*"):
            shutil.rmtree(p, ignore_errors=True)
        for pattern in ("*.safetensors", "*.bin", "optimizer.pt"):
            for p in out.glob(pattern):
                p.unlink(missing_ok=True)
