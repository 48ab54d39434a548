"""probe_plan(plan, budget): measure, then choose — the gradient noise scale first (it may move the batch), then the
learning rate at that batch. When the learning-rate runs would be too short to carry over (short runs: small data),
the measured noise scale still corrects the rule's learning rate (planning/rules/learning_rate.noise_factor).

Budget: a share of the full run's training tokens (default 0.15, at most 0.3). About a sixth of it buys the
noise-scale gradients (at least NOISE_MIN examples), the rest five equal learning-rate runs; a sixth run, x2 beyond
an edge, only when what was spent leaves room for it (runs that diverge stop early and leave some). Every run trains
the plan's config (batch, cutoff, LoRA, packing, schedule over its own length) and is scored on the plan's held-out
split; when the data has none, one is carved the way the plan sizes splits, for the probe only.
"""
from __future__ import annotations

import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from .. import derive
from ..errors import UserError
from ..explanation import reason
from ..planning.result import NoiseScale, Plan, ProbeResult
from ..planning.rules.learning_rate import (NOISE_LOTO, NOISE_LOTO_CURVES, NOISE_LOTO_RULE, NOISE_MODEL,
                                           NOISE_MODEL_SPREAD, NOISE_OTHER_LOTO, PROBE_LOTO_MEDIAN, PROBE_LOTO_TASKS,
                                           PROBE_LOTO_WORST, SEEN_MIN_MEASURED, measured_key, noise_factor)
from . import DEFAULT_BUDGET, MAX_BUDGET, parse_budget
from .batch import apply_noise_scale
from .lr_probe import N_LRS, SPACING, best_index, candidates, edge_of, run_config, score, transfer_factor, two_digits

NOISE_SHARE = 1 / 6  # of the budget: the gradients cost about what one more learning-rate run would
NOISE_MIN, NOISE_MAX = 4, 32  # examples: fewer cannot separate signal from noise; at the start more adds little
MIN_STEPS = 3  # per run: the first step warms up from lr 0, so fewer leaves nothing to compare
# A probe run must see at least the shortest horizon the rule's transfer was fitted on (examples seen,
# planning/rules/learning_rate.SEEN_MIN_MEASURED); below it the transfer is extrapolation. Measured on the calibration
# suite (bench/RESULTS.md "calibration"): on support60 (60 examples x 3 epochs, batch 1) a 0.15 probe ran 5 runs of
# ~4 examples each, chose 3.0e-3 against the rule's 1.5e-3, and the run as written ended +11.6 % above the rule's.


