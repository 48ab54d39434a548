"""One number per fact: train's run_summary, diagnose and both loss plots share losscurve's definitions."""
import json

import numpy as np
import pytest

from tiaocan import losscurve


def test_definitions():
    losses = [3.24, 3.0, 2.9, 2.8, 2.7] + [2.0] * 40 + [1.9, 1.7, 1.8, 1.75, 1.6, float("nan"), 0.0]
    assert losscurve.first_loss(losses) == 3.24
    assert losscurve.start_level(losses) == pytest.approx(2.9)  # median of the first 5 usable
    assert losscurve.final_level(losses) == pytest.approx(1.75)  # median of the last 5 usable (nan, 0.0 left out)
    assert losscurve.final_level([]) is None
    x = np.linspace(3, 1, 60)
    assert np.allclose(losscurve.ema(x), losscurve.ema(x, losscurve.smoothing_weight(60)))


def test_plots_share_one_smoothing():
    from tiaocan.diagnosis import report, signals
    from tiaocan.training import summary

    assert summary.ema is losscurve.ema and report.ema is losscurve.ema and signals.ema is losscurve.ema


def test_train_and_diagnose_say_the_same_final_and_first_loss(tiny_model_dir, tmp_path):
    from tiaocan.diagnosis import diagnose
    from tiaocan.diagnosis.readers import read_run
    from tiaocan.diagnosis.signals import compute
    from tiaocan.training import train

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"instruction": f"q{i}?", "output": f"answer number {i}."}) + "\n"
                            for i in range(48)))
    s = train(dict(model_name_or_path=str(tiny_model_dir), dataset=str(data), cutoff_len=64,
                   per_device_train_batch_size=2, num_train_epochs=1, learning_rate=1e-3, save_steps=1000,
                   output_dir=str(tmp_path / "run"), seed=1), quiet=True)
    d = diagnose(tmp_path / "run", check_data=False).runs[0]
    assert d.final_loss == pytest.approx(s.final_train_loss)
    rows = [json.loads(x) for x in (tmp_path / "run" / "trainer_log.jsonl").read_text().splitlines()]
    sig = compute(read_run(tmp_path / "run"))
    assert sig.first == pytest.approx(next(r["loss"] for r in rows if "loss" in r))
