"""Read the calibration runs, find each curve's best learning rate, fit the rule's constants, validate leave-one-task-out.

    python bench/calibration/fit.py [--runs bench/calibration/runs.jsonl]

1. Table: for every (model, task, effective batch, LoRA+, epochs) curve, held-out loss per learning rate (the best
   checkpoint's, which is what a planned run keeps) and the curve's optimum: a parabola in log2(lr) through the best
   measured point and its two neighbours; an optimum on the edge of the measured range is only a bound and is left
   out of the fit.
2. Fit: the ratio lr* / lr_v0, where lr_v0 = the literature reference for the model's shape x sqrt(batch / 128)
   (planning/rules/learning_rate.reference_lr, the rule before the horizon term), against the horizon in examples
   seen (training examples x epochs): log ratio = c_model + a * log(seen / 1000). The slope a (= -HORIZON_EXP) comes
   from the variation within each model (fixed effects: each model's own offset is removed), so a model measured at
   one horizon only does not bend it; the rule's constant c is the mean of the models' offsets (each model weighs
   the same), because the plan must serve models it was not calibrated on. Bjorck et al. 2024 fit lr* = B * D^-beta.
3. Leave-one-task-out: refit without a task, predict its curves' lr, read the loss there off the measured curve
   (linear in log lr between measured points), and report the regret against the task's best measured run.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from effects import loraplus_effect, rank_effect, stopping
from measured import curvature, curves, load, loss_at, optimum
from regrets import baselines

HERE = Path(__file__).resolve().parent


@functools.cache  # called per curve, per candidate rule and per left-out task: load each model's shape once
def ref_lr(model: str) -> float:
    """The literature reference for the model's shape at batch 128 (planning/rules/learning_rate.reference_lr)."""
    from tiaocan.planning.rules.learning_rate import reference_lr
    from tiaocan.planning.shapes import load_shape

    return reference_lr(load_shape(model), lora=True)[0]


# Candidate rules: log(lr* / ref) = c_model + a * log(batch / 8) + s * log(horizon / H0). Each names the horizon it
# counts (examples seen = examples x epochs; training tokens, Bjorck et al.'s horizon; optimizer steps; epochs =
# repetition alone) and whether the batch exponent is fitted or held at the square root. Chosen by leave-one-task-out
# regret, never by in-sample fit.
H0 = {"seen": 1000.0, "tokens": 30000.0, "steps": 100.0, "epochs": 3.0, "none": 1.0}


@dataclass(frozen=True)
class Form:
    """One candidate rule's shape (its constants come from `fit`)."""
    horizon: str  # what the horizon counts: a key of H0 ("none": no horizon term)
    batch_exp: float | None  # the batch exponent held fixed (0.5: the square root), or None: fitted
    bent: bool = False  # a second horizon slope s2 added beyond H0 (the rule module's switch to a long-run exponent)
    weighted: bool = False  # each curve weighs what a miss costs there (its curvature), not its log-lr distance
    base: bool = False  # a data term: s2 x log(the base model's held-out loss on the task), see DATA_FORMS
    repetition: bool = False  # a data term: s2 x the task's answer repetition (repetition.py)

    @property
    def data_term(self) -> str:
        """The data term's name in fit.py's output (a DATA_FORMS form has one)."""
        return "log base loss" if self.base else "answer repetition" if self.repetition else ""


FORMS = {"sqrt batch + seen": Form("seen", 0.5), "sqrt batch + seen, bent": Form("seen", 0.5, bent=True),
         "sqrt batch + seen, weighted": Form("seen", 0.5, weighted=True),
         "sqrt batch + tokens": Form("tokens", 0.5), "batch + seen": Form("seen", None),
         "batch + steps": Form("steps", None), "batch + epochs": Form("epochs", None), "batch only": Form("none", None)}
