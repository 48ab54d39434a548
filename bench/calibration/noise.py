"""Does the gradient noise scale tell the tasks apart? B_simple per task, beside the lr rule's residual there.

    python bench/calibration/noise.py [--tasks support60,support,...] [--examples 32] [--seeds 0,1]
    python bench/calibration/noise.py --show          # the table from noise.jsonl, nothing measured

The rule's batch-and-horizon formula leaves a per-task residual (the support sets' best lrs sit x1.7-2.2 above it,
sharegpt100's x0.5-0.7). McCandlish et al. 2018 ("An empirical model of large-batch training") predict the best lr
from the noise scale: lr*(B) = lr_max / (1 + B_noise / B), so at the same batch a task with a smaller B_noise takes a
larger lr. `plan --probe` already measures B_simple (probing/noise.measure_noise: per-example gradients of the model
as `train` loads it, at the start of the run); if it differed between tasks the way the residuals do, the probe
could correct the rule's lr at no extra cost. This measures it on each task (the grid's config: SmolLM2-135M, LoRA
r16 / alpha 32, the task's cutoff; `seeds` draws of `examples` examples each) and appends noise.jsonl; the table
prints each task's B_simple beside the chosen form's residual (fit.py, in-sample, the model's own offset), then
scores noise-scale forms leave-one-task-out and fits the probe's correction (NOISE_K in
planning/rules/learning_rate.py, which copies it; tests/bench/test_calibration_noise.py checks the copy).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "src"))
TASKS = ("support60", "support", "pyfaq", "chatter_zh", "chatter_en", "sharegpt100", "chatter_topic")
MODEL = "smollm2-135m"


def measure(task: str, examples: int, seed: int, model: str = MODEL) -> dict:
    """One B_simple reading: `examples` training examples drawn with `seed`, batch-1 gradients."""
    import torch

    from grid import base_config, run_config
    from tiaocan.config import TrainConfig
    from tiaocan.probing.noise import measure_noise

    cfg = run_config(base_config(task, model, None), task, lr=1e-3, batch=1, epochs=1.0, micro_cap=1, seed=seed)
    # on a CPU without native bf16, autocast to bf16 is ~30x slower and measures the same gradients
    cfg["bf16"] = bool(cfg.get("bf16")) and torch.cuda.is_available()
    with tempfile.TemporaryDirectory() as out:
        est, tokens, secs = measure_noise(TrainConfig(**dict(cfg, output_dir=out)), examples)
    return dict(task=task, model=model, examples=examples, seed=seed, b_simple=est.b_simple, grad_sq=est.grad_sq,
                trace_sigma=est.trace_sigma, tokens=tokens, seconds=round(secs, 1))


def residuals(cs: dict) -> dict[str, float]:
    """Each task's mean residual factor under the chosen form (measured lr* / the fit's, the model's own offset)."""
    import fit

    data = [d for d in fit.interior(cs) if d["model"] == MODEL]
    rule = fit.fit(data, fit.CHOSEN)
    by: dict[str, list[float]] = defaultdict(list)
    for d in data:
        by[d["task"]].append(d["y"] - rule["offsets"][MODEL] - fit._slopes(rule, d))
    return {t: math.exp(statistics.mean(v)) for t, v in by.items()}


def regret(cs: dict, d: dict, lr: float) -> float:
    """The held-out curve `d` read at `lr` against that curve's best, in %; nan outside the measured lrs."""
    import fit

    pts = cs[(d["model"], d["task"], d["batch"], 0, d["epochs"])]
    got, best = fit.loss_at(pts, lr), min(p[1] for p in pts)
    return math.nan if got is None else 100 * (got - best) / best


def summary(name: str, regrets: list[float]) -> tuple[float, float] | None:
    """Print the (median, worst) of the readable regrets and return them rounded as the rule module copies them."""
    read = sorted(r for r in regrets if not math.isnan(r))
    if not read:
        print(f"  {name}: no held-out curve to read")
        return None
    print(f"  {name}: {len(read)} of {len(regrets)} held-out curves read (the others' lr falls outside the measured "
          f"lrs): median {statistics.median(read):+.1f} %, worst {read[-1]:+.1f} %")
    return round(statistics.median(read), 1), round(read[-1], 1)


