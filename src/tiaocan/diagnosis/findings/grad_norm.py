"""Gradient-norm explosion: isolated bursts far above the run's typical norm, or a norm that keeps growing.

Measured in log space (norms are multiplicative and heavy-tailed): a burst is > 10x the median and > 6 MADs
above it; growth is the last tenth's median > 4x the median of the early-middle part (the very first steps,
where norms are naturally large, are left out).
"""
from __future__ import annotations

import numpy as np

from ..signals import Signals, fmt, mad_sigma
from ..types import Finding
from . import register
from ._common import clip_change, cfg_num, lr_change, pairs, words


@register("grad_norm")
def check(sig: Signals) -> list[Finding]:
    c = sig.curves
    gn, steps = c.arr("grad_norm"), np.asarray(c.steps)
    if cfg_num(sig, "fp16") == 1 or str(sig.cfg.get("fp16")).lower() == "true":
        infs = np.zeros(len(gn), bool)  # with fp16, inf norms are overflow (see fp16), not explosion
    else:
        infs = np.isinf(gn)
    ok = np.isfinite(gn) & (gn > 0)
    if ok.sum() < 8 and not infs.any():
        return []
    g, gs = gn[ok], steps[ok]
    k = max(2, len(g) // 10)
    lg = np.log(g)
    med, mad = float(np.median(lg[k:])), mad_sigma(lg[k:])
    burst = (lg > med + max(np.log(10), 6 * mad)) & (np.arange(len(g)) >= k)
    base = float(np.median(g[k: max(k + 1, len(g) // 2)]))
    end = float(np.median(g[-k:]))
    growing = len(g) >= 10 and base > 0 and end > 4 * base
    ev: list[str] = []
    pinned: list[int] = []
    if infs.any():
        ev.append(f"grad_norm is inf at {int(infs.sum())} step(s): {', '.join(str(int(s)) for s in steps[infs][:6])}")
        pinned += [int(s) for s in steps[infs][:4]]
    if burst.any():
        ev.append(f"grad_norm bursts to >10x its median {fmt(float(np.exp(med)))}: {pairs(gs[burst], g[burst])}")
        pinned += [int(s) for s in gs[burst][:6]]
    if growing:
        ev.append(f"grad_norm grew from a median of {fmt(base)} (early) to {fmt(end)} over the last tenth of the run")
        pinned.append(int(gs[-1]))
    if not ev:
        return []
    return [Finding(severity="warning", steps=sorted(set(pinned)), evidence=ev,
                    changes=clip_change(sig) + lr_change(sig, 0.5, "gradients explode at this learning rate"),
                    **words("grad_norm_explosion"))]
