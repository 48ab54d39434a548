"""Peak learning rate.

1. Reference lr at batch 128 (the batch of the tinker-cookbook SFT sweep that calibrated it):
   full fine-tuning 5e-5 x (2000 / hidden_size)^P, P = 0.781 (Llama) or 0.0775 (Qwen); LoRA 10x that
   (tinker-cookbook hyperparam_utils.get_lr, "LoRA Without Regret"). Checkpoints with a measured value in
   the cookbook's sweep table use it directly. Other families have no calibrated exponent: Llama's is used.
2. Square-root scaling with the effective batch (Malladi et al. 2022, Adam-family optimisers).
3. LoRA scale: the reference is alpha = 32 with alpha/r scaling; another alpha (or rsLoRA) changes the
   size of each update, so lr is rescaled to keep alpha/r x lr the same.
4. LoRA+: learning_rate is the A matrices' lr and B gets ratio x that. Keeping plain LoRA's lr would push B 16x
   faster (divergence risk); lr / ratio would give B plain LoRA's lr and slow A down. Measured on the calibration suite
   (bench/RESULTS.md "calibration", LoRA+ 16, both optima interior): LoRA+'s best lr sat x0.17 of plain LoRA's on
   SmolLM2-135M x support60 at batch 8 x 3 epochs (ratio^-0.64), x0.07 on Gemma-3-270M there (ratio^-0.95) and x0.12
   on SmolLM2 x chatter_zh at batch 2 x 3 epochs (ratio^-0.76; session 12). The rule uses ratio^-LORAPLUS_EXP, the
   pairs' mean exponent (bench/calibration/effects.py `loraplus_exponent`). Until session 10 it used the geometric
   middle, lr / sqrt(ratio); each pair predicted from the other pairs' exponent (held out): Gemma +8.5 % above its
   LoRA+ curve's best (the middle: +22.1 %), SmolLM2 chatter_zh +1.2 % (+2.0 %), SmolLM2 support60 +3.6 % (+3.4 %).
5. Short runs (LoRA), measured on tiaocan's calibration suite (bench/calibration; bench/RESULTS.md "calibration"):
   every curve's best lr interpolated, then log(lr* / reference) fitted as c + a log(batch / 8) + s log(horizon)
   with each model's own offset removed (fixed effects). Candidate forms — the horizon as examples seen, optimizer
   steps, training tokens or epochs; the batch exponent fitted or held at the literature's 1/2; a slope that bends
   at 1,000 seen; each curve weighted by what a miss costs there — are compared by leave-one-task-out
   regret (the model's own offset fitted on its other tasks), not by in-sample fit, on the held-out curves every
   form's prediction can be read on. With 5 tasks the square root of the batch and examples seen had won (median
   +0.7 %, worst +19.8 % on 8 such curves; next best median +2.4 %), as with 3 tasks, while 2 had favoured epochs.
   Session 8 added the first curves beyond 800 examples seen (chatter_zh and chatter_en at 3 epochs: 1,260 and 2,400
   seen), session 9 a 6th task (sharegpt100: 100 multi-turn ShareGPT conversations, 1 and 3 epochs), and no form
   wins outright any more: on the 10 common curves this form is median +1.0 % / worst +33.3 %, the horizon bent at
   1,000 seen +1.4 % / +27.0 %, each curve weighted by its curvature +1.0 % / +31.3 % (across-model: +1.7 / +59.5,
   +2.0 / +53.5, +1.0 / +58.0). Differences of ~1 % are within the suite's eval noise, so the form stays and its
   constants are refitted. Its horizon exponent moved with each task added (0.16 with 3, 0.09 with 4, 0.22 with 5,
   0.46 with the 3-epoch chatter curves, 0.41 with sharegpt100, 0.44 with chatter_zh at batch 2 in session 12:
   there the best lr, 5.9e-4, sat x0.34 of batch 16's 1.7e-3 at 1/8 the batch, the square root's x0.35; 0.39 with a
   7th task in session 13, chatter_topic: 400 lines -> their topic, 17 labels; 0.42 with Gemma's curves on it in
   session 14). Within a task, 1 to 3 epochs moved
   the best lr x0.41 on both chatter tasks and x0.50 on sharegpt100 (100 -> 300 seen: steep at a small horizon too,
   so the slope is not a matter of the run's length alone) but x0.75 / x0.83 on the support tasks and x1.1 on
   chatter_topic (its 3-epoch curve is flat within its run-to-run noise between 1e-3 and 4e-3), while Gemma-3-270M on
   that same task fell x0.21 (1.4e-3 -> 2.9e-4): how fast the best lr falls with the horizon depends on the data and
   the model, which a formula of batch and horizon cannot see (`plan --probe` measures it where the run is long
   enough). A model's multiplier does not carry across tasks either: Gemma's, fitted on support60 alone, put its best
   lr on chatter_topic at 8.3e-4 / 5.4e-4 at 1 / 3 epochs (written down before the runs, session 14); measured
   1.4e-3 / 2.9e-4 (x1.7 / x0.54). The form is steadier than its constants. With
   chatter_topic the curvature-weighted fit leads held out, but only through that task's 3-epoch curve, whose
   "curvature" is the divergence at 8e-3 (weight 5.0, the other curves' 0.01-0.29); with weights capped at 0.3 it
   trails (own model offset: median +1.8 vs +1.4 %). Two data features plan time could read were tried held out and
   not adopted: the base model's held-out loss (session 10) and answer repetition (session 13, bench/calibration/
   repetition.py: fitted on 6 tasks it put chatter_topic's best lr at x3.5 the rule's, 8.3e-3 / 5.3e-3 at 1 / 3
   epochs, written down before its runs; 8e-3 diverged at both). The rule in the measured range:
       lr = reference x MULT x sqrt(batch / 8) x (examples seen / 1000)^-SEEN_EXP
   MULT is the model's own where the suite measured it (MODEL_MULT), else the mean of the measured models (their own
   were x0.59 and x1.70 of it). Beyond the longest horizon the suite measured (SEEN_MEASURED examples seen) the lr
   falls as seen^-LONG_EXP, the quarter-power law of long pre-training runs (Filatov et al. 2025, eta*(D) ~ D^-0.28;
   Bjorck et al. 2024), and never below the long-run literature value at that batch (1. and 2.).
6. Small data, full fine-tuning: the practitioner start (5e-5 or lower for small datasets) applies as a cap below
   1,000 examples (the suite measured LoRA only). For LoRA, small data is the opposite case: few examples = a short
   run = a higher best lr (today's plan was 4-13x below the best lr before the suite).
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
# Fitted by bench/calibration/fit.py ("sqrt batch + seen") on bench/calibration/runs.jsonl; see 5. above.
# 2026-12-01 (session 14): 21 curves with an interior optimum, 2 models, 7 tasks (SmolLM2-135M: support60 at batch
# 2 / 8 / 32 x 3 epochs and batch 8 x 1 epoch, support at batch 8 x 1 / 3 epochs, chatter_zh at batch 16 x 1 and 3
# epochs and batch 2 x 3 epochs, chatter_en at batch 16 x 1 and 3 epochs, pyfaq at batch 8 x 1 epoch, sharegpt100 at
# batch 2 x 1 / 3 epochs, chatter_topic at batch 8 x 1 / 3 epochs; Gemma-3-270M: support60 at batch 2 / 8 / 32 x 3
# epochs, chatter_topic at batch 8 x 1 / 3 epochs).
# fit.py prints these under "the rule's constants"; tests/bench/test_calibration_fit.py checks the copy.
SHORT_BATCH, SEEN_REF = 8, 1000
MULT, SEEN_EXP = 0.76, 0.42
# Each measured model's own multiplier (its offset in the same fit, x MULT): keys are the built-in names.
MODEL_MULT = {"smollm2-135m": 0.76 * 1.70, "gemma-3-270m": 0.76 * 0.59}
# A model's own multiplier on a task it was not fitted on (fit.py own_spread: each task left out, the model's offset
# from its other tasks): the measured best lr sat this far below / above the rule's value, over that many curves.
# Session 14 tested it before the runs: Gemma's, fitted on support60 alone, was x1.7 / x0.54 off on chatter_topic at
# 1 / 3 epochs (held out this way x1.74 / x0.59). The ends are SmolLM2's: sharegpt100 at 3 epochs
# (x0.46) and support at 3 epochs (x2.37).
MODEL_OWN_SPREAD = (0.46, 2.37, 21)
SEEN_MEASURED, LONG_EXP = 2400, 0.28  # the longest horizon with an interior optimum (chatter_en, 800 x 3)
# The shortest horizon with an interior optimum (support60, 60 x 1 epoch). Below it the horizon term is extrapolation;
# `plan --probe` does not carry a probe run shorter than this over to the full run (probing/core.py).
SEEN_MIN_MEASURED = 60
# How sure the rule is, from the same fit: curves whose best lr was within x2 of the rule's value, and the
# leave-one-task-out regret of the lr alone (the model's own multiplier fitted on its other tasks).
CALIBRATION_WITHIN2, CALIBRATION_CURVES = 13, 21
LOTO_MEDIAN, LOTO_WORST, LOTO_CURVES = 1.1, 29.3, 21
# The whole plan, run as written on a task left out of the fit (bench/calibration `grid.py jobs --plan-loto`; fit.py's
# "per kind" lines): its held-out loss against that task's best measured run, over task-model pairs: SmolLM2 on
# support60 / support / pyfaq / chatter_zh / chatter_en / sharegpt100 / chatter_topic and Gemma-3-270M on
# chatter_topic, each planned by the fit's procedure on the other tasks (session 14's fit re-ran support60, support,
# chatter_zh, chatter_en and sharegpt100 as written, each one rounding step from session 13's; it writes the same lrs
# on pyfaq and chatter_topic, whose rows stand).
PLAN_LOTO_MEDIAN, PLAN_LOTO_WORST, PLAN_LOTO_TASKS = 1.9, 54.9, 8
# The same as means over seeds (fit.py's "means over seeds" lines, regrets.seed_means; session 15): on the pairs where
# the plan's run and the task's best configs were each repeated at other seeds, the plan's mean against the lowest
# mean. A single-draw "best run" is partly the luckiest of ~10 draws (on chatter_topic two SmolLM2 configs moved +49
# and +82 % at another seed), so these are the plan's misses net of that luck.
PLAN_SEEDS_MEDIAN, PLAN_SEEDS_WORST, PLAN_SEEDS_TASKS = 4.7, 17.6, 6
# LoRA+ lowers learning_rate (A's rate) by ratio^-LORAPLUS_EXP (4. above; fit.py prints it as "LoRA+ exponent").
LORAPLUS_EXP = 0.78
# `plan --probe` on a run too short for its learning-rate runs: the rule's sqrt(batch / 8) assumes every task's
# gradient noise scale alike, but B_simple at the start differs (SmolLM2, 2 draws of 32 examples: ~8-11 on the
# support, FAQ and chit-chat tasks, 35 on sharegpt100) and the rule's residual follows it. McCandlish et al. 2018:
# lr*(B) ~ sqrt(B / (B + B_noise)) for Adam, so the probe multiplies the rule by NOISE_K x sqrt(8 / (batch +
# B_simple)), within NOISE_FACTOR_RANGE (a noisy B_simple moves the lr at most x2). K: bench/calibration/noise.py.
NOISE_K, NOISE_FACTOR_RANGE = 1.57, (0.5, 2.0)
# Held out (K and the rule refitted without each task; SmolLM2's curves, the lr alone): (median, worst) regret
# against each curve's best, the rule alone and the rule x the correction, over NOISE_LOTO_CURVES curves.
NOISE_LOTO_RULE, NOISE_LOTO, NOISE_LOTO_CURVES = (1.0, 29.3), (1.1, 23.9), 16
# K was fitted on NOISE_MODEL's curves. Gemma-3-270M's B_simple on the same 7 tasks (noise.py --models) was
# NOISE_MODEL_SPREAD (lowest, highest) times SmolLM2's, in nearly the same order: the ordering is the data's, the
# level and spread the model's (the support sets, furthest from what Gemma predicts, lowest). On other models the
# reason says so, with the correction read held out on Gemma's own curves (noise.py other_curves, session 14: its
# offset from its other task): (median, worst) of the rule and of the rule x the correction, over that many curves.
NOISE_MODEL, NOISE_MODEL_SPREAD = "smollm2-135m", (0.40, 1.55)
NOISE_OTHER_LOTO = ((4.9, 22.2), (0.6, 29.7), 4)
# `plan --probe` as it ships, run as written on a task left out of the fit (fit.py's "plan --probe at its default
# budget" line): the learning-rate probe's choice where its runs are long enough (chatter_en), else the noise-corrected
# plan; against each task's best measured run, on the same 8 task-model pairs (the noise-corrected rows of SmolLM2's
# tasks were written by session 11-13 fits, within one rounding step of session 14's).
PROBE_LOTO_MEDIAN, PROBE_LOTO_WORST, PROBE_LOTO_TASKS = 3.7, 19.3, 8
SRC = ("tinker-cookbook hyperparam_utils.get_lr / LoRA Without Regret; Malladi et al. 2022 (sqrt batch); "
       "tiaocan calibration suite (short runs: batch, epochs, model); Filatov et al. 2025 / Bjorck et al. 2024 (long)")


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


def model_mult(shape) -> tuple[float, bool]:
    """(the short-run multiplier for this model, whether the suite measured this model itself)."""
    key = measured_key(shape.name)
    return (MODEL_MULT[key], True) if key else (MULT, False)


def measured_key(model: str) -> str | None:
    """The calibration suite's name for `model` (what the user passed as --model, as `shape.name` holds it:
    "smollm2-135m"), or None when the suite did not measure it."""
    from ...models import ALIASES  # an embedded model's name ("gemma3-270m") and its aliases ("gemma-3-270m")

    names = [model, *(alias for alias, name in ALIASES.items() if name == model)]
    return next((k for k in map(builtin_key, names) if k in MODEL_MULT), None)


def horizon_factor(seen: float | None) -> float:
    """The horizon's part of the short-run rule (examples seen, epochs counted): (seen / 1000)^-SEEN_EXP within the
    measured horizon, then as seen^-LONG_EXP (the long-run literature's law) beyond it. 1.0 when the horizon is unknown."""
    if not seen or seen <= 0:
        return 1.0
    if seen <= SEEN_MEASURED:
        return (seen / SEEN_REF) ** -SEEN_EXP
    return (SEEN_MEASURED / SEEN_REF) ** -SEEN_EXP * (seen / SEEN_MEASURED) ** -LONG_EXP


def noise_factor(eff_batch: int, b_simple: float | None, k: float = NOISE_K) -> float | None:
    """What `plan --probe` multiplies the rule's short-run lr by, given the measured gradient noise scale (NOISE_K
    above; bench/calibration/noise.py passes the K it refits without a task); None when B_simple was not measurable
    (<= 0 or not finite: the rule stands)."""
    if b_simple is None or not math.isfinite(b_simple) or b_simple <= 0:
        return None
    lo, hi = NOISE_FACTOR_RANGE
    return min(hi, max(lo, k * math.sqrt(SHORT_BATCH / (eff_batch + b_simple))))


def recommend_lr(shape, method: str, eff_batch: int, rank: int = 16, alpha: float = REF_ALPHA,
                 rslora: bool = False, loraplus_ratio: float | None = None, num_examples: int = 10**6,
                 seen: float | None = None) -> dict:
    """The peak lr and its factors. `seen`: examples the run trains on, epochs counted (the horizon); None = long,
    the literature's long-run value."""
    lora = method != "full"
    ref, how = reference_lr(shape, lora)
    long_run = ref * math.sqrt(eff_batch / REF_BATCH)
    lr = long_run
    parts = {"ref": ref, "how": how, "batch_factor": math.sqrt(eff_batch / REF_BATCH), "scale_factor": 1.0,
             "loraplus_factor": 1.0, "small_data": "none", "horizon_factor": 1.0, "seen": seen, "long_run": long_run,
             "short": None}
    if lora and seen:
        mult, own = model_mult(shape)
        bf, hf = math.sqrt(eff_batch / SHORT_BATCH), horizon_factor(seen)
        short = ref * mult * bf * hf
        if short > long_run:
            lr = short
            parts["horizon_factor"] = short / long_run
            parts["short"] = {"mult": mult, "own": own, "bf": bf, "epochs": seen / num_examples, "hf": hf}
    if lora:
        parts["scale_factor"] = lora_scale(rank, REF_ALPHA, False) / lora_scale(rank, alpha, rslora)
        lr *= parts["scale_factor"]
        if loraplus_ratio:
            parts["loraplus_factor"] = loraplus_ratio ** -LORAPLUS_EXP
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
                  bf=r["batch_factor"], lr=r["long_run"])
    extra = []
    if r["short"]:
        sh = r["short"]
        extra.append(ctx.text("learning_rate", "horizon", seen=seen, epochs=sh["epochs"], mult=sh["mult"],
                              eff=v["effective_batch"], bf=sh["bf"], sexp=SEEN_EXP, hf=sh["hf"],
                              factor=r["horizon_factor"], within=CALIBRATION_WITHIN2, curves=CALIBRATION_CURVES,
                              median=LOTO_MEDIAN, worst=LOTO_WORST, loto=LOTO_CURVES, pmedian=PLAN_LOTO_MEDIAN,
                              pworst=PLAN_LOTO_WORST, ptasks=PLAN_LOTO_TASKS, smedian=PLAN_SEEDS_MEDIAN,
                              sworst=PLAN_SEEDS_WORST, stasks=PLAN_SEEDS_TASKS))
        if seen > SEEN_MEASURED:
            extra.append(ctx.text("learning_rate", "horizon_beyond", measured=SEEN_MEASURED, lexp=LONG_EXP))
        else:  # where `--probe` cannot run learning-rate runs it still corrects the batch term (noise_factor)
            extra.append(ctx.text("learning_rate", "horizon_noise", worst=NOISE_LOTO_RULE[1], noise_worst=NOISE_LOTO[1],
                                  curves=NOISE_LOTO_CURVES, tasks=PROBE_LOTO_TASKS, pmedian=PROBE_LOTO_MEDIAN,
                                  pworst=PROBE_LOTO_WORST))
        extra.append(ctx.text("learning_rate", "model_own", low=MODEL_OWN_SPREAD[0], high=MODEL_OWN_SPREAD[1],
                              curves=MODEL_OWN_SPREAD[2]) if sh["own"] else
                     ctx.text("learning_rate", "model_mean", low=min(MODEL_MULT.values()) / MULT,
                              high=max(MODEL_MULT.values()) / MULT))
    if r["scale_factor"] != 1.0:
        extra.append(ctx.text("learning_rate", "alpha", factor=r["scale_factor"], alpha=v.get("lora_alpha")))
    if r["loraplus_factor"] != 1.0:
        extra.append(ctx.text("learning_rate", "loraplus", factor=r["loraplus_factor"], exp=LORAPLUS_EXP,
                              ratio=v.get("loraplus_lr_ratio"), b_lr=r["lr"] * v.get("loraplus_lr_ratio")))
    if r["small_data"] != "none":
        extra.append(ctx.text("learning_rate", "small_" + r["small_data"], n=ctx.train_examples))
    if extra and not rec.overridden:
        rec.reason = " ".join([rec.reason, *extra])
    if rec.overridden:
        rec.reason += " " + ctx.text("learning_rate", "suggested", lr=r["lr"])
    return [rec]
