"""Loss spikes: a few isolated points far above the local level that the run then recovers from.

A spike must be both large in the run's own noise units (> 8 MAD-sigmas of log-loss above the medians on both sides) and large
in absolute terms (> 1.5x the local level), and rare (at most 3 % of points): when many points qualify the
curve is simply noisy (see `noisy`), not spiky.
"""
from __future__ import annotations

import numpy as np

from ..signals import Signals, fmt, window_medians
from ..types import Finding
from . import register
from ._common import clip_change, has_warmup, lr_change, pairs, warmup_change, words


@register("spikes")
def check(sig: Signals) -> list[Finding]:
    if sig.n < 10 or sig.nonfinite_steps:
        return []
    # Compare each point with the medians just before and just after it: a spike is above both, whereas the
    # last point before a steep fall (epoch-boundary drops, early descent) is level with what came before.
    # Tested in log space because loss noise is multiplicative (a 0.05 loss scatters less than a 2.0 one).
    w = min(25, max(3, sig.k // 2))  # local: a few points either side, however long the run
    lg = np.log(np.maximum(sig.loss, 1e-12))
    med = window_medians(lg, w)  # med[j] = median(lg[j : j + w])
    pre, post = np.full(sig.n, np.nan), np.full(sig.n, np.nan)
    pre[w:] = med[: sig.n - w]            # lg[i - w : i]
    post[: sig.n - w] = med[1:]           # lg[i + 1 : i + 1 + w]
    ref = np.fmax(pre, post)  # fmax ignores a NaN side (the last points have no "after")
    idx = np.arange(sig.n)
    # ... and the spike must reach the band: a memorised 0.05 jumping to 0.08 changes nothing in practice
    spike = (idx >= max(w, sig.k // 2)) & (lg - ref > max(np.log(1.5), 8 * sig.sigma_log)) & (sig.loss > sig.band[0])
    count = int(spike.sum())
    if count == 0 or count > max(3, int(0.03 * sig.n)):
        return []
    ratios = sig.loss[spike] / sig.level[spike]
    changes = lr_change(sig, 0.5, "spikes mean some steps overshoot") + clip_change(sig)
    if not has_warmup(sig):
        changes += warmup_change(sig, 0.05, "avoid large early steps")
    return [Finding(
        severity="warning", steps=[int(s) for s in sig.steps[spike]], evidence=[
            f"spikes at {pairs(sig.steps[spike], sig.loss[spike])}; local level around them "
            f"{fmt(float(np.median(sig.level[spike])))}; typical noise ±{fmt(sig.sigma)}"],
        changes=changes, **words("loss_spikes", count=count, ratio=ratios.max()))]
