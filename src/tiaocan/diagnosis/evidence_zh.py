"""Chinese evidence lines (`diagnose --zh`, the report): the findings write their evidence from fixed English
templates with numbers in them; this table turns each template into Chinese, keeping the numbers exactly.

One table instead of a second f-string in every finding: a template changed in a finding without a change here
stays English (never wrong) and `tests/diagnose/test_zh.py` fails, naming the line.
"""
from __future__ import annotations

import re

N = r"(-?[\d.]+(?:e-?\d+)?|nan|inf)"  # a number as fmt() writes it
# (pattern, replacement), applied in order to each line; phrase-level so that composed lines translate too.
RULES: list[tuple[str, str]] = [
    (r"loss is NaN/inf at (\d+) logged step\(s\), first at step (\d+)", r"损失在 \1 个记录步为 NaN/inf，首次出现在第 \2 步"),
    (r"last finite losses before it: ", "此前最后几个有限损失："),
    (r"only (\d+) logged steps: ", r"只记录了 \1 步："),
    (rf"^loss {N} at step (\d+), up to {N}", r"第 \2 步损失 \1，之后最高到 \3"),
    (rf"loss level at the start \(median of the first (\d+) logged losses\) {N} rose to {N} at step (\d+) "
     rf"\(([\d.]+)x\), above {N} for (\d+) of (\d+) logged steps",
     r"开始时的损失水平（前 \1 个记录损失的中位数）\2 在第 \4 步升到 \3（\5 倍），\8 个记录步中有 \7 步高于 \6"),
    (rf"final loss {N} \(recovered\)", r"最终损失 \1（已回落）"),
    (rf"final loss {N} \(did not recover\)", r"最终损失 \1（未回落）"),
    (r"loss is exactly 0 at (\d+) step\(s\): ", r"损失在 \1 步恰好为 0："),
    (r"grad_norm is inf/NaN at (\d+) step\(s\) while the loss is finite: ", r"损失有限时，梯度范数在 \1 步为 inf/NaN："),
    (r"the fp16 loss scale dropped (\d+) times \((.*) \.\.\.\)", r"fp16 损失缩放系数下降了 \1 次（\2 ……）"),
    (r"loss is NaN/inf at step\(s\) (.+) with fp16: true", r"fp16: true 时第 \1 步损失为 NaN/inf"),
    (r"grad_norm is inf at (\d+) step\(s\): ", r"梯度范数在 \1 步为 inf："),
    (rf"grad_norm bursts to >10x its median {N}: ", r"梯度范数突增到其中位数 \1 的 10 倍以上："),
    (rf"grad_norm grew from a median of {N} \(early\) to {N} over the last tenth of the run",
     r"梯度范数从早期的中位数 \1 增长到最后十分之一的 \2"),
    (rf"loss scatters ±{N} around its smoothed level {N} \((\d+)%\)", r"损失在平滑水平 \2 附近波动 ±\1（\3%）"),
    (r"effective batch = (\d+) \(per_device_train_batch_size × gradient_accumulation_steps\)",
     r"有效批量 = \1（per_device_train_batch_size × gradient_accumulation_steps）"),
    (rf"best eval loss {N} at step (\d+)", r"最佳验证损失 \1 出现在第 \2 步"),
    (rf"eval loss at the end {N} \(step (\d+)\); train loss {N} -> {N} meanwhile",
     r"结束时验证损失 \1（第 \2 步）；同期训练损失 \3 -> \4"),
    (rf"train loss at the end {N} < half the band's lower edge {N}", r"结束时训练损失 \1 < 目标区间下沿 \2 的一半"),
    (r"it entered the band's lower edge at step (\d+)", r"在第 \1 步进入区间下沿"),
    (r"; the band's middle at epoch ([\d.]+)", r"；在第 \1 个 epoch 到达区间中部"),
    (r"loss falls across epoch boundaries by ", "跨 epoch 边界时损失下降："),
    (r"typical fall over the same span inside an epoch: ", "epoch 内相同跨度的典型下降："),
    (rf"median train loss {N} over the first third -> {N} over the last third \(([+-][\d.]+%)\) in (\d+) steps, "
     r"still above the band (\S+)", r"训练损失中位数：前三分之一 \1 -> 后三分之一 \2（\3），共 \4 步，仍高于目标区间 \5"),
    (rf"peak learning rate {N}", r"峰值学习率 \1"),
    (rf" \(usual start for LoRA: {N}\)", r"（LoRA 的常用起点：\1）"),
    (rf" \(usual start for full fine-tuning: {N}\)", r"（全参数微调的常用起点：\1）"),
    (r"the lr rises until step (\d+) of (\d+) \((\d+)% of the run\): ", r"学习率一直升到第 \1 步（共 \2 步，占 \3%）："),
    (rf"it never reached the configured learning_rate {N}", r"从未达到配置的 learning_rate \1"),
    (rf"lr at the end {N} = (\d+)% of its peak {N}", r"结束时学习率 \1 = 峰值 \3 的 \2%"),
    (r"^spikes at ", "尖峰："),
    (rf"; local level around them {N}; typical noise ±{N}", r"；附近的局部水平 \1；典型噪声 ±\2"),
    (r"(\d+) answers lose tokens, ([\d.]+)% of all answer tokens; longest example (\d+) tokens, p99 (\S+)",
     r"\1 条回答被截掉部分 token，占全部回答 token 的 \2%；最长样本 \3 个 token，p99 为 \4"),
    (r"recommended cutoff_len (\d+)", r"建议 cutoff_len \1"),
    (rf"train loss at the end {N} is above the band (\S+) \(first logged loss {N}\)",
     r"结束时训练损失 \1 高于目标区间 \2（第一个记录的损失 \3）"),
    (rf"still falling: {N} -> {N} over the last (\d+) steps", r"仍在下降：最后 \3 步从 \1 -> \2"),
    (rf"not clearly falling any more: {N} -> {N} over the last (\d+) steps", r"已不再明显下降：最后 \3 步从 \1 -> \2"),
    # pieces inside the lines above (pairs(), epochs)
    (r"\bstep (\d+): ", r"第 \1 步："),
    (r"\bepoch (\d+): ", r"第 \1 个 epoch："),
    (r" \(epoch ([\d.]+)\)", r"（第 \1 个 epoch）"),
    (r" \(\+(\d+) more\)", r"（另有 \1 个）"),
    (r" \(lr_scheduler_type: (\w+)\)", r"（lr_scheduler_type：\1）"),
]
_COMPILED = [(re.compile(p), r) for p, r in RULES]
_ENGLISH = re.compile(r"\b(?!NaN\b|inf\b|fp16\b|grad_norm\b|lr_scheduler_type\b|learning_rate\b|cutoff_len\b|epoch\b|"
                      r"LoRA\b|p99\b|per_device_train_batch_size\b|gradient_accumulation_steps\b|run_summary\b|json\b|"
                      r"true\b|token\b|e\b)[A-Za-z]{2,}")


def to_zh(line: str) -> str:
    out = line
    for pat, rep in _COMPILED:
        out = pat.sub(rep, out)
    return out


def untranslated(line: str) -> list[str]:
    """English words left after translation (for the test that keeps this table complete)."""
    return _ENGLISH.findall(re.sub(r"lr_scheduler_type：\w+", "", to_zh(line)))  # a config value stays as written
