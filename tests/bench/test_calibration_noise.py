"""bench/calibration/noise.py: B_simple measured on a (tiny) task through probing/noise.measure_noise, and the table
that sets it beside the lr rule's residuals (read from the committed runs)."""
import json
import math
import sys
from pathlib import Path

import pytest

from helpers import write_task

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "calibration"))


def test_measure_a_tiny_task(tiny_model_dir, tmp_path, monkeypatch):
    import grid
    import noise

    task = write_task(tmp_path / "data", "t", 24, 6)
    monkeypatch.setattr(grid, "DATA", tmp_path / "data")
    row = noise.measure("t", 6, 0, model=str(tiny_model_dir))
    assert row["task"] == "t" and row["examples"] == 6 and row["tokens"] > 0
    assert math.isfinite(row["b_simple"]) and row["grad_sq"] > 0 and row["trace_sigma"] > 0
    assert sorted(p.name for p in task.iterdir()) == ["train.jsonl", "val.jsonl"]  # nothing written beside the data


def test_show_sets_each_task_beside_its_residual_and_scores_the_noise_forms_held_out(tmp_path, capsys):
    import noise

    out = tmp_path / "noise.jsonl"
    rows = [dict(task=t, b_simple=b) for t, b in (("support", 8.0), ("support60", 9.5), ("chatter_en", 10.0),
                                                  ("chatter_zh", 10.0), ("pyfaq", 11.0), ("elsewhere", 3.0))]
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    noise.show(out)
    text = capsys.readouterr().out
    assert "| support | 8.0 | 8.0 | x" in text and "| elsewhere | 3.0 | 3.0 | (no interior curve) |" in text
    held = [line for line in text.splitlines() if "held-out curves read" in line]
    assert len(held) == 5 and all("median" in line and "worst" in line for line in held)  # 3 forms, then rule x K
    assert "NOISE_K (every task)" in text


def test_another_models_readings_are_tabled_beside_smollm2s_and_left_out_of_its_fit(tmp_path, capsys):
    """Rows of another model do not enter SmolLM2's table or fit; they are set beside it as ratios, with the rank
    correlation of the tasks' order."""
    import noise

    out = tmp_path / "noise.jsonl"
    rows = [dict(task=t, b_simple=b) for t, b in (("support", 8.0), ("support60", 9.5), ("pyfaq", 11.0))]
    rows += [dict(task=t, model="other", b_simple=b) for t, b in (("support", 4.0), ("support60", 4.75),
                                                                   ("pyfaq", 22.0))]
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    by = noise.readings(out)
    assert dict(by["smollm2-135m"]) == {"support": [8.0], "support60": [9.5], "pyfaq": [11.0]}
    assert noise.others("other", by["other"], {"support": 8.0, "support60": 9.5, "pyfaq": 11.0}) == (0.5, 2.0)
    assert "x0.50 to x2.00; the tasks' order by B_simple, Spearman's rho 1.00" in capsys.readouterr().out


def test_the_rule_module_holds_the_noise_correction_of_the_committed_measurements(capsys):
    """planning/rules/learning_rate.py copies NOISE_K and the held-out read-outs its reason quotes from noise.py on the
    committed noise.jsonl and runs.jsonl: new runs or noise readings that move them must come with the copy."""
    import statistics

    import noise
    from tiaocan.planning.rules import learning_rate as rule

    by = noise.readings(noise.HERE / "noise.jsonl")
    import fit

    cs = fit.curves(fit.load(noise.HERE / "runs.jsonl"))
    bn = {t: statistics.mean(v) for t, v in by[noise.MODEL].items()}
    got = noise.correction(cs, bn)
    spread = noise.others("gemma3-270m", by["gemma3-270m"], bn)
    gemma = noise.other_curves(cs, "gemma3-270m", {t: statistics.mean(v) for t, v in by["gemma3-270m"].items()}, bn)
    capsys.readouterr()
    assert rule.NOISE_K == pytest.approx(got["NOISE_K"], abs=0.0051)
    assert (rule.NOISE_LOTO_RULE, rule.NOISE_LOTO, rule.NOISE_LOTO_CURVES) == (
        got["NOISE_LOTO_RULE"], got["NOISE_LOTO"], got["NOISE_LOTO_CURVES"])
    assert rule.NOISE_MODEL == noise.MODEL and rule.NOISE_MODEL_SPREAD == spread
    assert rule.NOISE_OTHER_LOTO == (gemma["rule"], gemma["corrected"], gemma["curves"])


def test_the_correction_is_read_held_out_on_another_models_curves_when_it_has_two_tasks(capsys):
    """Gemma's curves (committed runs: support60, chatter_topic) are read with its own offset from its other task:
    one line per held-out curve, the rule beside the rule x the correction; a model with one task reads nothing."""
    import fit
    import noise

    cs = fit.curves(fit.load(noise.HERE / "runs.jsonl"))
    bn = {"support60": 9.5, "chatter_topic": 1.2, "support": 8.0}
    noise.other_curves(cs, "gemma3-270m", {"support60": 3.8, "chatter_topic": 1.2}, bn)
    text = capsys.readouterr().out
    assert "the probe's correction on gemma3-270m's curves, leave-one-task-out" in text
    assert "chatter_topic b8 e1:" in text and "support60 b8 e3:" in text
    assert sum("held-out curves read" in line for line in text.splitlines()) == 2
    one_task = {k: v for k, v in cs.items() if not (k[0] == "gemma3-270m" and k[1] == "chatter_topic")}
    noise.other_curves(one_task, "gemma3-270m", {"support60": 3.8}, bn)  # curves on one task: no offset to carry
    assert capsys.readouterr().out == ""
