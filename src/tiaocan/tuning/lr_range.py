"""Optional cheap learning-rate range test (Smith 2017): a short run whose learning rate grows exponentially each
step; the learning rate where the loss blows up bounds the search from above. It is a divergence limit only:
the best learning rate is left to the search (the range test's "steepest descent" point is known to mislead).
"""
from __future__ import annotations

import math
from pathlib import Path

from transformers import TrainerCallback

from ..config import TrainConfig

STEPS = 40
START_FACTOR, END_FACTOR = 0.1, 100.0  # sweep [base / 10, base * 100]
BLOWUP = 1.5  # the loss counts as blown up once its smoothed value exceeds this x its minimum


class _Sweep(TrainerCallback):
    """Sets each parameter group's lr before every step (keeping LoRA+'s per-group ratios); records the losses."""

    def __init__(self, base_lr: float, lo: float, hi: float, steps: int):
        self.base_lr, self.lo, self.hi, self.steps = base_lr, lo, hi, steps
        self.lrs: list[float] = []
        self.losses: list[float] = []

    def lr_at(self, step: int) -> float:
        frac = step / max(1, self.steps - 1)
        return self.lo * (self.hi / self.lo) ** frac

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        lr = self.lr_at(state.global_step)
        for g in optimizer.param_groups:
            g["lr"] = g.get("initial_lr", self.base_lr) * lr / self.base_lr
        self.lrs.append(lr)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.losses.append(float(logs["loss"]))


def divergence_lr(lrs: list[float], losses: list[float], smoothing: float = 0.7) -> float | None:
    """The first lr whose smoothed loss exceeds BLOWUP x the best smoothed loss so far (or is not finite)."""
    avg, best = None, math.inf
    for lr, loss in zip(lrs, losses):
        if not math.isfinite(loss):
            return lr
        avg = loss if avg is None else smoothing * avg + (1 - smoothing) * loss
        best = min(best, avg)
        if avg > BLOWUP * best:
            return lr
    return None


def sweep(base: TrainConfig, out_dir: str | Path, lo: float, hi: float, steps: int = STEPS,
          quiet: bool = True) -> tuple[list[float], list[float]]:
    """(lr, training loss) at each step of a run of `steps` steps whose learning rate grows exponentially from `lo` to
    `hi` (`base`'s config otherwise: batch, data, LoRA; constant schedule, no eval, no checkpoints). A crash at a huge
    lr ends the sweep: what was recorded is returned."""
    from ..training import train

    cfg = base.model_copy(update=dict(
        output_dir=str(out_dir), max_steps=steps, lr_scheduler_type="constant", warmup_ratio=0.0, warmup_steps=0,
        val_size=0.0, eval_dataset=None, eval_steps=None, save_steps=10**9, logging_steps=1, plot_loss=False,
        stop_loss_band=None, early_stopping_patience=None, divergence_factor=1e6))
    rec = _Sweep(base.learning_rate, lo, hi, steps)
    try:
        train(cfg, callbacks=[rec], overwrite=True, quiet=quiet)
    except Exception:  # noqa: BLE001 — a crash at a huge lr is a blow-up too; use what was recorded
        pass
    n = min(len(rec.lrs), len(rec.losses))
    return rec.lrs[:n], rec.losses[:n]


def lr_range_test(base: TrainConfig, out_dir: str | Path, steps: int = STEPS, quiet: bool = True) -> tuple[float, bool]:
    """(upper bound for the learning-rate search, whether the loss blew up): half the lr where it blew up, else
    the sweep's end."""
    lrs, losses = sweep(base, out_dir, base.learning_rate * START_FACTOR, base.learning_rate * END_FACTOR, steps, quiet)
    hit = divergence_lr(lrs, losses)
    return (hit / 2, True) if hit else (base.learning_rate * END_FACTOR, False)
