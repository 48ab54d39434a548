"""The calibration fit (bench/calibration/fit.py) on synthetic runs whose optima are known: each curve is a parabola
in log2(lr), so the fit, the leave-one-task-out comparison and the LoRA+ / rank read-outs must recover them."""
import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "calibration"))


def _curve(task, batch, epochs, best_lr, n_train, kind="grid", loraplus=0, rank=16, alpha=32, base=2.0):
    out = []
    for k in range(-3, 4):
        lr = best_lr * 2 ** k
        out.append(dict(id=f"{task}|{kind}|{lr:.3g}|b{batch}|e{epochs}|lp{loraplus}|r{rank}", task=task,
                        model="smollm2-135m", kind=kind, lr=lr, batch=batch, epochs=epochs, loraplus=loraplus,
                        rank=rank, alpha=alpha, n_train=n_train, total_steps=int(n_train * epochs / batch),
                        steps=int(n_train * epochs / batch),
                        best_eval=base + 0.05 * k * k, final_eval=base + 0.05 * k * k, stop="completed",
                        evals=[[1, base + 1], [2, base + 0.05 * k * k]], tokens=1000))
    return out


@pytest.fixture
def runs(tmp_path):
    # a world where the best lr is ref x sqrt(batch / 8) x (seen / 1000)^-0.2 on every task (one model)
    from fit import ref_lr

    ref = ref_lr("smollm2-135m")
    rows = []
    for task, n in (("a", 60), ("b", 200), ("c", 400), ("d", 800)):
        for batch, ep in ((2, 3.0), (8, 3.0), (8, 1.0)):
            rows += _curve(task, batch, ep, ref * math.sqrt(batch / 8) * (n * ep / 1000) ** -0.2, n)
    plain = ref * (180 / 1000) ** -0.2
    rows += _curve("a", 8, 3.0, plain / 4, 60, loraplus=16)  # LoRA+ 16: best lr at a quarter
    rows += _curve("a", 8, 3.0, plain * 2, 60, kind="rank", rank=8, alpha=16)  # alpha 16: best lr doubled
    rows.append(dict(_curve("a", 8, 3.0, plain, 60)[3], id="plan", kind="plan_v4", best_eval=1.9, final_eval=1.95))
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_fit_recovers_the_rule_and_the_interactions(runs, capsys, monkeypatch):
    import fit

    monkeypatch.setattr(sys, "argv", ["fit.py", "--runs", str(runs)])
    fit.main()
    out = capsys.readouterr().out
    # the true form is found: exponents and a leave-one-task-out regret of zero on every readable curve
    line = next(x for x in out.splitlines() if x.startswith("## sqrt batch + seen"))
    assert "a +0.50, s -0.20" in line and "within x2: 12/12" in line
    common = out[out.index("every form could be read on (own model offset)"):]
    assert "sqrt batch + seen           median +0.0 %, worst +0.0 %" in common
    # LoRA+ and rank read against the plain curve of the same (task, batch, epochs)
    assert "LoRA+ 16 vs plain LoRA, smollm2-135m a b8 e3:" in out and "= x0.25 (ratio^-0.50)" in out
    assert "LoRA+ exponent (mean k over 1 interior pair(s)): 0.50" in out
    assert "rank 8 / alpha 16 vs 16 / 32" in out and "= x2.00 (the rule: x2.00)" in out
    # a plan run is listed against the task's best measured run (itself here), rank runs are not baselines
    assert "| | | plan_v4 |" in out and "| | | rank" not in out


