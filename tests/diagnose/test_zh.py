"""diagnose --lang zh: explanations whole (no "…"), evidence in Chinese; the suggested config gets a new output_dir."""
from pathlib import Path

import pytest

from tiaocan.diagnosis import diagnose
from tiaocan.diagnosis.evidence_zh import to_zh, untranslated
from tiaocan.diagnosis.suggest import next_output_dir

ROOT = Path(__file__).resolve().parents[2]
RUNS = sorted(p for p in (ROOT / "bench/runs").iterdir() if (p / "trainer_log.jsonl").is_file())


def test_every_evidence_line_of_the_bench_runs_translates():
    seen = set()
    for d in diagnose(RUNS, check_data=False).runs:
        for f in d.findings:
            seen.add(f.id)
            assert len(f.evidence_zh) == len(f.evidence)
            for line in f.evidence:
                assert not untranslated(line), (f.id, line, to_zh(line))
    assert len(seen) >= 4, seen


@pytest.mark.parametrize("line", [
    "loss is NaN/inf at 3 logged step(s), first at step 40",
    "last finite losses before it: step 37: 2.1, step 38: 2.5, step 39: 9.8",
    "loss is exactly 0 at 2 step(s): 5, 9",
    "grad_norm bursts to >10x its median 0.52: step 12: 8.1 (+3 more)",
    "grad_norm grew from a median of 0.4 (early) to 2.2 over the last tenth of the run",
    "loss scatters ±0.3 around its smoothed level 1.5 (20%)",
    "effective batch = 2 (per_device_train_batch_size × gradient_accumulation_steps)",
    "eval loss at the end 1.9 (step 80); train loss 1.2 -> 0.4 meanwhile",
    "train loss at the end 0.2 < half the band's lower edge 0.7",
    "it entered the band's lower edge at step 30; the band's middle at epoch 1.50",
    "median train loss 2.3 over the first third -> 2.29 over the last third (-0.4%) in 60 steps, still above the band 0.7–1.4",
    "peak learning rate 1e-6 (usual start for LoRA: 1e-4)",
    "the lr rises until step 50 of 60 (83% of the run): 1e-6 -> 2e-4",
    "lr at the end 2e-4 = 100% of its peak 2e-4 (lr_scheduler_type: constant)",
    "12 answers lose tokens, 3.5% of all answer tokens; longest example 900 tokens, p99 700",
    "not clearly falling any more: 1.9 -> 1.88 over the last 20 steps",
])
def test_templates_translate(line):
    assert not untranslated(line), to_zh(line)


def test_cli_zh_is_whole_and_chinese():
    from typer.testing import CliRunner

    from tiaocan.cli import app

    r = CliRunner().invoke(app, ["diagnose", str(ROOT / "bench/runs/underfit_short"), "--lang", "zh", "--no-data"],
                           env={"COLUMNS": "100"})
    assert r.exit_code == 0, r.output
    assert "…" not in r.output and "最终训练损失" in r.output
    d = diagnose(ROOT / "bench/runs/underfit_short", check_data=False).runs[0]
    from collections import Counter

    shown = Counter(r.output)
    for f in d.findings:  # every character of the explanation and evidence is printed (cells wrap side by side)
        for text in (f.explanation_zh, *f.evidence_zh):
            assert all(shown[c] >= n for c, n in Counter(text.replace(" ", "")).items()), text


def test_suggested_config_gets_a_new_output_dir():
    d = diagnose(ROOT / "bench/runs/underfit_short", check_data=False).runs[0]
    old = d.suggested_config.get("output_dir")
    assert d.changes and any(c.key == "output_dir" for c in d.changes)
    assert old and old != d.path and not old.rstrip("/").endswith("underfit_short")
    assert next_output_dir("runs/demo/run") == "runs/demo/run-2" and next_output_dir("runs/x-2/") == "runs/x-3"
