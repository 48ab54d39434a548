"""Trainer callbacks: loss-driven stopping, the divergence guard, LLaMA-Factory-format logs, a progress bar.

All stop decisions go through one `StopState`, so the run summary can say exactly why training ended.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from transformers import EarlyStoppingCallback, TrainerCallback

SMOOTHING = 0.8  # EMA weight for the loss the band and the guard look at: ~5 logs of memory
START_WINDOW = 3  # the guard's reference "start" loss = mean of the first logged losses


@dataclass
class StopState:
    """Why training stopped early (first reason wins) plus the loss history the summary needs."""

    reason: str | None = None
    message: str = ""
    train_losses: list[float] = field(default_factory=list)
    eval_losses: list[float] = field(default_factory=list)
    smoothed: float | None = None
    _ema_n: int = 0

    def stop(self, control: Any, reason: str, message: str) -> None:
        if self.reason is None:
            self.reason, self.message = reason, message
        control.should_training_stop = True

    def add_train_loss(self, loss: float) -> float:
        self.train_losses.append(loss)
        if math.isfinite(loss):
            self._ema_n += 1
            prev = 0.0 if self.smoothed is None else self.smoothed * (1 - SMOOTHING ** (self._ema_n - 1))
            raw = SMOOTHING * prev + (1 - SMOOTHING) * loss
            self.smoothed = raw / (1 - SMOOTHING**self._ema_n)  # bias-corrected
        return self.smoothed if self.smoothed is not None else loss


def _fmt_lr(lr: float) -> str:
    return f"{lr:.2g}"


class LossWatch(TrainerCallback):
    """Divergence guard (always on) and the stop_loss_band rule.

    Divergence: a NaN/inf loss or grad norm, or a smoothed loss above divergence_factor x its start, stops
    training at once. Loss band: once the smoothed train loss is at or below the band's upper edge, stop —
    immediately without an eval split, else at the first eval that does not improve on the best eval loss.
    """

    def __init__(self, stop: StopState, learning_rate: float, divergence_factor: float,
                 band: tuple[float, float] | None, has_eval: bool):
        self.stop, self.lr, self.factor, self.band, self.has_eval = stop, learning_rate, divergence_factor, band, has_eval
        self.in_band_since: int | None = None
        self.best_eval = math.inf

    def on_train_begin(self, args, state, control, **kwargs):
        # On resume, the checkpoint's log history restores the losses before it: the divergence guard keeps its
        # true start, and the summary its best losses.
        if self.stop.train_losses or self.stop.eval_losses:
            return
        for row in state.log_history:
            if "loss" in row:
                self.stop.add_train_loss(float(row["loss"]))
            if "eval_loss" in row:
                self.stop.eval_losses.append(float(row["eval_loss"]))
                self.best_eval = min(self.best_eval, float(row["eval_loss"]))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs:
            return
        loss, grad_norm = float(logs["loss"]), logs.get("grad_norm")
        smoothed = self.stop.add_train_loss(loss)
        step = state.global_step
        bad_grad = grad_norm is not None and not math.isfinite(float(grad_norm))
        if not math.isfinite(loss) or bad_grad:
            what = "loss" if not math.isfinite(loss) else "gradient norm"
            self.stop.stop(control, "diverged",
                           f"training diverged at step {step}: the {what} became NaN/inf. Lower learning_rate "
                           f"(now {_fmt_lr(self.lr)}, try {_fmt_lr(self.lr / 10)}), keep max_grad_norm at 1.0, "
                           "and prefer bf16 over fp16.")
            return
        finite = [x for x in self.stop.train_losses if math.isfinite(x)]
        if len(finite) >= 2:
            # Reference "start": mean of the first few losses (robust to one easy or hard first batch). A blow-up
            # inside that window would inflate the mean, so a single loss above 2 x factor x the very first loss
            # also counts: per-batch noise in SFT losses stays far below that ratio, an exploding lr does not.
            start = sum(finite[:START_WINDOW]) / len(finite[:START_WINDOW])
            if smoothed > self.factor * start or loss > 2 * self.factor * finite[0]:
                ref = start if smoothed > self.factor * start else finite[0]
                value = smoothed if smoothed > self.factor * start else loss
                self.stop.stop(control, "diverged",
                               f"training diverged at step {step}: loss {value:.3g} is {value / ref:.1f}x its start "
                               f"{ref:.3g} (divergence_factor {self.factor:g}). Lower learning_rate (now "
                               f"{_fmt_lr(self.lr)}, try {_fmt_lr(self.lr / 4)}) or add warmup (warmup_ratio: 0.1).")
                return
        if self.band and smoothed <= self.band[1]:
            if self.in_band_since is None:
                self.in_band_since = step
            if not self.has_eval:
                self._band_stop(control, step, smoothed)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not metrics or "eval_loss" not in metrics:
            return
        ev = float(metrics["eval_loss"])
        self.stop.eval_losses.append(ev)
        improved = ev < self.best_eval
        self.best_eval = min(self.best_eval, ev)
        if self.band and self.in_band_since is not None and not improved:
            self._band_stop(control, state.global_step, self.stop.smoothed, ev)

    def _band_stop(self, control, step: int, smoothed: float, ev: float | None = None) -> None:
        low, high = self.band
        where = "inside" if smoothed >= low else "below"
        msg = f"smoothed train loss {smoothed:.3f} is {where} stop_loss_band [{low:g}, {high:g}] at step {step}"
        if ev is not None:
            msg += f" and eval loss {ev:.3f} stopped improving (best {self.best_eval:.3f})"
        if where == "below":
            msg += "; a loss under the band often means memorising: check answers on held-out questions"
        self.stop.stop(control, "loss_band", msg + ".")


class EarlyStopping(EarlyStoppingCallback):
    """transformers' eval-loss early stopping (keeps the best checkpoint via load_best_model_at_end),
    recording the stop reason."""

    def __init__(self, stop: StopState, patience: int):
        super().__init__(early_stopping_patience=patience)
        self.stop = stop

    def on_evaluate(self, args, state, control, metrics, **kwargs):
        super().on_evaluate(args, state, control, metrics, **kwargs)
        if control.should_training_stop and self.early_stopping_patience_counter >= self.early_stopping_patience:
            best = state.best_metric
            self.stop.stop(control, "early_stopping",
                           f"eval loss did not improve for {self.early_stopping_patience} evals "
                           f"(best {best:.4f} at {state.best_model_checkpoint}); the best checkpoint is kept.")


class LogWriter(TrainerCallback):
    """trainer_log.jsonl with LLaMA-Factory's field names (so LF tools and `tiaocan diagnose` read it) + grad_norm."""

    def __init__(self, path: Path):
        self.path = path
        self.start = time.time()
        self.start_step = 0
        self.start_tokens = 0

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.start, self.start_step, self.start_tokens = time.time(), state.global_step, state.num_input_tokens_seen
        if self.path.is_file():  # resuming: drop entries past the checkpoint, they will be re-run
            keep = []
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    if json.loads(line).get("current_steps", 0) <= state.global_step:
                        keep.append(line)
                except json.JSONDecodeError:
                    pass  # half-written line from a killed run
            self.path.write_text("".join(x + "\n" for x in keep), encoding="utf-8")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs or ("loss" not in logs and "eval_loss" not in logs):
            return
        elapsed = time.time() - self.start
        done = state.global_step - self.start_step
        remaining = elapsed / done * (state.max_steps - state.global_step) if done > 0 else 0.0
        tokens = state.num_input_tokens_seen
        rec = {
            "current_steps": state.global_step,
            "total_steps": state.max_steps,
            "loss": logs.get("loss"),
            "eval_loss": logs.get("eval_loss"),
            "lr": logs.get("learning_rate"),
            "epoch": logs.get("epoch", state.epoch),
            "percentage": round(state.global_step / state.max_steps * 100, 2) if state.max_steps else 0.0,
            "elapsed_time": str(timedelta(seconds=int(elapsed))),
            "remaining_time": str(timedelta(seconds=int(remaining))),
            "throughput": round((tokens - self.start_tokens) / elapsed, 2) if elapsed > 0 else 0.0,
            "total_tokens": tokens,
            "grad_norm": logs.get("grad_norm"),
        }
        rec = {k: (float(v) if hasattr(v, "item") else v) for k, v in rec.items() if v is not None}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


