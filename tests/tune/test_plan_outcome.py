"""The tune report says what became of the plan and how the best compared with it where they were compared;
"Best so far vs compute" shows a point when only one trial completed."""
import base64

from tiaocan.tuning.report import _figures, write_report
from tiaocan.tuning.results import TrialRecord, TuneResult, plan_outcome

LR = "learning_rate"


def _trials():
    t = lambda n, st, v, lr, rung, ex, role=None: TrialRecord(number=n, state=st, value=v, params={LR: lr}, role=role,
                                                              bracket=0, rung=rung, examples=ex, tokens=ex * 50)
    return [t(0, "PRUNED", 3.28, 1e-4, 0, 16, "plan"), t(1, "PRUNED", 2.95, 1e-3, 0, 16, "probe"),
            t(2, "PRUNED", 3.10, 3e-4, 0, 16, "probe"), t(3, "COMPLETE", 2.40, 1e-3, 1, 48, "promoted")]


def _result(trials, **kw):
    base = dict(study_name="s", storage="sqlite:///x.db", metric="eval_loss", direction="minimize", budget="2x",
                budget_spent="1.9 runs", space=[], full_run_tokens=48 * 50, n_trials=len(trials), n_complete=1,
                n_pruned=3, n_failed=0, best_value=2.40, best_trial=3, best_params={LR: 1e-3}, trials=trials,
                compute_full_runs=1.67)
    return TuneResult(**{**base, **kw})


def test_pruned_plan_is_compared_at_its_rung_with_the_best_configuration():
    trials = _trials()
    text, at = plan_outcome(trials, trials[0], None, trials[3], "eval_loss", "minimize")
    assert text.startswith("stopped at rung 1 of bracket 0 (trial 0, 16 examples): eval_loss 3.28")
    assert at["trial"] == 1 and at["value"] == 2.95 and at["gain"] == round((3.28 - 2.95) / 3.28, 5)
    assert "the best configuration (trial 1) reached 2.95" in text


def test_plan_that_ran_to_the_end_or_failed():
    trials = _trials()
    done = trials[3].model_copy(update={"params": {LR: 1e-4}})
    assert plan_outcome(trials, trials[0], done, done, "eval_loss", "minimize")[0].startswith("ran to the end (trial 3)")
    failed = [trials[0].model_copy(update={"state": "FAIL", "value": None, "fail_reason": "OOM"})]
    assert plan_outcome(failed, failed[0], None, None, "eval_loss", "minimize")[0] == "failed (trial 0): OOM"


def test_report_summary_and_best_so_far_with_one_completed_trial(tmp_path):
    trials = _trials()
    text, at = plan_outcome(trials, trials[0], None, trials[3], "eval_loss", "minimize")
    r = _result(trials, plan_outcome=text, plan_compared_at=at)
    html = write_report(r, tmp_path / "r.html").read_text()
    assert "None" not in html.split("<h2>")[0]
    assert "stopped at rung 1 of bracket 0" in html and "+10.06 % at the rung where the plan stopped" in html
    figs = dict(_figures(r))
    assert "Best so far vs compute" in figs and len(base64.b64decode(figs["Best so far vs compute"])) > 1000
    assert "Noto Sans CJK SC" in html
