"""`plan --probe` on a calibration task, scored against the task's measured learning-rate grid.

    python bench/calibration/probe.py --task support --model smollm2-135m [--budget 0.15] [--gpu H200]
    python bench/calibration/probe.py --task support60 --model gemma3-270m --json out.json
    python bench/calibration/probe.py --task support60 --job jobs.probe.jsonl   # + the probed config as a grid.py job

For one (task, model): plan the task as a user would (`tiaocan plan --data train.jsonl --set eval_dataset=val.jsonl
--probe BUDGET`, so the probe scores on the task's own held-out file), then read the held-out loss at the chosen
learning rate off the grid curve measured for that (model, task, effective batch, epochs) in runs.jsonl — with
measured.py's helpers (the curves, the scoring of a run, the linear-in-log-lr reading `loss_at`), never a copy —
and print: the chosen lr, its regret against the task's best measured run (any configuration), and the probe's
compute in run-equivalents (its training tokens / the planned run's). `--job` appends the probed configuration as
a `probe_v4` job for `grid.py run`, which runs it as written; fit.py then scores it against the task's best measured
run like the plans — the validation (a reading off a grid curve is only a stand-in). When the grid has no curve at the chosen batch
and epochs, the nearest one (in log batch, then epochs) stands in, and the output says so. The grid scores each run's
best checkpoint with fixed epochs; the planned run stops on held-out loss and keeps its best checkpoint, so the two
readings agree as long as the best came within the planned epochs.
Each call is a real probe: minutes per task on a GPU, much longer on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measured import best_runs, curves, load, loss_at  # noqa: E402
from measured import score as fit_score  # noqa: E402
from grid import written_job  # noqa: E402
from tasks import DATA  # noqa: E402

PROBE_KIND = "probe_v4"  # the probe with the v4 learning-rate rule's horizon transfer (grid.PLAN_KIND's rule)


def nearest_curve(cs: dict, model: str, task: str, batch: int, epochs: float):
    """(key, points, exact) of the plain-LoRA curve at this batch and epochs, else the nearest one."""
    keys = [k for k in cs if k[0] == model and k[1] == task and not k[3]]
    if not keys:
        return None, None, False
    key = min(keys, key=lambda k: (abs(math.log2(k[2] / batch)), abs(k[4] - epochs)))
    return key, cs[key], key[2] == batch and key[4] == epochs


def task_best(rows: list[dict], model: str, task: str) -> float:
    """The task's best measured held-out loss over every run there (fit.py's regret reference)."""
    return fit_score(best_runs(rows)[(model, task)])


def probe_task(task: str, model: str, budget: float, gpu: str | None, data_dir: Path, quiet: bool = False):
    """The probed Plan for this task (its training file, scored on its val file)."""
    import tiaocan

    train, val = (data_dir / task / f"{s}.jsonl" for s in ("train", "val"))
    if not train.is_file():
        raise SystemExit(f"{train} missing: build the tasks first (python bench/calibration/tasks.py)")
    plan = tiaocan.plan(model, str(train), gpu=gpu, lang="en", overrides={"eval_dataset": str(val)})
    return tiaocan.probe_plan(plan, budget, quiet=quiet)


def score(plan, rows: list[dict], model: str, task: str) -> dict:
    """What the chosen configuration would have scored on the task's grid."""
    cs = curves(rows)
    p = plan.probe
    batch, epochs = plan.steps.effective_batch, float(plan.config.get("num_train_epochs", 3.0))
    key, pts, exact = nearest_curve(cs, model, task, batch, epochs)
    out = dict(task=task, model=model, chosen_lr=p.chosen_lr, rule_lr=p.rule_lr, batch=batch, epochs=epochs,
               b_simple=p.noise.b_simple if p.noise else None, run_equivalents=round(p.compute_fraction, 4),
               probe_seconds=p.seconds, edge=p.edge, curve=None, loss=None, best=None, regret=None)
    if key is None:
        return out
    best = task_best(rows, model, task)
    at = loss_at(pts, p.chosen_lr)
    rule_at = loss_at(pts, p.rule_lr)
    out.update(curve=dict(batch=key[2], epochs=key[4], exact=exact), best=best, loss=at,
               regret=None if at is None else (at - best) / best,
               rule_regret=None if rule_at is None else (rule_at - best) / best)
    return out


def show(r: dict) -> None:
    def pct(x):
        return "outside the measured lrs" if x is None else f"{100 * x:+.1f} %"

    print(f"{r['model']} · {r['task']}: chosen lr {r['chosen_lr']:.3g} (rule {r['rule_lr']:.3g}) at effective batch "
          f"{r['batch']}, {r['epochs']:g} epochs" + (f", B_simple {r['b_simple']:.3g}" if r["b_simple"] else ""))
    if r["curve"] is None:
        print("  no grid runs for this (model, task) in runs.jsonl: nothing to score against")
    else:
        c = r["curve"]
        where = "" if c["exact"] else f" (nearest measured curve: batch {c['batch']}, {c['epochs']:g} epochs)"
        print(f"  regret vs the task's best measured run ({r['best']:.4f}): {pct(r['regret'])}{where}; "
              f"the rule's lr: {pct(r.get('rule_regret'))}")
    print(f"  probe compute: {r['run_equivalents']:.3f} run-equivalents (training tokens), {r['probe_seconds']:.0f} s"
          + (f"; best at the {r['edge']} edge" if r["edge"] else ""))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", required=True, help="a task of bench/calibration/tasks.py (its data built)")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--budget", type=float, default=0.15, help="the probe's share of the full run (<= 0.3)")
    ap.add_argument("--gpu", default=None, help="plan for this GPU (e.g. H200); default: this machine")
    ap.add_argument("--runs", type=Path, default=HERE / "runs.jsonl")
    ap.add_argument("--data-dir", type=Path, default=DATA)
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    ap.add_argument("--job", type=Path, default=None, help="append the probed config to this grid.py job list")
    a = ap.parse_args(argv)
    plan = probe_task(a.task, a.model, a.budget, a.gpu, a.data_dir)
    result = score(plan, load(a.runs) if a.runs.is_file() else [], a.model, a.task)
    show(result)
    if a.json:
        a.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    if a.job:
        with a.job.open("a", encoding="utf-8") as f:
            f.write(json.dumps(written_job(a.task, a.model, PROBE_KIND, plan.config, a.data_dir)) + "\n")
    return result


if __name__ == "__main__":
    main()
