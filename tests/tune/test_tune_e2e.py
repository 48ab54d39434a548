"""End to end on the tiny model with SQLite: the plan is trial 0, pruned trials stop early, an interrupted
study resumes, the outputs are written, and bad input gets clear messages."""
import json

import pytest
import yaml

from tiaocan.config import load_config
from tiaocan.errors import UserError
from tiaocan.tune import tune

from tune_helpers import small_config


@pytest.fixture(scope="module")
def tuned(tiny_model_dir, tmp_path_factory):
    """Run 1 stops after 2 trials (an interrupted study); run 2 is the same command and continues it."""
    out = tmp_path_factory.mktemp("tune")
    cfg = small_config(tiny_model_dir, out, gradient_accumulation_steps=1)  # 14 steps: long enough to prune
    kw = dict(config=cfg, output_dir=out, study="s", quiet=True, seed=0)
    first = tune(max_trials=2, budget="2x", **kw)
    second = tune(max_trials=9, budget="5x", **kw)  # a larger budget extends the study, same space
    return cfg, out, first, second


def test_plan_config_is_trial_zero_and_probes_the_first_rung(tuned):
    cfg, _, first, second = tuned
    t0 = second.trials[0]
    assert t0.number == 0 and t0.role == "plan" and t0.state == "PRUNED"  # 14 steps: long enough for a wave
    assert t0.params["learning_rate"] == cfg["learning_rate"]
    assert [t.role for t in second.trials].count("plan") == 1  # not enqueued again on resume
    rerun = [t for t in second.trials if t.role == "promoted" and t.params == t0.params and t.state == "COMPLETE"]
    assert second.plan_value == (rerun[0].value if rerun else None)


def test_first_wave_spreads_the_learning_rate_and_its_best_third_is_re_run(tuned):
    _, _, _, r = tuned
    wave = [t for t in r.trials if t.role in ("plan", "probe")]
    assert len(wave) == 6  # budget 2x when the study was created: 9 x 2/3
    full = max(t.examples for t in r.trials if t.state == "COMPLETE")
    assert all(t.state == "PRUNED" and t.examples == 6 < full or t.state == "FAIL" for t in wave), \
        [(t.number, t.state, t.examples) for t in r.trials]  # first rung: 3 optimizer steps of 2
    lrs = sorted(t.params["learning_rate"] for t in wave)
    assert lrs[-1] / lrs[0] > 30  # spread over the two decades, not clustered around the plan
    promoted = [t for t in r.trials if t.role == "promoted"]
    first_rung_loss = {t.number: t.curve[0][1] for t in wave if t.curve}
    best_two = sorted(first_rung_loss, key=first_rung_loss.get)[:2]
    assert [t.params for t in promoted] == [wave[n].params for n in best_two]
    assert any(t.state == "COMPLETE" for t in promoted)


def test_resume_continues_the_same_study(tuned):
    _, out, first, second = tuned
    finished = [t for t in first.trials if t.state in ("COMPLETE", "PRUNED", "FAIL")]
    assert len(finished) == 2 and second.n_complete + second.n_pruned + second.n_failed > 2
    assert [t.number for t in second.trials[:2]] == [0, 1]
    assert second.trials[1].params == first.trials[1].params  # the same trial, read back from tune.db
    assert (out / "tune.db").is_file()
    assert second.space == first.space


def test_pruned_trials_stop_early(tuned):
    _, _, _, r = tuned
    full = max(t.examples for t in r.trials if t.state == "COMPLETE")
    pruned = [t for t in r.trials if t.state == "PRUNED"]
    assert pruned, [(t.number, t.state, t.value) for t in r.trials]
    assert all(t.examples < full and t.tokens < r.full_run_tokens for t in pruned)
    assert all(len(t.curve) >= 1 for t in pruned)


def test_best_is_never_worse_than_the_plan_and_outputs_are_written(tuned):
    _, out, _, r = tuned
    if r.plan_value is not None:  # the plan was promoted and ran to the end
        assert r.best_value <= r.plan_value and r.gain_over_plan >= 0
    else:  # successive halving stopped it: two thirds of the wave did better at the same examples
        assert any("stopped at the first rung" in n for n in r.notes)
    assert r.compute_full_runs <= 5.0 + 1.0  # the last trial may finish its current eval interval
    best = load_config(r.outputs["best_config"])
    assert best.learning_rate == pytest.approx(r.best_params["learning_rate"])
    lf = yaml.safe_load(open(r.outputs["best_llamafactory"], encoding="utf-8").read())
    assert lf["learning_rate"] == pytest.approx(r.best_params["learning_rate"]) and lf["stage"] == "sft"
    html = open(r.outputs["report"], encoding="utf-8").read()
    assert "data:image/png;base64" in html and "optuna-dashboard" in html and "pruned" in html.lower()
    saved = json.loads(open(r.outputs["result"], encoding="utf-8").read())
    assert saved["best_trial"] == r.best_trial


def test_existing_study_with_a_different_space_is_refused(tuned):
    cfg, out, _, _ = tuned
    with pytest.raises(UserError, match="different search space.*learning_rate"):
        tune(config=cfg, budget="5x", output_dir=out, study="s", space={"learning_rate": (1e-5, 1e-4)}, quiet=True)


def test_budget_smaller_than_one_trial_is_refused(tiny_model_dir, tmp_path):
    with pytest.raises(UserError, match="smaller than one trial's minimum"):
        tune(config=small_config(tiny_model_dir, tmp_path), budget="50 tokens", output_dir=tmp_path, quiet=True)


def test_wrong_storage_url_hides_the_password(tiny_model_dir, tmp_path):
    with pytest.raises(UserError) as e:
        tune(config=small_config(tiny_model_dir, tmp_path), budget="1x", output_dir=tmp_path, quiet=True,
             storage="postgresql://me:hunter2@127.0.0.1:9/tiaocan")
    assert "hunter2" not in str(e.value) and "***" in str(e.value)
