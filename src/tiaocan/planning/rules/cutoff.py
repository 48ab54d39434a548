"""cutoff_len from the data's token-length distribution (tiaocan inspect), within the model's context."""
from __future__ import annotations

from ..result import Rec
from . import Ctx, register


def _round_up(n: int, step: int = 64) -> int:
    return max(step, (n + step - 1) // step * step)


@register("cutoff_len")
def cutoff_len(ctx: Ctx) -> list[Rec]:
    d, ctx_len = ctx.data, ctx.shape.max_position_embeddings
    user = ctx.user.get("cutoff_len")
    if user is not None and int(user) > ctx_len:
        raise ctx.conflict(f"--set cutoff_len={user} is longer than the model's context ({ctx_len} tokens, "
                           f"max_position_embeddings); use at most {ctx_len}")
    if d.recommended_cutoff_len:
        value, key = int(d.recommended_cutoff_len), "from_inspect"
    else:  # no advice from inspect: cover the 99th percentile, rounded up to a multiple of 64
        value, key = _round_up(d.p99_tokens), "from_p99"
    if value > ctx_len:
        value, key = ctx_len, "model_limit"
    return [ctx.rec("cutoff_len", value, key, "tiaocan inspect (token-length distribution)",
                    cutoff=value, p99=d.p99_tokens, max=d.max_tokens, ctx=ctx_len)]
