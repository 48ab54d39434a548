"""The objective without a study: an Optuna FixedTrial trains one config through `tiaocan.train`."""
import math

import optuna
import pytest

from tiaocan.config import build_config
from tiaocan.errors import UserError
from tiaocan.tuning.halving import SuccessiveHalving
from tiaocan.tuning.objective import Objective, TrialFailed
from tiaocan.tuning.options import TuneOptions
from tiaocan.tuning.space import build_space


def test_fixed_trial_trains_that_config_and_returns_its_final_eval_loss(tune_config, tmp_path):
    base = build_config(tune_config)
    space = build_space(base, expected_trials=10, micro_batch=2)
    obj = Objective(base, space, TuneOptions(output_dir=tmp_path), full_run_examples=28, evals_per_run=4)
    trial = optuna.trial.FixedTrial({"learning_rate": 3e-3, "effective_batch": 4, "num_train_epochs": 1})
    value = obj(trial)
    assert math.isfinite(value) and 0 < value < 20
    attrs = trial.user_attrs
    assert attrs["config"]["learning_rate"] == 3e-3 and attrs["steps"] == 7 and attrs["tokens"] > 0
    assert attrs["stop_reason"] == "completed"
    run = tmp_path / "trials" / "trial-0000"
    assert (run / "run_summary.json").is_file() and not list(run.glob("*.safetensors"))  # weights dropped
    evals = [line for line in (run / "trainer_log.jsonl").read_text().splitlines() if "eval_loss" in line]
    assert len(evals) >= 4  # every ~full_run/evals_per_run examples, plus the final eval


@pytest.mark.parametrize("outcome,reason", [
    (RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB"), "OOM"),
    ("diverged", "NaN/divergence"),
    (ValueError("boom"), "ValueError: boom"),
])
def test_crashed_or_diverged_trial_is_failed_with_its_reason(tune_config, tmp_path, monkeypatch, outcome, reason):
    """The search goes on after a crash: the objective records why (OOM, NaN/divergence, the error) and raises
    TrialFailed, which the study catches."""
    import tiaocan.training
    from tiaocan.training import RunSummary

    def fake_train(cfg, **kwargs):
        if isinstance(outcome, Exception):
            raise outcome
        return RunSummary(output_dir=cfg.output_dir, stop_reason="diverged", stop_message="loss became NaN at step 3")

    monkeypatch.setattr(tiaocan.training, "train", fake_train)
    base = build_config(tune_config)
    obj = Objective(base, build_space(base, expected_trials=4), TuneOptions(output_dir=tmp_path), full_run_examples=28)
    trial = optuna.trial.FixedTrial({"learning_rate": 1e-2})
    with pytest.raises(TrialFailed, match=reason):
        obj(trial)
    assert trial.user_attrs["fail_reason"].startswith(reason)


def test_objective_needs_held_out_data(tune_config, tmp_path):
    base = build_config({**tune_config, "val_size": 0})
    with pytest.raises(UserError, match="held-out"):
        Objective(base, build_space(base), TuneOptions(output_dir=tmp_path), full_run_examples=10)
    with pytest.raises(UserError, match="--eval-data"):
        Objective(build_config(tune_config), build_space(base), TuneOptions(output_dir=tmp_path, metric="fact_accuracy"),
                  full_run_examples=10)


def test_fixed_trial_with_an_eval_metric_scores_the_trained_adapter(tune_config, tmp_path):
    """--metric fact_accuracy: the trial trains, then `tiaocan.evaluate` scores the run on the test set."""
    from tune_helpers import SUPPORT

    base = build_config(tune_config)
    space = build_space(base, expected_trials=10, micro_batch=2)
    test = str(SUPPORT.with_name("test.jsonl"))
    obj = Objective(base, space, TuneOptions(output_dir=tmp_path, metric="fact_accuracy", eval_data=test),
                    full_run_examples=28)
    trial = optuna.trial.FixedTrial({"learning_rate": 3e-3, "effective_batch": 4, "num_train_epochs": 1})
    value = obj(trial)
    assert 0.0 <= value <= 1.0
    assert trial.user_attrs["stop_reason"] == "completed"


def test_rung_trial_is_a_complete_shorter_run_recorded_as_pruned(tune_config, tmp_path):
    """Under successive halving a rung-0 trial trains 1/3 of its run with the schedule fitted to that length (the
    learning rate decays to ~0 by its last step), evaluates once at its end and is recorded as pruned there."""
    import json

    base = build_config(tune_config)
    space = build_space(base, expected_trials=4, micro_batch=2)
    # 28 examples at batch 4: a 1-rung bracket's rung 0 trains 8 of them (2 of 7 steps)
    obj = Objective(base, space, TuneOptions(output_dir=tmp_path), full_run_examples=28, evals_per_run=4,
                    pruning=SuccessiveHalving(28, 4))
    trial = optuna.trial.FixedTrial({"learning_rate": 3e-3})
    for key, v in {"bracket": 0, "rung": 0, "rungs": 1}.items():
        trial.set_user_attr(key, v)
    with pytest.raises(optuna.TrialPruned, match="rung 0"):
        obj(trial)
    assert trial.user_attrs["steps"] == 2  # round(8 / 28 x 7 steps)
    logs = [json.loads(line) for line in (tmp_path / "trials" / "trial-0000" / "trainer_log.jsonl").read_text().splitlines()]
    lrs = [r["lr"] for r in logs if "lr" in r]
    assert logs[0]["total_steps"] == 2
    assert lrs and lrs[-1] < 0.6 * 3e-3  # decayed within the short run, not the first 2 steps of a 7-step cosine
    assert sum("eval_loss" in r for r in logs) == 1
