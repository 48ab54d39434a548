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
import json
import math
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("best_eval") is not None and math.isfinite(r["best_eval"])]


def score(r: dict) -> float:
    """A planned run keeps its best checkpoint; a diverged run scores what it ended at (never better)."""
    return r["best_eval"] if r.get("stop") != "diverged" else max(r["best_eval"], r.get("final_eval") or math.inf)


def curves(rows: list[dict]) -> dict[tuple, list[tuple[float, float, dict]]]:
    out: dict[tuple, list] = defaultdict(list)
    for r in rows:
        if r["kind"] == "grid":
            out[(r["model"], r["task"], r["batch"], r["loraplus"], r["epochs"])].append((r["lr"], score(r), r))
    return {k: sorted(v, key=lambda x: x[0]) for k, v in out.items()}


def optimum(points: list[tuple[float, float, dict]]) -> tuple[float, float, str]:
    """(lr*, loss there, 'interior' | 'low edge' | 'high edge' | 'too few')."""
    if len(points) < 3:
        best = min(points, key=lambda p: p[1])
        return best[0], best[1], "too few"
    i = min(range(len(points)), key=lambda k: points[k][1])
    if i in (0, len(points) - 1):
        return points[i][0], points[i][1], "low edge" if i == 0 else "high edge"
    (x0, y0), (x1, y1), (x2, y2) = [(math.log2(points[k][0]), points[k][1]) for k in (i - 1, i, i + 1)]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
    if a <= 0:
        return points[i][0], points[i][1], "interior"
    xv = min(max(-b / (2 * a), x0), x2)
    return 2 ** xv, y1 - a * (x1 - xv) ** 2, "interior"


def loss_at(points: list[tuple[float, float, dict]], lr: float) -> float | None:
    """The measured curve read at lr (linear in log lr); None outside the measured range."""
    xs = [math.log2(p[0]) for p in points]
    x = math.log2(lr)
    if not xs[0] <= x <= xs[-1]:
        return None
    for k in range(len(xs) - 1):
        if xs[k] <= x <= xs[k + 1]:
            t = (x - xs[k]) / (xs[k + 1] - xs[k])
            return points[k][1] * (1 - t) + points[k + 1][1] * t
    return points[-1][1]


def v0_lr(model: str, batch: int) -> float:
    """The rule before the horizon term: literature reference at batch 128 x sqrt(batch / 128)."""
    from tiaocan.planning.rules.learning_rate import reference_lr
    from tiaocan.planning.shapes import load_shape

    ref, _ = reference_lr(load_shape(model), lora=True)
    return ref * math.sqrt(batch / 128)


