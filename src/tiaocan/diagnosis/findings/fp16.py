"""fp16 overflow and exact-zero loss.

float16 tops out at 65504: when activations or gradients overflow, the grad scaler skips the step (grad_norm
logged as inf/NaN while the loss looks fine), the loss scale keeps halving, or the loss collapses to exactly 0
(a well-known LLaMA-Factory symptom with fp16 on bf16-trained models). An exact 0.0 loss without fp16 means
no token was supervised (every response cut by cutoff_len, or all labels masked).
"""
from __future__ import annotations

import numpy as np

from ..signals import Signals
from ..types import Change, Finding
from . import register
from ._common import pairs, words


def _flag(v) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes")
    return None


@register("fp16")
def check(sig: Signals) -> list[Finding]:
    c = sig.curves
    loss, gn, steps = c.arr("loss"), c.arr("grad_norm"), np.asarray(c.steps)
    fp16 = _flag(sig.cfg.get("fp16"))
    zero = steps[loss == 0.0]
    bad_gn = steps[np.isinf(gn) | (np.isnan(gn) & np.isfinite(loss) & np.isfinite(gn).any())] if len(gn) else steps[:0]
    scale = c.arr("loss_scale")
    drops = int(np.sum(np.diff(scale[np.isfinite(scale)]) < 0)) if len(scale) else 0
    ev: list[str] = []
    if len(zero):
        ev.append(f"loss is exactly 0 at {len(zero)} step(s): {', '.join(str(int(s)) for s in zero[:6])}")
    if len(bad_gn):
        ev.append(f"grad_norm is inf/NaN at {len(bad_gn)} step(s) while the loss is finite: "
                  f"{', '.join(str(int(s)) for s in bad_gn[:6])}")
    if drops >= 3:
        ev.append(f"the fp16 loss scale dropped {drops} times ({pairs(steps[np.isfinite(scale)][:4], scale[np.isfinite(scale)][:4])} ...)")
    if fp16 and sig.nonfinite_steps:
        ev.append(f"loss is NaN/inf at step(s) {', '.join(map(str, sig.nonfinite_steps[:6]))} with fp16: true")
    if not ev:
        return []
    pinned = sorted({int(s) for s in list(zero[:4]) + list(bad_gn[:4])} | set(sig.nonfinite_steps[:4]))
    if fp16 is False or (fp16 is None and not len(bad_gn) and drops < 3):
        if not len(zero):
            return []
        # Zero loss without (known) fp16 and no overflow sign: nothing was supervised.
        return [Finding(severity="critical", steps=pinned, evidence=ev, changes=[], **words("zero_loss"))]
    changes = [Change(key="fp16", old=fp16, new=False, why="float16 overflows here"),
               Change(key="bf16", old=_flag(sig.cfg.get("bf16")), new=True,
                      why="bfloat16 has float32's range (needs an Ampere+ GPU or a CPU; otherwise train in fp32)")]
    return [Finding(severity="critical", steps=pinned, evidence=ev, changes=changes, **words("fp16_overflow"))]
