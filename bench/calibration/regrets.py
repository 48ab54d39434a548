"""Regrets against each task's best measured run: the plans and what users run today (issue 12 item 3), `plan
--probe` as it ships (item 5), and the same read as means over seeds where configs were run more than once. fit.py
prints these beside its fit; tests/bench/test_calibration_fit.py pins the rule module's quoted numbers to them."""
from __future__ import annotations

import math
import statistics
from collections import defaultdict

from measured import NOT_CANDIDATES, best_runs, draws, score


def baselines(rows: list[dict]) -> None:
    """Per (model, task): every non-grid run (plans and what users run today) against the task's best measured run."""
    best = best_runs(rows)
    print("\n| model | task | run | lr | batch | epochs | held-out loss | regret vs best measured | training tokens |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k in sorted(best):
        b = best[k]
        print(f"| {k[0]} | {k[1]} | best measured ({b['kind']}) | {b['lr']:.3g} | {b['batch']} | {b['epochs']:g} | "
              f"{score(b):.3f} | 0 | {b.get('tokens', 0):,} |")
        others = (r for r in rows if (r["model"], r["task"]) == k and r["kind"] not in ("grid", *NOT_CANDIDATES))
        for r in sorted(others, key=lambda r: r["kind"]):
            lp = f" + LoRA+ {r['loraplus']:g}" if r["loraplus"] else ""
            print(f"| | | {r['kind']}{lp} | {r['lr']:.3g} | {r['batch']} | {r['epochs']:g} ({r.get('stop')}) | "
                  f"{score(r):.3f} | {100 * (score(r) - score(b)) / score(b):+.1f} % | {r.get('tokens', 0):,} |")
    regret = targets(rows, best)
    seed_means(rows, probe_kinds(rows, regret))


USER_BASELINES = ("llamaboard", "lf_example", "common_2e-4", "practitioner")  # issue 12 item 3 (c)-(f)


def targets(rows: list[dict], best: dict[tuple, dict]) -> dict[str, dict[tuple, float]]:
    """Issue 12 item 3's targets, over (model, task): the leave-one-task-out plan's median / worst regret against each
    task's best measured run, each baseline's, item 5's `plan --probe` as it ships (probe_as_shipped), and on how
    many tasks each beat every baseline run there. Returns each kind's regret (%) per (model, task)."""
    regret: dict[str, dict[tuple, float]] = defaultdict(dict)
    for r in rows:
        k = (r["model"], r["task"])
        if r["kind"] not in ("grid", *NOT_CANDIDATES) and math.isfinite(score(r)):
            regret[r["kind"]][k] = min(regret[r["kind"]].get(k, math.inf),
                                       100 * (score(r) - score(best[k])) / score(best[k]))
    print("\nper kind, over (model, task): regret vs each task's best measured run")
    for kind in sorted(regret):
        vals = sorted(regret[kind].values())
        print(f"  {kind:13s} {len(vals)} task(s): median {statistics.median(vals):+.1f} %, worst {vals[-1]:+.1f} %")
    regret["probe_as_shipped"] = probe_as_shipped(rows, regret)
    for kind in ("probe_as_shipped", "plan_loto"):
        plan = regret.get(kind, {})
        beaten = [k for k in plan if any(k in regret[b] for b in USER_BASELINES)]
        wins = [k for k in beaten if all(plan[k] < regret[b][k] for b in USER_BASELINES if k in regret[b])]
        print(f"  {kind} below every baseline run on its task: {len(wins)} of the {len(beaten)} tasks with baselines")
    return regret


def probe_kind(seen: float, batch: int) -> str:
    """What `plan --probe` at its default budget measures on a run of `seen` examples at `batch`: learning-rate runs
    ("probe") when each would see at least SEEN_MIN_MEASURED examples, else only the noise scale, which corrects the
    rule ("plan_loto_noise"). probing/core.py's budget split, counted in examples (the probe counts tokens)."""
    from tiaocan.planning.rules.learning_rate import SEEN_MIN_MEASURED
    from tiaocan.probing import DEFAULT_BUDGET
    from tiaocan.probing.core import lr_run_steps, noise_examples

    allowed = DEFAULT_BUDGET * seen
    steps = lr_run_steps(allowed - noise_examples(allowed), batch)
    return "probe" if steps * batch >= SEEN_MIN_MEASURED else "plan_loto_noise"


def probe_kinds(rows: list[dict], regret: dict[str, dict[tuple, float]]) -> dict[tuple, str]:
    """Issue 12 item 5, held out: per (model, task) with a leave-one-task-out plan, the kind of run `plan --probe`
    (default budget) would have written — the probed config (the newest `probe_v*` run with a regret there) where the
    learning rate is probed ("probe_v?" when none ran), else the noise-corrected plan ("plan_loto_noise")."""
    out = {}
    for r in rows:
        if r["kind"] != "plan_loto":
            continue
        k = (r["model"], r["task"])
        kind = probe_kind(r["n_train"] * r["epochs"], r["batch"])
        if kind == "probe":
            kind = max((x for x in regret if x.startswith("probe_v") and x[7:].isdigit() and k in regret[x]),
                       key=lambda x: int(x[7:]), default="probe_v?")
        out[k] = kind
    return out


def probe_as_shipped(rows: list[dict], regret: dict[str, dict[tuple, float]]) -> dict[tuple, float]:
    """The regret (%) per (model, task) of the run `plan --probe` would have written (probe_kinds), run as written.
    Prints the summary, naming the tasks where that run was not run."""
    out, missing = {}, []
    for k, kind in sorted(probe_kinds(rows, regret).items()):
        if k in regret.get(kind, {}):
            out[k] = regret[kind][k]
        else:
            missing.append(f"{k[1]} ({kind})")
    vals = sorted(out.values())
    if vals:
        several = len({k[0] for k in out}) > 1  # name the model where a task was run with more than one
        each = ", ".join(f"{k[1]}{f' ({k[0]})' if several else ''} {v:+.1f}" for k, v in sorted(out.items()))
        print(f"  plan --probe at its default budget, held out ({each}): {len(vals)} task(s): median "
              f"{statistics.median(vals):+.1f} %, worst {vals[-1]:+.1f} %"
              + (f"; not run as written: {', '.join(missing)}" if missing else ""))
    return out


def seed_means(rows: list[dict], probe: dict[tuple, str]) -> dict[str, dict[tuple, float]]:
    """The regrets again as means over seeds, where configs were run at more than one seed (measured.draws): the
    reference is the config with the lowest mean loss among those drawn more than once — the best of ~10 single draws
    is partly the luckiest draw, and a plan's single draw is one draw too — and the plan's (and the probe's) regret is
    its mean against that mean. Per task, each config's draws and their spread (max / min - 1): what a second draw of
    the same run moves, the floor under any single-draw regret there. Returns the regret (%) per kind and task."""
    by_task: dict[tuple, list[tuple[dict, list[float]]]] = defaultdict(list)
    for src, got in draws(rows):
        if len(got) > 1:
            by_task[(src["model"], src["task"])].append((src, got))
    out: dict[str, dict[tuple, float]] = defaultdict(dict)
    if not by_task:
        return out
    print("\nmeans over seeds (configs run at more than one seed; best checkpoint; spread = max / min - 1):")
    for k, configs in sorted(by_task.items()):
        mean = {src["id"]: statistics.mean(got) for src, got in configs}
        cands = [(src, got) for src, got in configs if src["kind"] not in NOT_CANDIDATES]
        ref = min(cands, key=lambda c: mean[c[0]["id"]])[0] if cands else None
        for src, got in sorted(configs, key=lambda c: mean[c[0]["id"]]):
            role = [name for name, kind in (("the plan", "plan_loto"), ("the probe", probe.get(k)))
                    if src["kind"] == kind]
            line = (f"  {k[0]} {k[1]} {src['kind']} lr {src['lr']:.3g} b{src['batch']}: "
                    + ", ".join(f"{x:.3f}" for x in got) + f" → mean {mean[src['id']]:.3f}, spread "
                    f"{100 * (max(got) / min(got) - 1):.1f} %")
            if src is ref:
                line += " (the best mean: the reference)"
            elif ref is not None:
                line += f": {100 * (mean[src['id']] - mean[ref['id']]) / mean[ref['id']]:+.1f} % vs the best mean"
            for name in role if ref is not None else ():  # the plan may be the reference itself: 0
                out[name][k] = 100 * (mean[src["id"]] - mean[ref["id"]]) / mean[ref["id"]]
            print(line + (f" [{' and '.join(role)}]" if role else ""))
    for name, vals in out.items():
        v = sorted(vals.values())
        print(f"  {name}, mean over seeds vs the best mean, {len(v)} task(s): median {statistics.median(v):+.1f} %, "
              f"worst {v[-1]:+.1f} %")
    return out
