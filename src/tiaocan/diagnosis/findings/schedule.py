"""Learning-rate schedule problems read from the logged lr: warmup longer than (most of) the run, or an lr
that never decayed. Only judged on finished runs (mid-run, a still-rising or flat lr is normal)."""
from __future__ import annotations

import numpy as np

from ..signals import Signals, fmt
from ..types import Change, Finding
from . import register
from ._common import cfg_num, warmup_change, words


def warmup_fraction(sig: Signals) -> tuple[float, int] | None:
    """(share of the run's steps spent before the lr first reaches 95 % of its peak, that step)."""
    c = sig.curves
    lr, steps = sig.lr, np.asarray(c.steps)
    ok = np.isfinite(lr)
    if ok.sum() < 5 or lr[ok].max() <= 0:
        return None
    lr, steps = lr[ok], steps[ok]
    i = int(np.argmax(lr >= 0.95 * lr.max()))
    last = c.total_steps if c.total_steps and sig.finished else int(steps[-1])
    return (float(steps[i]) / max(last, 1), int(steps[i]))


@register("schedule")
def check(sig: Signals) -> list[Finding]:
    out: list[Finding] = []
    wf = warmup_fraction(sig)
    if wf is None:
        return out
    frac, wstep = wf
    c = sig.curves
    ok = np.isfinite(sig.lr)
    lr, steps = sig.lr[ok], np.asarray(c.steps)[ok]
    cfg_lr = cfg_num(sig, "learning_rate")
    never_peaked = cfg_lr is not None and lr.max() < 0.7 * cfg_lr and sig.finished and lr[-1] >= lr.max() * 0.95
    if sig.finished and (frac > 0.4 or never_peaked) and lr.max() > 1.5 * lr[0]:
        ev = [f"the lr rises until step {wstep} of {int(steps[-1])} ({frac:.0%} of the run): "
              f"{fmt(float(lr[0]))} -> {fmt(float(lr.max()))}"]
        if never_peaked:
            ev.append(f"it never reached the configured learning_rate {fmt(cfg_lr)}")
        out.append(Finding(
            severity="warning", steps=[wstep], evidence=ev,
            changes=warmup_change(sig, 0.05, "warm up over the first 5% of steps only"),
            **words("warmup_too_long", title="whole_run" if never_peaked or frac > 0.9 else "share", share=frac)))
        return out
    after = lr[steps >= wstep]
    sched = str(sig.cfg.get("lr_scheduler_type", "")).lower()
    if sig.ran_full_schedule and len(after) >= 10 and after[-1] >= 0.9 * lr.max():
        ev = [f"lr at the end {fmt(float(after[-1]))} = {after[-1] / lr.max():.0%} of its peak {fmt(float(lr.max()))}"
              + (f" (lr_scheduler_type: {sched})" if sched else "")]
        out.append(Finding(
            severity="info", steps=[int(steps[-1])], evidence=ev,
            changes=[Change(key="lr_scheduler_type", old=sched or None, new="cosine", why="decay the lr to the end")],
            **words("lr_not_decayed")))
    return out
