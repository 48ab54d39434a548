"""The learning-rate range test as a read-out of the best learning rate, measured on the calibration suite (issue 12
item 5: "a range test whose read-out is validated on the suite").

    python bench/calibration/rangetest.py run [--only smollm2-135m,support] [--steps 40]   # appends rangetest.jsonl
    python bench/calibration/rangetest.py show                                            # the read-out, held out

Why: the rule's error is the task's and the model's (its residual spans x0.46-x2.37 held out, bench/RESULTS.md
"calibration"), and `plan --probe` cannot measure the learning rate on short runs (five runs of 0.03 of a run each
are too short to carry over). A range test (Smith 2017) costs one short run and measures where *this* model on
*this* data at *this* batch stops being stable. If the best learning rate of a run sits at a steady fraction of that
limit, with the horizon's slope on top, the probe can read it off one sweep.

`run`: one sweep per (model, task, batch) that has a plain-LoRA curve in runs.jsonl — that curve's own config
(data, cutoff, LoRA, micro batch x accumulation), STEPS optimizer steps, the learning rate growing exponentially from
LO to HI (tiaocan.tuning.lr_range.sweep, what `tune --lr-range-test` runs), the training loss at each step. Same
absolute range everywhere, so no read-out depends on the rule it is compared with. Rows append to rangetest.jsonl;
a (model, task, batch) already there is skipped.

`show`: per sweep, the divergence lr (lr_range.divergence_lr: where the smoothed loss first exceeds 1.5x its best so
far); per curve with an interior optimum, log(best lr / divergence lr); then that ratio fitted as c + s log(seen /
1000) leave-one-task-out (fitted without the task, read on the held-out curve with measured.loss_at), beside the
rule's own leave-one-task-out regret on the same curves (fit.py's chosen form, across-model constant and the
model's own offset).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import fit  # noqa: E402
from measured import curves, load, loss_at, optimum  # noqa: E402

OUT = HERE / "rangetest.jsonl"
LO, HI, STEPS = 1e-4, 1e-1, 40  # x1.19 per step over three decades: LoRA's limit on these models lies within


def sweep_targets(rows: list[dict]) -> dict[tuple[str, str, int], dict]:
    """(model, task, batch) -> the config of one of its plain-LoRA grid runs (the lr is replaced by the sweep). A
    curve from before rows kept their config gets the plan's config for the task with the row's recorded shape (micro
    batch, accumulation, cutoff, LoRA rank / alpha) in it: grid.py's own builders."""
    out: dict[tuple[str, str, int], dict] = {}
    for (model, task, batch, lp, ep), pts in sorted(curves(rows).items()):
        if lp or (model, task, batch) in out:
            continue
        r = pts[0][2]
        out[(model, task, batch)] = r.get("config") or _rebuilt(r)
    return out


def _rebuilt(r: dict) -> dict:
    import grid

    cfg = grid.run_config(grid.base_config(r["task"], r["model"], None), r["task"], lr=r["lr"], batch=r["batch"],
                          epochs=r["epochs"], micro_cap=r["micro"])
    return dict(cfg, cutoff_len=r["cutoff"], lora_rank=r["rank"], lora_alpha=r["alpha"], bf16=False)


def run_one(key: tuple[str, str, int], config: dict, steps: int) -> dict:
    import torch

    from tiaocan.config import TrainConfig
    from tiaocan.tuning.lr_range import sweep

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="rangetest-") as tmp:
        cfg = TrainConfig(**{**config, "output_dir": tmp, "learning_rate": LO})
        t = time.time()
        lrs, losses = sweep(cfg, tmp, LO, HI, steps)
    model, task, batch = key
    return dict(model=model, task=task, batch=batch, steps=steps, lo=LO, hi=HI, lrs=lrs, losses=losses,
                seconds=round(time.time() - t, 1))


def divergence(r: dict) -> float | None:
    from tiaocan.tuning.lr_range import divergence_lr

    return divergence_lr(r["lrs"], r["losses"])


def readings() -> dict[tuple[str, str, int], dict]:
    if not OUT.is_file():
        return {}
    rows = [json.loads(x) for x in OUT.read_text(encoding="utf-8").splitlines() if x.strip()]
    return {(r["model"], r["task"], r["batch"]): r for r in rows}


def regret(pts: list, lr: float) -> float:
    """The held-out loss at `lr` read off the curve, against the curve's best (%); nan outside the measured lrs."""
    at = loss_at(pts, lr)
    return math.nan if at is None else 100 * (at / min(p[1] for p in pts) - 1)


