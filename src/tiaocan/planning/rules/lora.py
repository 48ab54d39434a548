"""LoRA rank, alpha, targets and dropout.

Rank from capacity: LoRA Without Regret (Schulman et al., Thinking Machines 2025) finds LoRA matches full
fine-tuning until the adapter runs out of capacity; networks store on the order of 2 bits per parameter, and
SFT data carries roughly a nat (~1.4 bits) per trained token, so we want adapter params >= 0.7 x response
tokens. Alpha stays 32 at every rank: with the alpha/r scaling that makes the best learning rate nearly
rank-independent (their finding), so the learning-rate rule does not need to know the rank.
"""
from __future__ import annotations

from ..result import Rec
from . import Ctx, register

PARAMS_PER_TOKEN = 0.7
MIN_RANK, MAX_RANK = 16, 256
LWR = "LoRA Without Regret (Thinking Machines, 2025)"
CAPACITY = LWR + "; ~2 bits/parameter: Allen-Zhu & Li 2024 (Physics of LMs 3.3)"


def rank_for_tokens(shape, response_tokens: int, target: str = "all") -> int:
    rank = MIN_RANK
    while rank < MAX_RANK and shape.lora_params(rank, target) < PARAMS_PER_TOKEN * response_tokens:
        rank *= 2
    return rank


@register("lora")
def lora(ctx: Ctx) -> list[Rec]:
    lora_keys = [k for k in ("lora_rank", "lora_alpha", "loraplus_lr_ratio", "lora_target", "lora_dropout", "loraplus",
                             "use_rslora", "use_dora") if ctx.user.get(k) not in (None, False)]
    if not ctx.is_lora:
        if lora_keys:
            flag = "--loraplus" if lora_keys[0] == "loraplus" else f"--set {lora_keys[0]}"
            raise ctx.conflict(f"{flag} needs --method lora or qlora (the plan is --method full)")
        return []
    out = [ctx.rec("lora_target", "all", "all", LWR)]
    tokens = ctx.data.response_tokens
    rank = rank_for_tokens(ctx.shape, tokens, ctx.values["lora_target"])
    out.append(ctx.rec("lora_rank", rank, "capacity", CAPACITY, rank=rank, tokens=tokens,
                       params=ctx.shape.lora_params(rank, ctx.values["lora_target"])))
    out.append(ctx.rec("lora_alpha", 32, "fixed", LWR, rank=ctx.values["lora_rank"]))
    out.append(ctx.rec("lora_dropout", 0.0, "none", LWR))
    return out
