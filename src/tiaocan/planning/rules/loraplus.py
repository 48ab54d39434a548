"""LoRA+ (Hayou et al. 2024): B matrices learn `ratio` x faster than A. Off unless asked (--loraplus or
--set loraplus_lr_ratio=R); when on, ratio 16 (the authors' 2^4). The learning-rate rule then lowers
learning_rate, which LLaMA-Factory and PEFT apply to the A matrices (B gets learning_rate x ratio)."""
from __future__ import annotations

from ..result import Rec
from . import Ctx, register

DEFAULT_RATIO = 16.0
SOURCE = "Hayou et al. 2024, LoRA+ (arXiv:2402.12354)"


@register("loraplus")
def loraplus(ctx: Ctx) -> list[Rec]:
    on = bool(ctx.user.pop("loraplus", False)) or "loraplus_lr_ratio" in ctx.user
    if not ctx.is_lora or not on:
        return []
    return [ctx.rec("loraplus_lr_ratio", DEFAULT_RATIO, "on", SOURCE, ratio=DEFAULT_RATIO)]
