"""Divergence: the loss became NaN/inf, or rose well above where it started and stayed there.

A sustained rise is measured on the rolling median (single spikes belong to `spikes`), relative to the
starting level and the run's own noise, so it fires for 2 -> 4 as well as for 0.5 -> 1.5.
"""
from __future__ import annotations

import numpy as np

from ..signals import Signals, fmt
from ..types import Finding
from . import register
from ._common import clip_change, has_warmup, lr_change, pairs, warmup_change, words


def _fixes(sig: Signals, factor: float) -> list:
    changes = lr_change(sig, factor, "the loss diverged at this learning rate")
    changes += clip_change(sig)
    if not has_warmup(sig):
        changes += warmup_change(sig, 0.05, "warm up over the first 5% of steps")
    return changes


@register("divergence")
def check(sig: Signals) -> list[Finding]:
    out: list[Finding] = []
    if sig.nonfinite_steps:
        first = sig.nonfinite_steps[0]
        before = sig.loss[sig.steps < first]
        ev = [f"loss is NaN/inf at {len(sig.nonfinite_steps)} logged step(s), first at step {first}"]
        if len(before):
            ev.append(f"last finite losses before it: {pairs(sig.steps[sig.steps < first][-3:], before[-3:])}")
        out.append(Finding(severity="critical", steps=sig.nonfinite_steps[:8], evidence=ev, changes=_fixes(sig, 0.1),
                           **words("divergence", title="nan", explanation="nan", step=first)))
        return out
    if 3 <= sig.n < 6 and min(sig.loss[-2:]) > 2 * sig.loss[0]:
        # too few points for levels and noise: a loss that more than doubled and stayed there is enough
        out.append(Finding(
            severity="critical", steps=[int(s) for s in sig.steps[-2:]],
            evidence=[f"only {sig.n} logged steps: {pairs(sig.steps, sig.loss)}"], changes=_fixes(sig, 0.2),
            **words("divergence", title="rose", explanation="rose", start=fmt(float(sig.loss[0])),
                    peak=fmt(float(sig.loss[-1])))))
        return out
    if sig.n < 6 and sig.stop_reason != "diverged":
        return out
    # A sustained rise: the rolling median stays above max(1.3x start, start + 4 noise units) for a while,
    # or it rebounds well above its own minimum (train loss on the same data should not climb back up).
    after = np.arange(sig.n) >= sig.k  # ignore the first tenth (its median is the reference)
    need = max(3, sig.n // 20)
    thr = max(sig.start * 1.3, sig.start + 4 * sig.sigma)
    high = (sig.level > thr) & after
    if high.sum() < need:
        i_min = int(np.argmin(sig.level))
        lo = float(sig.level[i_min])
        rb_thr = max(lo * 1.5, lo + 6 * sig.sigma)
        rebound = (sig.level > rb_thr) & (np.arange(sig.n) > i_min)
        if rebound.sum() >= need and sig.end > lo * 1.3:
            high, thr = rebound, rb_thr
    if high.sum() < need:
        if sig.stop_reason == "diverged":  # tiaocan's own guard stopped it before a long rise could be logged
            msg = str(sig.curves.summary.get("stop_message", "")) or "stop_reason: diverged"
            peak = float(np.max(sig.loss))
            out.append(Finding(
                severity="critical", steps=[int(sig.steps[int(np.argmax(sig.loss))]), int(sig.steps[-1])],
                evidence=[f"run_summary.json: {msg}",
                          f"loss {fmt(float(sig.loss[0]))} at step {int(sig.steps[0])}, up to {fmt(peak)}"],
                changes=_fixes(sig, 0.2), **words("divergence", title="stopped", explanation="rose")))
        return out
    peak_i = int(np.argmax(np.where(after, sig.level, -np.inf)))
    recovered = sig.end <= sig.start * 1.05
    first_i = int(np.argmax(high))
    ev = [f"loss level at the start (median of the first {sig.k} logged losses) {fmt(sig.start)} rose to {fmt(sig.level[peak_i])} at step {int(sig.steps[peak_i])}"
          f" ({sig.level[peak_i] / sig.start:.1f}x), above {fmt(thr)} for {int(high.sum())} of {sig.n} logged steps",
          f"final loss {fmt(sig.end)}" + (" (recovered)" if recovered else " (did not recover)")]
    out.append(Finding(
        severity="warning" if recovered else "critical", steps=[int(sig.steps[first_i]), int(sig.steps[peak_i])],
        evidence=ev, changes=_fixes(sig, 0.5 if recovered else 0.2),
        **words("divergence", title="recovered" if recovered else "rose", explanation="rose", start=fmt(sig.start),
                peak=fmt(sig.level[peak_i]))))
    return out