def test_loto_plan_is_the_rule_refitted_without_the_task(runs, tmp_path, monkeypatch):
    """grid.py's leave-one-task-out plan: the rule's constants come from the other tasks' curves for that one plan
    call (here the synthetic world's own law, recovered exactly), and the product's constants are restored after."""
    import grid
    from fit import ref_lr
    from tiaocan.planning.rules import learning_rate as rule_mod

    task = tmp_path / "data" / "a"
    task.mkdir(parents=True)
    qa = [{"messages": [{"role": "user", "content": f"question {i}?"}, {"role": "assistant", "content": f"answer {i}."}]}
          for i in range(70)]
    (task / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in qa[:60]))
    (task / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in qa[60:]))
    monkeypatch.setattr(grid, "DATA", tmp_path / "data")
    before = (rule_mod.MULT, rule_mod.SEEN_EXP, rule_mod.SEEN_MEASURED, dict(rule_mod.MODEL_MULT))
    job = grid.loto_plan_job("a", "smollm2-135m", None, runs=runs)
    assert (rule_mod.MULT, rule_mod.SEEN_EXP, rule_mod.SEEN_MEASURED, rule_mod.MODEL_MULT) == before
    cfg = job["config"]
    assert job["kind"] == "plan_loto" and job["id"].startswith("smollm2-135m|a|plan_loto|")
    batch = cfg["per_device_train_batch_size"] * cfg["gradient_accumulation_steps"]
    seen = 60 * cfg["num_train_epochs"]
    law = ref_lr("smollm2-135m") * math.sqrt(batch / 8) * (seen / 1000) ** -0.2
    assert cfg["learning_rate"] == pytest.approx(float(f"{law:.2g}"), rel=0.05)
    assert cfg["learning_rate"] != grid.plan_job("a", "smollm2-135m", None)["config"]["learning_rate"]
    # a value the user fixes (`--set`): the same refitted rule, then the plan's own re-derivation (LoRA+ 16: the rule's
    # measured exponent)
    from tiaocan.planning.rules.learning_rate import LORAPLUS_EXP

    lp = grid.loto_plan_job("a", "smollm2-135m", None, runs=runs, kind="plan_loto_lp16",
                            overrides={"loraplus_lr_ratio": 16})
    assert lp["id"].startswith("smollm2-135m|a|plan_loto_lp16|") and lp["id"].endswith("|lp16")
    assert lp["config"]["learning_rate"] == pytest.approx(cfg["learning_rate"] * 16 ** -LORAPLUS_EXP, rel=0.05)


