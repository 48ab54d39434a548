"""The learning-rate range test's sweep on a real (tiny) model: what `tune --lr-range-test` and the calibration
suite's bench/calibration/rangetest.py run."""
import math

from tiaocan.config import TrainConfig

from tune_helpers import SUPPORT


def test_sweep_records_every_step_at_exponentially_growing_lrs(tiny_model_dir, tmp_path):
    from tiaocan.tuning.lr_range import sweep

    cfg = TrainConfig(model_name_or_path=str(tiny_model_dir), dataset=str(SUPPORT), max_samples=24, cutoff_len=48,
                      per_device_train_batch_size=4, learning_rate=1e-3, output_dir=str(tmp_path / "run"))
    lrs, losses = sweep(cfg, tmp_path / "sweep", lo=1e-4, hi=30.0, steps=14)
    assert len(lrs) == len(losses) >= 10  # a crash at a huge lr may end it early; what ran is kept
    ratios = [b / a for a, b in zip(lrs, lrs[1:])]
    assert all(math.isclose(r, (30.0 / 1e-4) ** (1 / 13), rel_tol=1e-6) for r in ratios)
    assert math.isclose(lrs[0], 1e-4)
    assert all(math.isfinite(x) for x in losses[:8])  # (a random tiny model sits near log(vocab): no blow-up to read;
    assert min(losses) < losses[0] - 0.05            # divergence_lr's read-out is tested on its own in test_budget.py)