def loto(cs: dict, bn: dict[str, float]) -> None:
    """The lr alone, leave-one-task-out on SmolLM2's curves (fit on the other tasks: a constant and the horizon slope;
    the held-out curve read at the predicted lr, regret against that curve's best): the chosen form's sqrt(B / 8)
    against McCandlish's sqrt(B / (B + B_noise)) (Adam's square root of lr_max / (1 + B_noise / B)), with each
    task's measured B_simple and with one B_noise for every task."""
    import numpy as np

    import fit

    data = [d for d in fit.interior(cs) if d["model"] == MODEL and d["task"] in bn]
    const = statistics.median(bn.values())
    forms = {"chosen, sqrt(B / 8)": lambda d: 0.5 * math.log(d["batch"] / 8),
             "sqrt(B / (B + B_simple)), each task's": lambda d: -0.5 * math.log(1 + bn[d["task"]] / d["batch"]),
             f"sqrt(B / (B + {const:.1f})), one for all": lambda d: -0.5 * math.log(1 + const / d["batch"])}
    for name, batch_term in forms.items():
        regrets = []
        for task in sorted({d["task"] for d in data}):
            rest = [d for d in data if d["task"] != task]
            x = np.array([[1.0, math.log(d["seen"] / 1000)] for d in rest])
            coef = np.linalg.lstsq(x, np.array([d["y"] - batch_term(d) for d in rest]), rcond=None)[0]
            for d in (d for d in data if d["task"] == task):
                lr = fit.ref_lr(MODEL) * math.exp(coef[0] + coef[1] * math.log(d["seen"] / 1000) + batch_term(d))
                regrets.append(regret(cs, d, lr))
        summary(name, regrets)


def correction_k(data: list[dict], rule: dict, bn: dict[str, float]) -> float:
    """The constant K of the probe's correction to the rule, lr x K x sqrt(SHORT_BATCH / (batch + B_simple))
    (planning/rules/learning_rate.noise_factor): McCandlish's sqrt(B / (B + B_noise)) in place of the rule's
    sqrt(B / 8), its level fitted as the mean log residual of the rule (the model's own offset) over these curves."""
    import fit
    from tiaocan.planning.rules.learning_rate import SHORT_BATCH

    logs = [d["y"] - rule["offsets"][d["model"]] - fit._slopes(rule, d) - 0.5 * math.log(
        SHORT_BATCH / (d["batch"] + bn[d["task"]])) for d in data]
    return math.exp(statistics.mean(logs))


def held_out(cs: dict, model: str, b_of: dict[str, float], bn: dict[str, float]) -> tuple[dict[str, list[float]],
                                                                                         list[str]]:
    """Each task of `model`'s curves (those with a B_simple in `b_of`) left out: the rule refitted without it (the
    model's own offset from its other tasks), K fitted on SmolLM2's other tasks (B_simple from `bn`), the held-out
    curve read at the rule's lr and at lr x the correction (clamped as the module clamps it). A task whose model has
    no curve elsewhere has no offset to carry, and is skipped. Returns both regret lists and a line per curve."""
    import fit
    from tiaocan.planning.rules.learning_rate import noise_factor

    data = fit.interior(cs)
    theirs = [d for d in data if d["model"] == model and d["task"] in b_of]
    out: dict[str, list[float]] = {"the rule": [], "the rule x the noise correction": []}
    each = []
    for task in sorted({d["task"] for d in theirs}):
        rest = [d for d in data if d["task"] != task]
        if not any(d["model"] == model for d in rest):
            continue
        rule = fit.fit(rest, fit.CHOSEN)
        k = correction_k([d for d in rest if d["model"] == MODEL and d["task"] in bn], rule, bn)
        for d in (d for d in theirs if d["task"] == task):
            lr = fit.predict(rule, model, d, own=True)
            factor = noise_factor(d["batch"], b_of[task], k)
            out["the rule"].append(regret(cs, d, lr))
            out["the rule x the noise correction"].append(regret(cs, d, lr * factor))
            each.append(f"{task} b{d['batch']} e{d['epochs']:g}: {lr:.2g} {out['the rule'][-1]:+.1f} % -> "
                        f"x{factor:.2f} {out['the rule x the noise correction'][-1]:+.1f} %")
    return out, each


def correction(cs: dict, bn: dict[str, float]) -> dict:
    """The rule x the noise correction, as the probe applies it, leave-one-task-out: the rule (fit.py's chosen form,
    both models) and K refitted without the task, the held-out curve read at rule x factor (clamped as the module
    clamps it). Prints it beside the rule alone; returns the constants planning/rules/learning_rate.py copies: K on
    every task (NOISE_K) and both held-out read-outs (NOISE_LOTO_*)."""
    import fit

    data = fit.interior(cs)
    mine = [d for d in data if d["model"] == MODEL and d["task"] in bn]
    out, _ = held_out(cs, MODEL, bn, bn)
    got: dict = {key: summary(name, regrets) for (name, regrets), key in zip(out.items(), ("NOISE_LOTO_RULE",
                                                                                          "NOISE_LOTO"))}
    # the same curves both ways (the correction stays within x0.5-x2)
    got["NOISE_LOTO_CURVES"] = sum(not math.isnan(r) for r in out["the rule x the noise correction"])
    got["NOISE_K"] = correction_k(mine, fit.fit(data, fit.CHOSEN), bn)
    print(f"  NOISE_K (every task): {got['NOISE_K']:.2f}")
    return got