# A data feature, for the residual a formula of batch and horizon leaves (the support tasks' best lrs sit x1.7-2.2
# above the fit, sharegpt100's x0.5-0.7): the base model's held-out loss on the task (how far the data is from what
# the model already predicts; plan time could measure it with one forward pass). Compared held out on its own, as it
# needs a model's loss the rule does not have without a probe; read here from the runs (base_losses).
# Answer repetition (the share of each training answer's 16-character pieces said in another answer: support 0.66,
# support60 0.24, the other conversational tasks 0.04-0.09): where answers repeat, held-out answers are recall of
# trained ones, so the best lr might stay high (repetition.py; plan time could read it off the training file).
# Session 13 predicted a 7th task from the other six before running it (chatter_topic, class labels: 1.00): best lr
# 8.3e-3 at 1 epoch, 5.3e-3 at 3 epochs. Measured ~2.6e-3 at 1 epoch (3 epochs: flat within its noise from 1e-3 to
# 4e-3), and 8e-3 diverged at both: refuted, not shipped (bench/RESULTS.md "calibration", session 13).
DATA_FORMS = {"sqrt batch + seen + log base loss": Form("seen", 0.5, base=True),
              "sqrt batch + seen + answer repetition": Form("seen", 0.5, repetition=True)}
REPETITION = HERE / "repetition.json"  # each task's answer repetition, written by tasks.py from its training file
CHOSEN = FORMS["sqrt batch + seen"]  # the form planning/rules/learning_rate.py implements (rule_constants)
# "bent": it must beat the straight line held out to stay. "weighted": least squares on log lr treats a ×2 miss the
# same on every curve, but on a flat curve (chatter_en at 3 epochs: ±×2 costs < 1 %) it costs nothing and on a steep
# one (support at 3 epochs: ÷2 costs +26 %) a lot; weighting each curve by its parabola's curvature (relative to its
# best loss: the regret of a unit miss in log2 lr) fits what a miss costs, the quantity the validation scores.


def features(d: dict, form: Form) -> tuple[float, float, float]:
    """(log batch / 8, log horizon / H0, the third term: the same beyond H0 for the bent form, log base loss for a
    data form, else 0)."""
    xh = math.log(d[form.horizon] / H0[form.horizon]) if form.horizon != "none" else 0.0
    third = (max(0.0, xh) if form.bent else math.log(d["base"]) if form.base
             else d["repetition"] if form.repetition else 0.0)
    return math.log(d["batch"] / 8), xh, third


def fit(data: list[dict], form: Form) -> dict:
    """Least squares on the within-model deviations (fixed effects: each model's own offset removed, so a model
    measured in one setting does not bend the slopes); the rule's constant is the mean of the models' offsets
    (each model weighs the same: the plan must serve models it was not calibrated on). A weighted form weighs each
    curve by d["w"] (its relative curvature), in the offsets and the slopes alike."""
    import numpy as np

    by: dict[str, list[dict]] = defaultdict(list)
    for d in data:
        by[d["model"]].append(d)
    weights = {m: np.array([d["w"] if form.weighted else 1.0 for d in pts]) for m, pts in by.items()}
    X, Y, W = [], [], []
    for m, pts in by.items():
        f = np.array([features(d, form) for d in pts])
        y = np.array([d["y"] for d in pts])
        w = weights[m]
        X.extend(f - np.average(f, axis=0, weights=w))
        Y.extend(y - np.average(y, weights=w))
        W.extend(w)
    X, Y, sw = np.array(X), np.array(Y), np.sqrt(np.array(W))
    if form.batch_exp is not None:
        Y, X = Y - form.batch_exp * X[:, 0], X[:, 1:]
    cols = [k for k in range(X.shape[1]) if np.abs(X[:, k]).sum() > 1e-9]  # a form without a term has a zero column
    coef = np.zeros(X.shape[1])
    if cols and len(Y) > len(cols):
        coef[cols] = np.linalg.lstsq(X[:, cols] * sw[:, None], Y * sw, rcond=None)[0]
    a, s, s2 = (form.batch_exp, *map(float, coef)) if form.batch_exp is not None else tuple(map(float, coef))
    rule = dict(form=form, a=a, s=s, s2=s2)
    rule["offsets"] = {m: float(np.average([d["y"] - _slopes(rule, d) for d in pts], weights=weights[m]))
                       for m, pts in by.items()}
    rule["c"] = sum(rule["offsets"].values()) / len(rule["offsets"])
    return rule


