"""Method and numeric precision: finetuning_type / quantization_bit from --method; bf16 when the GPU has it, or,
planning for this machine without a GPU, when its CPU computes bf16 natively (tiaocan.cpu: emulated bf16 made a
training step ~10x slower than fp32 on an AVX2-only CPU)."""
from __future__ import annotations

from ...cpu import has_native_bf16
from ..result import Rec
from . import Ctx, register


@register("precision")
def precision(ctx: Ctx) -> list[Rec]:
    ft = "full" if ctx.method == "full" else "lora"
    if "finetuning_type" in ctx.user and ctx.user["finetuning_type"] != ft:
        raise ctx.conflict(f"--set finetuning_type={ctx.user['finetuning_type']} contradicts --method {ctx.method}; "
                           "choose the method with --method only")
    q = ctx.user.get("quantization_bit")
    if q and ctx.method != "qlora":
        raise ctx.conflict(f"--set quantization_bit={q} contradicts --method {ctx.method}; use --method qlora "
                           "(4-bit) or drop the --set")
    out = [ctx.rec("finetuning_type", ft, ctx.method, "LLaMA-Factory finetuning_type")]
    if ctx.method == "qlora":
        out.append(ctx.rec("quantization_bit", 4, "nf4", "Dettmers et al. 2023 (QLoRA)"))
    if ctx.gpu is not None and not ctx.gpu.bf16:
        out.append(ctx.rec("fp16", True, "no_bf16", "GPU datasheet", gpu=ctx.gpu.name))
        ctx.values["bf16"] = False
    elif ctx.gpu is None and not has_native_bf16():
        out.append(ctx.rec("bf16", False, "cpu_no_bf16", "tiaocan.cpu (measured)"))
    else:
        out.append(ctx.rec("bf16", True, "bf16", "mixed-precision training practice"))
    return out

