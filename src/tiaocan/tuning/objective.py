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
        self.trial.set_user_attr("wall_s", round(seconds, 2))
        self.trial.set_user_attr("tokens", tokens)
        self.trial.set_user_attr("steps", state.global_step)
        self.trial.set_user_attr("examples", examples)
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

    `full_run_examples`: examples one full run of the base config processes (sets the eval cadence, so every trial
    is evaluated at the same examples-seen points; `eval_every_examples` overrides it).
    `over_budget(trial number, seconds, tokens)`: asked at each eval.
    `place(trial)`: the rung the trial belongs to ({"bracket", "rung", "rungs"}), or why it must not train (a
    string: no rung fits the budget left, a duplicate promotion); `rung_fraction(rungs, rung)`: the share of its
    full run a trial at that rung trains on.
    """

    def __init__(self, base: TrainConfig, space: SearchSpace, workdir: str | Path, *, full_run_examples: int,
                 metric: str = "eval_loss", evals_per_run: int = 8, eval_every_examples: int | None = None,
                 prune: bool = True,
                 over_budget: Callable[[int, float, int], bool] | None = None, eval_data: str | None = None,
                 keep_weights: bool = False, quiet: bool = True,
                 place: Callable[[Any], dict[str, Any] | str] | None = None,
                 rung_fraction: Callable[[int, int], float] | None = None):
        if base.val_size <= 0 and not base.eval_dataset:
            raise UserError("tune needs held-out data for eval loss: set val_size (e.g. 0.1) or eval_dataset")
        if metric in EVAL_METRICS and not eval_data:
            raise UserError(f"--metric {metric} is scored by `tiaocan eval` on a test file: pass --eval-data TEST.jsonl")
        metric_direction(metric)
        self.base, self.space, self.workdir = base, space, Path(workdir)
        self.full_run_examples, self.metric, self.evals_per_run = max(1, full_run_examples), metric, evals_per_run
        self.eval_every_examples = eval_every_examples  # the first pruning rung: evals land on every rung
        self.prune = prune and metric in LOSS_METRICS  # the pruner compares eval losses; other metrics come at the end
        self.over_budget, self.eval_data, self.keep_weights, self.quiet = over_budget, eval_data, keep_weights, quiet
        self.place, self.rung_fraction = place, rung_fraction
        self.current: ReportCallback | None = None  # the running trial's reporter (its spend, for the budget)

    def fraction_for(self, trial) -> float:
        """The share of its own full run this trial trains on: its rung's (a shortened run), else 1."""
        a = TrialAttrs.of(trial)
        if self.rung_fraction is None or a.rung is None:
            return 1.0
        return self.rung_fraction(a.rungs, a.rung)

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
            every_examples = self.eval_every_examples or self.full_run_examples / self.evals_per_run
            upd["eval_steps"] = max(1, round(every_examples / eb))
        return cfg.model_copy(update=dict(
            output_dir=str(self.workdir / f"trial-{trial.number:04d}"), **SCORED_RUN,
            # One eval batch size for every trial: the eval loss is a mean over batches, so it must not change.
            per_device_eval_batch_size=self.space.micro_batch, **upd))

    def __call__(self, trial) -> float:
        from ..training import train

        values = self.space.suggest(trial)
        if self.place is not None:
            tags = self.place(trial)
            if isinstance(tags, str):  # nothing to train: the budget is spent, or a duplicate
                import optuna

                trial.set_user_attr("stopped_by", tags)
                raise optuna.TrialPruned(tags)
            for key, v in tags.items():
                if trial.user_attrs.get(key) != v:
                    trial.set_user_attr(key, v)
        fraction = self.fraction_for(trial)
        cfg = self.config_for(trial, values, fraction)
        trial.set_user_attr("config", cfg.to_yaml_dict(include_defaults=False))
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")  # who ran it (several machines)
        reporter = ReportCallback(trial, cfg.effective_batch(), self.prune, self.over_budget,
                                  report=self.metric in LOSS_METRICS)
        self.current = reporter
        try:
            summary = train(cfg, callbacks=[reporter], overwrite=True, quiet=self.quiet)
        except UserError:
            raise  # a config problem is the user's to fix, not a trial outcome
        except BaseException as e:  # noqa: BLE001 — record every outcome, then re-raise what optuna must see
            import optuna

            self._record(trial, reporter)
            self._tidy(cfg)
            if isinstance(e, (optuna.TrialPruned, KeyboardInterrupt)):
                raise
            if isinstance(e, BudgetExhausted):
                trial.set_user_attr("stopped_by", "budget")
                raise optuna.TrialPruned(str(e)) from None
            reason = classify_failure(e)
            trial.set_user_attr("fail_reason", reason)
            raise TrialFailed(reason) from e
        finally:
            self.current = None
        self._record(trial, reporter)
        trial.set_user_attr("stop_reason", summary.stop_reason)
        if summary.stop_reason == "diverged":
            reason = f"NaN/divergence: {summary.stop_message}"
            trial.set_user_attr("fail_reason", reason)
            self._tidy(cfg)
            raise TrialFailed(reason)
        try:
            value = self._metric(summary, cfg)
        finally:
            self._tidy(cfg)
        if value is None or not math.isfinite(value):
            reason = f"no finite {self.metric} (stop: {summary.stop_reason} {summary.stop_message})".strip()
            trial.set_user_attr("fail_reason", reason)
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

    def _metric(self, summary, cfg: TrainConfig) -> float | None:
        if self.metric == "eval_loss":
            return summary.final_eval_loss  # the model this config gives you, not its best moment
        from ..evaluation import evaluate

        report = evaluate(cfg.output_dir, self.eval_data, progress=False)
        return getattr(report.tuned.scores, self.metric)

    @staticmethod
    def _record(trial, reporter: ReportCallback) -> None:
        seconds, tokens = reporter.spend()
        trial.set_user_attr("wall_s", round(seconds, 2))
        trial.set_user_attr("tokens", tokens)
        trial.set_user_attr("steps", reporter.steps)

    def _tidy(self, cfg: TrainConfig) -> None:
        """Trials keep their logs and summary; weights are dropped (a full fine-tune per trial would fill the disk)."""
        if self.keep_weights:
            return
        out = Path(cfg.output_dir)
        for p in out.glob("checkpoint-*"):
            shutil.rmtree(p, ignore_errors=True)
        for pattern in ("*.safetensors", "*.bin", "optimizer.pt"):
            for p in out.glob(pattern):
                p.unlink(missing_ok=True)
