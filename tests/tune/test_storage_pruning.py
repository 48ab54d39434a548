from types import SimpleNamespace

import optuna
import pytest

from tiaocan.errors import UserError
from tiaocan.tuning.objective import ReportCallback, classify_failure
from tiaocan.tuning.storage import open_storage, redact
from tiaocan.tuning.pruning import EVALS_PER_RUN, pruning_for


def test_redact_hides_the_password():
    assert "s3cret" not in redact("postgresql://bob:s3cret@db.example:5432/tune")
    assert "bob" in redact("postgresql://bob:s3cret@db.example:5432/tune")
    assert "s3cret" not in redact("weird://bob:s3cret@")


def test_unreachable_storage_is_a_user_error_without_the_password():
    with pytest.raises(UserError) as e:
        open_storage("postgresql://bob:s3cret@127.0.0.1:9/tune")  # port 9: nothing listens there
    assert "s3cret" not in str(e.value) and "could not open" in str(e.value) and "bob" in str(e.value)
    with pytest.raises(UserError, match="not a database URL"):
        open_storage("not a url at all")
    with pytest.raises(UserError, match="no database driver|could not open"):
        open_storage("nosuchdb://bob:s3cret@host/db")


def test_sqlite_storage_is_created(tmp_path):
    st = open_storage(f"sqlite:///{tmp_path / 'x' / 'tune.db'}", heartbeat_s=5, grace_s=10)
    assert (tmp_path / "x" / "tune.db").exists() and st.get_heartbeat_interval() == 5


def _state(step, max_steps=90):
    return SimpleNamespace(global_step=step, max_steps=max_steps, num_input_tokens_seen=step * 10)


def test_asha_prunes_a_worse_trial_at_the_first_rung():
    """Optuna's mid-run pruner (--pruner asha): with a full run of 90 examples the first rung is at 10; a trial reporting a clearly worse
    loss there is stopped, one reporting a better loss continues."""
    full = 90
    study = optuna.create_study(pruner=pruning_for("asha", full).pruner())
    good = study.ask()
    for ex in range(10, 91, 10):
        good.report(2.0 - ex / 100, ex)
        assert not good.should_prune()  # the pruner records a trial's rung values when it is asked
    study.tell(good, 1.1)
    bad = study.ask()
    cb = ReportCallback(bad, effective_batch=1, prune=True, over_budget=None)
    with pytest.raises(optuna.TrialPruned):
        cb.on_evaluate(None, _state(10), None, metrics={"eval_loss": 3.0})
    better = study.ask()
    cb = ReportCallback(better, effective_batch=1, prune=True, over_budget=None)
    cb.on_evaluate(None, _state(10), None, metrics={"eval_loss": 1.5})  # no exception: promoted
    assert better.user_attrs["examples"] == 10 and full // EVALS_PER_RUN == 10
    assert isinstance(pruning_for("asha", full).pruner(), optuna.pruners.SuccessiveHalvingPruner)


def test_budget_stop_mid_trial_but_not_at_the_last_eval():
    study = optuna.create_study()
    t = study.ask()
    cb = ReportCallback(t, effective_batch=1, prune=False, over_budget=lambda n, s, tok: True)
    with pytest.raises(Exception, match="budget"):
        cb.on_evaluate(None, _state(10), None, metrics={"eval_loss": 1.0})
    cb.on_evaluate(None, _state(90), None, metrics={"eval_loss": 1.0})  # last eval: the trial completes


def test_failure_reasons():
    assert classify_failure(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")).startswith("OOM")
    assert classify_failure(MemoryError()).startswith("OOM")
    assert classify_failure(ValueError("loss is nan")).startswith("NaN")
    assert classify_failure(KeyError("x")).startswith("KeyError")


def test_no_pruning_when_runs_are_too_short_to_judge():
    from tiaocan.tuning.pruning import first_rung

    assert first_rung(900, base_batch=8) == 104  # 1/9 of the run (100), rounded up to whole steps of 8
    assert first_rung(90, base_batch=8) == 24  # at least 3 optimizer steps of the base batch
    assert first_rung(40, base_batch=8) is None  # the first rung would come after a third of the run
    assert isinstance(pruning_for("asha", 40, 8).pruner(), optuna.pruners.NopPruner)
    assert isinstance(pruning_for("hyperband", 900, 8).pruner(), optuna.pruners.HyperbandPruner)
    # budget-aware halving sizes its runs before they start: nothing is stopped mid-run
    assert isinstance(pruning_for("sh", 900, 8).pruner(), optuna.pruners.NopPruner)
    with pytest.raises(UserError, match="--pruner wave: choose sh"):
        pruning_for("wave", 900, 8)
