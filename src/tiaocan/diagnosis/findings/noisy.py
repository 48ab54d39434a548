"""Noisy loss: step-to-step scatter that is large relative to the loss itself.

Scatter = MAD-sigma of the loss around its rolling median, relative to the late-run level: > 30 % always
fires, > 20 % fires when the effective batch is known to be <= 2. The loss of a tiny batch is the loss of one
or two examples, so the updates follow individual examples and the lr that suits a steady batch is too high.
"""
from __future__ import annotations

import math

from ..signals import Signals, fmt
from ..types import Change, Finding
from . import register
from ._common import cfg_num, words


@register("noisy")
def check(sig: Signals) -> list[Finding]:
    if sig.n < 20 or sig.nonfinite_steps:
        return []
    rel = sig.rel_noise
    eb = sig.effective_batch()
    if not (rel > 0.3 or (rel > 0.2 and eb is not None and eb <= 2)):
        return []
    changes: list[Change] = []
    per_dev = int(cfg_num(sig, "per_device_train_batch_size") or 1)
    acc = int(cfg_num(sig, "gradient_accumulation_steps") or 1)
    if eb is None or eb < 16:
        new_acc = max(acc * 2, math.ceil(16 / per_dev))
        changes.append(Change(key="gradient_accumulation_steps", old=acc if "gradient_accumulation_steps" in sig.cfg else None,
                              new=new_acc, why=f"effective batch {per_dev * new_acc}: steadier updates at the same memory"))
    ev = [f"loss scatters ±{fmt(sig.sigma)} around its smoothed level {fmt(sig.sigma / rel)} ({rel:.0%})"]
    if eb is not None:
        ev.append(f"effective batch = {eb} (per_device_train_batch_size × gradient_accumulation_steps)")
    return [Finding(severity="warning", steps=[int(sig.steps[0]), int(sig.steps[-1])], evidence=ev, changes=changes,
                    **words("noisy_loss", rel=rel))]
