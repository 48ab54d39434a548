from types import SimpleNamespace

import pytest

from tiaocan.errors import UserError
from tiaocan.tuning.budget import check_budget, parse_budget, study_spend


@pytest.mark.parametrize("text,kind,amount", [
    ("2h", "time", 7200), ("90m", "time", 5400), ("1h30m", "time", 5400), ("45s", "time", 45),
    ("5x", "runs", 5), ("2.5x", "runs", 2.5), ("2M-tokens", "tokens", 2e6), ("5M tok", "tokens", 5e6),
    ("500k tokens", "tokens", 5e5), ("3000 tokens", "tokens", 3000),
])
def test_parse_budget(text, kind, amount):
    b = parse_budget(text)
    assert (b.kind, b.amount) == (kind, amount)


@pytest.mark.parametrize("text", ["", "lots", "5y", "0x", "-2h", "2 parsecs"])
def test_parse_budget_rejects(text):
    with pytest.raises(UserError, match="--budget"):
        parse_budget(text)


def _trial(number, wall_s, tokens):
    return SimpleNamespace(number=number, user_attrs={"wall_s": wall_s, "tokens": tokens})


def test_spend_sums_every_worker_and_counts_the_running_trial_once():
    trials = [_trial(0, 10.0, 1000), _trial(1, 5.0, 500), _trial(2, 2.0, 200)]
    s = study_spend(trials, full_run_tokens=1000)
    assert (s.seconds, s.tokens, s.full_runs) == (17.0, 1700, 1.7)
    live = study_spend(trials, 1000, running_extra=(3.0, 300), exclude=2)  # trial 2's live numbers replace its record
    assert (live.seconds, live.tokens) == (18.0, 1800)
    assert parse_budget("2x").describe(live.full_runs) == "0.20 of 2 full runs left"


def test_budget_smaller_than_one_trial_is_refused_with_numbers():
    with pytest.raises(UserError, match="smaller than one trial's minimum"):
        check_budget(parse_budget("100 tokens"), full_run_tokens=90_000, min_fraction=1 / 9)
    with pytest.raises(UserError, match="smaller than one trial's minimum"):
        check_budget(parse_budget("0.05x"), full_run_tokens=90_000, min_fraction=1 / 9)
    with pytest.raises(UserError, match="smaller than one trial's minimum"):
        check_budget(parse_budget("10s"), 90_000, 1 / 9, tokens_per_second=100)
    check_budget(parse_budget("1x"), 90_000, 1 / 9)
    check_budget(parse_budget("10s"), 90_000, 1 / 9)  # time budgets: no throughput known yet, nothing to refuse


def test_lr_range_test_finds_where_the_loss_blows_up():
    from tiaocan.tuning.lr_range import divergence_lr

    lrs = [1e-5 * 2**i for i in range(12)]
    losses = [3.0, 2.9, 2.7, 2.4, 2.1, 1.9, 1.8, 1.9, 2.6, 4.0, 8.0, float("nan")]
    hit = divergence_lr(lrs, losses)
    assert lrs[8] <= hit <= lrs[10]
    assert divergence_lr(lrs[:5], losses[:5]) is None  # never blew up: no limit
    assert divergence_lr([1e-4, 2e-4], [2.0, float("inf")]) == 2e-4
