"""Each finding fires on the curve shape it names and stays quiet on healthy curves."""
from __future__ import annotations

import math

import numpy as np
import pytest
from synth import cosine_lr, decay, make_curves

from tiaocan.diagnosis import diagnose_curves


def ids(curves, **kw) -> set[str]:
    return {f.id for f in diagnose_curves(curves, check_data=False, **kw).findings}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [30, 150, 800])
def test_healthy_runs_have_no_findings(seed, n):
    d = diagnose_curves(make_curves(decay(n, seed=seed), grad_norm=np.random.default_rng(seed).lognormal(0, 0.2, n),
                                    eval_loss=[1.9, 1.5, 1.3, 1.2, 1.15, 1.12, 1.1, 1.1, 1.09, 1.09]), check_data=False)
    assert d.findings == [] and d.healthy
    assert d.suggested_config["learning_rate"] == pytest.approx(2e-4)


def test_nan_loss_is_divergence_with_lower_lr():
    loss = decay(100)
    loss[60:] = math.nan
    d = diagnose_curves(make_curves(loss), check_data=False)
    f = next(f for f in d.findings if f.id == "divergence")
    assert f.severity == "critical" and f.steps[0] == 61
    assert d.suggested_config["learning_rate"] == pytest.approx(2e-5)


def test_sustained_rise_is_divergence_but_one_spike_is_not():
    loss = decay(120)
    loss[30:] *= 2.5
    assert "divergence" in ids(make_curves(loss))
    loss = decay(120)
    loss[50] *= 4
    found = ids(make_curves(loss))
    assert "divergence" not in found and "loss_spikes" in found


def test_stop_reason_diverged_from_run_summary():
    loss = decay(12)
    loss[-2:] *= 3
    assert "divergence" in ids(make_curves(loss, summary={"stop_reason": "diverged", "stop_message": "loss 3x start"}))


def test_spikes_fire_rarely_not_on_staircase_drops():
    loss = decay(200, noise=0.05)
    loss[[80, 140]] *= 3
    assert "loss_spikes" in ids(make_curves(loss))
    stair = np.repeat([2.4, 1.9, 1.5, 1.2, 1.0], 40) * np.random.default_rng(1).lognormal(0, 0.03, 200)
    assert "loss_spikes" not in ids(make_curves(stair))


def test_plateau_with_low_lr():
    loss = np.full(100, 2.3) * np.random.default_rng(0).lognormal(0, 0.05, 100)
    d = diagnose_curves(make_curves(loss, lr=cosine_lr(100, peak=1e-6)), check_data=False)
    assert [f.id for f in d.findings] == ["plateau"]
    assert d.suggested_config["learning_rate"] == pytest.approx(1e-4)


def test_flat_loss_inside_band_is_not_plateau():
    loss = np.full(100, 1.0) * np.random.default_rng(0).lognormal(0, 0.05, 100)
    assert "plateau" not in ids(make_curves(loss))


def test_underfitting_still_falling_asks_for_more_epochs():
    d = diagnose_curves(make_curves(decay(300, start=2.6, floor=1.0, tau=2.0, noise=0.05), epochs=1.0), check_data=False)
    f = next(f for f in d.findings if f.id == "underfitting")
    assert f.severity == "warning"
    assert d.suggested_config["num_train_epochs"] > 1.0


def test_underfitting_not_on_partial_run():
    assert "underfitting" not in ids(make_curves(decay(300, tau=2.0), finished=False))


def test_overfitting_eval_rises_while_train_falls():
    ev = [1.6, 1.3, 1.2, 1.25, 1.35, 1.5, 1.7]
    d = diagnose_curves(make_curves(decay(140, floor=0.4, tau=0.3), epochs=7, eval_loss=ev), check_data=False)
    f = next(f for f in d.findings if f.id == "overfitting")
    assert f.steps[0] == 60  # the best eval point
    assert d.suggested_config["num_train_epochs"] == 3.0


def test_noisy_eval_without_trend_is_not_overfitting():
    ev = [1.3, 1.25, 1.22, 1.23, 1.22, 1.24, 1.23]
    assert "overfitting" not in ids(make_curves(decay(140), eval_loss=ev))


def test_memorisation_when_train_far_below_band():
    d = diagnose_curves(make_curves(decay(200, floor=0.05, tau=0.2), epochs=10), check_data=False)
    assert "memorisation" in {f.id for f in d.findings}
    assert d.suggested_config["num_train_epochs"] < 10
    assert d.suggested_config["stop_loss_band"] == [0.7, 1.4]


