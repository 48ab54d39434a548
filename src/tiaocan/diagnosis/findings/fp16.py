"""fp16 overflow and exact-zero loss.

float16 tops out at 65504: when activations or gradients overflow, the grad scaler skips the step (grad_norm
logged as inf/NaN while the loss looks fine), the loss scale keeps halving, or the loss collapses to exactly 0
(a well-known LLaMA-Factory symptom with fp16 on bf16-trained models). An exact 0.0 loss without fp16 means
no token was supervised (every response cut by cutoff_len, or all labels masked).
"""
from __future__ import annotations

import numpy as np

from ..signals import Signals
from ..types import Change, Finding
from . import register
from ._common import pairs


def _flag(v) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "yes")
    return None


@register("fp16")
def check(sig: Signals) -> list[Finding]:
    c = sig.curves
    loss, gn, steps = c.arr("loss"), c.arr("grad_norm"), np.asarray(c.steps)
    fp16 = _flag(sig.cfg.get("fp16"))
    zero = steps[loss == 0.0]
    bad_gn = steps[np.isinf(gn) | (np.isnan(gn) & np.isfinite(loss) & np.isfinite(gn).any())] if len(gn) else steps[:0]
    scale = c.arr("loss_scale")
    drops = int(np.sum(np.diff(scale[np.isfinite(scale)]) < 0)) if len(scale) else 0
    ev: list[str] = []
    if len(zero):
        ev.append(f"loss is exactly 0 at {len(zero)} step(s): {', '.join(str(int(s)) for s in zero[:6])}")
    if len(bad_gn):
        ev.append(f"grad_norm is inf/NaN at {len(bad_gn)} step(s) while the loss is finite: "
                  f"{', '.join(str(int(s)) for s in bad_gn[:6])}")
    if drops >= 3:
        ev.append(f"the fp16 loss scale dropped {drops} times ({pairs(steps[np.isfinite(scale)][:4], scale[np.isfinite(scale)][:4])} ...)")
    if fp16 and sig.nonfinite_steps:
        ev.append(f"loss is NaN/inf at step(s) {', '.join(map(str, sig.nonfinite_steps[:6]))} with fp16: true")
    if not ev:
        return []
    pinned = sorted({int(s) for s in list(zero[:4]) + list(bad_gn[:4])} | set(sig.nonfinite_steps[:4]))
    if fp16 is False or (fp16 is None and not len(bad_gn) and drops < 3):
        if not len(zero):
            return []
        # Zero loss without (known) fp16 and no overflow sign: nothing was supervised.
        return [Finding(
            id="zero_loss", severity="critical", title="Train loss is exactly 0", title_zh="训练损失恰好为 0",
            steps=pinned, evidence=ev,
            explanation="A loss of exactly 0.0 means no token carried a label in those batches: responses cut away "
                        "entirely by cutoff_len, or a template that masks everything. Run `tiaocan inspect` on the data.",
            explanation_zh="损失恰好为 0 说明这些批次里没有任何 token 参与监督：回答被 cutoff_len 整段截掉，或模板把所有标签都屏蔽了。"
                           "请先用 `tiaocan inspect` 检查数据。",
            changes=[])]
    changes = [Change(key="fp16", old=fp16, new=False, why="float16 overflows here"),
               Change(key="bf16", old=_flag(sig.cfg.get("bf16")), new=True,
                      why="bfloat16 has float32's range (needs an Ampere+ GPU or a CPU; otherwise train in fp32)")]
    return [Finding(
        id="fp16_overflow", severity="critical", title="fp16 overflow: skipped steps / zero or NaN loss",
        title_zh="fp16 数值溢出：跳过更新 / 损失为 0 或 NaN", steps=pinned, evidence=ev,
        explanation="float16 cannot hold values above 65504; overflowing activations or gradients make the grad "
                    "scaler skip steps, the loss scale collapse, and the loss read 0 or NaN. bf16 has the range of fp32.",
        explanation_zh="float16 最大只能表示 65504；激活或梯度溢出时，梯度缩放器会跳过更新、loss scale 不断减半，损失显示为 0 或 NaN。"
                       "bf16 的数值范围与 fp32 相同。",
        changes=changes)]
