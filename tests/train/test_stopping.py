"""Loss-driven stopping on controlled runs: loss band, divergence guard, early stopping, tuner exceptions."""
import json

import pytest
from transformers import TrainerCallback

from train_helpers import read_log

FULL = dict(finetuning_type="full", learning_rate=1e-2, num_train_epochs=3)  # the tiny model learns fast this way


def test_loss_band_stops_when_smoothed_loss_enters_band(base_cfg, tmp_path):
    from tiaocan.training import train

    s = train(dict(base_cfg, **FULL, stop_loss_band=[0.0, 4.5]), quiet=True)
    assert s.stop_reason == "loss_band", s
    assert s.global_step < s.total_steps
    assert "stop_loss_band [0, 4.5]" in s.stop_message
    losses = [r["loss"] for r in read_log(tmp_path / "run") if "loss" in r]
    assert losses[0] > 4.5 and len(losses) == s.global_step  # started above the band, stopped right after entering


def _feed(watch, losses, evals=None):
    """Drive LossWatch with synthetic logs; returns the step at which it asked to stop (or None)."""
    from transformers import TrainerControl, TrainerState

    state, control = TrainerState(), TrainerControl()
    watch.on_train_begin(None, state, control)
    for step, loss in enumerate(losses, 1):
        state.global_step = step
        watch.on_log(None, state, control, logs={"loss": loss, "grad_norm": 1.0})
        if evals and step in evals:
            watch.on_evaluate(None, state, control, metrics={"eval_loss": evals[step]})
        if control.should_training_stop:
            return step
    return None


def test_loss_band_with_eval_waits_for_eval_to_stop_improving():
    from tiaocan.training.callbacks import LossWatch, StopState

    losses = [2.0, 1.8, 1.5, 1.3, 1.2, 1.1, 1.0, 0.95, 0.9, 0.85]
    # smoothed train loss is in [0.7, 1.4] from step ~5; eval improves at 4 and 6, not at 8 -> stop at 8
    stop = StopState()
    step = _feed(LossWatch(stop, 1e-4, 3.0, (0.7, 1.4), has_eval=True), losses, {2: 1.6, 4: 1.4, 6: 1.3, 8: 1.35, 10: 1.2})
    assert step == 8 and stop.reason == "loss_band" and "stopped improving (best 1.300)" in stop.message
    # without an eval split it stops as soon as the smoothed loss is inside the band
    stop = StopState()
    step = _feed(LossWatch(stop, 1e-4, 3.0, (0.7, 1.4), has_eval=False), losses)
    assert stop.reason == "loss_band" and 4 <= step <= 7 and stop.smoothed <= 1.4


def test_divergence_rules_on_synthetic_losses():
    from tiaocan.training.callbacks import LossWatch, StopState

    # noisy but healthy: batches of different difficulty, never 3x the start -> no stop
    stop = StopState()
    assert _feed(LossWatch(stop, 1e-4, 3.0, None, False), [1.2, 0.6, 1.9, 1.0, 2.2, 0.9, 1.5, 1.1]) is None
    # slow blow-up: smoothed loss passes 3x the mean of the first three losses
    stop = StopState()
    step = _feed(LossWatch(stop, 2e-4, 3.0, None, False), [1.0, 1.1, 1.0, 1.5, 2.5, 4.0, 6.0, 9.0, 12.0, 15.0])
    assert stop.reason == "diverged" and 7 <= step <= 10 and "try 5e-05" in stop.message
    # a NaN grad norm stops at once
    from transformers import TrainerControl, TrainerState

    stop, state, control = StopState(), TrainerState(), TrainerControl()
    LossWatch(stop, 1e-4, 3.0, None, False).on_log(None, state, control, logs={"loss": 1.0, "grad_norm": float("nan")})
    assert control.should_training_stop and stop.reason == "diverged" and "gradient norm" in stop.message


def test_huge_learning_rate_triggers_divergence_guard(base_cfg):
    from tiaocan.training import train

    s = train(dict(base_cfg, finetuning_type="full", learning_rate=1.0, num_train_epochs=3), quiet=True)
    assert s.stop_reason == "diverged"
    assert s.global_step < 5 and "learning_rate" in s.stop_message and "try" in s.stop_message


def test_nan_loss_stops_at_once(base_cfg):
    """A NaN loss (here forced by a callback that poisons a weight) is caught on the next log."""
    import torch

    from tiaocan.training import train

    class Poison(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kw):
            if state.global_step == 2:
                with torch.no_grad():
                    next(p for p in model.parameters() if p.requires_grad).fill_(float("nan"))

    s = train(dict(base_cfg, num_train_epochs=3), callbacks=[Poison()], quiet=True)
    assert s.stop_reason == "diverged" and s.global_step == 3 and "NaN" in s.stop_message


def test_early_stopping_keeps_best_checkpoint(base_cfg, tmp_path):
    from tiaocan.training import train

    # A high lr on LoRA makes eval loss noisy/flat on this toy data, so patience 1 stops early.
    s = train(dict(base_cfg, learning_rate=0.3, num_train_epochs=4, val_size=8, eval_steps=1,
                   early_stopping_patience=1), quiet=True)
    assert s.stop_reason == "early_stopping", s
    assert s.best_checkpoint and (tmp_path / "run" / s.best_checkpoint.split("/")[-1]).is_dir()
    state = json.loads((tmp_path / "run" / "trainer_state.json").read_text())
    assert state["best_metric"] == pytest.approx(s.best_eval_loss)


def test_callback_exception_propagates_with_summary(base_cfg, tmp_path):
    """A tuner's pruning exception raised in on_evaluate leaves train(), after cleanup and a 'pruned' summary."""
    from tiaocan.training import RunSummary, train

    class TrialPruned(Exception):  # same name as optuna's: the summary says "pruned"
        pass

    class Pruner(TrainerCallback):
        def on_evaluate(self, args, state, control, **kw):
            if state.global_step >= 2:
                raise TrialPruned("pruned at step 2")

    with pytest.raises(TrialPruned):
        train(dict(base_cfg, val_size=8, eval_steps=1), callbacks=[Pruner()], quiet=True)
    s = RunSummary.read(tmp_path / "run")
    assert s.stop_reason == "pruned" and s.global_step == 2 and "pruned at step 2" in s.stop_message