def test_epoch_boundary_drops():
    rng = np.random.default_rng(3)
    ep = np.arange(300) / 30  # 10 epochs of 30 logged steps
    loss = (0.9 + 1.4 * np.exp(-np.floor(ep) / 2.5) * (1 - 0.05 * (ep % 1))) * rng.lognormal(0, 0.05, 300)
    assert "epoch_drops" in ids(make_curves(loss, epochs=10))
    smooth = (0.9 + 1.4 * np.exp(-ep / 2.5)) * rng.lognormal(0, 0.05, 300)
    assert "epoch_drops" not in ids(make_curves(smooth, epochs=10))


def test_noisy_loss_with_batch_one():
    loss = decay(200, noise=0.6)
    d = diagnose_curves(make_curves(loss, config={"per_device_train_batch_size": 1, "gradient_accumulation_steps": 1}),
                        check_data=False)
    assert "noisy_loss" in {f.id for f in d.findings}
    assert d.suggested_config["gradient_accumulation_steps"] == 16
    # the same scatter on a tiny memorised loss (±0.02 on 0.04) is not a practical problem
    assert "noisy_loss" not in ids(make_curves(decay(200, noise=0.08)))


def test_grad_norm_bursts_and_growth():
    rng = np.random.default_rng(0)
    gn = rng.lognormal(0, 0.2, 200)
    gn[[90, 150]] = 60
    assert "grad_norm_explosion" in ids(make_curves(decay(200), grad_norm=gn))
    grow = rng.lognormal(0, 0.2, 200) * np.exp(np.linspace(0, 3, 200))
    assert "grad_norm_explosion" in ids(make_curves(decay(200), grad_norm=grow))
    early = rng.lognormal(0, 0.2, 200) * (1 + 8 * np.exp(-np.arange(200) / 4))  # large first steps are normal
    assert "grad_norm_explosion" not in ids(make_curves(decay(200), grad_norm=early))


def test_schedule_warmup_and_constant_lr():
    n = 200
    lr = np.minimum(1, (np.arange(n) + 1) / (0.9 * n)) * 2e-4
    assert "warmup_too_long" in ids(make_curves(decay(n), lr=lr, config={"warmup_ratio": 0.9}))
    d = diagnose_curves(make_curves(decay(n), lr=np.full(n, 2e-4), config={"lr_scheduler_type": "constant"}),
                        check_data=False)
    f = next(f for f in d.findings if f.id == "lr_not_decayed")
    assert f.severity == "info" and d.healthy and d.suggested_config["lr_scheduler_type"] == "cosine"
    # a run stopped on purpose by the loss band keeps its lr: not a schedule problem
    stopped = make_curves(decay(n), lr=np.full(n, 2e-4), summary={"stop_reason": "loss_band"})
    assert "lr_not_decayed" not in ids(stopped)


def test_fp16_overflow_and_zero_loss():
    loss, gn = decay(100), np.random.default_rng(0).lognormal(0, 0.2, 100)
    loss[70:], gn[70:] = 0.0, math.nan
    d = diagnose_curves(make_curves(loss, grad_norm=gn, config={"fp16": True}), check_data=False)
    assert [f.id for f in d.findings] == ["fp16_overflow"]
    assert d.suggested_config["bf16"] is True and d.suggested_config["fp16"] is False
    loss = decay(100)
    loss[70:] = 0.0
    assert ids(make_curves(loss, config={"fp16": False})) == {"zero_loss"}


def test_band_from_config_and_argument():
    loss = decay(200, floor=0.4)
    assert "memorisation" not in ids(make_curves(loss))
    assert "memorisation" in ids(make_curves(loss), band=(1.0, 2.0))
    assert "memorisation" in ids(make_curves(loss, config={"stop_loss_band": [1.0, 2.0]}))


def test_divergence_on_a_very_short_log():
    assert "divergence" in ids(make_curves([3.4, 4.2, 9.8, 15.6, 19.9]))
    assert "divergence" not in ids(make_curves([3.4, 3.1, 3.3, 2.9, 3.0]))


def test_more_epochs_also_lifts_a_max_steps_cap():
    from tiaocan.diagnosis.suggest import suggest_config
    from tiaocan.diagnosis.types import Change, Finding

    f = Finding.model_construct(id="underfit", severity="warning",
                                changes=[Change(key="num_train_epochs", old=6, new=9, why="still falling")])
    out, changes = suggest_config({"num_train_epochs": 6, "max_steps": 60}, [f])
    assert out["num_train_epochs"] == 9 and out["max_steps"] == -1
    out, _ = suggest_config({"num_train_epochs": 6}, [f])
    assert "max_steps" not in out
