"""Learning-rate schedule problems read from the logged lr: warmup longer than (most of) the run, or an lr
that never decayed. Only judged on finished runs (mid-run, a still-rising or flat lr is normal)."""
from __future__ import annotations

import numpy as np

from ..signals import Signals, fmt
from ..types import Change, Finding
from . import register
from ._common import cfg_num, warmup_change


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
            id="warmup_too_long", severity="warning",
            title="Warmup is longer than the run" if never_peaked or frac > 0.9 else f"Warmup takes {frac:.0%} of the run",
            title_zh="预热比整个训练还长" if never_peaked or frac > 0.9 else f"预热占了训练的 {frac:.0%}",
            steps=[wstep], evidence=ev,
            explanation="During warmup the learning rate is below its target, so most of this run trained at a reduced "
                        "rate. Warmup only needs to cover the first few percent of steps (the optimizer's statistics "
                        "settle in tens of steps).",
            explanation_zh="预热期间学习率低于目标值，因此这次训练的大部分时间学习率都偏低。预热只需覆盖前百分之几的步数（优化器的统计量几十步内就稳定了）。",
            changes=warmup_change(sig, 0.05, "warm up over the first 5% of steps only")))
        return out
    after = lr[steps >= wstep]
    sched = str(sig.cfg.get("lr_scheduler_type", "")).lower()
    if sig.ran_full_schedule and len(after) >= 10 and after[-1] >= 0.9 * lr.max():
        ev = [f"lr at the end {fmt(float(after[-1]))} = {after[-1] / lr.max():.0%} of its peak {fmt(float(lr.max()))}"
              + (f" (lr_scheduler_type: {sched})" if sched else "")]
        out.append(Finding(
            id="lr_not_decayed", severity="info", title="The learning rate never decayed", title_zh="学习率始终没有衰减",
            steps=[int(steps[-1])], evidence=ev,
            explanation="Decaying the learning rate at the end (cosine is the usual default) lets the last steps settle "
                        "into a minimum instead of bouncing around it; a constant lr ends noisier.",
            explanation_zh="训练末期降低学习率（通常用 cosine）能让最后的更新稳定收敛到极小值附近，而不是在其周围震荡；恒定学习率收尾更嘈杂。",
            changes=[Change(key="lr_scheduler_type", old=sched or None, new="cosine", why="decay the lr to the end")]))
    return out
