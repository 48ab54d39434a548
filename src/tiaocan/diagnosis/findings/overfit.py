"""Overfitting and memorisation, three signatures:

- eval loss rising while train loss keeps falling (needs >= 3 evals; the rise must beat 5 % and the eval noise);
- train loss far below the band (< half its lower edge): the model is reciting the training answers;
- step-shaped drops at epoch boundaries: each new pass over a small dataset starts from examples the model has
  already memorised, so the loss falls at the boundary much more than anywhere inside an epoch.
"""
from __future__ import annotations

import math

import numpy as np

from ..signals import Signals, fmt
from ..types import Change, Finding
from . import register
from ._common import epochs_change, words


def _epoch_when_level_below(sig: Signals, value: float) -> float | None:
    below = np.nonzero(sig.level <= value)[0]
    return sig.epoch_at(int(sig.steps[below[0]])) if len(below) else None


def _eval_rising(sig: Signals) -> Finding | None:
    c = sig.curves
    ev, es = c.arr("eval_loss"), np.asarray(c.eval_steps)
    ok = np.isfinite(ev)
    ev, es = ev[ok], es[ok]
    if len(ev) < 3:
        return None
    b = int(np.argmin(ev))
    if len(ev) - b - 1 < 2:
        return None
    best, last = float(ev[b]), float(ev[-1])
    noise = float(np.median(np.abs(np.diff(ev[: b + 1])))) if b >= 2 else 0.0
    if last < best * 1.05 or last - best < 2 * noise:
        return None
    tr_at_best = float(np.interp(es[b], sig.steps, sig.level)) if sig.n else math.nan
    if not sig.end < tr_at_best:
        return None  # train rising too: that is divergence, not overfitting
    e_best = sig.epoch_at(int(es[b]))
    changes = epochs_change(sig, e_best, f"eval loss was lowest at epoch {e_best:.2f}") if e_best else []
    if sig.cfg.get("early_stopping_patience") in (None, 0):
        changes.append(Change(key="early_stopping_patience", old=None, new=2, why="stop (and keep the best checkpoint) once eval stops improving"))
    return Finding(
        severity="critical" if last > best * 1.2 else "warning", steps=[int(es[b]), int(es[-1])],
        evidence=[f"best eval loss {fmt(best)} at step {int(es[b])}" + (f" (epoch {e_best:.2f})" if e_best else ""),
                  f"eval loss at the end {fmt(last)} (step {int(es[-1])}); train loss {fmt(tr_at_best)} -> {fmt(sig.end)} meanwhile"],
        changes=changes, **words("overfitting", rise=last / best - 1))


def _memorised(sig: Signals) -> Finding | None:
    if sig.n < 6 or not sig.end < sig.band[0] * 0.5:
        return None
    mid = sum(sig.band) / 2
    e_mid = _epoch_when_level_below(sig, mid)
    i = int(np.argmax(sig.level <= sig.band[0]))
    changes = epochs_change(sig, e_mid, f"the loss reached the middle of the band ({mid:.2f}) at epoch {e_mid:.2f}") if e_mid else []
    if not sig.cfg.get("stop_loss_band"):
        changes.append(Change(key="stop_loss_band", old=None, new=list(sig.band), why="tiaocan train stops once the loss is in the band"))
    return Finding(
        severity="warning", steps=[int(sig.steps[i]), int(sig.steps[-1])],
        evidence=[f"train loss at the end {fmt(sig.end)} < half the band's lower edge {sig.band[0]}",
                  f"it entered the band's lower edge at step {int(sig.steps[i])}" + (f"; the band's middle at epoch {e_mid:.2f}" if e_mid else "")],
        changes=changes, **words("memorisation", end=fmt(sig.end)))


def _epoch_drops(sig: Signals) -> Finding | None:
    ep = np.array([sig.epoch_at(int(s)) or math.nan for s in sig.steps])
    if not np.isfinite(ep).any() or np.nanmax(ep) < 2.5:
        return None
    ppe = sig.n / np.nanmax(ep)  # logged points per epoch
    if ppe < 6:
        return None
    w = int(max(2, min(ppe // 3, 10)))
    se = 1.25 * sig.sigma_log * math.sqrt(2 / w)  # standard error of a difference of two medians (log space)
    lg = np.log(np.maximum(sig.loss, 1e-12))

    def drop_at(e: float) -> float | None:
        """Relative fall (log ratio) between the w points before and after epoch position e."""
        before, after = lg[ep < e][-w:], lg[ep >= e][:w]
        if len(before) < w or len(after) < w:
            return None
        return float(np.median(before) - np.median(after))

    def measurable(e: float) -> bool:
        # once memorised (loss far below the band) the drops shrink to nothing: judge the epochs before that
        return float(np.median(sig.loss[ep < e][-w:])) > sig.band[0] / 2

    last = int(np.nanmax(ep))
    bounds = [e for e in range(1, last + 1) if drop_at(e) is not None and measurable(e)]
    at = [drop_at(e) for e in bounds]
    if len(at) < 2:
        return None

    def local_ref(e: int) -> float | None:
        # the fall over the same span in the middle of the neighbouring epochs: local, so a curve whose pace
        # changes (a long warmup, a decaying lr) is compared with itself at the same stage
        near = [abs(d) for d in (drop_at(e - 0.5), drop_at(e + 0.5)) if d is not None]
        return max(near) if near else None

    refs = [local_ref(e) for e in bounds]
    if any(r is None for r in refs):
        return None
    ref = float(np.median(refs))
    big = [d > max(2 * r, 2 * se, math.log(1.1)) for d, r in zip(at, refs)]
    # The drops fade as the loss settles, so count boundaries up to the last big one: >= 2 big and >= 2/3 of those.
    upto = max((i + 1 for i, b in enumerate(big) if b), default=0)
    if sum(big) < max(2, math.ceil(2 * upto / 3)):
        return None
    steps = [int(sig.steps[np.argmax(ep >= e)]) for e, b in zip(bounds, big) if b]
    e_in = _epoch_when_level_below(sig, sig.band[1])
    cur = sig.cfg.get("num_train_epochs") or np.nanmax(ep)
    target = e_in if e_in and e_in < float(cur) - 0.5 else float(cur) / 2
    return Finding(
        severity="warning", steps=steps,
        evidence=[f"loss falls across epoch boundaries by {', '.join(f'epoch {e}: {1 - math.exp(-d):.0%}' for e, d in zip(bounds, at))}",
                  f"typical fall over the same span inside an epoch: {1 - math.exp(-ref):.0%}"],
        changes=epochs_change(sig, target, "the loss falls mainly where examples repeat"), **words("epoch_drops"))


@register("overfit")
def check(sig: Signals) -> list[Finding]:
    if sig.nonfinite_steps:
        return []
    return [f for f in (_eval_rising(sig), _memorised(sig), _epoch_drops(sig)) if f is not None]
