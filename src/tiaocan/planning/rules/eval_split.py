"""Held-out split for eval loss: the loss-band stop waits for eval loss to stop improving, and over-fitting
shows only on held-out data. 10 % of the data, at most 500 examples (enough for a stable mean loss), none
below 100 examples (fewer than 10 held-out answers make a noisy eval and cost scarce training data)."""
from __future__ import annotations

from ..result import Rec
from . import Ctx, register

MIN_EXAMPLES, SHARE, MAX_EVAL = 100, 0.1, 500


def val_count_for(num_examples: int) -> int:
    if num_examples < MIN_EXAMPLES:
        return 0
    return int(min(SHARE * num_examples, MAX_EVAL))


@register("eval_split")
def eval_split(ctx: Ctx) -> list[Rec]:
    if ctx.user.get("eval_dataset"):
        return []  # a separate eval set: nothing to hold out
    n = ctx.data.num_examples
    count = val_count_for(n)
    key = "held_out" if count else "too_small"
    return [ctx.rec("val_size", count, key, "held-out evaluation practice", count=count, n=n, min=MIN_EXAMPLES)]
