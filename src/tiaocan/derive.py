"""Every quantity derived from a config and a dataset size, computed once: plan, train, tune and export call these.

Why one module: the plan prints steps, warmup and the held-out split before a run exists, and the run then
reports its own. When each side had its own formula (plan floored the split, train rounded it; plan rounded
the warmup, train took the ceiling; plan left the device count out of steps per epoch) the two disagreed.
The formulas follow what transformers' Trainer does with the same numbers, because the Trainer is what runs:
- a DistributedSampler pads to equal shards, so each device sees ceil(n / devices) examples;
- an epoch is ceil(micro-batches / accumulation) optimizer steps (the last, short accumulation still steps);
- a warmup ratio becomes ceil(ratio × total steps) (TrainingArguments.get_warmup_steps).
Pure arithmetic, no torch: the plan imports it on machines without a GPU stack loaded.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import TrainConfig


EVALS_SHARE = 0.1  # evaluate (and checkpoint) every tenth of the run unless eval_steps / save_steps say otherwise


def held_out(num_examples: int, val_size: float) -> int:
    """Examples `val_size` holds out of `num_examples`: a share (< 1, rounded) or a count (>= 1); 0 when unset."""
    if val_size <= 0:
        return 0
    return int(round(val_size * num_examples)) if val_size < 1 else int(val_size)


def train_examples(num_examples: int, val_size: float) -> int:
    """Examples left for training after the held-out split (at least 1: the split itself refuses less)."""
    return max(1, num_examples - held_out(num_examples, val_size))


def effective_batch(micro_batch: int, accumulation: int, devices: int = 1) -> int:
    return micro_batch * accumulation * devices


def steps_per_epoch(n_train: int, micro_batch: int, accumulation: int, devices: int = 1) -> int:
    per_device = math.ceil(n_train / devices)  # DistributedSampler pads to equal shards
    micro_batches = math.ceil(per_device / micro_batch)
    return max(1, math.ceil(micro_batches / accumulation))


def total_steps(per_epoch: int, epochs: float, max_steps: int = -1) -> int:
    """max_steps wins when set (> 0), as in the Trainer; else the epochs' steps (fractional epochs round up)."""
    return max_steps if max_steps > 0 else max(1, math.ceil(epochs * per_epoch))


def warmup_steps(total: int, ratio: float, steps: int = 0) -> int:
    """Absolute warmup_steps win over warmup_ratio; never longer than the run."""
    return min(steps if steps > 0 else math.ceil(ratio * total), total)


@dataclass
class Schedule:
    """One run's derived numbers, as the Trainer will run them (train prints them, plan predicts them)."""

    devices: int
    train_examples: int
    eval_examples: int  # 0: no held-out data, no evaluation
    effective_batch: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    eval_steps: int | None  # None: no held-out data, no evaluation
    save_steps: int


def schedule(cfg: "TrainConfig", n_train: int, n_eval: int, devices: int = 1) -> Schedule:
    """The schedule of `cfg` on `n_train` training and `n_eval` held-out examples over `devices`."""
    has_eval = n_eval > 0
    micro, accum = cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps
    per_epoch = steps_per_epoch(n_train, micro, accum, devices)
    total = total_steps(per_epoch, cfg.num_train_epochs, cfg.max_steps)
    every = max(1, total // round(1 / EVALS_SHARE))
    eval_steps = (cfg.eval_steps or every) if has_eval else None
    save_steps = cfg.save_steps or eval_steps or every
    if cfg.early_stopping_patience and eval_steps:
        save_steps = eval_steps  # keeping the best checkpoint needs a checkpoint at every eval
    return Schedule(devices=devices, train_examples=n_train, eval_examples=n_eval,
                    effective_batch=effective_batch(micro, accum, devices),
                    steps_per_epoch=per_epoch, total_steps=total,
                    warmup_steps=warmup_steps(total, cfg.warmup_ratio, cfg.warmup_steps),
                    eval_steps=eval_steps, save_steps=save_steps)


def examples_seen(sched: Schedule, epochs: float, max_steps: int = -1) -> float:
    """Training examples a run processes, repeats counted (its horizon): an epoch-based run sees each example
    `epochs` times; a max_steps run sees steps × effective batch examples."""
    return float(max_steps * sched.effective_batch) if max_steps > 0 else sched.train_examples * float(epochs)


def tokens(sched: Schedule, mean_tokens: float, epochs: float, max_steps: int = -1) -> tuple[int, int]:
    """(input tokens per epoch, input tokens over the run) at `mean_tokens` per training example."""
    per_epoch = sched.train_examples * mean_tokens
    return int(per_epoch), int(examples_seen(sched, epochs, max_steps) * mean_tokens)