def readings(path: Path) -> dict[str, dict[str, list[float]]]:
    """The committed B_simple readings: model -> task -> one value per draw (rows without a model are SmolLM2's)."""
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out[r.get("model", MODEL)][r["task"]].append(r["b_simple"])
    return out


def show(path: Path) -> None:
    by = readings(path)
    import fit

    cs = fit.curves(fit.load(HERE / "runs.jsonl"))
    res = residuals(cs)
    mine = by[MODEL]
    print(f"| task | B_simple ({MODEL}, at the start; one value per draw) | mean | lr residual (measured / rule) |")
    print("|---|---|---|---|")
    for t in sorted(mine, key=lambda t: res.get(t, math.nan)):
        vals = ", ".join(f"{v:.1f}" for v in mine[t])
        print(f"| {t} | {vals} | {statistics.mean(mine[t]):.1f} | x{res[t]:.2f} |" if t in res else
              f"| {t} | {vals} | {statistics.mean(mine[t]):.1f} | (no interior curve) |")
    bn = {t: statistics.mean(v) for t, v in mine.items()}
    for model in sorted(set(by) - {MODEL}):
        others(model, by[model], bn)
        other_curves(cs, model, {t: statistics.mean(v) for t, v in by[model].items()}, bn)
    print("\nthe lr alone, leave-one-task-out (SmolLM2, the model's own constant):")
    loto(cs, bn)
    print("\nthe probe's correction (the rule that ships x K x sqrt(8 / (batch + B_simple))), leave-one-task-out:")
    correction(cs, bn)


def other_curves(cs: dict, model: str, theirs: dict[str, float], bn: dict[str, float]) -> dict | None:
    """The probe's correction on another model's curves, leave-one-task-out (held_out, with the model's own
    B_simple). A model with curves on one task only has no offset to carry to another, so nothing to read (None).
    Returns the rule's and
    the corrected (median, worst) on the curves both can be read on, and their number (the rule module's
    NOISE_OTHER_LOTO)."""
    out, each = held_out(cs, model, theirs, bn)
    if not each:
        return None
    print(f"  the probe's correction on {model}'s curves, leave-one-task-out (its own offset from its other tasks):")
    both = [i for i in range(len(each)) if not any(math.isnan(v[i]) for v in out.values())]  # the same curves
    rule, corrected = (summary(name, [regrets[i] for i in both]) for name, regrets in out.items())
    print("    per curve: " + "; ".join(each))
    return dict(rule=rule, corrected=corrected, curves=len(both))


def others(model: str, theirs: dict[str, list[float]], bn: dict[str, float]) -> tuple[float, float] | None:
    """Another model's B_simple on the same tasks beside SmolLM2's: if the noise scale were the data's alone, the
    task-to-task ratios would match (the correction's K, fitted on SmolLM2, is applied to every model). Returns the
    lowest and highest ratio of the two models' means over the common tasks (the rule module's NOISE_MODEL_SPREAD)."""
    means = {t: statistics.mean(v) for t, v in theirs.items() if t in bn}
    if not means:
        return None
    ref = "support60" if "support60" in means else min(means)
    print(f"\n{model}'s B_simple beside {MODEL}'s (each relative to its own on {ref}; the ratio of the two):")
    for t in sorted(means, key=lambda t: bn[t]):
        vals = ", ".join(f"{v:.1f}" for v in theirs[t])
        print(f"  {t:12s} {vals:12s} mean {means[t]:5.1f} (x{means[t] / means[ref]:.2f}); {MODEL} {bn[t]:5.1f} "
              f"(x{bn[t] / bn[ref]:.2f}); {model} / {MODEL} x{means[t] / bn[t]:.2f}")
    ratios = [means[t] / bn[t] for t in means]
    rank = lambda xs: [sorted(xs).index(x) for x in xs]  # noqa: E731 (Spearman's rho: Pearson's r of the ranks)
    rho = statistics.correlation(rank([means[t] for t in means]), rank([bn[t] for t in means])) if len(means) > 2 \
        else math.nan
    print(f"  {model} / {MODEL} over {len(ratios)} tasks: x{min(ratios):.2f} to x{max(ratios):.2f}; the tasks' order "
          f"by B_simple, Spearman's rho {rho:.2f}")
    return round(min(ratios), 2), round(max(ratios), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--examples", type=int, default=32)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--models", default=MODEL, help="comma-separated; the held-out analysis reads SmolLM2's rows, "
                    "the others are tabled beside them (is the noise scale the data's or the model's?)")
    ap.add_argument("--out", type=Path, default=HERE / "noise.jsonl")
    ap.add_argument("--show", action="store_true", help="print the table from --out, measure nothing")
    a = ap.parse_args()
    if not a.show:
        for model, task in ((m, t) for m in a.models.split(",") for t in a.tasks.split(",")):
            for seed in map(int, a.seeds.split(",")):
                row = measure(task, a.examples, seed, model)
                print(json.dumps(row), flush=True)
                with a.out.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
    show(a.out)


if __name__ == "__main__":
    main()