def probe_plan(plan: Plan, budget: float | bool | str | None = DEFAULT_BUDGET, *, dataset_dir: str | None = None,
               formatting: str | None = None, workdir: str | Path | None = None, quiet: bool = False,
               noise: bool = True) -> Plan:
    """Measure `plan` on its own data and this machine within `budget` (a share of the full run's training tokens)
    and return the plan with the measured values in its config, recommendations and `probe`. The probe's runs go to a
    temporary folder (under `workdir` when given) that is removed however the probe ends, Ctrl-C included.
    `noise=False` skips the gradient noise scale (the batch stays)."""
    budget = parse_budget(budget)
    say = _progress_printer(quiet)
    tmp = Path(tempfile.mkdtemp(prefix="tiaocan-probe-", dir=workdir))
    try:
        extra = {k: v for k, v in (("dataset_dir", dataset_dir), ("formatting", formatting)) if v}
        return _probe(plan, budget, tmp, say, extra, noise)
    except KeyboardInterrupt:
        raise KeyboardInterrupt("plan --probe interrupted; its runs were removed and nothing was written") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _probe(plan: Plan, budget: float, tmp: Path, say: Callable[[str], None], extra: dict[str, Any],
           noise: bool) -> Plan:
    started = time.time()
    text = lambda key, **kw: reason("probe", key, plan.lang, **kw)  # noqa: E731
    devices = plan.gpu.count if plan.gpu else 1
    held, kind, n_eval = held_out_split(plan, extra)
    notes = [text("carved", n=n_eval)] if kind == "carved" else []
    full_tokens = max(1, plan.steps.total_tokens)
    tokens_per_example = full_tokens / max(1.0, examples_seen(plan))
    allowed = budget * full_tokens
    spent = 0

    # ---- 1. the gradient noise scale, which may move the batch (and with it the rule's learning rate)
    noise_res, probed = None, plan
    if noise:
        from .noise import measure_noise

        n_noise = noise_examples(allowed / tokens_per_example)
        say(f"probe: gradient noise scale from {n_noise} examples…")
        est, used, secs = measure_noise(local_config(plan, devices, held, extra, tmp / "noise"), n_noise)
        spent += used
        probed, batch_text = apply_noise_scale(plan, est, n_noise, devices)
        noise_res = NoiseScale(b_simple=est.b_simple, grad_sq=est.grad_sq, trace_sigma=est.trace_sigma,
                               b_small=est.b_small, b_big=est.b_big, tokens=used, seconds=round(secs, 2),
                               planned_batch=plan.steps.effective_batch, chosen_batch=probed.steps.effective_batch)
        say(f"probe: B_simple {est.b_simple:.0f}" if est.b_simple else "probe: B_simple not measurable")
        notes.append(batch_text)

    # ---- 2. the learning rate: N_LRS equal runs, centred on the rule's value carried to the probe's horizon
    cfg = local_config(probed, devices, held, extra, tmp)
    eb = cfg.effective_batch()
    n_train = held_out_train(plan, cfg)
    left = max(0.0, allowed - spent) / tokens_per_example
    steps = lr_run_steps(left, eb)
    probe_seen = derive.examples_seen(derive.schedule(cfg, n_train, n_eval), cfg.num_train_epochs, steps)
    full_seen = examples_seen(probed)
    transfer = transfer_factor(full_seen, probe_seen, plan.method)
    centre = float(probed.config["learning_rate"])
    own = probed.steps.total_steps
    if probe_seen < SEEN_MIN_MEASURED:  # too short to carry over: nothing more is spent (3. corrects the rule)
        runs, best, edge, extended = [], None, None, False
    else:
        runs, best, edge, extended = _lr_runs(cfg, centre, transfer, steps, own, allowed - spent, tmp, say)
    spent += sum(r.tokens for r in runs)

    # ---- 3. choose, and say why
    rule_lr = float(plan.config["learning_rate"])
    measured = bool(runs)
    user_lr = plan.overrides.get("learning_rate")
    factor = None
    if not measured:
        need = (spent + N_LRS * SEEN_MIN_MEASURED * tokens_per_example) / full_tokens
        chosen, lr_text = centre, text("lr_too_short", probe_seen=probe_seen, min=SEEN_MIN_MEASURED) + " " + (
            text("lr_budget_needed", need=math.ceil(need * 100) / 100) if need <= MAX_BUDGET else text("lr_use_tune"))
        if noise_res is not None and user_lr is None and plan.method != "full":  # the rule's short-run form is LoRA's
            factor = noise_factor(eb, noise_res.b_simple)
        if factor is not None:  # the noise scale still corrects the rule's batch term (learning_rate.NOISE_K)
            chosen = two_digits(centre * factor)
            lr_text = text("lr_noise", b_simple=noise_res.b_simple, eff=eb, factor=factor, rule=centre, lr=chosen,
                           rule_median=NOISE_LOTO_RULE[0], rule_worst=NOISE_LOTO_RULE[1], median=NOISE_LOTO[0],
                           worst=NOISE_LOTO[1], curves=NOISE_LOTO_CURVES) + " " + lr_text
            if measured_key(plan.model) != NOISE_MODEL:
                (rule_med, rule_worst), (med, worst), n = NOISE_OTHER_LOTO
                lr_text += " " + text("lr_noise_other_model", low=NOISE_MODEL_SPREAD[0], high=NOISE_MODEL_SPREAD[1],
                                      rule_median=rule_med, rule_worst=rule_worst, median=med, worst=worst, curves=n)
    elif best is None:
        chosen, lr_text = centre, text("lr_all_failed", rule=centre, half=centre / 2)
    else:
        b = runs[best]
        chosen = two_digits(b.learning_rate * transfer)
        probed_lrs = [r.learning_rate for r in runs]
        lr_text = text("lr_measured", n=len(runs), steps=steps, low=min(probed_lrs), high=max(probed_lrs),
                       loss=b.eval_loss, best=b.learning_rate, full_seen=full_seen, probe_seen=probe_seen,
                       transfer=transfer, lr=chosen, rule=rule_lr)
        if edge:
            lr_text += " " + text("lr_edge_" + edge) + (" " + text("lr_extended") if extended else "")
    if factor is not None or measured:  # how sure: what the probe chose, run as written on tasks left out of the fit
        lr_text += " " + text("lr_held_out", tasks=PROBE_LOTO_TASKS, median=PROBE_LOTO_MEDIAN, worst=PROBE_LOTO_WORST)
    if user_lr is not None:
        lr_text, chosen = text("lr_user_set", value=user_lr, lr=chosen) if measured else lr_text, float(user_lr)
    fraction = spent / full_tokens
    if measured and fraction > budget * 1.01 and steps == MIN_STEPS:
        notes.append(text("over_budget", min=MIN_STEPS, fraction=fraction, budget=budget))
    result = ProbeResult(
        budget=budget, rule_lr=rule_lr, centre_lr=centre, runs=runs,
        best_lr=runs[best].learning_rate if best is not None else None, edge=edge, extended=extended,
        probe_seen=probe_seen, full_seen=full_seen, train_examples=n_train, transfer=transfer, chosen_lr=chosen, noise=noise_res,
        noise_factor=factor,
        held_out=kind, eval_examples=n_eval, tokens=spent, full_run_tokens=full_tokens, compute_fraction=fraction,
        seconds=round(time.time() - started, 2), notes=notes,
        summary=text("summary" if measured else "summary_noise" if factor else "summary_rule", lr=chosen,
                     rule=centre if factor else rule_lr, eff=probed.steps.effective_batch, fraction=fraction))
    source = SOURCE_RUNS if measured else SOURCE_NOISE if factor else None
    kept = user_lr is not None or source is None
    return _with_lr(probed, chosen, lr_text, kept, source).model_copy(update=dict(probe=result))


