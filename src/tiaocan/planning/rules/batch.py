"""Effective batch from the dataset size, then micro batch x accumulation from the memory model.

Effective batch: large enough to be steady, small enough to leave >= 100 optimizer steps (a cosine schedule
and the loss-band stop need steps to act on), capped at 64 for LoRA because LoRA loses more than full
fine-tuning at large batches (LoRA Without Regret) and at 128 for full fine-tuning.
"""
from __future__ import annotations

import math

from ..fit import fit_batch
from ..memory import GIB, MemoryInputs, estimate_memory
from ..result import Rec
from . import Ctx, register

TARGET_STEPS = 100
CAP_LORA, CAP_FULL = 64, 128


def effective_batch_for(num_examples: int, epochs: float, lora: bool) -> int:
    raw = num_examples * epochs / TARGET_STEPS
    b = 2 ** int(math.floor(math.log2(raw))) if raw >= 1 else 1
    return int(max(1, min(b, CAP_LORA if lora else CAP_FULL, 2 ** int(math.log2(num_examples)))))


def memory_inputs(ctx: Ctx) -> MemoryInputs:
    v = ctx.values
    prec = "fp16" if v.get("fp16") else ("bf16" if v.get("bf16") else "fp32")
    attn = "flash" if str(ctx.user.get("flash_attn", "")).lower() in ("fa2", "fa3", "true") else "sdpa"
    if attn == "sdpa" and ctx.shape.attn_softcap:
        attn = "eager"  # transformers runs soft-capped attention (Gemma 2) only eagerly: seq x seq scores per head
    return MemoryInputs(method=ctx.method, seq_len=int(v["cutoff_len"]), lora_rank=int(v.get("lora_rank", 8)),
                        lora_target=str(v.get("lora_target", "all")), lora_dropout=float(v.get("lora_dropout", 0.0)),
                        optim=str(ctx.user.get("optim", "adamw_torch")), precision=prec, attention=attn)


@register("batch")
def batch(ctx: Ctx) -> list[Rec]:
    u, D = ctx.user, ctx.devices
    pd, ga, eff_user = u.get("per_device_train_batch_size"), u.get("gradient_accumulation_steps"), u.get("effective_batch")
    if pd is not None and ga is not None:
        eff_target = int(pd) * int(ga) * D
        if eff_user is not None and int(eff_user) != eff_target:
            raise ctx.conflict(f"--set effective_batch={eff_user} contradicts --set per_device_train_batch_size={pd} x "
                               f"gradient_accumulation_steps={ga} x {D} device(s) = {eff_target}; drop one of them")
    elif eff_user is not None:
        eff_target = int(eff_user)
    else:
        eff_target = effective_batch_for(ctx.train_examples, ctx.values["num_train_epochs"], ctx.is_lora)
    eff_target = max(D, math.ceil(eff_target / D) * D)
    base = memory_inputs(ctx)
    budget = ctx.gpu.memory_bytes if ctx.gpu else None
    gc_user = u.get("gradient_checkpointing")
    fit = fit_batch(ctx.shape, base, budget, eff_target, D, checkpointing=gc_user)
    micro, accum, gc = fit.micro_batch, fit.accumulation, fit.gradient_checkpointing
    if pd is not None or ga is not None:  # the user fixed one side: derive the other, keep their value
        per_device = eff_target // D
        micro = int(pd) if pd is not None else max(1, math.ceil(per_device / int(ga)))
        accum = int(ga) if ga is not None else max(1, math.ceil(per_device / micro))
        gc = bool(gc_user) if gc_user is not None else fit.gradient_checkpointing
        est = estimate_memory(ctx.shape, base.model_copy(update=dict(micro_batch=micro, gradient_checkpointing=gc)))
        fit = fit.model_copy(update=dict(micro_batch=micro, accumulation=accum, gradient_checkpointing=gc,
                                         estimate=est, fits=budget is None or est.total <= budget))
        if budget is not None and est.total > budget:
            ctx.notes.append(ctx.text("per_device_train_batch_size", "user_too_big", micro=micro,
                                      need=est.total / GIB, have=budget / GIB))
    elif not fit.fits:
        from ...errors import UserError

        raise UserError(f"--gpu {ctx.gpu.name}: nothing fits ({ctx.method}, cutoff_len={base.seq_len}). Options:\n  - "
                        + "\n  - ".join(fit.advice))
    eff = micro * accum * D
    ctx.values["effective_batch"] = eff
    ctx.extra["fit"] = fit
    src = "tiaocan memory model (planning/memory.py)"
    out = [Rec(key="effective_batch", value=eff, source="dataset size + LoRA Without Regret (batch penalty)",
               reason=ctx.text("effective_batch", "user_set" if eff_user or (pd and ga) else "size",
                               eff=eff, n=ctx.train_examples, steps=TARGET_STEPS,
                               cap=CAP_LORA if ctx.is_lora else CAP_FULL),
               overridden=bool(eff_user))]
    mem = fit.estimate.total / GIB
    have = f"{budget / GIB:.0f}" if budget else "?"
    out.append(ctx.rec("per_device_train_batch_size", micro, "fit" if budget else "no_gpu", src,
                       micro=micro, need=mem, have=have))
    out.append(ctx.rec("gradient_accumulation_steps", accum, "derived", "effective batch / (micro batch x devices)",
                       accum=accum, eff=eff, micro=micro, devices=D))
    out.append(ctx.rec("gradient_checkpointing", gc, "on" if gc else "off", src, need=mem))
    # Eval keeps no activations for backward, so the training micro batch always fits; batch 1 made each in-training
    # eval of the demo take 60-85 s on 2 loaded cores (issue 17).
    out.append(ctx.rec("per_device_eval_batch_size", micro, "same_as_train", src, micro=micro))
    # Padding-free rows (train falls back to length-grouped batches for models that cannot attend per example).
    out.append(ctx.rec("packing", True, "padding_free", "transformers DataCollatorWithFlattening"))
    return out
