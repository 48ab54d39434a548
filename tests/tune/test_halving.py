"""Budget-aware successive halving: rung lengths and bracket sizes from the run's length and the budget, the
promotion of each finished rung's best third, and brackets that open only while one fits the budget left."""
from types import SimpleNamespace

import optuna
import pytest

from tiaocan.tuning.attrs import StudyAttrs
from tiaocan.tuning.halving import (SuccessiveHalving, bracket_cost, choose_bracket, max_rungs, rung_examples,
                                    rung_sizes)

DIST = {"x": optuna.distributions.FloatDistribution(0, 10)}


def test_rungs_come_from_the_run_length():
    assert max_rungs(240, 8) == 2  # 24 examples = 3 steps of 8 at rung 0
    assert [rung_examples(240, 2, k, 8) for k in range(3)] == [24, 80, 240]
    assert max_rungs(72, 8) == 1 and max_rungs(40, 8) == 0  # too short: every trial runs to the end
    assert rung_sizes(2) == [9, 3, 1]
    assert bracket_cost(240, 2, 8) == pytest.approx((9 * 24 + 3 * 80 + 240) / 240)  # ~ s + 1 full runs


def test_bracket_is_sized_to_the_budget_left():
    assert choose_bracket(3.0, 2, 240, 8) == 2
    assert choose_bracket(2.0, 2, 240, 8) == 1  # 3 runs of 1/3 + 1 full run
    assert choose_bracket(1.0, 2, 240, 8) == 0  # only one full run fits
    assert choose_bracket(0.5, 2, 240, 8) is None  # no bracket can reach its last rung
    assert choose_bracket(None, 2, 240, 8) == 2


def _study(brackets, direction="minimize"):
    study = optuna.create_study(direction=direction)
    StudyAttrs.write(study, brackets=brackets)
    return study


def _run_rung(study, b, k, s, values):
    """Trials at (bracket b, rung k) with these final values; None = failed (diverged)."""
    for i, v in enumerate(values):
        study.enqueue_trial({"x": float(i)}, user_attrs={"bracket": b, "rung": k, "rungs": s})
        t = study.ask(DIST)
        if v is None:
            study.tell(t, state=optuna.trial.TrialState.FAIL)
        else:
            t.report(v, 10 * (k + 1))
            study.tell(t, v if k == s else None, state=optuna.trial.TrialState.COMPLETE if k == s
                       else optuna.trial.TrialState.PRUNED)


def test_the_best_third_of_a_finished_rung_is_queued_best_first_failures_out():
    study, sh = _study([2]), SuccessiveHalving(240, 8)
    _run_rung(study, 0, 0, 2, [3.0, 2.0, None, 2.5, 4.0, 1.0, 3.5, 2.8, 3.2])
    todo = sh.promotions(study)
    assert [(b, k, [n for n, _ in w]) for b, k, w in todo] == [(0, 1, [5, 1, 3])]
    assert sh.promote(study) == 3 and sh.promote(study) == 0  # once per rung
    queued = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.WAITING]
    assert [t.system_attrs["fixed_params"]["x"] for t in queued] == [5.0, 1.0, 3.0]
    assert all(t.user_attrs["rung"] == 1 and t.user_attrs["role"] == "promoted" for t in queued)


def test_promotion_waits_for_the_whole_rung_and_follows_the_direction():
    study, sh = _study([1], direction="maximize"), SuccessiveHalving(72, 8)
    _run_rung(study, 0, 0, 1, [0.2, 0.9])  # 2 of 3
    assert sh.promote(study) == 0
    _run_rung(study, 0, 0, 1, [0.5])
    assert sh.promote(study) == 1
    queued = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.WAITING]
    assert queued[0].user_attrs["promoted_from"] == 1  # the highest score


def test_a_new_bracket_opens_only_when_the_last_rung_0_is_full_and_one_fits():
    br = SuccessiveHalving(240, 8)
    study = _study([])
    assert br.start(study, _Space(), None, 3.0, seed=0) == 2
    assert len(study.get_trials(deepcopy=False)) == 9  # the plan + 8 spread points, all at rung 0
    assert study.ask(DIST).user_attrs["rung"] == 0  # queued trials come tagged
    t = SimpleNamespace(number=99, user_attrs={})  # a trial the sampler proposed
    # ... while bracket 0's rung 0 is full: a new bracket, sized to what bracket 0's planned cost leaves.
    assert br.place(study, t, 6.0, 0.5) == {"bracket": 1, "rung": 0, "rungs": 2}  # 6 - 2.9 leaves 3.1
    assert StudyAttrs.of(study).brackets == [2, 2]
    assert br.next_size(study, 6.0, 0.5) is None  # 0.2 runs left: nothing fits
    assert br.next_size(study, 6.0, 6.0) is None
    study2 = _study([])
    assert br.place(study2, t, 2.0, 0.0) == {"bracket": 0, "rung": 0, "rungs": 1}  # sampler-first, budget 2x


def test_a_promotion_queued_twice_by_two_workers_trains_once():
    br = SuccessiveHalving(72, 8)
    study = _study([1])
    _run_rung(study, 0, 0, 1, [2.0, 1.0, 3.0])
    assert br.promote(study) == 1
    StudyAttrs.write(study, promoted_rungs=[])  # the other worker read the attr before it was set
    assert br.promote(study) == 1
    first, second = study.ask(DIST), study.ask(DIST)
    assert br.place(study, first, 2.0, 1.0) == {"bracket": 0, "rung": 1, "rungs": 1}
    assert "duplicate" in br.place(study, second, 2.0, 1.0)
    assert "no bracket" in br.place(_study([]), SimpleNamespace(number=0, user_attrs={}), 0.5, 0.0)


class _Space:
    """The two SearchSpace methods `SuccessiveHalving.start` uses."""

    def params_of(self, base):
        return {"x": 5.0}

    def space_filling(self, n, seed=0, taken=None):
        return [{"x": float(i)} for i in range(n)]  # may repeat the plan's point: it still fills a slot


def test_finished_once_nothing_is_queued_promotable_or_affordable():
    br = SuccessiveHalving(72, 8)  # s_max = 1: 3 runs of 24 examples, then one full run
    study = _study([])
    br.start(study, _Space(), None, 2.0, seed=0)
    assert not br.finished(study, 2.0, 0.0)  # trials queued
    for _ in range(3):
        t = study.ask(DIST)
        t.report(1.0 + t.number, 24)
        study.tell(t, state=optuna.trial.TrialState.PRUNED)
    assert not br.finished(study, 2.0, 1.0)  # rung 0 done, its winner not queued yet
    br.promote(study)
    t = study.ask(DIST)
    study.tell(t, 0.5)
    assert br.finished(study, 2.0, 2.0)
    assert not br.finished(study, 5.0, 2.0)  # a larger budget (a resumed study) opens another bracket


def test_a_rung_short_of_winners_after_failures_still_promotes():
    """7 of 9 diverged at rung 0: the 2 survivors go to rung 1, and rung 1 (2 of 3 places) promotes its best."""
    study, sh = _study([2]), SuccessiveHalving(240, 8)
    _run_rung(study, 0, 0, 2, [None] * 7 + [2.0, 1.5])
    assert sh.promote(study) == 2
    for _ in range(2):
        t = study.ask(DIST)
        t.report(1.0 + t.number / 100, 30)
        study.tell(t, state=optuna.trial.TrialState.PRUNED)
    assert sh.promote(study) == 1
