"""What the measured gradient noise scale does to the plan's batch.

B_simple estimates the batch above which extra examples per step stop paying (McCandlish et al. 2018). Within x2 of
the plan's effective batch the plan stands: the estimate is noisy and taken at the start of training, where it is
smallest. Further off, the accumulation moves the effective batch to the power of two nearest B_simple; the micro
batch stays what the memory model fitted (memory does not change). Bounds: the plan's batch cap (LoRA loses more at
large batches), and the full run keeps the batch rule's TARGET_STEPS optimizer steps (unless the plan already had
fewer). That second bound is what data-limited runs hit: at a fixed number of passes a larger batch is fewer
updates, and on the calibration suite x4 the batch at the same epochs cost held-out loss at every task's best lr
(SmolLM2 x support60: batch 2 -> 8 +9 %; Gemma x support60 +3 %; SmolLM2 x support: batch 8 -> 32 +135 %) even
where B_simple asked for more (support60: B_simple ~9 against a planned batch of 1, bench/RESULTS.md "calibration"). The plan is then made again with that accumulation fixed, so every value that
follows from the batch — the rule's learning rate (its batch scaling), warmup, steps, tokens — is re-derived by the
rules themselves, never here. A batch the user fixed with --set is kept.
"""
from __future__ import annotations

import math

from .. import derive
from ..explanation import reason
from ..planning.result import Plan
from .noise import NoiseEstimate

FAR = 2.0  # act only when B_simple is more than this factor from the planned effective batch
BATCH_KEYS = ("effective_batch", "gradient_accumulation_steps")
SOURCE = "measured: tiaocan plan --probe (gradient noise scale, McCandlish et al. 2018)"


def accumulation_for(plan: Plan, b_simple: float, devices: int) -> tuple[int, bool, int, int]:
    """(accumulation, whether a bound held it back, lowest and highest effective batch allowed): the power-of-two
    accumulation whose effective batch is nearest B_simple within the bounds."""
    from ..planning.rules.batch import CAP_FULL, CAP_LORA, TARGET_STEPS

    cfg = plan.to_train_config()
    micro, n = cfg.per_device_train_batch_size, plan.steps.train_examples

    def total(accum: int) -> int:
        return derive.total_steps(derive.steps_per_epoch(n, micro, accum, devices), cfg.num_train_epochs, cfg.max_steps)

    cap = max(CAP_FULL if plan.method == "full" else CAP_LORA, plan.steps.effective_batch)
    floor_steps = min(TARGET_STEPS, plan.steps.total_steps)
    allowed = [a for a in (2 ** k for k in range(17))
               if derive.effective_batch(micro, a, devices) <= cap and total(a) >= floor_steps]
    allowed = allowed or [cfg.gradient_accumulation_steps]
    want = math.log2(max(b_simple / (micro * devices), 1e-9))
    best = min(allowed, key=lambda a: abs(math.log2(a) - want))
    ideal = 2 ** max(0, round(want))  # accumulation cannot go below 1: the micro batch is the floor, not a bound
    return (best, best != ideal, derive.effective_batch(micro, min(allowed), devices),
            derive.effective_batch(micro, max(allowed), devices))


def apply_noise_scale(plan: Plan, est: NoiseEstimate, n: int, devices: int) -> tuple[Plan, str]:
    """(the plan, re-made at the batch B_simple advises when it is far from the planned one; the reason text)."""
    from ..planning.rules.batch import CAP_FULL, CAP_LORA, TARGET_STEPS

    text = lambda key, **kw: reason("probe", key, plan.lang, **kw)  # noqa: E731
    eb = plan.steps.effective_batch
    if est.b_simple is None:
        return plan, text("batch_unmeasured", n=n)
    if any(k in plan.overrides for k in BATCH_KEYS):
        return plan, text("batch_user_set", b_simple=est.b_simple, planned=eb)
    if eb / FAR <= est.b_simple <= eb * FAR:
        return plan, text("batch_kept", b_simple=est.b_simple, planned=eb)
    accum, held_back, low, high = accumulation_for(plan, est.b_simple, devices)
    micro = int(plan.config["per_device_train_batch_size"])
    new_eb = derive.effective_batch(micro, accum, devices)
    bounded = "" if not held_back else " " + text(
        "batch_bounded", want=est.b_simple, low=low, high=high, min_steps=min(TARGET_STEPS, plan.steps.total_steps),
        cap=CAP_FULL if plan.method == "full" else CAP_LORA)
    if new_eb == eb:
        floor = accum == 1 and est.b_simple < eb
        return plan, text("batch_far_kept", b_simple=est.b_simple, planned=eb) + (
            " " + text("batch_floor", micro=micro) if floor else bounded)
    why = text("batch_measured", b_simple=est.b_simple, n=n, planned=eb, accum=accum, eff=new_eb, micro=micro) + bounded
    return replan(plan, micro, accum, why), why


def replan(plan: Plan, micro: int, accum: int, why: str) -> Plan:
    """The plan made again with this micro batch and accumulation (everything that follows re-derived by the rules);
    the batch's recommendations say they were measured, the micro batch keeps its memory-fit reason."""
    from ..planning import make_plan

    new = make_plan(plan.model, plan.data, gpu=plan.gpu, method=plan.method, lang=plan.lang,
                    overrides={**plan.overrides, "per_device_train_batch_size": micro,
                               "gradient_accumulation_steps": accum},
                    dataset=plan.config.get("dataset"))
    before = {r.key: r for r in plan.recommendations}
    recs = []
    for r in new.recommendations:
        if r.key in BATCH_KEYS:
            r = r.model_copy(update=dict(reason=why, source=SOURCE, overridden=False))
        elif r.key == "per_device_train_batch_size" and "per_device_train_batch_size" not in plan.overrides:
            r = before.get(r.key, r)  # the memory fit chose it; the re-plan only had to hold it fixed
        recs.append(r)
    notes = plan.notes + [x for x in new.notes if x not in plan.notes]
    return new.model_copy(update=dict(recommendations=recs, notes=notes, overrides=plan.overrides))
