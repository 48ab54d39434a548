"""Peak learning rate.

1. Reference lr at batch 128 (the batch of the tinker-cookbook SFT sweep that calibrated it):
   full fine-tuning 5e-5 x (2000 / hidden_size)^P, P = 0.781 (Llama) or 0.0775 (Qwen); LoRA 10x that
   (tinker-cookbook hyperparam_utils.get_lr, "LoRA Without Regret"). Checkpoints with a measured value in
   the cookbook's sweep table use it directly. Other families have no calibrated exponent: Llama's is used.
2. Square-root scaling with the effective batch (Malladi et al. 2022, Adam-family optimisers).
3. LoRA scale: the reference is alpha = 32 with alpha/r scaling; another alpha (or rsLoRA) changes the
   size of each update, so lr is rescaled to keep alpha/r x lr the same.
4. LoRA+: learning_rate is the A matrices' lr and B gets ratio x that. Keeping plain LoRA's lr would push B
   16x faster (divergence risk); lr / ratio would give no speed-up. We take the geometric middle, lr / sqrt(ratio):
   A learns 4x slower and B 4x faster than in plain LoRA at ratio 16.
5. Horizon (LoRA): the best learning rate falls as the run gets longer (Bjorck et al. 2024, "Scaling optimal LR
   across token horizons": lr* = B x D^-beta at a fixed batch). The reference in 1. comes from long SFT sweeps;
   fine-tuning on small data sees a few hundred examples. The horizon is counted in examples seen (examples x
   epochs), not steps: at a fixed amount of data the batch's sqrt (2.) already holds on the suite (best lr x2.0-2.2
   per x4 batch), so steps would count the batch twice. Measured on the calibration suite (bench/calibration,
   bench/RESULTS.md "calibration"; every curve's best lr interpolated), the best lr was HORIZON_MULT x (reference x
   sqrt(batch / 128)) at HORIZON_SEEN examples seen, falling as seen^-HORIZON_EXP. The factor never goes below 1:
   far beyond the measured horizons the long-run reference holds.
6. Small data: the practitioner start (5e-5 or lower for small datasets) is a full-fine-tuning-scale number.
   For full fine-tuning below 1,000 examples we apply it as a cap (the suite measured LoRA only). For LoRA the
   horizon term (5.) is what a small dataset changes: few examples = few steps = a higher best lr, the opposite
   of the practitioner's instinct, and what the suite measured (today's plan was 4-13x below the best lr there).
"""
from __future__ import annotations

import math

from ..archs import builtin_key
from ..result import Rec
from . import Ctx, register

BASE_LR, LORA_MULT, REF_BATCH, REF_ALPHA = 5e-5, 10.0, 128, 32
EXPONENT = {"llama": 0.781, "qwen": 0.0775}
SMALL_DATA, SMALL_DATA_FULL_CAP = 1000, 5e-5
# tinker-cookbook's measured LoRA lrs (SFT sweep, batch 128) for checkpoints in our built-in table.
CALIBRATED = {"llama-3.2-1b": 1e-3, "llama-3.2-3b": 1e-3, "llama-3.1-8b": 3e-4, "llama-3.1-70b": 3e-4,
              "llama-3.3-70b": 3e-4, "qwen3-4b": 1e-3, "qwen3-8b": 1e-3, "qwen3-32b": 3e-4}
# Fitted by bench/calibration/fit.py on bench/calibration/runs.jsonl (see 5. above and bench/RESULTS.md "calibration").
# 2026-11-29: 7 curves with an interior optimum (SmolLM2-135M: support60 at batch 2 / 8 / 32 x 3 epochs and batch 8 x
# 1 epoch; Gemma-3-270M: support60 at batch 2 / 8 / 32 x 3 epochs). The exponent comes from SmolLM2's 1- vs 3-epoch
# curves (best lr 7.6e-3 vs 4.4e-3 at batch 8); the multiplier is the mean of the two models' own offsets, x5.8
# (SmolLM2) and x1.9 (Gemma): a model's own best lr can sit x1.7 either side of the rule (what `tune` measures).
HORIZON_MULT, HORIZON_SEEN, HORIZON_EXP = 3.3, 1000, 0.4
# How sure the rule is, from the same fit: curves whose best lr was within x2 of the rule's value.
CALIBRATION_WITHIN2, CALIBRATION_CURVES = 5, 8  # with the rule as coded (bench/calibration/fit.py, 66 runs)
SRC = ("tinker-cookbook hyperparam_utils.get_lr / LoRA Without Regret; Malladi et al. 2022 (sqrt batch); "
       "Bjorck et al. 2024 + tiaocan calibration suite (horizon)")


