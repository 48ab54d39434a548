"""Plateau: the train loss hardly moved over the whole run while still above the target band.

"Hardly moved" = the median of the last third is within 5 % of the first third's (15 % when the learning rate
is also far below the usual range for the method). A long warmup is reported by `schedule` instead.
"""
from __future__ import annotations

from ..signals import Signals, fmt, nice
from ..types import Change, Finding
from . import register
from ._common import typical_lr, words
from .schedule import warmup_fraction


def is_plateau(sig: Signals) -> bool:
    if sig.n < 10 or sig.nonfinite_steps or not sig.start > 0 or sig.has("divergence", "fp16_overflow"):
        return False
    if not sig.finished and sig.n < 20:
        return False
    drop = sig.overall_drop
    if drop < -0.1 or sig.end <= sig.band[1] + 2 * sig.end_se():
        return False  # rising: divergence's business; inside/below the band: nothing to push
    lr = sig.peak_lr()
    low_lr = lr is not None and lr < typical_lr(sig) / 5
    if not (drop < 0.05 or (low_lr and drop < 0.15)):
        return False
    wf = warmup_fraction(sig)
    return not (wf is not None and wf[0] > 0.4 and sig.finished)  # a long warmup is schedule's finding


@register("plateau")
def check(sig: Signals) -> list[Finding]:
    if not is_plateau(sig):
        return []
    drop, lr = sig.overall_drop, sig.peak_lr()
    low_lr = lr is not None and lr < typical_lr(sig) / 5
    changes = []
    if lr:
        new = nice(max(lr * 5, typical_lr(sig))) if lr < typical_lr(sig) else nice(lr * 3)
        changes.append(Change(key="learning_rate", old=float(fmt(lr)), new=new,
                              why="the loss did not move at this learning rate"))
    a, b = sig.thirds
    ev = [f"median train loss {fmt(a)} over the first third -> {fmt(b)} over the last third ({-drop:+.1%}) in "
          f"{int(sig.steps[-1])} steps, still above the band {sig.band[0]}–{sig.band[1]}"]
    if lr:
        ev.append(f"peak learning rate {fmt(lr)}" + (f" (usual start for {'LoRA' if sig.is_lora() else 'full fine-tuning'}: "
                                                       f"{fmt(typical_lr(sig))})" if low_lr else ""))
    return [Finding(severity="warning", steps=[int(sig.steps[0]), int(sig.steps[-1])], evidence=ev, changes=changes,
                    **words("plateau"))]
