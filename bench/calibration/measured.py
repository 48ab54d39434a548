"""The measured calibration runs, read: load runs.jsonl, score a run as what it leaves, group the grid runs into
learning-rate curves, and read a curve (its optimum, its curvature, its loss at any lr) and each task's best run.
fit.py, effects.py and probe.py read the runs through these, so a run is scored one way everywhere."""
from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path


def load(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("best_eval") is not None and math.isfinite(r["best_eval"])]


# Kinds whose run leaves its last model, not its best checkpoint: the plan before the calibration (issue 12 item 3 (b):
# its adapter in the run directory was the last one; grid.py runs its values with no checkpoints).
LEAVES_LAST = ("plan_v0",)


def score(r: dict) -> float:
    """What the run leaves: a planned run keeps its best checkpoint (the grid's runs are read the same way); a run of
    LEAVES_LAST scores its last model; a diverged run scores what it ended at (never better)."""
    if r["kind"] in LEAVES_LAST or r.get("stop") == "diverged":
        return max(r["best_eval"], r.get("final_eval") or math.inf)
    return r["best_eval"]


def curves(rows: list[dict]) -> dict[tuple, list[tuple[float, float, dict]]]:
    """Per (model, task, batch, LoRA+, epochs): the (lr, score, run) points, by lr. The grid's runs, and a plan's run
    marked `"curve": true` where it is the same config as a curve's points (a leave-one-task-out plan re-run with
    only the batch or LoRA+ fixed, whose lr then joined a curve at that batch)."""
    out: dict[tuple, list] = defaultdict(list)
    for r in rows:
        if r["kind"] == "grid" or r.get("curve"):
            out[(r["model"], r["task"], r["batch"], r["loraplus"], r["epochs"])].append((r["lr"], score(r), r))
    return {k: sorted(v, key=lambda x: x[0]) for k, v in out.items()}


def _parabola(points: list[tuple[float, float, dict]], i: int) -> tuple[float, float]:
    """(a, b) of the loss = a x^2 + b x + c through points i-1, i, i+1, x = log2(lr)."""
    (x0, y0), (x1, y1), (x2, y2) = [(math.log2(points[k][0]), points[k][1]) for k in (i - 1, i, i + 1)]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
    return a, b


def optimum(points: list[tuple[float, float, dict]]) -> tuple[float, float, str]:
    """(lr*, loss there, 'interior' | 'low edge' | 'high edge' | 'too few')."""
    if len(points) < 3:
        best = min(points, key=lambda p: p[1])
        return best[0], best[1], "too few"
    i = min(range(len(points)), key=lambda k: points[k][1])
    if i in (0, len(points) - 1):
        return points[i][0], points[i][1], "low edge" if i == 0 else "high edge"
    a, b = _parabola(points, i)
    x0, x1, x2 = (math.log2(points[k][0]) for k in (i - 1, i, i + 1))
    if a <= 0:
        return points[i][0], points[i][1], "interior"
    xv = min(max(-b / (2 * a), x0), x2)
    return 2 ** xv, points[i][1] - a * (x1 - xv) ** 2, "interior"


def curvature(points: list[tuple[float, float, dict]]) -> float:
    """What a miss costs on this curve: its parabola's curvature around the best measured point, relative to that
    loss (the regret of a x2 miss, as a fraction, for a pure parabola). For an interior optimum only; a flat or
    concave read-out weighs almost nothing but is never 0 (a model whose only curve it is would have no weight)."""
    i = min(range(len(points)), key=lambda k: points[k][1])
    return max(_parabola(points, i)[0], 1e-6) / points[i][1]


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


# Kinds that are not candidate configurations: the rank study (another LoRA rank) and seed repeats of a grid run (the
# same config at another seed: taking the best of several draws of one config would set the reference by luck).
NOT_CANDIDATES = ("rank", "seed")


def draws(rows: list[dict]) -> list[tuple[dict, list[float]]]:
    """Each repeated run (one that a seed repeat names in `of`) with its scores over draws: its own first, then its
    repeats' in the order they ran, each scored as its source is (score: what that kind of run leaves)."""
    by_id = {r["id"]: r for r in rows}
    out: dict[str, list[float]] = {}
    for r in rows:
        if r["kind"] == "seed" and r.get("of") in by_id:
            src = by_id[r["of"]]
            out.setdefault(src["id"], [score(src)]).append(score(dict(r, kind=src["kind"])))
    return [(by_id[i], got) for i, got in out.items()]


def best_runs(rows: list[dict]) -> dict[tuple, dict]:
    """Each (model, task)'s best measured run, over every kind but NOT_CANDIDATES: the reference regrets are taken
    against (here and in probe.py)."""
    best: dict[tuple, dict] = {}
    for r in rows:
        k = (r["model"], r["task"])
        if r["kind"] not in NOT_CANDIDATES and (k not in best or score(r) < score(best[k])):
            best[k] = r
    return best