def test_the_rule_module_holds_the_fit_of_the_committed_runs(capsys):
    """planning/rules/learning_rate.py copies its fitted constants from fit.py on bench/calibration/runs.jsonl (rounded
    to the printed digits): new runs that move the fit, or a hand edit, must come with the refit, and the reasons'
    "how sure" numbers with it."""
    import statistics

    import effects
    import fit
    import measured
    import regrets
    from tiaocan.planning.rules import learning_rate as rule

    rows = fit.load(fit.HERE / "runs.jsonl")
    k = fit.rule_constants(fit.interior(fit.curves(rows)))
    assert rule.MULT == pytest.approx(k["MULT"], abs=0.0051) and rule.SEEN_EXP == pytest.approx(k["SEEN_EXP"], abs=0.0051)
    assert (rule.SEEN_MEASURED, rule.SEEN_MIN_MEASURED) == (k["SEEN_MEASURED"], k["SEEN_MIN_MEASURED"])
    assert rule.MODEL_MULT.keys() == k["MODEL_MULT"].keys()
    for m, v in k["MODEL_MULT"].items():  # written as MULT x the model's offset, each rounded to 2 digits
        assert rule.MODEL_MULT[m] == pytest.approx(v, rel=0.012), m
    assert (rule.CALIBRATION_WITHIN2, rule.CALIBRATION_CURVES) == (k["CALIBRATION_WITHIN2"], k["CALIBRATION_CURVES"])
    assert rule.MODEL_OWN_SPREAD == k["MODEL_OWN_SPREAD"]
    pairs = effects.loraplus_pairs(fit.curves(rows))
    assert rule.LORAPLUS_EXP == pytest.approx(effects.loraplus_exponent(pairs), abs=0.0051)
    regret = regrets.targets(rows, measured.best_runs(rows))
    cs = fit.curves(rows)
    lr_alone = sorted(r for r in fit.loto(cs, fit.interior(cs), fit.CHOSEN, fit.best_per_task(cs), own=True).values()
                      if r is not None)
    capsys.readouterr()
    assert (rule.LOTO_MEDIAN, rule.LOTO_WORST, rule.LOTO_CURVES) == pytest.approx(  # fit.py's upper median
        (round(lr_alone[len(lr_alone) // 2], 1), round(lr_alone[-1], 1), len(lr_alone)))
    for name, kind in (("PLAN_LOTO", "plan_loto"), ("PROBE_LOTO", "probe_as_shipped")):
        got = sorted(regret[kind].values())
        assert (getattr(rule, f"{name}_MEDIAN"), getattr(rule, f"{name}_WORST"), getattr(rule, f"{name}_TASKS")) == \
            pytest.approx((round(statistics.median(got), 1), round(got[-1], 1), len(got))), name
    means = sorted(regrets.seed_means(rows, regrets.probe_kinds(rows, regret))["the plan"].values())
    capsys.readouterr()
    assert (rule.PLAN_SEEDS_MEDIAN, rule.PLAN_SEEDS_WORST, rule.PLAN_SEEDS_TASKS) == pytest.approx(
        (round(statistics.median(means), 1), round(means[-1], 1), len(means)))


def test_a_weighted_form_follows_the_curves_where_a_miss_costs_most():
    """The curvature read-out is the parabola's (0.05 per log2 step² on a loss of 2.0 → 0.025), and a weighted fit
    lands near the steep curve's optimum where the plain fit splits the difference."""
    import fit

    pts = [(r["lr"], r["best_eval"], r) for r in _curve("a", 8, 3.0, 1e-3, 60)]
    assert fit.curvature(pts) == pytest.approx(0.05 / 2.0)
    assert fit.optimum(pts)[0] == pytest.approx(1e-3) and fit.optimum(pts)[2] == "interior"
    # one horizon, two tasks whose optima are x4 apart: the steep one (w 0.3) and a flat one (w 0.01)
    data = [dict(model="m", task="steep", batch=8, seen=1000.0, y=math.log(4.0), w=0.3),
            dict(model="m", task="flat", batch=8, seen=1000.0, y=0.0, w=0.01)]
    plain, weighted = fit.fit(data, fit.FORMS["sqrt batch + seen"]), fit.fit(data, fit.FORMS["sqrt batch + seen, weighted"])
    assert math.exp(plain["c"]) == pytest.approx(2.0)  # the geometric middle
    assert math.exp(weighted["c"]) == pytest.approx(4.0 ** (0.3 / 0.31))  # the steep curve's, nearly


def test_results_md_holds_fit_output_of_the_committed_runs(tmp_path):
    """bench/RESULTS.md's calibration tables are fit.py's output on runs.jsonl (results.py --check): a run appended
    without re-syncing them fails here, and results.py rewrites only the generated blocks."""
    import subprocess

    script = ROOT / "bench" / "calibration" / "results.py"
    check = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 0, check.stdout + check.stderr
    stale = tmp_path / "RESULTS.md"
    text = (ROOT / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    stale.write_text(text.replace("| plan_loto |", "| plan_loto_old |", 1), encoding="utf-8")
    again = subprocess.run([sys.executable, str(script), "--check", "--results", str(stale)], capture_output=True,
                           text=True, cwd=ROOT)
    assert again.returncode == 1 and "results.py" in again.stderr
    subprocess.run([sys.executable, str(script), "--results", str(stale)], check=True, capture_output=True, cwd=ROOT)
    assert stale.read_text(encoding="utf-8") == text


def test_the_probe_as_shipped_reads_the_run_the_default_budget_would_have_written():
    """regrets.probe_kind follows probing/core.py's budget split: at 0.15, 800 examples x 3 epochs at batch 16 leave
    five runs of 64 examples (>= 60 measured: the learning-rate probe), 420 x 3 at batch 8 five runs of 24 (the noise
    correction only); and the summary takes each task's matching run, naming the ones not run."""
    import regrets

    assert regrets.probe_kind(2400, 16) == "probe"
    assert regrets.probe_kind(1260, 8) == "plan_loto_noise" and regrets.probe_kind(642, 4) == "plan_loto_noise"
    plan = dict(model="m", kind="plan_loto", n_train=800, epochs=3, batch=16)
    rows = [dict(plan, task="long"), dict(plan, task="short", n_train=60, batch=1),
            dict(plan, task="unrun", n_train=50)]
    regret = {"probe_v3": {("m", "long"): 9.0}, "probe_v4": {("m", "long"): 0.5},
              "plan_loto_noise": {("m", "short"): 2.0}}
    assert regrets.probe_as_shipped(rows, regret) == {("m", "long"): 0.5, ("m", "short"): 2.0}


def test_a_seed_repeat_is_read_as_a_mean_and_never_sets_the_reference_by_luck(capsys):
    """A seed repeat (kind "seed", `of` naming the run it repeats) does not enter the curves, and a lucky draw does
    not become the task's best run; seed_means reads each repeated config as the mean of its draws, takes the best
    mean as the reference and the plan's mean against it."""
    from measured import best_runs, curves, draws
    from regrets import seed_means

    grid = _curve("a", 8, 3.0, 1e-3, 60)  # best at 1e-3 (2.000); 2e-3 → 2.050
    plan = dict(grid[4], id="a|plan", kind="plan_loto", best_eval=2.1, final_eval=2.1)
    seeds = [dict(grid[3], id="a|s1", kind="seed", of=grid[3]["id"], best_eval=2.4, final_eval=2.4),
             dict(grid[4], id="a|s2", kind="seed", of=grid[4]["id"], best_eval=2.05, final_eval=2.05),
             dict(plan, id="a|s3", kind="seed", of="a|plan", best_eval=2.2, final_eval=2.2)]
    rows = grid + [plan] + seeds
    assert best_runs(rows)[("smollm2-135m", "a")]["kind"] == "grid"
    assert [len(v) for v in curves(rows).values()] == [7]
    assert [(src["id"], got) for src, got in draws(rows)] == [
        (grid[3]["id"], [2.0, 2.4]), (grid[4]["id"], [pytest.approx(2.05), 2.05]), ("a|plan", [2.1, 2.2])]
    got = seed_means(rows, {("smollm2-135m", "a"): "plan_loto_noise"})  # the probe's run: not repeated here
    out = capsys.readouterr().out
    assert "2.000, 2.400 → mean 2.200, spread 20.0 %" in out
    assert got["the plan"][("smollm2-135m", "a")] == pytest.approx(100 * (2.15 - 2.05) / 2.05)
    assert "2.050, 2.050 → mean 2.050, spread 0.0 % (the best mean: the reference)" in out
    assert "+4.9 % vs the best mean [the plan]" in out and "the probe" not in out
    lucky = [dict(r, best_eval=1.9, final_eval=1.9) if r["id"] in ("a|plan", "a|s3") else r for r in rows]
    assert seed_means(lucky, {})["the plan"] == {("smollm2-135m", "a"): 0.0}, "the plan as the reference: 0"



def test_the_plan_before_the_calibration_is_scored_by_the_model_it_left():
    """plan_v0 left its last adapter (issue 12: "the best checkpoint was saved, but the adapter left in the run
    directory was the last one"), so it scores its final eval; a planned run scores its best checkpoint."""
    from measured import score

    run = dict(best_eval=1.5, final_eval=1.8, stop="loss_band")
    assert score(dict(run, kind="plan_v0")) == 1.8
    assert score(dict(run, kind="plan_loto")) == 1.5 and score(dict(run, kind="grid")) == 1.5
    assert score(dict(run, kind="grid", stop="diverged")) == 1.8