def _slopes(rule: dict, d: dict) -> float:
    xb, xh, xk = features(d, rule["form"])
    return rule["a"] * xb + rule["s"] * xh + rule["s2"] * xk


def predict(rule: dict, model: str, d: dict, own: bool = False) -> float:
    """The rule's lr; own=True uses the model's own fitted offset where the fit saw the model (a calibrated model,
    like the cookbook's per-checkpoint table), else the across-model constant (a model never measured)."""
    c = rule["offsets"].get(model, rule["c"]) if own else rule["c"]
    return ref_lr(model) * math.exp(c + _slopes(rule, d))


def within2(rule: dict, data: list[dict]) -> int:
    """Curves whose measured best lr lies within x2 of the rule's (across-model) prediction."""
    return sum(abs(math.log(predict(rule, d["model"], d) / (ref_lr(d["model"]) * math.exp(d["y"])))) <= math.log(2)
               for d in data)


def own_spread(data: list[dict]) -> tuple[float, float, int]:
    """How far a model's own multiplier carries to a task it was not fitted on: refit without each task, predict that
    task's curves with the model's own offset from its other tasks, and return the lowest and highest measured /
    predicted best lr (2 digits, as the module copies them) and the number of curves (a model measured on one task
    only has no offset to carry, so its curves are not counted): the rule module's MODEL_OWN_SPREAD, quoted in the
    reason for a measured model (session 14: Gemma's offset, fitted on support60 alone, was x1.7 / x0.6 off on
    chatter_topic)."""
    ratios = []
    for task in sorted({d["task"] for d in data}):
        rest = [d for d in data if d["task"] != task]
        rule = fit(rest, CHOSEN)
        for d in (d for d in data if d["task"] == task and d["model"] in rule["offsets"]):
            ratios.append(ref_lr(d["model"]) * math.exp(d["y"]) / predict(rule, d["model"], d, own=True))
    return round(min(ratios), 2), round(max(ratios), 2), len(ratios)


BUILTIN = {"gemma3-270m": "gemma-3-270m"}  # the suite's model names -> the rule module's built-in keys


def rule_constants(data: list[dict]) -> dict:
    """The learning-rate rule's fitted constants (the chosen form, "sqrt batch + seen") from these interior optima,
    under the names planning/rules/learning_rate.py gives them: the module copies them, grid.py's leave-one-task-out
    plan swaps them in, and tests/bench/test_calibration_fit.py checks that the module's copy matches runs.jsonl."""
    rule = fit(data, CHOSEN)
    return dict(MULT=math.exp(rule["c"]), SEEN_EXP=-rule["s"], SEEN_MEASURED=max(d["seen"] for d in data),
                SEEN_MIN_MEASURED=min(d["seen"] for d in data),
                MODEL_MULT={BUILTIN.get(m, m): math.exp(o) for m, o in rule["offsets"].items()},
                CALIBRATION_WITHIN2=within2(rule, data), CALIBRATION_CURVES=len(data),
                MODEL_OWN_SPREAD=own_spread(data))


def curve_point(model: str, task: str, batch: int, ep: float, pts: list, base: float = math.nan) -> dict:
    r = pts[0][2]
    steps = max(p[2].get("total_steps", 0) for p in pts)
    # a run stopped early (diverged) counted only its own tokens: scale each to its planned steps
    tokens = max(p[2]["tokens"] * p[2]["total_steps"] / max(1, p[2]["steps"]) for p in pts)
    return dict(model=model, task=task, batch=batch, seen=r["n_train"] * ep, tokens=tokens, steps=steps, epochs=ep,
                base=base, repetition=repetition(task))


def repetition(task: str) -> float:
    """The task's answer repetition (REPETITION; nan for a task tasks.py has not measured)."""
    return _repetitions().get(task, math.nan)


@functools.cache
def _repetitions() -> dict[str, float]:
    return json.loads(REPETITION.read_text(encoding="utf-8")) if REPETITION.is_file() else {}


def base_losses(cs: dict) -> dict[tuple[str, str], float]:
    """Each (model, task)'s base-model held-out loss, read as the first eval (after one step) of its lowest-lr grid
    run: at 1.25e-4 one step moves the loss by < 1 %."""
    low: dict[tuple[str, str], tuple[float, float]] = {}
    for (model, task, *_), pts in cs.items():
        lr, _, r = pts[0]
        if r.get("evals") and ((model, task) not in low or lr < low[(model, task)][0]):
            low[(model, task)] = (lr, r["evals"][0][1])
    return {k: v[1] for k, v in low.items()}