def fit(points: list[tuple[str, float, float]]) -> tuple[float, float]:
    """(c, a) for y = c_model + a * x with x = log(seen / 1000), y = log ratio, points = (model, x, y).

    a: least squares on the within-model deviations (0 when no model has two horizons); c: mean of the models'
    own offsets (y - a * x averaged per model, then across models)."""
    by: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for m, x, y in points:
        by[m].append((x, y))
    sxy = sxx = 0.0
    for pts in by.values():
        mx, my = sum(x for x, _ in pts) / len(pts), sum(y for _, y in pts) / len(pts)
        sxy += sum((x - mx) * (y - my) for x, y in pts)
        sxx += sum((x - mx) ** 2 for x, _ in pts)
    a = sxy / sxx if sxx > 1e-9 else 0.0
    offsets = [sum(y - a * x for x, y in pts) / len(pts) for pts in by.values()]
    return sum(offsets) / len(offsets), a


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=HERE / "runs.jsonl")
    a = ap.parse_args()
    rows = load(a.runs)
    cs = curves(rows)
    baselines(rows)
    print(f"{len(rows)} scored runs, {len(cs)} curves\n")
    print("| model | task | batch | LoRA+ | epochs | steps | lr → held-out loss (best checkpoint) | lr* | loss* | lr* / rule v0 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    data = []
    for key, pts in sorted(cs.items()):
        model, task, batch, lp, ep = key
        lr, loss, where = optimum(pts)
        steps = max(p[2].get("total_steps", 0) for p in pts)
        seen = pts[0][2]["n_train"] * ep
        ratio = lr / v0_lr(model, batch)
        curve = ", ".join(f"{p[0]:.3g}→{p[1]:.3f}" for p in pts)
        print(f"| {model} | {task} | {batch} | {lp:g} | {ep:g} | {steps} | {curve} | {lr:.3g} ({where}) | {loss:.3f} | {ratio:.1f} |")
        if where == "interior" and not lp:
            data.append(dict(model=model, task=task, batch=batch, seen=seen, x=math.log(seen / 1000), y=math.log(ratio)))
    if len(data) < 2:
        print("\nfewer than 2 interior optima: nothing to fit")
        return
    c, slope = fit([(d["model"], d["x"], d["y"]) for d in data])
    print(f"\nfit on {len(data)} interior optima ({len({d['model'] for d in data})} models): "
          f"lr* / rule_v0 = {math.exp(c):.2f} x (examples seen / 1000)^{slope:+.3f}")
    for m in sorted({d["model"] for d in data}):
        own = [d for d in data if d["model"] == m]
        off = sum(d["y"] - slope * d["x"] for d in own) / len(own)
        print(f"  {m}: own offset x{math.exp(off):.2f} (the rule uses x{math.exp(c):.2f}: this model's best lr is "
              f"x{math.exp(off - c):.2f} the rule's)")
    within2 = sum(abs(d["y"] - (c + slope * d["x"])) <= math.log(2) for d in data)
    print(f"within x2 of the fitted rule: {within2} of {len(data)} curves")
    print("\nleave-one-task-out (plain LoRA curves; regret = loss at the predicted lr vs the task's best measured run):")
    best_task = defaultdict(lambda: math.inf)
    for (model, task, *_), pts in cs.items():
        best_task[(model, task)] = min(best_task[(model, task)], min(p[1] for p in pts))
    for key, pts in sorted(cs.items()):
        model, task, batch, lp, ep = key
        if lp:
            continue
        train = [(d["model"], d["x"], d["y"]) for d in data if d["task"] != task]
        if len(train) < 2:
            print(f"  {model} {task} batch {batch}: no interior optimum outside this task to fit on")
            continue
        c2, s2 = fit(train)
        steps = max(p[2].get("total_steps", 0) for p in pts)
        lr = v0_lr(model, batch) * math.exp(c2 + s2 * math.log(pts[0][2]["n_train"] * ep / 1000))
        at = loss_at(pts, lr)
        best = best_task[(model, task)]
        reg = f"{100 * (at - best) / best:+.1f} %" if at is not None else "outside measured lrs"
        print(f"  {model} {task} batch {batch} ({steps} steps): predicted lr {lr:.3g}, loss {at if at is None else round(at, 3)}"
              f" vs task best {best:.3f}: {reg}")


def baselines(rows: list[dict]) -> None:
    """Per (model, task): every non-grid run (plans and what users run today) against the task's best measured run."""
    best: dict[tuple, dict] = {}
    for r in rows:
        k = (r["model"], r["task"])
        if k not in best or score(r) < score(best[k]):
            best[k] = r
    print("\n| model | task | run | lr | batch | epochs | held-out loss | regret vs best measured | training tokens |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k in sorted(best):
        b = best[k]
        print(f"| {k[0]} | {k[1]} | best measured ({b['kind']}) | {b['lr']:.3g} | {b['batch']} | {b['epochs']:g} | "
              f"{score(b):.3f} | 0 | {b.get('tokens', 0):,} |")
        for r in sorted((r for r in rows if (r["model"], r["task"]) == k and r["kind"] != "grid"), key=lambda r: r["kind"]):
            lp = f" + LoRA+ {r['loraplus']:g}" if r["loraplus"] else ""
            print(f"| | | {r['kind']}{lp} | {r['lr']:.3g} | {r['batch']} | {r['epochs']:g} ({r.get('stop')}) | "
                  f"{score(r):.3f} | {100 * (score(r) - score(b)) / score(b):+.1f} % | {r.get('tokens', 0):,} |")


if __name__ == "__main__":
    main()