class Progress(TrainerCallback):
    """A rich progress bar (loss, lr, tokens/s, ETA) on a terminal; a line every ~5% of steps otherwise."""

    def __init__(self, console):
        self.console = console
        self.bar = None
        self.task = None
        self.fields = {"loss": "-", "lr": "-", "tps": "-"}
        self.start, self.start_tokens, self.last_printed = time.time(), 0, -1
        self.eval_task = None  # the in-training eval's bar (terminal) or line printer (pipe): examples done / total
        self.eval_lines = None
        self.eval_done = 0

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.start, self.start_tokens = time.time(), state.num_input_tokens_seen
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeRemainingColumn(), console=self.console, transient=False,
            )
            self.bar.start()
            self.task = self.bar.add_task("train", total=state.max_steps, completed=state.global_step, info=self._info())

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        elapsed = max(time.time() - self.start, 1e-9)
        if "loss" in logs:
            self.fields["loss"] = f"{logs['loss']:.4f}"
        if "learning_rate" in logs:
            self.fields["lr"] = f"{logs['learning_rate']:.2e}"
        self.fields["tps"] = f"{(state.num_input_tokens_seen - self.start_tokens) / elapsed:,.0f}"
        if self.bar is not None:
            self.bar.update(self.task, completed=state.global_step, info=self._info())
            if "eval_loss" in logs:
                self.bar.console.print(f"step {state.global_step}: eval loss {logs['eval_loss']:.4f}")
        elif "eval_loss" in logs:
            self.console.print(f"step {state.global_step}/{state.max_steps}  eval loss {logs['eval_loss']:.4f}")
        elif "loss" in logs:
            every = max(1, state.max_steps // 20)
            if state.global_step - self.last_printed >= every or state.global_step == state.max_steps:
                self.last_printed = state.global_step
                self.console.print(f"step {state.global_step}/{state.max_steps}  loss {self.fields['loss']}  "
                                   f"lr {self.fields['lr']}  {self.fields['tps']} tok/s")

    def _info(self) -> str:
        return f"loss {self.fields['loss']}  lr {self.fields['lr']}  {self.fields['tps']} tok/s"

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        """An in-training eval can pause the bar for minutes on a CPU: show its examples done / total."""
        if not state.is_world_process_zero or eval_dataloader is None:
            return
        try:
            total = len(eval_dataloader.dataset)
        except (TypeError, AttributeError):
            return
        batch = args.eval_batch_size or 1
        if self.bar is not None:
            if self.eval_task is None:
                self.eval_task, self.eval_done = self.bar.add_task(
                    "eval", total=total, info=f"held-out examples at step {state.global_step}"), 0
            self.eval_done = min(total, self.eval_done + batch)
            self.bar.update(self.eval_task, completed=self.eval_done)
        else:
            if self.eval_lines is None:
                from ..progress import Lines

                self.eval_lines = Lines(self.console, f"step {state.global_step}/{state.max_steps}: eval", total)
                self.eval_lines.begin()
            self.eval_lines.advance(batch)

    def on_evaluate(self, args, state, control, **kwargs):
        if self.eval_task is not None and self.bar is not None:
            self.bar.remove_task(self.eval_task)
        self.eval_task = self.eval_lines = None

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(self.task, completed=state.global_step)

    def on_train_end(self, args, state, control, **kwargs):
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
