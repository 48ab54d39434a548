"""Curves built directly from arrays for finding tests (no files): a decaying loss with multiplicative noise."""
from __future__ import annotations

import math

import numpy as np

from tiaocan.diagnosis.types import Curves


def cosine_lr(n: int, peak: float = 2e-4, warmup: float = 0.05) -> np.ndarray:
    t = np.arange(n)
    w = max(1, int(warmup * n))
    prog = np.clip((t - w) / max(1, n - w), 0, 1)
    return np.where(t < w, peak * (t + 1) / w, peak * 0.5 * (1 + np.cos(np.pi * prog)))


def decay(n: int, start: float = 2.3, floor: float = 1.0, tau: float = 0.25, noise: float = 0.08,
          seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = np.arange(n) / n
    level = floor + (start - floor) * np.exp(-p / tau)
    return level * rng.lognormal(-noise**2 / 2, noise, n)


def make_curves(loss, lr=None, grad_norm=None, epochs: float = 3.0, eval_loss=None, eval_every: int | None = None,
                config: dict | None = None, finished: bool = True, summary: dict | None = None) -> Curves:
    loss = np.asarray(loss, float)
    n = len(loss)
    steps = list(range(1, n + 1))
    lr = cosine_lr(n) if lr is None else np.asarray(lr, float)
    gn = np.full(n, math.nan) if grad_norm is None else np.asarray(grad_norm, float)
    cfg = {"learning_rate": float(np.nanmax(lr)), "num_train_epochs": epochs, "per_device_train_batch_size": 4,
           "gradient_accumulation_steps": 4, "lr_scheduler_type": "cosine", "warmup_ratio": 0.05,
           "max_grad_norm": 1.0, "finetuning_type": "lora"}
    cfg.update(config or {})
    ev_steps, ev = [], []
    if eval_loss is not None:
        every = eval_every or max(1, n // len(eval_loss))
        ev_steps = [every * (i + 1) for i in range(len(eval_loss))]
        ev = [float(x) for x in eval_loss]
    return Curves(name="synthetic", path="synthetic", source="tiaocan", steps=steps, loss=loss.tolist(), lr=lr.tolist(),
                  grad_norm=gn.tolist(), epoch=[s * epochs / n for s in steps], eval_steps=ev_steps, eval_loss=ev,
                  eval_epoch=[s * epochs / n for s in ev_steps], total_steps=n, finished=finished, config=cfg,
                  summary=summary or {})
