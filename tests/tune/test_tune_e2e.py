"""End to end on the tiny model with SQLite: the plan is trial 0, pruned trials stop early, an interrupted
study resumes, the outputs are written, and bad input gets clear messages."""
import json

import pytest
import yaml

from tiaocan.config import load_config
from tiaocan.errors import UserError
from tiaocan.tuning import tune
from tiaocan.tuning.halving import rung_sizes

from tune_helpers import small_config


@pytest.fixture(scope="module")
def tuned(tiny_model_dir, tmp_path_factory):
    """Run 1 stops after 2 trials (an interrupted study); run 2 is the same command and continues it."""
    out = tmp_path_factory.mktemp("tune")
    # 2 epochs of 28 examples at batch 2: 28 steps, long enough for rungs of 3, 9 and 28 steps.
    cfg = small_config(tiny_model_dir, out, gradient_accumulation_steps=1, num_train_epochs=2)
    kw = dict(config=cfg, output_dir=out, study="s", quiet=True, seed=0, space={"num_train_epochs": None})
    first = tune(max_trials=2, budget="3x", **kw)
    second = tune(budget="5x", **kw)  # a larger budget extends the study, same space
    return cfg, out, first, second


def test_plan_config_is_trial_zero_and_runs_at_the_first_rung(tuned):
    cfg, _, first, second = tuned
    t0 = second.trials[0]
    assert t0.number == 0 and t0.role == "plan" and t0.state == "PRUNED" and (t0.bracket, t0.rung) == (0, 0)
    assert t0.params["learning_rate"] == cfg["learning_rate"]
    assert [t.role for t in second.trials].count("plan") == 1  # not enqueued again on resume
    rerun = [t for t in second.trials if t.role == "promoted" and t.params == t0.params and t.state == "COMPLETE"]
    assert second.plan_value == (rerun[0].value if rerun else None)


def test_rungs_are_shorter_complete_runs_and_each_rung_promotes_its_best_third(tuned):
    _, _, _, r = tuned
    by_rung = {k: [t for t in r.trials if (t.bracket, t.rung) == (0, k)] for k in range(3)}
    assert [len(v) for v in by_rung.values()] == [9, 3, 1], [(t.number, t.bracket, t.rung) for t in r.trials]
    lrs = sorted(t.params["learning_rate"] for t in by_rung[0])
    assert lrs[-1] / lrs[0] > 30  # spread over the two decades, not clustered around the plan
    for k in (0, 1):
        ranked = sorted((t for t in by_rung[k] if t.state == "PRUNED"), key=lambda t: t.value)
        assert [t.params for t in by_rung[k + 1]] == [t.params for t in ranked[:len(by_rung[k + 1])]]
        # a complete shorter run: 3 of 28 steps (rung 0), 9 of 28 (rung 1), evaluated once, at its end
        assert all(t.examples == t.steps * t.params.get("effective_batch", 2) and len(t.curve) == 1
                   for t in ranked), ranked
        assert all(t.steps == (3, 9)[k] for t in ranked if t.params.get("effective_batch", 2) == 2)
    assert by_rung[2][0].state == "COMPLETE" and by_rung[2][0].steps * by_rung[2][0].params.get("effective_batch", 2) == 56
    # budget 5x: bracket 0 (~3 runs), then a bracket from the sampler sized to what is left (s = 1 or 0)
    later = [t for t in r.trials if t.bracket == 1]
    s = max(t.rung for t in later)
    assert [t.rung for t in later] == [k for k, n in enumerate(rung_sizes(s)) for _ in range(n)], later
    assert later[0].role is None and later[-1].state == "COMPLETE"
    assert r.compute_full_runs <= 5.0 * 1.1


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
    else:  # successive halving stopped it: said, with the comparison at the rung where it stopped
        assert r.plan_outcome and r.plan_outcome.startswith("stopped at") and r.plan_outcome in r.notes
        if r.plan_compared_at:
            c = r.plan_compared_at
            assert c["value"] <= c["plan_value"] and c["gain"] >= 0 and f"trial {c['trial']}" in r.plan_outcome
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