def interior(cs: dict) -> list[dict]:
    """The fit's data: every plain-LoRA curve with an interior optimum, as (model, task, batch, horizons, y = log(lr* /
    reference), w = its curvature)."""
    data, base = [], base_losses(cs)
    for (model, task, batch, lp, ep), pts in sorted(cs.items()):
        lr, _, where = optimum(pts)
        if where == "interior" and not lp:
            point = curve_point(model, task, batch, ep, pts, base[(model, task)])
            data.append(dict(point, y=math.log(lr / ref_lr(model)), w=curvature(pts)))
    return data


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=HERE / "runs.jsonl")
    a = ap.parse_args(argv)
    rows = load(a.runs)
    cs = curves(rows)
    baselines(rows)
    stopping(cs)
    loraplus_effect(cs)
    rank_effect(rows, cs)
    print(f"{len(rows)} scored runs, {len(cs)} curves\n")
    print("| model | task | batch | LoRA+ | epochs | steps | lr → held-out loss (best checkpoint) | lr* | loss* | lr* / ref |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key, pts in sorted(cs.items()):
        model, task, batch, lp, ep = key
        lr, loss, where = optimum(pts)
        d = curve_point(model, task, batch, ep, pts)
        curve = ", ".join(f"{p[0]:.3g}→{p[1]:.3f}" for p in pts)
        print(f"| {model} | {task} | {batch} | {lp:g} | {ep:g} | {d['steps']} | {curve} | {lr:.3g} ({where}) | "
              f"{loss:.3f} | {lr / ref_lr(model):.2f} |")
    data = interior(cs)
    if len(data) < 3:
        print("\nfewer than 3 interior optima: nothing to fit")
        return
    print(f"\nfits on {len(data)} interior optima ({len({d['model'] for d in data})} models, "
          f"{len({d['task'] for d in data})} tasks): log(lr*/ref) = c + a log(batch/8) + s log(horizon/H0)")
    best_task = best_per_task(cs)
    scored: dict[tuple[str, bool], dict[tuple, float | None]] = {}
    for name, form in FORMS.items():
        rule = fit(data, form)
        offs = ", ".join(f"{m} x{math.exp(o - rule['c']):.2f}" for m, o in sorted(rule["offsets"].items()))
        print(f"\n## {name}: c x{math.exp(rule['c']):.2f}, a {rule['a']:+.2f}, s {rule['s']:+.2f}"
              + (f" (beyond H0 {rule['s'] + rule['s2']:+.2f})" if rule["s2"] else "") + " "
              f"(H0 {H0[form.horizon]:g} {form.horizon}); in-sample within x2: {within2(rule, data)}/{len(data)}; model offsets {offs}")
        for own in (False, True):
            scored[(name, own)] = loto(cs, data, form, best_task, own)
    common(scored)
    data_forms(cs, data, best_task, scored)
    k = rule_constants(data)
    print("\nthe rule's constants (planning/rules/learning_rate.py): " + ", ".join(
        f"{n} {v:.3g}" if isinstance(v, float) else f"{n} {v}" for n, v in k.items() if n != "MODEL_MULT")
        + "; MODEL_MULT " + ", ".join(f"{m} {v:.3g}" for m, v in sorted(k["MODEL_MULT"].items())))


def best_per_task(cs: dict) -> dict[tuple[str, str], float]:
    """Each (model, task)'s best loss over its curves' points (the held-out read-outs' "task's best")."""
    best: dict = defaultdict(lambda: math.inf)
    for (model, task, *_), pts in cs.items():
        best[(model, task)] = min(best[(model, task)], min(p[1] for p in pts))
    return best


def common(scored: dict[tuple[str, bool], dict[tuple, float | None]]) -> None:
    """The forms compared on the same held-out curves: those every form's prediction fell inside the measured lrs of
    (a prediction outside them cannot be read off the curve, so per-form summaries cover different curves)."""
    for own in (False, True):
        forms = {name: r for (name, o), r in scored.items() if o == own}
        keys = set.intersection(*({k for k, v in r.items() if v is not None} for r in forms.values()))
        label = "own model offset" if own else "across-model constant"
        print(f"\nleave-one-task-out on the {len(keys)} curves every form could be read on ({label}):")
        for name, r in forms.items():
            vals = sorted(r[k] for k in keys)
            if vals:
                print(f"  {name:27s} median {vals[len(vals) // 2]:+.1f} %, worst {vals[-1]:+.1f} %; outside the "
                      f"measured lrs on {sum(v is None for v in r.values())} of {len(r)} curves")


def data_forms(cs: dict, data: list[dict], best_task: dict, scored: dict[tuple[str, bool], dict]) -> None:
    """Each DATA_FORMS candidate held out against the chosen form, on the curves both could be read on."""
    for name, form in DATA_FORMS.items():
        rule = fit(data, form)
        print(f"\n## {name} (a data feature): c x{math.exp(rule['c']):.2f}, s {rule['s']:+.2f}, "
              f"{form.data_term} {rule['s2']:+.2f}")
        for own in (True, False):
            chosen = scored[("sqrt batch + seen", own)]
            with contextlib.redirect_stdout(io.StringIO()):
                got = loto(cs, data, form, best_task, own)
            keys = sorted(k for k, v in got.items() if v is not None and chosen.get(k) is not None)
            label = "own model offset" if own else "across-model constant"
            if not keys:  # the feature is unknown for these tasks (a task repetition.json has not measured)
                print(f"  leave-one-task-out, {label}: no curve both could be read on")
                continue
            both = "; ".join(f"{n} median {statistics.median(r[k] for k in keys):+.1f} %, worst "
                             f"{max(r[k] for k in keys):+.1f} %" for n, r in (("this form", got), ("chosen", chosen)))
            print(f"  leave-one-task-out, {label}, {len(keys)} curves both could be read on: {both}")
            print("    per curve (this form / chosen): " + ", ".join(
                f"{k[0][:6]} {k[1]} b{k[2]} e{k[4]:g} {got[k]:+.1f} / {chosen[k]:+.1f}" for k in keys))


def loto(cs: dict, data: list[dict], form: Form, best_task: dict, own: bool) -> dict[tuple, float | None]:
    """Refit without each task, predict its plain-LoRA curves' lr, read the loss there off the measured curve.
    own: the model's offset from its other tasks (a calibrated model) instead of the across-model constant.
    Returns each held-out curve's regret in % (None: the prediction fell outside the measured lrs)."""
    regrets, label, out = [], "own model offset" if own else "across-model constant", {}
    base = base_losses(cs)
    print(f"  leave-one-task-out, {label}:")
    for key, pts in sorted(cs.items()):
        model, task, batch, lp, ep = key
        if lp:
            continue
        train = [d for d in data if d["task"] != task]
        if len(train) < 3:  # two slopes and an offset
            continue
        rule = fit(train, form)
        lr = predict(rule, model, curve_point(model, task, batch, ep, pts, base[(model, task)]), own)
        at = loss_at(pts, lr)
        best = best_task[(model, task)]
        if at is None:
            side = "below" if lr < pts[0][0] else "above"
            print(f"    {model} {task} b{batch} e{ep:g}: predicted lr {lr:.3g} {side} the measured lrs")
            out[key] = None
            continue
        curve_best = min(p[1] for p in pts)
        regrets.append(100 * (at - curve_best) / curve_best)
        out[key] = regrets[-1]
        print(f"    {model} {task} b{batch} e{ep:g}: predicted lr {lr:.3g} -> {at:.3f}: {regrets[-1]:+.1f} % vs this "
              f"curve's best {curve_best:.3f} (the lr alone), {100 * (at - best) / best:+.1f} % vs the task's best "
              f"{best:.3f} (any batch / epochs)")
    if regrets:
        regrets.sort()
        print(f"    lr regret over {len(regrets)} curves: median {regrets[len(regrets) // 2]:+.1f} %, "
              f"worst {regrets[-1]:+.1f} %")
    return out


if __name__ == "__main__":
    main()
