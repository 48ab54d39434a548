"""Cosine decay after a short linear warmup (the common default; LLaMA-Factory's examples use it).

Warmup: 3 % of steps on long runs, at least ~10 steps on short ones (Adam's second-moment estimate needs a
few steps before full-size updates are safe), at most 10 %.
"""
from __future__ import annotations

from ... import derive
from ..result import Rec
from . import Ctx, register


def warmup_ratio_for(total_steps: int) -> float:
    return round(min(0.1, max(0.03, 10 / max(1, total_steps))), 3)


@register("schedule")
def schedule(ctx: Ctx) -> list[Rec]:
    v = ctx.values
    steps_per_epoch = derive.steps_per_epoch(ctx.train_examples, int(v["per_device_train_batch_size"]),
                                             int(v["gradient_accumulation_steps"]), ctx.devices)
    total = derive.total_steps(steps_per_epoch, float(v["num_train_epochs"]), int(ctx.user.get("max_steps", -1) or -1))
    w = warmup_ratio_for(total)
    return [ctx.rec("lr_scheduler_type", "cosine", "cosine", "common SFT practice (LLaMA-Factory, HF examples)"),
            ctx.rec("warmup_ratio", w, "warmup", "Adam warmup practice", ratio=w, steps=derive.warmup_steps(total, w),
                    total=total)]