def summary(vals: list[float]) -> str:
    v = [x for x in vals if not math.isnan(x)]
    return f"median {statistics.median(v):+.1f} %, worst {max(v):+.1f} % over {len(v)}" if v else "nothing read"


def fit_ratio(data: list[dict]) -> tuple[float, float]:
    """(c, s) of log(lr* / divergence lr) = c + s log(seen / 1000), least squares."""
    import numpy as np

    x = np.array([[1.0, math.log(d["seen"] / 1000)] for d in data])
    c, s = np.linalg.lstsq(x, np.array([d["ratio"] for d in data]), rcond=None)[0]
    return float(c), float(s)


def show() -> None:
    rows = load(HERE / "runs.jsonl")
    cs = curves(rows)
    got = readings()
    print("| model | task | batch | divergence lr | sweep s |\n|---|---|---|---|---|")
    div = {}
    for k, r in sorted(got.items()):
        div[k] = divergence(r)
        print(f"| {k[0]} | {k[1]} | {k[2]} | {div[k] or 'none'} | {r['seconds']:.0f} |")
    data = []
    for d in fit.interior(cs):
        k = (d["model"], d["task"], d["batch"])
        if div.get(k):
            lr = math.exp(d["y"]) * fit.ref_lr(d["model"])
            data.append(dict(d, lr=lr, div=div[k], ratio=math.log(lr / div[k])))
    if not data:
        print("no interior curve has a sweep yet")
        return
    print("\nper curve with an interior optimum: best lr / divergence lr")
    for d in data:
        print(f"  {d['model']} {d['task']} b{d['batch']} e{d['epochs']:g}: best {d['lr']:.2g}, divergence "
              f"{d['div']:.2g}, ratio x{math.exp(d['ratio']):.2f}")
    c, s = fit_ratio(data)
    print(f"fit on all {len(data)}: best lr = divergence lr x {math.exp(c):.3f} x (seen / 1000)^{s:+.2f}")
    ours, rule_across, rule_own, each = [], [], [], []
    for task in sorted({d["task"] for d in data}):
        rest = [d for d in data if d["task"] != task]
        if len({d["task"] for d in rest}) < 2:
            continue
        c, s = fit_ratio(rest)
        without = fit.fit([d for d in fit.interior(cs) if d["task"] != task], fit.CHOSEN)
        for d in (d for d in data if d["task"] == task):
            pts = cs[(d["model"], d["task"], d["batch"], 0, d["epochs"])]
            lr = d["div"] * math.exp(c + s * math.log(d["seen"] / 1000))
            ours.append(regret(pts, lr))
            rule_across.append(regret(pts, fit.predict(without, d["model"], d)))
            own = any(x["model"] == d["model"] for x in fit.interior(cs) if x["task"] != task)
            rule_own.append(regret(pts, fit.predict(without, d["model"], d, own=True)) if own else math.nan)
            each.append(f"{d['model']} {task} b{d['batch']} e{d['epochs']:g}: {lr:.2g} {ours[-1]:+.1f} / "
                        f"{rule_across[-1]:+.1f} / {rule_own[-1]:+.1f}")
    print("\nleave-one-task-out, the lr alone against each curve's best (range test / rule across models / rule with "
          "the model's own offset):")
    for line in each:
        print("  " + line)
    both = [i for i in range(len(ours)) if not math.isnan(ours[i]) and not math.isnan(rule_across[i])]
    print(f"  range test x fitted ratio: {summary([ours[i] for i in both])}")
    print(f"  the rule, across-model constant: {summary([rule_across[i] for i in both])}")
    own = [i for i in both if not math.isnan(rule_own[i])]
    print(f"  on the {len(own)} where the model has other tasks: range test {summary([ours[i] for i in own])}; "
          f"the rule, own offset {summary([rule_own[i] for i in own])}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--only", default="", help="comma-separated substrings: model, task or b<batch>, all must match")
    r.add_argument("--steps", type=int, default=STEPS)
    sub.add_parser("show")
    a = p.parse_args()
    if a.cmd == "show":
        return show()
    done = readings()
    keep = [k for k in a.only.split(",") if k]
    for key, cfg in sweep_targets(load(HERE / "runs.jsonl")).items():
        name = f"{key[0]}|{key[1]}|b{key[2]}"
        if key in done or not all(k in name.split("|") for k in keep):
            continue
        print(f"[rangetest] {name}", flush=True)
        row = run_one(key, cfg, a.steps)
        with OUT.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        print(f"[rangetest] {name}: divergence lr {divergence(row)}, {row['seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