def reference_lr(shape, lora: bool) -> tuple[float, str]:
    """(lr at batch 128, how it was obtained)."""
    key = builtin_key(shape.name)
    if key in CALIBRATED:
        lr = CALIBRATED[key]
        return (lr if lora else lr / LORA_MULT), f"measured ({key})"
    p = EXPONENT.get(shape.family, EXPONENT["llama"])
    lr = BASE_LR * (LORA_MULT if lora else 1.0) * (2000 / shape.hidden_size) ** p
    return lr, f"formula (hidden {shape.hidden_size}, P={p}{'' if shape.family in EXPONENT else ', uncalibrated family'})"


def lora_scale(rank: int, alpha: float, rslora: bool) -> float:
    return alpha / math.sqrt(rank) if rslora else alpha / rank


def horizon_factor(seen: float | None) -> float:
    """x the long-run reference for a run that sees `seen` examples (examples x epochs); 1.0 when unknown or long."""
    if not seen or seen <= 0:
        return 1.0
    return max(1.0, HORIZON_MULT * (seen / HORIZON_SEEN) ** -HORIZON_EXP)


def recommend_lr(shape, method: str, eff_batch: int, rank: int = 16, alpha: float = REF_ALPHA,
                 rslora: bool = False, loraplus_ratio: float | None = None, num_examples: int = 10**6,
                 seen: float | None = None) -> dict:
    """The peak lr and its factors. `seen`: examples the run trains on, epochs counted (the horizon); None = long."""
    lora = method != "full"
    ref, how = reference_lr(shape, lora)
    lr = ref * math.sqrt(eff_batch / REF_BATCH)
    parts = {"ref": ref, "how": how, "batch_factor": math.sqrt(eff_batch / REF_BATCH), "scale_factor": 1.0,
             "loraplus_factor": 1.0, "small_data": "none", "horizon_factor": 1.0, "seen": seen}
    if lora:
        parts["horizon_factor"] = horizon_factor(seen)
        lr *= parts["horizon_factor"]
        parts["scale_factor"] = lora_scale(rank, REF_ALPHA, False) / lora_scale(rank, alpha, rslora)
        lr *= parts["scale_factor"]
        if loraplus_ratio:
            parts["loraplus_factor"] = 1 / math.sqrt(loraplus_ratio)
            lr *= parts["loraplus_factor"]
    elif num_examples < SMALL_DATA and lr > SMALL_DATA_FULL_CAP:
        lr, parts["small_data"] = SMALL_DATA_FULL_CAP, "practitioner"
    parts["lr"] = float(f"{lr:.2g}")
    return parts


def planned_seen(ctx: Ctx) -> float:
    """Examples the run trains on, epochs counted (a max_steps cap counts steps x effective batch)."""
    max_steps = int(ctx.user.get("max_steps", -1) or -1)
    if max_steps > 0:
        return float(max_steps * ctx.values["effective_batch"])
    return ctx.train_examples * float(ctx.values["num_train_epochs"])


@register("learning_rate")
def learning_rate(ctx: Ctx) -> list[Rec]:
    v = ctx.values
    seen = planned_seen(ctx)
    r = recommend_lr(ctx.shape, ctx.method, v["effective_batch"], rank=int(v.get("lora_rank", 16)),
                     alpha=float(v.get("lora_alpha", REF_ALPHA)), rslora=bool(ctx.user.get("use_rslora", False)),
                     loraplus_ratio=v.get("loraplus_lr_ratio"), num_examples=ctx.train_examples, seen=seen)
    key = "full" if ctx.method == "full" else "lora"
    rec = ctx.rec("learning_rate", r["lr"], key, SRC, ref=r["ref"], how=r["how"], eff=v["effective_batch"],
                  bf=r["batch_factor"], lr=r["lr"])
    extra = []
    if r["horizon_factor"] != 1.0:
        extra.append(ctx.text("learning_rate", "horizon", factor=r["horizon_factor"], seen=seen,
                              mult=HORIZON_MULT, ref_seen=HORIZON_SEEN, exp=HORIZON_EXP,
                              within=CALIBRATION_WITHIN2, curves=CALIBRATION_CURVES))
    if r["scale_factor"] != 1.0:
        extra.append(ctx.text("learning_rate", "alpha", factor=r["scale_factor"], alpha=v.get("lora_alpha")))
    if r["loraplus_factor"] != 1.0:
        extra.append(ctx.text("learning_rate", "loraplus", factor=r["loraplus_factor"],
                              ratio=v.get("loraplus_lr_ratio"), b_lr=r["lr"] * v.get("loraplus_lr_ratio")))
    if r["small_data"] != "none":
        extra.append(ctx.text("learning_rate", "small_" + r["small_data"], n=ctx.train_examples))
    if extra and not rec.overridden:
        rec.reason = " ".join([rec.reason, *extra])
    if rec.overridden:
        rec.reason += " " + ctx.text("learning_rate", "suggested", lr=r["lr"])
    return [rec]