def noise_examples(allowed: float) -> int:
    """Examples the noise-scale gradients get out of `allowed` (the budget, in examples)."""
    return int(min(NOISE_MAX, max(NOISE_MIN, round(allowed * NOISE_SHARE))))


def lr_run_steps(left: float, eff_batch: int) -> int:
    """Optimizer steps of each of the N_LRS learning-rate runs, given what is `left` of the budget (examples)."""
    return max(MIN_STEPS, math.floor(left / N_LRS / eff_batch))


def _lr_runs(cfg, centre: float, transfer: float, steps: int, own: int, left: float, tmp: Path,
             say: Callable[[str], None]) -> tuple[list, int | None, str | None, bool]:
    """N_LRS equal runs centred on `centre` carried to the probe's horizon, plus one x2 beyond an edge when what is
    `left` of the budget (tokens) has room: (runs, index of the best, its edge, whether one was added)."""
    from ..progress import Lines

    lrs = candidates(centre / transfer)
    bar = Lines(_Printer(say), "probe", len(lrs), unit="runs", every_s=0.0)
    runs = []
    for i, lr in enumerate(lrs):
        runs.append(score(run_config(cfg, lr, steps, own, tmp / f"lr-{i}"), lr * transfer))
        say(_run_line(runs[-1]))
        bar.advance(1)
    best = best_index(runs)
    edge = edge_of(runs, best) if best is not None else None
    run_tokens = [r.tokens for r in runs if r.tokens]
    if not (edge and run_tokens and sum(run_tokens) + max(run_tokens) <= left):
        return runs, best, edge, False
    lr = runs[best].learning_rate * (SPACING if edge == "high" else 1 / SPACING)
    say(f"probe: best at the {edge} edge; one more run at {lr:.1e}")
    runs.append(score(run_config(cfg, lr, steps, own, tmp / f"lr-{len(runs)}"), lr * transfer))
    say(_run_line(runs[-1]))
    best = best_index(runs)
    return runs, best, edge_of(runs, best) if best is not None else None, True


