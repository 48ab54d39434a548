import math

import optuna
import pytest

from tiaocan.config import TrainConfig
from tiaocan.errors import UserError
from tiaocan.tuning.space import PRIORITY, build_space, dims_for_trials, parse_space_overrides

BASE = TrainConfig(learning_rate=2e-4, per_device_train_batch_size=2, gradient_accumulation_steps=8, num_train_epochs=3,
                   loraplus_lr_ratio=16)


def test_priority_learning_rate_first_then_batch_and_epochs():
    assert build_space(BASE, expected_trials=4).names() == ["learning_rate"]
    assert build_space(BASE, expected_trials=10).names() == ["learning_rate", "effective_batch", "num_train_epochs"]
    assert build_space(BASE, expected_trials=100).names() == [n for n in PRIORITY if n != "lora_rank"]
    assert "lora_rank" in build_space(BASE, expected_trials=100, tune_rank=True).names()
    assert dims_for_trials(4) < dims_for_trials(20) <= len(PRIORITY)


def test_learning_rate_is_log_uniform_around_the_base_and_capped_by_the_range_test():
    lr = build_space(BASE).params[0]
    assert lr.log and math.isclose(lr.low, 2e-5) and math.isclose(lr.high, 2e-3)
    capped = build_space(BASE, lr_upper=5e-4).params[0]
    assert math.isclose(capped.high, 5e-4) and capped.low < 2e-4


def test_base_config_is_a_point_of_the_space_and_round_trips():
    sp = build_space(BASE, expected_trials=100, micro_batch=2)
    values = sp.params_of(BASE)
    assert values["learning_rate"] == 2e-4 and values["effective_batch"] == 16 and values["loraplus_lr_ratio"] == 16
    for name, dist in sp.distributions().items():
        dist.to_internal_repr(values[name])  # raises when the value lies outside the distribution
    cfg = sp.apply(BASE, values)
    assert cfg.effective_batch() == 16 and cfg.per_device_train_batch_size == 2 and cfg.learning_rate == 2e-4


def test_effective_batch_uses_the_micro_batch_that_fits_and_accumulation():
    sp = build_space(BASE, expected_trials=10, micro_batch=4)
    cfg = sp.apply(BASE, {"learning_rate": 1e-4, "effective_batch": 64, "num_train_epochs": 2})
    assert (cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps) == (4, 16)
    small = sp.apply(BASE, {"learning_rate": 1e-4, "effective_batch": 2, "num_train_epochs": 2})
    assert (small.per_device_train_batch_size, small.gradient_accumulation_steps) == (2, 1)


def test_loraplus_zero_means_plain_lora():
    sp = build_space(BASE, expected_trials=100)
    assert sp.apply(BASE, {**sp.params_of(BASE), "loraplus_lr_ratio": 0.0}).loraplus_lr_ratio is None


def test_suggest_with_fixed_trial():
    sp = build_space(BASE, expected_trials=10)
    got = sp.suggest(optuna.trial.FixedTrial({"learning_rate": 3e-4, "effective_batch": 8, "num_train_epochs": 2}))
    assert got == {"learning_rate": 3e-4, "effective_batch": 8, "num_train_epochs": 2}


def test_signature_changes_with_the_space():
    assert build_space(BASE).signature() == build_space(BASE).signature()
    assert build_space(BASE).signature() != build_space(BASE.model_copy(update={"learning_rate": 1e-3})).signature()


def test_space_overrides_parse_and_reject_empty_ranges():
    assert parse_space_overrides(["learning_rate=1e-5:1e-3", "lora_rank=8,16"]) == {
        "learning_rate": (1e-5, 1e-3), "lora_rank": [8, 16]}
    sp = build_space(BASE, expected_trials=4, overrides=parse_space_overrides(["learning_rate=1e-5:1e-3", "lora_rank=8,16"]))
    assert sp.params[0].low == 1e-5 and sp.params[0].log and sp.names()[-1] == "lora_rank"
    for bad in (["learning_rate=1e-3:1e-5"], ["learning_rate=1e-3:1e-3"], ["lora_rank="], ["lora_rank=,"],
                ["learning_rate=1e-3:"]):
        with pytest.raises(UserError, match="empty|range"):
            build_space(BASE, overrides=parse_space_overrides(bad))
    with pytest.raises(UserError, match="unknown key"):
        build_space(BASE, overrides={"not_a_key": [1, 2]})


def test_a_dimension_can_be_fixed():
    sp = build_space(BASE, expected_trials=10, overrides=parse_space_overrides(["num_train_epochs=fixed"]))
    assert sp.names() == ["learning_rate", "effective_batch"]


def test_space_filling_puts_one_point_in_every_stratum_of_every_dimension():
    sp = build_space(BASE, expected_trials=10)
    pts = sp.space_filling(8, seed=3)
    lr = sp.params[0]
    decades = sorted(int(8 * math.log(p["learning_rate"] / lr.low) / math.log(lr.high / lr.low)) for p in pts)
    assert decades == list(range(8))  # the whole log range, evenly, edges included
    batches = sp.params[1].choices
    assert sorted({p["effective_batch"] for p in pts}) == batches  # 8 points over 5 batches: each at least once
    for p in pts:
        for name, dist in sp.distributions().items():
            dist.to_internal_repr(p[name])
    assert sp.space_filling(8, seed=3) == pts and sp.space_filling(8, seed=4) != pts


def test_the_range_test_sets_the_top_of_the_learning_rate_range_even_above_ten_times_the_base():
    lr = build_space(BASE, lr_upper=2e-2).params[0]
    assert math.isclose(lr.high, 2e-2) and math.isclose(lr.low, 2e-5)  # base / 10 still included


def test_epochs_can_be_left_out_and_the_next_dimension_takes_their_place(tune_config):
    from tiaocan.config import build_config

    base = build_config(tune_config)
    assert build_space(base, expected_trials=10).names() == ["learning_rate", "effective_batch", "num_train_epochs"]
    assert build_space(base, expected_trials=10, search_epochs=False).names() == \
        ["learning_rate", "effective_batch", "warmup_ratio"]


def test_space_filling_gives_every_batch_size_the_whole_learning_rate_range():
    """Sliced by the effective batch: each batch size gets its own hypercube over the learning rate, the base
    config (trial 0) counting towards its batch's share."""
    sp = build_space(BASE, expected_trials=4, overrides={"effective_batch": [4, 8]})
    base = {"learning_rate": BASE.learning_rate, "effective_batch": 8}
    pts = sp.space_filling(8, seed=1, taken=base)
    lr = sp.params[0]
    by_batch = {b: sorted(p["learning_rate"] for p in pts if p["effective_batch"] == b) for b in (4, 8)}
    assert {b: len(v) for b, v in by_batch.items()} == {4: 5, 8: 3}  # 9 with the base: 5 + (3 + base)
    for b, lrs in by_batch.items():
        strata = [int(len(lrs) * math.log(x / lr.low) / math.log(lr.high / lr.low)) for x in lrs]
        assert strata == list(range(len(lrs)))  # each batch size: one point in every stratum of the range
    assert sp.space_filling(8, seed=1, taken=base) == pts
