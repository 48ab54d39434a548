"""Underfitting: the run ended with the train loss above the target band (default 0.7–1.4).

If the loss was still clearly falling over the last 30 % of the run's integrated learning rate (a Theil-Sen
fall larger than 2 standard errors), more epochs will help (warning): the number is extrapolated from the
recent fall per epoch, capped at the practitioner's ~10 epochs. Otherwise the practitioner rule still says
"train longer" (or a higher lr past ~10 epochs): a warning when the end is > 1.25x the band's top, else info
since the band is a rule of thumb.
Ending "above the band" means above it by more than 2 standard errors of the end level.
"""
from __future__ import annotations

import numpy as np

from ..signals import Signals, fmt
from ..types import Finding
from . import register
from ._common import cfg_num, epochs_change, lr_change, words
from .plateau import is_plateau


def _tail_fall(x: np.ndarray, y: np.ndarray, sigma: float) -> tuple[float, float]:
    """Theil-Sen fall of y over the span of x (robust to spikes) and its approximate standard error."""
    if len(x) > 200:  # pairs grow quadratically; 200 evenly spaced points keep the estimate and the speed
        idx = np.linspace(0, len(x) - 1, 200).astype(int)
        x, y = x[idx], y[idx]
    i, j = np.triu_indices(len(x), 1)
    dx = x[j] - x[i]
    ok = dx > 0
    slope = float(np.median((y[j] - y[i])[ok] / dx[ok])) if ok.any() else 0.0
    span = float(x[-1] - x[0])
    se = 1.1 * sigma * span / (float(np.std(x)) * np.sqrt(len(x))) if np.std(x) > 0 else np.inf
    return -slope * span, se


@register("underfit")
def check(sig: Signals) -> list[Finding]:
    if sig.n < 10 or sig.nonfinite_steps or not sig.finished or not sig.start > 0:
        return []
    if sig.has("divergence", "fp16_overflow") or sig.overall_drop < 0.05 or not sig.end < sig.start or is_plateau(sig):
        return []  # flat (plateau) or rising (divergence)
    if sig.end <= sig.band[1] + 2 * sig.end_se():
        return []  # inside the band, or not measurably above it
    # "Still falling" is judged per unit of learning, not per step: a cosine schedule flattens every curve at
    # the end because the lr goes to 0, yet such a run keeps improving when given more epochs. So the tail is
    # the last 30 % of the integrated learning rate (the last 30 % of steps when no lr was logged).
    lr = sig.lr[np.isin(np.asarray(sig.curves.steps), sig.steps)] if len(sig.lr) == len(sig.curves.steps) else np.array([])
    use_lr = len(lr) == sig.n and bool(np.isfinite(lr).all()) and lr.sum() > 0
    x = np.cumsum(lr) if use_lr else sig.steps.astype(float)
    m = int(np.sum(x >= 0.7 * x[-1])) if use_lr else int(0.3 * sig.n)
    m = min(max(6, m), sig.n)
    tail, tsteps, x = sig.loss[-m:], sig.steps[-m:], x[-m:]
    fall, se = _tail_fall(x, tail, sig.sigma)
    a, b = float(np.median(tail[: m // 2])), float(np.median(tail[m // 2:]))
    falling = fall > max(0.01 * sig.end, 2.0 * se)
    if fall < -2.0 * se:
        return []  # rising at the end: unstable, not under-trained (spikes/noisy/divergence speak to it)
    ep_now = cfg_num(sig, "num_train_epochs") or sig.epoch_at(int(sig.steps[-1]))
    ev = [f"train loss at the end {fmt(sig.end)} is above the band {sig.band[0]}–{sig.band[1]} "
          f"(first logged loss {fmt(sig.first)})"]
    if falling:
        ev.append(f"still falling: {fmt(a)} -> {fmt(b)} over the last {int(tsteps[-1] - tsteps[0])} steps")
        e0, e1 = sig.epoch_at(int(tsteps[0])), sig.epoch_at(int(tsteps[-1]))
        changes = []
        if ep_now and ep_now >= 10:
            changes = lr_change(sig, 2.0, "already ~10 epochs: learn faster instead of longer")
        elif ep_now:
            # linear extrapolation of the recent fall per epoch (optimistic at the cap, pessimistic under decay)
            per_epoch = fall / (e1 - e0) if e0 is not None and e1 is not None and e1 > e0 else None
            extra = (sig.end - sig.band[1]) / per_epoch if per_epoch else ep_now
            new = min(10.0, max(ep_now * 1.5, ep_now + extra))
            changes = epochs_change(sig, new, "the loss was still falling when the run ended")
        return [Finding(severity="warning", steps=[int(tsteps[0]), int(tsteps[-1])], evidence=ev, changes=changes,
                        **words("underfitting", title="falling", explanation="falling"))]
    ev.append(f"not clearly falling any more: {fmt(a)} -> {fmt(b)} over the last {int(tsteps[-1] - tsteps[0])} steps")
    if ep_now and ep_now < 10:
        changes = epochs_change(sig, min(10.0, ep_now * 2), "the loss ended above the band")
    else:
        changes = lr_change(sig, 2.0, "the loss ended above the band after ~10 epochs")
    far = sig.end > 1.25 * sig.band[1]  # far above the band is a problem whatever the last steps did
    return [Finding(severity="warning" if far else "info", steps=[int(tsteps[0]), int(tsteps[-1])], evidence=ev,
                    changes=changes, **words("underfitting", title="far" if far else "above", explanation="flat"))]