SOURCE_RUNS = "measured: tiaocan plan --probe (held-out loss)"
SOURCE_NOISE = "measured: tiaocan plan --probe (gradient noise scale x the rule)"


def _with_lr(plan: Plan, lr: float, why: str, kept: bool, source: str | None) -> Plan:
    """The plan with the chosen learning rate in its config and its recommendation's reason; `kept` (the user's
    value, or the rule's when nothing was measured): the recommendation stays and the reason says why."""
    recs = []
    for r in plan.recommendations:
        if r.key == "learning_rate":
            r = r.model_copy(update=dict(reason=f"{r.reason} {why}") if kept else
                             dict(value=lr, reason=why, source=source))
        recs.append(r)
    return plan.model_copy(update=dict(recommendations=recs, config={**plan.config, "learning_rate": lr}))


# ------------------------------------------------------------------------------------------------ the split, horizon
def held_out_split(plan: Plan, extra: dict[str, Any]) -> tuple[dict[str, Any], str, int]:
    """(config update, where the scoring split comes from, its size). The plan's own split or eval_dataset when it has
    one; else one carved with the plan's share and cap (planning/rules/eval_split) for the probe's runs only."""
    from ..planning.rules.eval_split import MAX_EVAL, SHARE

    cfg = plan.to_train_config()
    n = plan.data.num_examples
    if cfg.eval_dataset:
        return {}, "eval_dataset", plan.steps.eval_examples
    if cfg.val_size > 0:
        return {}, "val_size", derive.held_out(n, cfg.val_size)
    val = SHARE if SHARE * n <= MAX_EVAL else MAX_EVAL
    n_eval = derive.held_out(n, val)
    if n_eval < 1 or n - n_eval < 1:
        raise UserError(f"--probe: {n} examples are too few to hold any out for scoring the probe's runs; add data, "
                        "or give a held-out file with --set eval_dataset=FILE")
    return {"val_size": val}, "carved", n_eval


def held_out_train(plan: Plan, cfg) -> int:
    """Training examples of a probe run (after its held-out split)."""
    if cfg.eval_dataset:
        return plan.data.num_examples
    return derive.train_examples(plan.data.num_examples, float(cfg.val_size))


def examples_seen(plan: Plan) -> float:
    """The full run's horizon: examples it processes, epochs counted (derive's arithmetic on the plan's config)."""
    cfg = plan.to_train_config()
    sched = derive.schedule(cfg, plan.steps.train_examples, plan.steps.eval_examples, plan.gpu.count if plan.gpu else 1)
    return derive.examples_seen(sched, cfg.num_train_epochs, cfg.max_steps)


def local_config(plan: Plan, devices: int, held: dict[str, Any], extra: dict[str, Any], out: Path):
    """The plan's config as this machine runs it: one process, so the accumulation also covers the plan's other
    devices (the same effective batch), the probe's held-out split, and the data options the plan was read with."""
    cfg = plan.to_train_config()
    upd = dict(held, **extra, output_dir=str(out))
    if devices > 1:
        upd["gradient_accumulation_steps"] = cfg.gradient_accumulation_steps * devices
    return cfg.model_copy(update=upd)


# ------------------------------------------------------------------------------------------------ progress (stderr)
def _progress_printer(quiet: bool) -> Callable[[str], None]:
    if quiet:
        return lambda line: None
    from rich.console import Console

    err = Console(stderr=True, highlight=False)
    return lambda line: err.print(line, highlight=False, markup=False, soft_wrap=True)  # one line each, in logs too


class _Printer:
    """The console interface progress.Lines prints through, sent to the probe's stderr printer."""

    def __init__(self, say: Callable[[str], None]):
        self.say = say

    def print(self, line: str, **_: Any) -> None:
        self.say(line)


def _run_line(r) -> str:
    got = f"held-out loss {r.eval_loss:.4f}" if r.eval_loss is not None else f"{r.status} ({r.note[:80]})"
    return (f"probe: lr {r.learning_rate:.2e} (full run {r.full_run_lr:.2e}) → {got}, {r.steps} steps, "
            f"{r.tokens:,} tokens, {r.seconds:.0f} s")
