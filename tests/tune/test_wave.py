"""The first wave of successive halving: rung and wave sizes from the run's length and the budget, probes that
always stop at the first rung, and the promotion of the wave's best third (best first, once)."""
import optuna
import pytest

from tiaocan.tune.pruning import (RUNG0_KEY, WavePruner, first_rung, promote, promotions, rungs_below_full,
                                  wave_size)


def test_rungs_come_from_the_run_length():
    assert rungs_below_full(240, first_rung(240, 8)) == 2  # rungs at 32 and 96 examples, full run at 240
    assert first_rung(240, 8) == 32 and first_rung(240, 4) == 28
    assert rungs_below_full(72, first_rung(72, 8)) == 1  # first rung 24 (3 steps), then 72 = the full run
    assert rungs_below_full(40, first_rung(40, 8)) == 0  # too short: no pruning


def test_wave_is_one_hyperband_bracket_scaled_to_the_budget():
    assert wave_size(3, 2) == 9  # 9 probes at 1/9 + 3 at 1/3 + 1 full run = 3 full runs
    assert wave_size(30, 2) == 9  # a larger budget keeps the bracket; TPE + ASHA spend the rest
    assert wave_size(1, 2) == 3 and wave_size(2, 2) == 6
    assert wave_size(None, 1) == 3 and wave_size(5, 0) == 0


def _report(study, trial, values, at=(10, 20, 30, 40, 90)):
    """Report values at examples-seen steps until the pruner stops the trial; return the last step reached."""
    for step, v in zip(at, values):
        trial.report(v, step)
        if trial.should_prune():
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return step
    study.tell(trial, values[-1])
    return at[len(values) - 1]


def test_probes_stop_at_the_first_rung_and_later_trials_face_successive_halving():
    study = optuna.create_study(pruner=WavePruner(min_resource=10, reduction_factor=3))
    for i, loss in enumerate([3.0, 2.0, 2.5]):
        study.enqueue_trial({"x": float(i)}, user_attrs={"probe": True})
    stopped = []
    for _ in range(3):
        t = study.ask({"x": optuna.distributions.FloatDistribution(0, 10)})
        stopped.append(_report(study, t, [[3.0, 2.0, 2.5][t.number]] * 5))
    assert stopped == [10, 10, 10]  # even the first trial, which plain ASHA would always promote
    assert all(RUNG0_KEY in t.system_attrs for t in study.trials)
    # Not a probe: better than the wave's best at rung 0 → continues; worse → pruned there.
    good = study.ask({"x": optuna.distributions.FloatDistribution(0, 10)})
    assert _report(study, good, [1.5, 1.4, 1.3, 1.2, 1.0]) == 90
    bad = study.ask({"x": optuna.distributions.FloatDistribution(0, 10)})
    assert _report(study, bad, [2.8] * 5) == 10


def test_promoted_re_runs_pass_the_first_rung_then_face_successive_halving():
    """The wave's third-best re-run must not lose the first rung to the duplicate values of the re-runs before it."""
    study = _finished_wave([3.0, 2.0, 2.5, 4.0, 1.0, 3.5, 2.8, 3.2, 3.9])
    assert promote(study) == 3
    dist = {"x": optuna.distributions.FloatDistribution(0, 10)}
    reached = []
    for _ in range(3):
        t = study.ask(dist)
        rung0 = {1.0: 2.0, 4.0: 1.0, 2.0: 2.5}[t.params["x"]]
        reached.append(_report(study, t, [rung0, rung0, 1.8 if t.number == 9 else 1.9, 1.7, 1.6]))
    assert reached == [90, 30, 30]  # best re-run to the end; the others stopped at rung 1 (worse there)


def _finished_wave(values, states=None):
    study = optuna.create_study(pruner=WavePruner(min_resource=10, reduction_factor=3))
    dist = {"x": optuna.distributions.FloatDistribution(0, 10)}
    for i, v in enumerate(values):
        study.enqueue_trial({"x": float(i)}, user_attrs={"probe": True, "role": "plan" if i == 0 else "probe"})
    for v in values:
        t = study.ask(dist)
        if v is None:  # diverged before the first rung
            study.tell(t, state=optuna.trial.TrialState.FAIL)
        else:
            _report(study, t, [v])
    return study


def test_promotion_keeps_the_best_third_best_first_and_skips_failures():
    study = _finished_wave([3.0, 2.0, None, 2.5, 4.0, 1.0])
    todo = promotions(study.get_trials(deepcopy=False))
    assert [n for n, _ in todo] == [5, 1]  # ceil(6 / 3) = 2, lowest first-rung loss first; trial 2 failed
    assert todo[0][1] == {"x": 5.0}


def test_promotion_waits_for_the_whole_wave_and_happens_once():
    study = _finished_wave([3.0, 2.0, 2.5])
    study.enqueue_trial({"x": 9.0}, user_attrs={"probe": True})  # a probe not run yet
    assert promotions(study.get_trials(deepcopy=False)) == [] and promote(study) == 0
    t = study.ask({"x": optuna.distributions.FloatDistribution(0, 10)})
    _report(study, t, [5.0])
    assert promote(study) == 2 and promote(study) == 0
    queued = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.WAITING]
    assert [t.system_attrs["fixed_params"]["x"] for t in queued] == [1.0, 2.0]
    assert all(t.user_attrs["role"] == "promoted" for t in queued)


@pytest.mark.parametrize("budget_runs", [3, 10])
def test_wave_cost_stays_within_the_budget_share(budget_runs):
    """One bracket: probes at 1/9 each, their best third re-run — at most ~(s+1) runs of the budget."""
    s = 2
    n = wave_size(budget_runs, s)
    cost = n / 9 + (n // 3) / 3 + 1  # bottom rung, promoted to rung 1, one to the end
    assert cost <= max(budget_runs, s + 1) + 0.5
