"""The truncation finding: re-reads the run's data through `tiaocan inspect` (tiny model, seconds)."""
from __future__ import annotations

import json

import yaml
from synth import decay
from test_report_cli import _write_lf

from tiaocan.diagnosis import diagnose


def _run_with_data(tmp_path, tiny_model_dir, cutoff_len: int):
    data = tmp_path / "data.jsonl"
    long_answer = " ".join(["Returns are accepted within 30 days with a receipt."] * 12)
    rows = [{"messages": [{"role": "user", "content": f"question {i}?"},
                          {"role": "assistant", "content": long_answer if i % 2 else "Paris."}]} for i in range(20)]
    data.write_text("\n".join(json.dumps(r) for r in rows))
    run = _write_lf(tmp_path / "run", decay(60, seed=4))
    cfg = yaml.safe_load((run / "training_args.yaml").read_text())
    cfg.update(dataset=str(data), cutoff_len=cutoff_len, model_name_or_path=str(tiny_model_dir))
    (run / "training_args.yaml").write_text(yaml.safe_dump(cfg))
    return run


def test_truncation_fires_with_cutoff_advice(tmp_path, tiny_model_dir):
    d = diagnose(_run_with_data(tmp_path, tiny_model_dir, cutoff_len=64)).runs[0]
    f = next(f for f in d.findings if f.id == "truncation")
    assert "10 of 20 answers" in f.title and f.severity == "warning"
    assert d.suggested_config["cutoff_len"] > 64


def test_truncation_quiet_when_everything_fits_or_data_missing(tmp_path, tiny_model_dir):
    run = _run_with_data(tmp_path, tiny_model_dir, cutoff_len=2048)
    assert "truncation" not in {f.id for f in diagnose(run).runs[0].findings}
    (tmp_path / "data.jsonl").unlink()
    d = diagnose(run).runs[0]
    assert any("truncation not checked" in n for n in d.notes) and d.healthy
    off = diagnose(run, check_data=False).runs[0]  # switched off: the data is not even looked for
    assert not any("truncation" in n for n in off.notes)
