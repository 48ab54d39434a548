"""Micro batch x gradient accumulation for a memory budget, and "what would fit" advice with numbers.

Unlike HF's auto_find_batch_size (shrink after an OOM, silently changing the effective batch), the fitter
predicts memory up front and keeps the effective batch: accumulation makes up what the micro batch cannot.
"""
from __future__ import annotations

import math

from pydantic import BaseModel

from .memory import GIB, MemoryEstimate, MemoryInputs, estimate_memory
from .shapes import ModelShape

SAFETY = 0.90  # use at most 90 % of the card: the estimate targets ±10 %


class Fit(BaseModel):
    micro_batch: int
    accumulation: int
    gradient_checkpointing: bool
    estimate: MemoryEstimate
    fits: bool
    budget_bytes: int | None
    advice: list[str] = []


def _pow2_divisors(n: int) -> list[int]:
    out, m = [], 1
    while m <= n:
        if n % m == 0:
            out.append(m)
        m *= 2
    return out


def fit_batch(shape: ModelShape, base: MemoryInputs, budget_bytes: int | None, effective_batch: int,
              devices: int = 1, checkpointing: bool | None = None) -> Fit:
    """Largest power-of-two micro batch that divides the per-device batch and fits under SAFETY x budget.

    Tries without gradient checkpointing first (it costs ~30 % speed), then with it. `checkpointing` forces
    one choice. With no budget (no GPU known) the micro batch defaults to 1-2, the practitioner start.
    """
    per_device = max(1, math.ceil(effective_batch / devices))
    candidates = sorted(_pow2_divisors(per_device), reverse=True)
    if budget_bytes is None:
        micro = 2 if per_device % 2 == 0 and base.seq_len <= 2048 else 1
        gc = bool(checkpointing)
        est = estimate_memory(shape, base.model_copy(update=dict(micro_batch=micro, gradient_checkpointing=gc)))
        return Fit(micro_batch=micro, accumulation=per_device // micro, gradient_checkpointing=gc, estimate=est,
                   fits=True, budget_bytes=None)
    limit = SAFETY * budget_bytes
    for gc in ([checkpointing] if checkpointing is not None else [False, True]):
        for micro in candidates:
            est = estimate_memory(shape, base.model_copy(update=dict(micro_batch=micro, gradient_checkpointing=gc)))
            if est.total <= limit:
                return Fit(micro_batch=micro, accumulation=per_device // micro, gradient_checkpointing=gc,
                           estimate=est, fits=True, budget_bytes=budget_bytes)
    gc = True if checkpointing is None else checkpointing
    est = estimate_memory(shape, base.model_copy(update=dict(micro_batch=1, gradient_checkpointing=gc)))
    return Fit(micro_batch=1, accumulation=per_device, gradient_checkpointing=gc, estimate=est, fits=False,
               budget_bytes=budget_bytes, advice=what_would_fit(shape, base, budget_bytes))


def longest_fitting_len(shape: ModelShape, inputs: MemoryInputs, limit: float) -> int | None:
    """Longest multiple of 64 below inputs.seq_len that fits `limit` (binary search; memory grows with length)."""
    lo, hi = 0, inputs.seq_len
    while hi - lo > 8:
        mid = (lo + hi) // 2
        if estimate_memory(shape, inputs.model_copy(update=dict(seq_len=max(mid, 1)))).total <= limit:
            lo = mid
        else:
            hi = mid
    return lo // 64 * 64 if lo >= 64 else None


def what_would_fit(shape: ModelShape, base: MemoryInputs, budget_bytes: int) -> list[str]:
    """Concrete alternatives when micro batch 1 with checkpointing does not fit, each with its estimate."""
    limit = SAFETY * budget_bytes
    one = base.model_copy(update=dict(micro_batch=1, gradient_checkpointing=True))
    need = estimate_memory(shape, one).total
    out = [f"micro batch 1 with gradient checkpointing needs ~{need / GIB:.1f} GiB; "
           f"the budget is {budget_bytes / GIB:.1f} GiB x {SAFETY:.0%} safety = {limit / GIB:.1f} GiB"]
    if base.method == "lora":
        qlora = one.model_copy(update=dict(method="qlora"))
        q = estimate_memory(shape, qlora).total
        if q <= limit:
            out.append(f"QLoRA (--method qlora): ~{q / GIB:.1f} GiB — fits")
        else:
            n = longest_fitting_len(shape, qlora, limit)
            out.append(f"QLoRA (--method qlora): ~{q / GIB:.1f} GiB" +
                       (f"; with --set cutoff_len={n} it fits" if n else "; does not fit either"))
    if base.method == "full":
        for opt in ("adamw_bnb_8bit",):
            e = estimate_memory(shape, one.model_copy(update=dict(optim=opt))).total
            out.append(f"8-bit AdamW (--set optim={opt}): ~{e / GIB:.1f} GiB" + (" — fits" if e <= limit else ""))
        lo = estimate_memory(shape, one.model_copy(update=dict(method="lora", lora_rank=16))).total
        out.append(f"LoRA instead of full (--method lora): ~{lo / GIB:.1f} GiB" + (" — fits" if lo <= limit else ""))
    n = longest_fitting_len(shape, one, limit)
    if n:
        out.append(f"shorter examples: cutoff_len={n} fits (--set cutoff_len={n}); check what it cuts with tiaocan inspect")
    else:
        static = estimate_memory(shape, one.model_copy(update=dict(seq_len=1))).total
        out.append(f"the weights and optimizer alone need ~{static / GIB:.1f} GiB: no cutoff_len fits this method")
    out.append(f"a larger GPU: at least {need / SAFETY / GIB:.0f} GiB")
    return out
